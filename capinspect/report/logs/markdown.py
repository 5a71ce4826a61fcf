"""The server-log section of the Markdown report (and ``capinspect logs`` as Markdown)."""

from __future__ import annotations

from capinspect.checks.base import Finding
from capinspect.logs.files import file_label
from capinspect.logs.timeline import UNIDENTIFIED
from capinspect.report.logs.model import LogsResult
from capinspect.report.logs.tables import (
    clock_table,
    files_table,
    identity_table,
    ladder_table,
    paths,
    phone_title,
    problems_table,
    tally,
)
from capinspect.report.markdown import _md_table, md
from capinspect.report.tables import finding_rows


def _md_log_finding(item: Finding) -> list[str]:
    f = item
    lines = [f"- **{str(f.severity).upper()}** `{f.check_id}`: {md(f.title)}"]
    for label, value in finding_rows(f):
        lines.append(f"  - *{label}:* {md(value)}")
    if item.lines:
        lines.append(f"  - *log lines:* {md(', '.join(item.lines))}")
    return lines


def _md_sections(result: LogsResult, level: int) -> list[str]:
    """Files, clocks, one section per phone (findings, identity, ladder), lines not used."""

    corr = result.correlation
    lines = _md_table(files_table(result), level=level)
    clocks = clock_table(result)
    if clocks is not None:
        lines += _md_table(clocks, level=level)
    number = 0
    for rep in result.phones:
        number += 1
        cap = corr.capture_key(rep.phone.key) if corr is not None else None
        lines += [
            f"{'#' * level} {number}. {md(phone_title(rep))} — {str(rep.verdict).upper()}",
            "",
        ]
        if rep.phone.key != UNIDENTIFIED:  # nothing to identify: no address, no audit row
            lines += _md_table(identity_table(rep, cap), level=level + 1)
        lines += [f"{'#' * (level + 1)} Findings", ""]
        if rep.findings:
            for item in rep.findings:
                lines += _md_log_finding(item)
        else:
            lines.append("No finding.")
        lines.append("")
        lines += _md_table(ladder_table(rep, corr, cap), level=level + 1)
    problems = problems_table(result)
    if problems is not None:
        lines += _md_table(problems, level=level)
    return lines


def render_logs_markdown(result: LogsResult) -> str:
    """The server-log section of ``analyze --format markdown``."""
    return "\n## Server logs\n\n" + "\n".join(_md_sections(result, 3)).rstrip("\n") + "\n"


def render_logs_markdown_document(result: LogsResult) -> str:
    """``capinspect logs --format markdown``: the logs alone, ready for a ticket."""

    names = ", ".join(md(file_label(p)) for p in paths(result)) or "(none)"
    lines = [f"# capinspect server logs: {names}", "", f"{md(tally(result))}.", ""]
    lines += _md_sections(result, 2)
    return "\n".join(lines).rstrip("\n") + "\n"
