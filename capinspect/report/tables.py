"""What a ticket report shows, built once as plain tables of *unescaped* strings.

:class:`Table` and :class:`Step` (the ladder's arrows) hold raw strings from the capture; each
format escapes them where it lands — ``report/markdown.py`` for Markdown, ``report/html.py`` for
HTML — so the Markdown and HTML reports cannot drift apart, and escaping lives in one function
per format, applied to every string from the capture.
"""

from __future__ import annotations

from dataclasses import dataclass

from capinspect import __version__
from capinspect.checks.base import Finding, Severity
from capinspect.devices import DeviceSession, TimelineStep, seconds
from capinspect.protocols.dhcp.messages import Option43, Option120
from capinspect.report.json_values import iso
from capinspect.report.model import DeviceReport, Report, Table
from capinspect.report.text import device_label
from capinspect.report.timeline import step_summary

LANES = ("Phone", "DHCP server", "DNS server", "Update server")
"""The ladder's lanes, left to right."""
_LANE_OF_STAGE = {"dhcp": 1, "dns": 2}


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
            ("anomalies", str(sum(a.count for a in analysis.anomalies))),
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
                item.verdict.label,
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
        ("verdict", f"{item.verdict.label}: {item.verdict.reason}"),
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
                summary=step_summary(step),
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
    if finding.basis is not None:
        rows.append(("inferred without decryption from", "; ".join(finding.basis)))
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
