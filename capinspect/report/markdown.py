"""Ticket-ready reports in Markdown: the tables of ``report/tables.py``, escaped for Markdown.

The content of a ticket report is built once, as plain tables of *unescaped* strings
(``report/tables.py``), and each format escapes it where it lands: this module for Markdown,
``report/html.py`` for HTML.

A Markdown ticket is often read as plain text, so what a reader copies must survive being
copied: :func:`md` writes URLs, paths, host and file names, MACs, IPs and e-mail addresses as
code spans, verbatim (a fence longer than any backtick run inside, as CommonMark asks), and
nothing inside a code span is markup or an autolink. Code spans never hold ``<`` ``>`` ``[``
``]`` ``(`` ``)`` or ``|``, so they cannot end a table cell and no link or HTML can be made of
them even by a renderer that does not parse them. The rest is text with every character that
could start markup escaped (``[`` ``]`` ``*`` ``_`` ``|`` backticks …) and ``<``, ``>``, ``&``
as entities. A hostile host name, XML value or user agent therefore shows as text or code:
never a link, an image, a table break or HTML. The report itself writes no links either (no
``](`` at all), so a reviewer can check that with grep.
"""

from __future__ import annotations

import ipaddress
import re

from capinspect.checks.base import Finding
from capinspect.report.model import DeviceReport, Report, Table
from capinspect.report.signin import signin_tables
from capinspect.report.tables import (
    LANES,
    capture_tables,
    checkin_tables,
    downloads_table,
    finding_rows,
    identity_table,
    ladder,
    lane_peers,
    option_tables,
    other_clients_table,
    phone_name,
    root_cause_line,
    summary_table,
)
from capinspect.report.text import device_label, safe

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$])")
_WHITESPACE = re.compile(r"[\r\n\t\f\v]+")

_SEPARATORS = re.compile(r"([\s<>\[\]()|]+)")
"""What splits text into runs: whitespace and the characters a code span never holds, so a
span can neither end a table cell nor, were it not parsed, make a link or HTML (``](`` and
``<`` never appear in a report, spans included)."""

_LEADING = "\"'"
_TRAILING = ".,;:!?'\""
"""Quotes around a value and punctuation after it belong to the sentence, not to the value."""

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S*")
_MAC = re.compile(r"(?:[0-9A-Fa-f]{2}[:\-]){5}[0-9A-Fa-f]{2}")
_NAME = re.compile(
    r"[A-Za-z0-9_\-]{2,}(?:\.[A-Za-z0-9_\-]+)*\.[A-Za-z][A-Za-z0-9_\-]+(?::\d{1,5})?"
)
"""A host or file name: ucupdates-r2.contoso.com, ocs.contoso.com:443, CPE.nbt, DHCPUtil.exe (a
version such as 1.0.522.98 or 1.0.452.x is not one: its last label is a number or one letter)."""
_SEGMENT = re.compile(r"[\w.\-]+")
_IDENTIFIER = re.compile(r"[\w.\-/]*_[\w.\-/]*")
"""A name with an underscore: DeviceUpdateFiles_Int, _Ext, ERROR_INTERNET_TIMEOUT."""


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_value(core: str) -> bool:
    """Whether a run is a value a reader copies (and so a code span): a URL, a path, a host or
    file name, a MAC, an IP (with a port), an e-mail address or an identifier — and anything a
    GitHub-flavoured renderer could autolink (``://``, ``@``, ``www.``), value or not."""
    lowered = core.lower()
    if "://" in core or "@" in core or "www." in lowered:
        return True
    if core.startswith(("/", "…/", "\\\\")) and len(core) > 2 or re.match(r"[A-Za-z]:\\", core):
        return True
    if _MAC.fullmatch(core) or _NAME.fullmatch(core) or _IDENTIFIER.fullmatch(core):
        return True
    host, _, port = core.rpartition(":")
    if _is_address(core) or ("." in host and port.isdigit() and _is_address(host)):
        return True
    segments = core.split("/")
    return (
        len(segments) > 1
        and all(_SEGMENT.fullmatch(segment) for segment in segments)
        and _NAME.fullmatch(segments[-1]) is not None
    )


def _code_span(value: str) -> str:
    """``value`` as a CommonMark code span: a fence longer than any run of backticks inside, and
    a space of padding when the value starts or ends with a backtick."""
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _md_text(text: str) -> str:
    """Running text as inert Markdown: markup characters escaped, ``<`` ``>`` ``&`` as entities."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # Values hold these, so text holds them only when a value check is wrong: defused anyway.
    text = text.replace("](", "]\\(").replace("://", "\\://").replace("@", "\\@")
    return re.sub(r"(?i)\b(www)\.", r"\1\\.", text)


def _md_run(run: str) -> str:
    """One run (no whitespace, no ``<>[]()|``): a code span around its value, or text."""
    head = len(run) - len(run.lstrip(_LEADING))
    core = run[head:]
    # An IPv6 address may end in ':' ('fe80::'): try it before the punctuation goes.
    tail = core.rstrip(_TRAILING.replace(":", ""))
    if not (":" in tail and _is_address(tail)):
        tail = core.rstrip(_TRAILING)
    if not tail or not _is_value(tail):
        return _md_text(run)
    return _md_text(run[:head]) + _code_span(tail) + _md_text(core[len(tail) :])


def md(value: object) -> str:
    """A string from the capture as inert Markdown on one line.

    Values a reader copies (URLs, paths, host and file names, MACs, IPs, e-mail addresses) are
    code spans, verbatim; the rest is text with every character that could start markup
    escaped. Either way never a link, an image, HTML or a table break, whatever the value holds.
    Linear in the length of the value (a hostile value may be long).
    """
    text = _WHITESPACE.sub(" ", safe(value))
    parts = _SEPARATORS.split(text)
    # split() with a group alternates: run, separators, run, separators, … run.
    out = []
    for number, part in enumerate(parts):
        if number % 2:
            out.append(_md_text(part))
        elif number and parts[number - 1].endswith("<") and part.startswith("/"):
            out.append(_md_text(part))  # "</script": a closing tag, not a path
        else:
            out.append(_md_run(part))
    return "".join(out)


def _md_table(table: Table, level: int = 4) -> list[str]:
    lines = [f"{'#' * level} {md(table.title)}", ""]
    if table.headers == ("", ""):
        lines += ["| | |", "|---|---|"]
    else:
        lines += ["| " + " | ".join(md(h) for h in table.headers) + " |"]
        lines += ["|" + "---|" * len(table.headers)]
    if not table.rows:
        lines.append("| " + " | ".join(["(none)"] + [""] * (len(table.headers) - 1)) + " |")
    for row in table.rows:
        lines.append("| " + " | ".join(md(cell) or " " for cell in row) + " |")
    if table.note:
        lines += ["", md(table.note)]
    return [*lines, ""]


def _md_ladder(item: DeviceReport) -> list[str]:
    steps = ladder(item)
    peers = lane_peers(item)
    lines = [
        "#### Boot ladder",
        "",
        "Lanes: "
        + "; ".join(
            f"{md(lane)} ({md(peer) or '—'})" for lane, peer in zip(LANES, peers, strict=True)
        ),
        "",
        "| time (UTC) | frame | from → to | stage | what | problem |",
        "|---|---|---|---|---|---|",
    ]
    for step in steps:
        arrow = "⇢" if step.broadcast else "→"
        flow = f"{LANES[step.source]} {arrow} {LANES[step.target]}"
        problem = ""
        if step.mark:
            problem = f"**{step.mark.upper()}** " + ", ".join(md(c) for c in step.checks)
        lines.append(
            f"| {md(step.time[11:26])} | {step.frame} | {md(flow)} | {md(step.stage)} "
            f"| {md(step.summary)} | {problem} |"
        )
    if not steps:
        lines.append("| | | | | (no step seen) | |")
    return [*lines, ""]


def _md_finding(finding: Finding) -> list[str]:
    lines = [
        f"- **{str(finding.severity).upper()}** `{finding.check_id}`: {md(finding.title)}",
    ]
    for label, value in finding_rows(finding):
        lines.append(f"  - *{label}:* {md(value)}")
    return lines


def _md_device(number: int, item: DeviceReport) -> list[str]:
    session = item.session
    lines = [
        f"### {number}. {md(phone_name(item))} — {md(device_label(session))} — "
        f"{item.verdict.label}",
        "",
    ]
    root = root_cause_line(item)
    if root is not None:
        lines += [f"**{md(root)}**", ""]
    lines += _md_table(identity_table(item))
    lines += ["#### Findings", ""]
    if item.findings:
        for finding in item.findings:
            lines += _md_finding(finding)
    else:
        lines.append("No finding.")
    lines.append("")
    lines += _md_ladder(item)
    for table in option_tables(session):
        lines += _md_table(table)
    for table in signin_tables(session):
        lines += _md_table(table)
    for table in checkin_tables(session):
        lines += _md_table(table)
    downloads = downloads_table(session)
    if downloads is not None:
        lines += _md_table(downloads)
    return lines


def render_markdown(report: Report) -> str:
    """The whole report as Markdown: summary, then per phone findings, ladder and decoded data."""
    counts = report.verdict_counts()
    tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no phones"
    names = ", ".join(md(i.path) for i in report.analysis.inputs) or "(live)"
    lines = [
        f"# capinspect report: {names}",
        "",
        f"{len(report.devices)} phone(s): {tally}.",
        "",
    ]
    selection = report.selection_note()
    if selection is not None:
        lines[2] = f"{md(selection)}; shown: {tally}."
    lines += _md_table(summary_table(report), level=2)
    if report.capture_findings:
        lines += ["## Capture findings", ""]
        for finding in report.capture_findings:
            lines += _md_finding(finding)
        lines.append("")
    if report.devices:
        lines += ["## Phones", ""]
    for number, item in enumerate(report.devices, 1):
        lines += _md_device(number, item)
    clients = other_clients_table(report)
    if clients is not None:
        lines += _md_table(clients, level=2)
    lines += ["## Capture identity", ""]
    for table in capture_tables(report):
        lines += _md_table(table, level=3)
    return "\n".join(lines).rstrip("\n") + "\n"
