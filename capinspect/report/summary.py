"""One line per phone, for pasting into a ticket or a chat (``analyze --format summary``).

A support desk with 200 phones first needs the list of what fails and what to do about each,
not 5,000 lines of detail: MAC, model, the firmware the phone last reported, its verdict, the
ID of its root cause and that finding's fix cut to its first sentence. The phones come in the
report's order (failing first). The table is drawn by tabulate, so the same lines come out as
plain columns, a GitHub/Markdown pipe table, a grid, or any other of tabulate's formats
(``--table-style``).

Values from the capture pass through ``text.safe`` (control and bidi characters become
``\\xNN``); tabulate's HTML-producing formats that skip escaping (``unsafehtml``) and raw LaTeX
are not offered, and in the pipe-delimited markup formats (github, pipe, jira…) a ``|`` in a
value is escaped so a crafted model name cannot add a column.
"""

from __future__ import annotations

import re

from tabulate import tabulate, tabulate_formats

from capinspect.checks.base import Verdict
from capinspect.report.model import DeviceReport, Report
from capinspect.report.text import device_label, safe

DEFAULT_STYLE = "simple"
UNSAFE_STYLES = frozenset({"unsafehtml", "latex_raw"})
"""tabulate formats that write cell text unescaped into markup: not offered."""
TABLE_STYLES: tuple[str, ...] = tuple(
    sorted(name for name in tabulate_formats if name not in UNSAFE_STYLES)
)
PIPE_STYLES = frozenset(
    {"asciidoc", "github", "jira", "mediawiki", "moinmoin", "orgtbl", "pipe", "textile", "youtrack"}
)
"""Markup formats whose cells a literal ``|`` would split (escaped as ``\\|`` there)."""
HEADERS = ("phone (MAC)", "model", "firmware", "verdict", "root cause", "fix")
NONE = "—"

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "cf.", "vs.", "approx.", "no.")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'`])")


def check_style(name: str) -> str:
    """The tabulate format ``name``; ValueError (one line, listing the valid ones) if unknown."""
    if name not in TABLE_STYLES:
        raise ValueError(f"unknown --table-style {name!r}; one of: {', '.join(TABLE_STYLES)}")
    return name


def first_sentence(text: str) -> str:
    """The first sentence of ``text``, on one line (a remediation's first step)."""
    flat = " ".join(text.split())
    for match in _SENTENCE_END.finditer(flat):
        head = flat[: match.start()]
        if not head.lower().endswith(_ABBREVIATIONS):
            return head
    return flat


def _fix(item: DeviceReport) -> str:
    verdict = item.verdict
    if verdict.root_cause is not None:
        return first_sentence(verdict.root_cause.remediation)
    if verdict.verdict == Verdict.INCONCLUSIVE and verdict.advice:
        return "capture again: " + first_sentence(verdict.advice)
    return NONE


def summary_rows(report: Report) -> list[tuple[str, ...]]:
    """One row per phone, in report order."""
    rows: list[tuple[str, ...]] = []
    for item in report.devices:
        session = item.session
        root = item.verdict.root_cause
        versions = item.firmware_versions
        rows.append(
            (
                safe(session.mac or session.key),
                device_label(session),
                safe(versions[-1]) if versions else NONE,
                item.verdict.label,
                root.check_id if root is not None else NONE,
                safe(_fix(item)),
            )
        )
    return rows


def render_summary(report: Report, style: str = DEFAULT_STYLE) -> str:
    """The phones as one table, one line per phone (the style's borders aside): tabs and
    newlines in a value become spaces, so no value can start a line of its own."""
    check_style(style)
    rows = [tuple(" ".join(cell.split()) for cell in row) for row in summary_rows(report)]
    if style in PIPE_STYLES:
        rows = [tuple(cell.replace("|", "\\|") for cell in row) for row in rows]
    lines = []
    note = report.selection_note()
    counts = report.verdict_counts()
    tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no phones"
    lines.append(note if note is not None else f"{len(report.devices)} phone(s): {tally}")
    if rows:
        lines.append("")  # a Markdown table must not continue the paragraph above it
        lines.append(tabulate(rows, headers=HEADERS, tablefmt=style, disable_numparse=True))
    return "\n".join(lines) + "\n"
