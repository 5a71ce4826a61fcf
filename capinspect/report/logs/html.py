"""The server-log section of the HTML report (and ``capinspect logs`` as one page)."""

from __future__ import annotations

from capinspect.checks.base import Finding
from capinspect.logs.files import file_label
from capinspect.logs.timeline import UNIDENTIFIED
from capinspect.report.html import _CSS, NO_SCRIPT_CSP, _table, h
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
from capinspect.report.tables import finding_rows


def _html_log_finding(item: Finding) -> str:
    f = item
    sev = str(f.severity)
    out = [
        f'<div class="finding {h(sev)}">',
        f'<p><span class="sev sev-{h(sev)}">{h(sev.upper())}</span> '
        f"<code>{h(f.check_id)}</code> — <strong>{h(f.title)}</strong></p>",
        "<table>",
    ]
    rows = finding_rows(f)
    if item.lines:
        rows.append(("log lines", ", ".join(item.lines)))
    for label, value in rows:
        out.append(f'<tr><td class="k">{h(label)}</td><td>{h(value)}</td></tr>')
    out += ["</table>", "</div>"]
    return "\n".join(out)


def _html_sections(result: LogsResult, level: int) -> list[str]:
    corr = result.correlation
    out = [_table(files_table(result), level=level)]
    clocks = clock_table(result)
    if clocks is not None:
        out.append(_table(clocks, level=level))
    for number, rep in enumerate(result.phones, 1):
        cap = corr.capture_key(rep.phone.key) if corr is not None else None
        verdict = str(rep.verdict)
        out += [
            f'<section class="phone" id="log-phone-{number}">',
            f"<h{level}>{number}. {h(phone_title(rep))} "
            f'<span class="verdict v-{h(verdict)}">{h(verdict.upper())}</span></h{level}>',
        ]
        if rep.phone.key != UNIDENTIFIED:
            out.append(_table(identity_table(rep, cap), level=level + 1))
        out.append(f"<h{level + 1}>Findings</h{level + 1}>")
        out += [_html_log_finding(item) for item in rep.findings] or ["<p>No finding.</p>"]
        out += [_table(ladder_table(rep, corr, cap), level=level + 1), "</section>"]
    problems = problems_table(result)
    if problems is not None:
        out.append(_table(problems, level=level))
    return out


def render_logs_html(result: LogsResult) -> str:
    """``capinspect logs --format html``: one self-contained page, the analyze report's CSP."""

    names = ", ".join(file_label(p) for p in paths(result)) or "(none)"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{NO_SCRIPT_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>capinspect server logs: {h(names)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>capinspect server logs: {h(names)}</h1>",
        f"<p>{h(tally(result))}.</p>",
        *_html_sections(result, 2),
        "</body>",
        "</html>",
    ]
    return "\n".join(out) + "\n"


def append_to_html(page: str, result: LogsResult) -> str:
    """Insert the server-log section before ``</body>`` (every value escaped by ``h``)."""
    block = (
        '<section id="server-logs"><h2>Server logs</h2>\n'
        + "\n".join(_html_sections(result, 3))
        + "\n</section>\n"
    )
    idx = page.rfind("</body>")
    return page[:idx] + block + page[idx:] if idx >= 0 else page + block
