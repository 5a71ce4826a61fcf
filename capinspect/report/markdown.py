"""Ticket-ready reports, part 1: what a ticket shows, and its Markdown form.

The content of a ticket report is built here once, as plain tables of *unescaped* strings
(:class:`Table`, :class:`Step`), and each format escapes it where it lands: this module for
Markdown, ``report/html.py`` for HTML. So the Markdown and HTML reports cannot drift apart, and
escaping lives in one function per format, applied to every string from the capture.

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
from dataclasses import dataclass

from capinspect import __version__
from capinspect.checks.base import Finding, Severity
from capinspect.devices import DeviceSession, TimelineStep, seconds
from capinspect.protocols.dhcp.messages import Option43, Option120
from capinspect.report.json import iso
from capinspect.report.model import DeviceReport, Report
from capinspect.report.signin import signin_tables
from capinspect.report.text import device_label, safe

# ---------------------------------------------------------------------------------------------
# Content (format-neutral, unescaped)
# ---------------------------------------------------------------------------------------------

LANES = ("Phone", "DHCP server", "DNS server", "Update server")
"""The ladder's lanes, left to right."""
_LANE_OF_STAGE = {"dhcp": 1, "dns": 2}


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table; ``rows`` hold raw strings from the capture (each format escapes them)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    """One arrow of the ladder: from which lane to which, and how it went."""

    time: str
    frame: int
    source: int
    target: int
    broadcast: bool
    stage: str
    summary: str
    peer: str
    mark: str
    """``fail`` / ``warn`` when a finding of that severity cites this frame, else ``""``."""
    checks: tuple[str, ...]


def _span(first: float | None, last: float | None) -> str:
    if first is None or last is None:
        return "—"
    return f"{iso(first)} → {iso(last)} ({seconds(max(0.0, last - first))})"


def _size(count: int) -> str:
    return f"{count:,} bytes"


def capture_tables(report: Report) -> list[Table]:
    """The capture's identity: what a reviewer needs to be sure they hold the same files."""
    analysis = report.analysis
    stats = analysis.stats
    files = Table(
        "Input files",
        ("file", "format", "size", "frames", "SHA-256"),
        tuple((i.path, i.format, _size(i.size), str(i.frames), i.sha256) for i in analysis.inputs),
    )
    facts = Table(
        "Capture",
        ("", ""),
        (
            ("time span (packet time, UTC)", _span(stats.first_ts, stats.last_ts)),
            ("frames", f"{stats.frames:,} ({stats.frames_kept:,} decoded as phone traffic)"),
            ("bytes on the wire", _size(stats.bytes)),
            ("link types", ", ".join(str(t) for t in stats.linktypes) or "—"),
            ("VLANs", ", ".join(str(v) for v in stats.vlans) or "untagged"),
            ("anomalies", str(len(analysis.anomalies))),
            ("expectations", report.expectations.source),
            ("tool", f"capinspect {__version__}"),
        ),
    )
    return [files, facts]


def phone_name(item: DeviceReport) -> str:
    return item.session.mac or item.session.key


def summary_table(report: Report) -> Table:
    rows = []
    for number, item in enumerate(report.devices, 1):
        session = item.session
        vlan = f" / VLAN {','.join(str(v) for v in session.vlans)}" if session.vlans else ""
        root = item.verdict.root_cause
        flagged = [root.check_id] if root is not None else []
        flagged += sorted(
            {f.check_id for f in item.findings if f.severity != Severity.INFO} - set(flagged)
        )
        rows.append(
            (
                str(number),
                phone_name(item),
                device_label(session),
                ", ".join(session.ips[:3]) + vlan,
                " → ".join(item.firmware_versions) or "—",
                str(item.verdict.verdict).upper(),
                ", ".join(flagged) or "—",
            )
        )
    return Table(
        "Summary",
        ("#", "phone (MAC)", "model", "IP / VLAN", "firmware seen", "verdict", "root cause, then"),
        tuple(rows),
    )


def root_cause_line(item: DeviceReport) -> str | None:
    """``Root cause: <id> — <summary>`` and what follows from it, for fail and warn verdicts."""
    root = item.verdict.root_cause
    if root is None:
        return None
    line = f"Root cause: {root.check_id} — {root.summary}"
    rest = list(dict.fromkeys(f.check_id for f in item.verdict.consequences))
    if rest:
        line += f". Then: {', '.join(rest)}"
    return line


OTHER_CLIENTS_TITLE = "Other clients of the update service (not phones, not judged)"


def other_clients_table(report: Report) -> Table | None:
    """Hosts without phone evidence that touched the update service: one row each."""
    if not report.other_clients:
        return None
    rows = tuple(
        (
            client.mac or "—",
            ", ".join(client.ips[:3]),
            str(client.first_frame),
            str(client.activity_count),
            client.activities[0].what if client.activities else "",
        )
        for client in report.other_clients
    )
    dropped = report.other_clients_dropped
    note = (
        "No phone evidence: no MS-UC-Client/CPE-OCPHONE vendor class, check-in, phone user "
        "agent or MAC named in a check-in." + (f" {dropped} more not listed." if dropped else "")
    )
    return Table(
        OTHER_CLIENTS_TITLE,
        ("MAC", "address", "first frame", "activities", "first activity"),
        rows,
        note,
    )


def identity_table(item: DeviceReport) -> Table:
    session = item.session
    ident = session.identity
    rows = [
        ("MAC", session.mac or "—"),
        ("IP addresses", ", ".join(session.ips) or "—"),
        ("VLANs", ", ".join(str(v) for v in session.vlans) or "untagged"),
        ("device", " ".join(p for p in (ident.device_type, ident.vendor, ident.model) if p) or "—"),
        ("revision / locale", " / ".join(p for p in (ident.revision, ident.locale) if p) or "—"),
        ("serial", ident.serial or "—"),
        ("user", ident.user or "—"),
        ("firmware seen", " → ".join(item.firmware_versions) or "—"),
        ("boots seen", str(len(session.boots))),
        ("first / last seen", _span(session.first_ts, session.last_ts)),
        ("verdict", f"{str(item.verdict.verdict).upper()}: {item.verdict.reason}"),
    ]
    if item.verdict.advice:
        rows.append(("capture advice", item.verdict.advice))
    rows += [
        (f"coverage: {c.stage}", ("seen: " if c.seen else "missing: ") + c.note)
        for c in item.verdict.coverage
    ]
    return Table("Phone", ("", ""), tuple(rows))


def _marks(findings: tuple[Finding, ...]) -> dict[int, tuple[str, list[str]]]:
    """Frame → (worst severity among the findings citing it, their check IDs)."""
    out: dict[int, tuple[str, list[str]]] = {}
    for finding in findings:
        if finding.severity == Severity.INFO:
            continue
        for frame in finding.frames:
            mark, ids = out.get(frame, ("", []))
            if finding.severity == Severity.FAIL or not mark:
                mark = str(finding.severity)
            if finding.check_id not in ids:
                ids.append(finding.check_id)
            out[frame] = (mark, ids)
    return out


def _lane(step: TimelineStep) -> int:
    return _LANE_OF_STAGE.get(step.stage, 3)


def ladder(item: DeviceReport) -> list[Step]:
    marks = _marks(item.findings)
    steps = []
    for step in item.session.timeline:
        server = _lane(step)
        to_server = step.direction in ("to-server", "broadcast")
        mark, ids = marks.get(step.frame, ("", []))
        steps.append(
            Step(
                time=iso(step.ts) or "",
                frame=step.frame,
                source=0 if to_server else server,
                target=server if to_server else 0,
                broadcast=step.direction == "broadcast",
                stage=step.stage,
                summary=step.summary,
                peer=step.peer,
                mark=mark,
                checks=tuple(ids),
            )
        )
    return steps


def lane_peers(item: DeviceReport) -> list[str]:
    """Under each lane's name: the addresses it stands for in this phone's boot."""
    peers: list[list[str]] = [[], [], [], []]
    for step in item.session.timeline:
        lane = peers[_lane(step)]
        if step.peer and step.peer not in ("255.255.255.255", "0.0.0.0") and step.peer not in lane:
            lane.append(step.peer)
    peers[0] = [phone_name(item)]
    return [", ".join(p[:3]) + (" …" if len(p) > 3 else "") for p in peers]


def finding_rows(finding: Finding) -> list[tuple[str, str]]:
    rows = [("what was seen", finding.summary)]
    if finding.expected is not None:
        rows.append(("expected", finding.expected))
    if finding.observed is not None:
        rows.append(("observed", finding.observed))
    if finding.frames:
        rows.append(("frames", ", ".join(str(f) for f in finding.frames)))
    rows.append(("why it matters", finding.explanation))
    if finding.severity != Severity.INFO:
        rows.append(("fix", finding.remediation))
    return rows


def option_tables(session: DeviceSession) -> list[Table]:
    """Option 43 and option 120 as the phone received them, decoded; a value repeated at every
    boot is shown once, with every frame that carried it."""
    seen43: dict[bytes, list[int]] = {}
    seen120: dict[bytes, list[int]] = {}
    first43: dict[bytes, Option43] = {}
    first120: dict[bytes, Option120] = {}
    for exchange in session.dhcp:
        for item in exchange.messages:
            o43, o120 = item.message.option43, item.message.option120
            if o43 is not None:
                seen43.setdefault(o43.raw, []).append(item.frame)
                first43.setdefault(o43.raw, o43)
            if o120 is not None:
                seen120.setdefault(o120.raw, []).append(item.frame)
                first120.setdefault(o120.raw, o120)
    tables: list[Table] = []
    for raw, frames in seen43.items():
        o43 = first43[raw]
        rows = tuple(
            (str(s.code), s.name, s.text if s.text is not None else "(binary)", s.raw.hex())
            for s in o43.suboptions
        )
        notes = [
            f"vendor class {o43.vendor_class or '?'}",
            "complete" if o43.complete else "INCOMPLETE (cut short)",
        ]
        if o43.url:
            notes.append(f"composed URL {o43.url}")
        notes += list(o43.problems)
        tables.append(
            Table(
                f"Option 43 ({_frames(frames)})",
                ("sub-option", "name", "value", "raw (hex)"),
                rows,
                "; ".join(notes),
            )
        )
    for raw, frames in seen120.items():
        o120 = first120[raw]
        servers = tuple(("name", n) for n in o120.names) + tuple(
            ("address", a) for a in o120.addresses
        )
        encoding = {0: "0 (domain names)", 1: "1 (IPv4 addresses)"}.get(
            o120.encoding if o120.encoding is not None else -1, str(o120.encoding)
        )
        tables.append(
            Table(
                f"Option 120 ({_frames(frames)})",
                ("kind", "SIP server"),
                servers,
                "; ".join([f"encoding {encoding}", *o120.problems]),
            )
        )
    return tables


def _frames(frames: list[int]) -> str:
    return ("frames " if len(frames) > 1 else "frame ") + ", ".join(str(f) for f in frames)


_SHOWN_HEADERS = ("host", "user-agent", "content-type", "content-length", "server", "x-powered-by")


def checkin_tables(session: DeviceSession) -> list[Table]:
    tables: list[Table] = []
    for number, checkin in enumerate(session.checkins, 1):
        ex = checkin.exchange
        req = ex.request
        resp = ex.response
        status = f"{resp.status} {resp.reason}".strip() if resp is not None else "no response"
        head = [
            ("request", f"{req.method} {req.target} {req.version} (frame {req.frame})"),
            ("server", f"{ex.flow.server_ip}:{ex.flow.server_port}"),
            ("path kind", checkin.path_kind),
            ("response", status + (f" (frame {resp.frame})" if resp is not None else "")),
        ]
        for name, value in req.headers:
            if name.lower() in _SHOWN_HEADERS:
                head.append((f"request header {name}", value))
        if resp is not None:
            for name, value in resp.headers:
                if name.lower() in _SHOWN_HEADERS:
                    head.append((f"response header {name}", value))
        problems = list(checkin.request.problems)
        tables.append(Table(f"Check-in {number}", ("", ""), tuple(head), "; ".join(problems)))
        tables.append(
            Table(
                f"Check-in {number}: request fields (what the phone said)",
                ("field", "value"),
                checkin.request.fields,
            )
        )
        response = checkin.response
        if response is not None:
            rows = list(response.fields)
            if response.downloads is not None and not any("download" in p.lower() for p, _ in rows):
                rows.append(("(downloads)", str(response.downloads)))
            tables.append(
                Table(
                    f"Check-in {number}: response fields (what the server answered)",
                    ("field", "value"),
                    tuple(rows),
                    "; ".join(response.problems),
                )
            )
    return tables


def downloads_table(session: DeviceSession) -> Table | None:
    if not session.downloads:
        return None
    rows = []
    for item in session.downloads:
        status = "no response" if item.status is None else str(item.status)
        if item.substatus:
            status += f" (IIS {item.substatus})"
        if item.error_code:
            status += f" {item.error_code}"
        size = f"{item.bytes_received:,}"
        if item.expected is not None:
            size += f" of {item.expected:,}"
        offered = "—"
        if item.offered_by is not None:
            offered = f"{item.offered_version or '?'} (check-in frame {item.offered_by})"
        rows.append(
            (
                str(item.frame),
                item.url,
                offered,
                status,
                size,
                "yes" if item.complete else "NO",
                seconds(item.duration) if item.duration is not None else "—",
            )
        )
    return Table(
        "Downloads",
        ("frame", "URL", "offered", "status", "bytes", "complete", "took"),
        tuple(rows),
    )


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

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
        f"{str(item.verdict.verdict).upper()}",
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
