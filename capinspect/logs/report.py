"""Reading the logs given on the command line, checking them, and showing the result.

``load_logs`` is the one entry point the CLI uses (``capinspect logs`` and ``analyze
--iis-log/--audit-log``): it reads every file, keeps going past bad lines and bad files, and
raises only when nothing at all could be read. The renderers add a "server logs" section to
the capture's report (text, Markdown) or a ``logs`` object (JSON), so the capture's own report
stays exactly as it was.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from capinspect.checks.base import Severity
from capinspect.checks.logs import LogFinding, LogPhoneReport, evaluate_logs
from capinspect.devices import DeviceSession, seconds
from capinspect.errors import CapinspectError
from capinspect.expectations import Expectations
from capinspect.logs.audit import AuditLog, AuditModule, AuditRecord, read_audit_log
from capinspect.logs.correlate import ClockOffset, Correlation, MergedStep, correlate
from capinspect.logs.files import LogFileError, LogProblem, expand_paths, file_label
from capinspect.logs.iis import IisLog, IisRecord, read_iis_log
from capinspect.logs.timeline import UNIDENTIFIED, LogEvidence, LogStep, build_evidence

if TYPE_CHECKING:
    from collections.abc import Callable

    from capinspect.report.markdown import Table
    from capinspect.report.model import DeviceReport
    from capinspect.report.redact import Pseudonyms

LOGS_SCHEMA = "capinspect/logs@1"


@dataclass(frozen=True, slots=True)
class LogsResult:
    evidence: LogEvidence
    phones: tuple[LogPhoneReport, ...]
    correlation: Correlation | None
    unreadable: tuple[LogProblem, ...]
    """Files that could not be opened (the others were used)."""

    @property
    def findings(self) -> tuple[LogFinding, ...]:
        return tuple(f for p in self.phones for f in p.findings)

    @property
    def has_fail(self) -> bool:
        return any(f.finding.severity == Severity.FAIL for f in self.findings)


def load_logs(
    iis_paths: tuple[str, ...] | list[str],
    audit_paths: tuple[str, ...] | list[str],
    expect: Expectations,
    sessions: tuple[DeviceSession, ...] | None = None,
) -> LogsResult:
    """Read, group and check the logs; correlate with the capture's phones when given."""
    unreadable: list[LogProblem] = []
    iis_logs: list[IisLog] = []
    audit_logs: list[AuditLog] = []
    for path in expand_paths(list(iis_paths)):
        try:
            iis_logs.append(read_iis_log(path))
        except LogFileError as exc:
            unreadable.append(LogProblem(path, None, "iis-log.unreadable", str(exc)))
    for path in expand_paths(list(audit_paths)):
        try:
            audit_logs.append(read_audit_log(path))
        except LogFileError as exc:
            unreadable.append(LogProblem(path, None, "audit-log.unreadable", str(exc)))
    used = sum(len(log.records) for log in iis_logs) + sum(len(log.records) for log in audit_logs)
    if used == 0:
        if unreadable:
            raise CapinspectError(unreadable[0].detail)
        given = ", ".join([*iis_paths, *audit_paths]) or "none given"
        raise CapinspectError(
            f"no IIS log line or audit-log row about Device Update could be read from {given}"
        )
    evidence = build_evidence(iis_logs, audit_logs)
    phones = evaluate_logs(evidence, expect)
    corr = correlate(sessions, evidence) if sessions is not None else None
    return LogsResult(evidence, phones, corr, tuple(unreadable))


# -- helpers ----------------------------------------------------------------------------------


def _clock(ts: float | None) -> str:
    from capinspect.report.text import clock

    return clock(ts)


def _safe(value: object) -> str:
    from capinspect.report.text import safe

    return safe(value)


def _offset_text(off: ClockOffset) -> str:
    if off.offset is None:
        return f"{off.log}: unknown ({off.how})"
    sign = "+" if off.offset >= 0 else "−"
    size = seconds(abs(off.offset)) if abs(off.offset) >= 0.001 else "0 s"
    matches = f", {off.matches} matched" if off.matches else ""
    return f"capture − {off.log} = {sign}{size} ({off.how}{matches})"


def _files_line(result: LogsResult) -> str:
    ev = result.evidence
    parts = []
    for iis in ev.iis_logs:
        missing = ", ".join(f"{k} ×{n}" for k, n in sorted(iis.missing_fields.items()))
        parts.append(
            f"IIS {iis.source}: {len(iis.records)} Device Update line(s), "
            f"{iis.header_blocks} header block(s), {iis.other_records} other line(s)"
            + (f"; columns absent: {missing}" if missing else "")
        )
    for audit in ev.audit_logs:
        orders = f"dates {audit.date_orders.get('logged')}/{audit.date_orders.get('culture')}"
        sep = "comma" if audit.delimiter == "," else "semicolon"
        parts.append(
            f"audit {audit.source}: {len(audit.records)} row(s), {sep}-delimited, {orders}"
        )
    return "\n".join(parts)


# -- text -------------------------------------------------------------------------------------


def _finding_text(item: LogFinding) -> list[str]:
    f = item.finding
    out = [f"    {str(f.severity).upper():<4} {f.check_id}: {_safe(f.summary)}"]
    if f.severity != Severity.INFO:
        out.append(f"         fix: {_safe(f.remediation)}")
    return out


def _step_text(step: LogStep | MergedStep, shift: bool = False) -> str:
    if isinstance(step, MergedStep):
        where = f"#{step.frame}" if step.frame is not None else step.where or ""
        src = {"capture": "capture", "iis-log": "iis", "audit-log": "audit"}[step.source]
    else:
        where, src = step.where, {"iis-log": "iis", "audit-log": "audit"}[step.source]
    head = f"    {_clock(step.ts)}  {src:<7} {_safe(where):<22} {step.stage:<8}"
    return f"{head} {_safe(step.summary)}"


def render_logs_text(result: LogsResult) -> str:
    """The "server logs" section: files, clock offsets, per phone findings and ladder."""
    ev = result.evidence
    lines = ["", "Server logs", "==========="]
    lines += [_safe(s) for s in _files_line(result).splitlines()]
    for bad in result.unreadable:
        lines.append(f"  unreadable: {_safe(bad.detail)}")
    problems = ev.problems
    if problems:
        lines.append(
            f"  {len(problems)} line(s) not used, first: {_safe(problems[0].source)}:"
            f"{problems[0].line} {_safe(problems[0].detail)}"
        )
    if ev.audit_to_iis is not None and ev.has_iis:
        lines.append(
            f"  audit log vs IIS log: {ev.audit_to_iis:+.0f} s "
            f"({ev.audit_to_iis_matches} agreeing row/line pair(s))"
        )
    corr = result.correlation
    if corr is not None:
        lines.append("  clock: " + _safe(_offset_text(corr.iis)))
        lines.append("  clock: " + _safe(_offset_text(corr.audit)))
    for rep in result.phones:
        phone = rep.phone
        ident = ", ".join(
            f"{k} {v}"
            for k, v in (
                ("rev", phone.revision),
                ("locale", phone.locale),
                ("serial", phone.serial),
                ("user", phone.user),
                ("ip", ", ".join(phone.ips) or None),
            )
            if v
        )
        cap = corr.capture_key(phone.key) if corr is not None else None
        lines.append("")
        lines.append(
            f"  {_safe(phone.label)} [{str(rep.verdict).upper()}]"
            + (f" ({_safe(ident)})" if ident else "")
            + (f" = capture phone {_safe(cap)}" if cap else "")
        )
        for item in rep.findings:
            lines += _finding_text(item)
        if corr is not None and cap is not None:
            lines.append("    merged timeline (capture clock):")
            lines += ["  " + _step_text(s) for s in corr.timelines.get(cap, ())]
        else:
            lines.append("    timeline (server clock):")
            lines += ["  " + _step_text(s) for s in phone.steps]
    return "\n".join(lines) + "\n"


# -- JSON -------------------------------------------------------------------------------------


def _iso(ts: float | None) -> str | None:
    from capinspect.report.json import iso

    return iso(ts)


def _finding_json(item: LogFinding) -> dict[str, Any]:
    from capinspect.report.json import finding

    out = finding(item.finding)
    out["lines"] = list(item.lines)
    return out


IIS_CLOCK = "UTC (IIS writes W3C log times in UTC)"
AUDIT_CLOCK = "the server's local time (the audit log writes no time zone)"


def _source_json(path: str, line: int, lines: int) -> dict[str, Any]:
    return {"file": file_label(path), "path": path, "line": line, "lines": lines}


def module_json(module: AuditModule) -> dict[str, Any]:
    """A requested (installed) or offered file of an audit row, as data.

    The Response column's file name is the URL the phone is told to fetch: ``name`` is then
    the URL's last path segment and ``url`` the whole URL; a requested module has no URL."""
    text = module.file_name.strip()
    url = text if "://" in text else None
    name = text.rsplit("/", 1)[-1] if url else text
    return {
        "name": name or None,
        "version": module.version,
        "timestamp": _iso(module.timestamp),
        "timestamp_text": module.timestamp_text or None,
        "url": url,
        "nothing_installed": module.unknown_install,
    }


def iis_line_json(rec: IisRecord) -> dict[str, Any]:
    """One IIS log line with its own fields (None where the line had no value or no column)."""
    return {
        "kind": "iis",
        "source": _source_json(rec.source, rec.line, rec.lines),
        "raw": rec.raw,
        "logged": rec.logged_text or None,
        "time": _iso(rec.ts),
        "start_time": _iso(rec.start_ts),
        "clock": IIS_CLOCK,
        "method": rec.method,
        "uri_stem": rec.stem,
        "uri_query": rec.query,
        "server_ip": rec.server_ip,
        "port": rec.server_port,
        "username": rec.username,
        "client_ip": rec.client_ip,
        "user_agent": rec.user_agent,
        "host": rec.host,
        "status": rec.status,
        "substatus": rec.substatus,
        "win32_status": rec.win32_status,
        "iis_status": rec.iis_status,
        "time_taken_ms": rec.time_taken_ms,
        "missing_fields": list(rec.missing),
    }


def audit_row_json(rec: AuditRecord) -> dict[str, Any]:
    """One audit-log row with its own fields; requested and offered files as objects."""
    return {
        "kind": "audit",
        "source": _source_json(rec.source, rec.line, rec.lines),
        "raw": rec.raw,
        "logging_time": _iso(rec.logged_ts),
        "logging_time_text": rec.logged_text or None,
        "request_time": _iso(rec.request_ts),
        "request_time_text": rec.request_text or None,
        "clock": AUDIT_CLOCK,
        "user": rec.user,
        "host_address": rec.client_ip,
        "device_type": rec.device_type,
        "mac": rec.mac,
        "mac_text": rec.mac_text or None,
        "serial": rec.serial,
        "vendor": rec.vendor,
        "model": rec.model,
        "revision": rec.revision,
        "locale": rec.locale,
        "reported_version": rec.firmware,
        "reports_nothing_known": rec.reports_nothing_known,
        "requested": [module_json(m) for m in rec.requested],
        "offered": [module_json(m) for m in rec.response],
        "offered_versions": [m.version for m in rec.response if m.version],
        "extra_columns": dict(rec.extra),
    }


def record_json(record: IisRecord | AuditRecord | None) -> dict[str, Any] | None:
    if isinstance(record, IisRecord):
        return iis_line_json(record)
    if isinstance(record, AuditRecord):
        return audit_row_json(record)
    return None


def _merged_json(step: MergedStep) -> dict[str, Any]:
    from capinspect.report.json import plain

    out: dict[str, Any] = {
        "time": _iso(step.ts),
        "source": step.source,
        "frame": step.frame,
        "line": step.where,
        "stage": step.stage,
        "summary": step.summary,
    }
    if step.source == "capture":
        cap = step.capture
        out["direction"] = cap.direction if cap is not None else None
        out["peer"] = cap.peer if cap is not None else None
        out["details"] = plain(cap.details) if cap is not None else {}
    else:
        out["log_time"] = _iso(step.log_ts)
        out["shift_seconds"] = None if step.shift is None else round(step.shift, 3)
        out["record"] = record_json(step.record)
    return out


def _step_json(step: LogStep) -> dict[str, Any]:
    from capinspect.report.json import plain

    return {
        "time": _iso(step.ts),
        "source": step.source,
        "line": step.where,
        "stage": step.stage,
        "summary": step.summary,
        "details": plain(step.details),
        "record": record_json(step.record),
    }


def merged_timeline_json(result: LogsResult, device_key: str) -> dict[str, Any] | None:
    """A capture device's merged ladder (capture steps and log lines) with the offsets used.

    ``analyze --iis-log/--audit-log --format json`` puts this object in each device it has a
    log line for, so a script reads one device's whole story in one place."""
    corr = result.correlation
    if corr is None or device_key not in corr.timelines:
        return None
    return {
        "clock": "the capture's",
        "clock_offset": {"iis_log": _offset_json(corr.iis), "audit_log": _offset_json(corr.audit)},
        "log_phones": [log for log, cap in corr.devices if cap == device_key],
        "steps": [_merged_json(s) for s in corr.timelines[device_key]],
    }


def _offset_json(off: ClockOffset) -> dict[str, Any]:
    return {
        "seconds": None if off.offset is None else round(off.offset, 3),
        "matches": off.matches,
        "how": off.how,
    }


def device_logs(result: LogsResult) -> Callable[[DeviceReport], dict[str, Any]]:
    """What ``analyze --format json`` adds to each device: ``log_timeline`` (null when no log
    line was tied to the device)."""

    def add(item: DeviceReport) -> dict[str, Any]:
        return {"log_timeline": merged_timeline_json(result, item.session.key)}

    return add


def logs_document(result: LogsResult) -> dict[str, Any]:
    """The ``logs`` object of a report (or the whole ``capinspect/logs@1`` document)."""
    from capinspect.report.json import plain

    ev = result.evidence
    corr = result.correlation
    phones = []
    for rep in result.phones:
        phone = rep.phone
        cap = corr.capture_key(phone.key) if corr is not None else None
        entry: dict[str, Any] = {
            "key": phone.key,
            "mac": phone.mac,
            "ips": list(phone.ips),
            "identity": {
                "device_type": phone.device_type,
                "vendor": phone.vendor,
                "model": phone.model,
                "revision": phone.revision,
                "locale": phone.locale,
                "serial": phone.serial,
                "user": phone.user,
            },
            "capture_device": cap,
            "verdict": str(rep.verdict),
            "findings": [_finding_json(f) for f in rep.findings],
            "timeline": [_step_json(s) for s in phone.steps],
        }
        if corr is not None and cap is not None:
            entry["log_timeline"] = [_merged_json(s) for s in corr.timelines.get(cap, ())]
        phones.append(entry)
    return {
        "iis_logs": [
            {
                "path": log.source,
                "records": len(log.records),
                "other_records": log.other_records,
                "header_blocks": log.header_blocks,
                "software": log.software,
                "missing_fields": dict(log.missing_fields),
            }
            for log in ev.iis_logs
        ],
        "audit_logs": [
            {
                "path": log.source,
                "records": len(log.records),
                "delimiter": log.delimiter,
                "had_header": log.had_header,
                "date_orders": dict(log.date_orders),
            }
            for log in ev.audit_logs
        ],
        "unreadable": [p.detail for p in result.unreadable],
        "problems": plain(ev.problems[:1000]),
        "problems_total": len(ev.problems),
        "audit_to_iis_seconds": ev.audit_to_iis,
        "clock_offset": None
        if corr is None
        else {"iis_log": _offset_json(corr.iis), "audit_log": _offset_json(corr.audit)},
        "matched": [] if corr is None else [{"line": w, "frame": f} for w, f in corr.matched],
        "summary": {
            "phones": len(result.phones),
            "has_fail": result.has_fail,
        },
        "phones": phones,
    }


def standalone_document(result: LogsResult) -> dict[str, Any]:
    from capinspect import __version__

    return {
        "schema": LOGS_SCHEMA,
        "tool": {"name": "capinspect", "version": __version__},
        **logs_document(result),
    }


# -- Markdown / HTML --------------------------------------------------------------------------
#
# The tables are built once (``Table`` of report/markdown.py, raw strings from the logs) and each
# format escapes them with its own renderer (``_md_table`` / ``md`` and ``_table`` / ``h``), so
# nothing a log line holds (a crafted user agent, a URL, ``<script>``) becomes markup or a link.


def _day_clock(ts: float | None) -> str:
    """``2009-03-06 17:10:39.000``: a ladder spanning days still reads in order."""
    text = _iso(ts)
    if text is None:
        return "—"
    return text.replace("T", " ").rstrip("Z")[:23] if "T" in text else text


def _files_table(result: LogsResult) -> Table:
    from capinspect.report.markdown import Table

    rows: list[tuple[str, ...]] = []
    for iis in result.evidence.iis_logs:
        missing = ", ".join(f"{k} ×{n}" for k, n in sorted(iis.missing_fields.items()))
        rows.append(
            (
                iis.source,
                "IIS W3C",
                str(len(iis.records)),
                f"{iis.header_blocks} header block(s), {iis.other_records} other line(s)"
                + (f"; columns absent: {missing}" if missing else ""),
            )
        )
    for audit in result.evidence.audit_logs:
        sep = "comma" if audit.delimiter == "," else "semicolon"
        rows.append(
            (
                audit.source,
                "audit",
                str(len(audit.records)),
                f"{sep}-delimited; dates {audit.date_orders.get('logged')} (logged), "
                f"{audit.date_orders.get('culture')} (request, timestamps)",
            )
        )
    for bad in result.unreadable:
        rows.append((bad.source, "unreadable", "0", bad.detail))
    return Table("Log files", ("file", "kind", "lines used", "notes"), tuple(rows))


def _clock_table(result: LogsResult) -> Table | None:
    from capinspect.report.markdown import Table

    ev, corr = result.evidence, result.correlation
    rows: list[tuple[str, ...]] = []
    if ev.audit_to_iis is not None and ev.has_iis:
        rows.append(
            (
                "audit log vs IIS log",
                f"{ev.audit_to_iis:+.0f} s ({ev.audit_to_iis_matches} agreeing row/line pair(s))",
            )
        )
    if corr is not None:
        rows.append(("IIS log", _offset_text(corr.iis)))
        rows.append(("audit log", _offset_text(corr.audit)))
    if not rows:
        return None
    return Table("Clocks", ("", ""), tuple(rows))


def _problems_table(result: LogsResult) -> Table | None:
    from capinspect.report.markdown import Table

    problems = result.evidence.problems
    if not problems:
        return None
    shown = problems[:50]
    note = f"{len(problems) - len(shown)} more not shown." if len(problems) > len(shown) else ""
    rows = tuple(
        (f"{file_label(p.source)}:{p.line}" if p.line else file_label(p.source), p.code, p.detail)
        for p in shown
    )
    return Table("Lines not used", ("line", "problem", "detail"), rows, note)


def _phone_title(rep: LogPhoneReport) -> str:
    if rep.phone.key == UNIDENTIFIED:
        return "Lines not tied to a phone"
    return rep.phone.label


def _identity_table(rep: LogPhoneReport, cap: str | None) -> Table:
    from capinspect.report.markdown import Table

    phone = rep.phone
    rows = [
        ("MAC", phone.mac or "—"),
        ("IP addresses", ", ".join(phone.ips) or "—"),
        ("device", " ".join(p for p in (phone.device_type, phone.vendor, phone.model) if p) or "—"),
        ("revision / locale", " / ".join(p for p in (phone.revision, phone.locale) if p) or "—"),
        ("serial", phone.serial or "—"),
        ("user", phone.user or "—"),
        ("lines", f"{len(phone.iis)} IIS line(s), {len(phone.audit)} audit row(s)"),
        ("verdict", str(rep.verdict).upper()),
    ]
    if cap is not None:
        rows.append(("capture phone", cap))
    return Table("Phone", ("", ""), tuple(rows))


def _ladder_table(rep: LogPhoneReport, corr: Correlation | None, cap: str | None) -> Table:
    from capinspect.report.markdown import Table

    if corr is not None and cap is not None:
        merged = corr.timelines.get(cap, ())
        merged_rows = tuple(
            (
                _day_clock(s.ts),
                s.source,
                f"#{s.frame}" if s.frame is not None else s.where or "",
                s.stage,
                s.summary,
                "" if s.shift is None else f"{s.shift:+.3f}",
            )
            for s in merged
        )
        return Table(
            "Merged ladder (capture clock, UTC)",
            ("time", "source", "frame / line", "stage", "what", "shift (s)"),
            merged_rows,
            "Log lines are moved onto the capture's clock by the shift shown (the measured clock "
            "offset; a whole-second log time counts as the middle of its second).",
        )
    rows = tuple((_day_clock(s.ts), s.source, s.where, s.stage, s.summary) for s in rep.phone.steps)
    return Table(
        "Log ladder (IIS log's clock)",
        ("time", "source", "line", "stage", "what"),
        rows,
        "Downloads are shown when they started (logged time minus time-taken)."
        if any(s.stage == "download" for s in rep.phone.steps)
        else "",
    )


def _md_log_finding(item: LogFinding) -> list[str]:
    from capinspect.report.markdown import finding_rows, md

    f = item.finding
    lines = [f"- **{str(f.severity).upper()}** `{f.check_id}`: {md(f.title)}"]
    for label, value in finding_rows(f):
        lines.append(f"  - *{label}:* {md(value)}")
    if item.lines:
        lines.append(f"  - *log lines:* {md(', '.join(item.lines))}")
    return lines


def _md_sections(result: LogsResult, level: int) -> list[str]:
    """Files, clocks, one section per phone (findings, identity, ladder), lines not used."""
    from capinspect.report.markdown import _md_table, md

    corr = result.correlation
    lines = _md_table(_files_table(result), level=level)
    clocks = _clock_table(result)
    if clocks is not None:
        lines += _md_table(clocks, level=level)
    number = 0
    for rep in result.phones:
        number += 1
        cap = corr.capture_key(rep.phone.key) if corr is not None else None
        lines += [
            f"{'#' * level} {number}. {md(_phone_title(rep))} — {str(rep.verdict).upper()}",
            "",
        ]
        if rep.phone.key != UNIDENTIFIED:  # nothing to identify: no address, no audit row
            lines += _md_table(_identity_table(rep, cap), level=level + 1)
        lines += [f"{'#' * (level + 1)} Findings", ""]
        if rep.findings:
            for item in rep.findings:
                lines += _md_log_finding(item)
        else:
            lines.append("No finding.")
        lines.append("")
        lines += _md_table(_ladder_table(rep, corr, cap), level=level + 1)
    problems = _problems_table(result)
    if problems is not None:
        lines += _md_table(problems, level=level)
    return lines


def render_logs_markdown(result: LogsResult) -> str:
    """The server-log section of ``analyze --format markdown``."""
    return "\n## Server logs\n\n" + "\n".join(_md_sections(result, 3)).rstrip("\n") + "\n"


def render_logs_markdown_document(result: LogsResult) -> str:
    """``capinspect logs --format markdown``: the logs alone, ready for a ticket."""
    from capinspect.report.markdown import md

    names = ", ".join(md(file_label(p)) for p in _paths(result)) or "(none)"
    lines = [f"# capinspect server logs: {names}", "", f"{md(_tally(result))}.", ""]
    lines += _md_sections(result, 2)
    return "\n".join(lines).rstrip("\n") + "\n"


def _paths(result: LogsResult) -> list[str]:
    ev = result.evidence
    return [*(log.source for log in ev.iis_logs), *(log.source for log in ev.audit_logs)]


def _tally(result: LogsResult) -> str:
    """``2 phone(s): 1 fail, 1 pass; 3 line(s) not tied to a phone``."""
    order = ("fail", "warn", "inconclusive", "pass")
    phones = [r for r in result.phones if r.phone.key != UNIDENTIFIED]
    seen = [str(r.verdict) for r in phones]
    parts = [f"{seen.count(v)} {v}" for v in order if seen.count(v)]
    out = f"{len(phones)} phone(s)" + ((": " + ", ".join(parts)) if parts else "")
    loose = sum(len(r.phone.iis) + len(r.phone.audit) for r in result.phones) - sum(
        len(r.phone.iis) + len(r.phone.audit) for r in phones
    )
    return out + (f"; {loose} line(s) not tied to a phone" if loose else "")


def _html_log_finding(item: LogFinding) -> str:
    from capinspect.report.html import h
    from capinspect.report.markdown import finding_rows

    f = item.finding
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
    from capinspect.report.html import _table, h

    corr = result.correlation
    out = [_table(_files_table(result), level=level)]
    clocks = _clock_table(result)
    if clocks is not None:
        out.append(_table(clocks, level=level))
    for number, rep in enumerate(result.phones, 1):
        cap = corr.capture_key(rep.phone.key) if corr is not None else None
        verdict = str(rep.verdict)
        out += [
            f'<section class="phone" id="log-phone-{number}">',
            f"<h{level}>{number}. {h(_phone_title(rep))} "
            f'<span class="verdict v-{h(verdict)}">{h(verdict.upper())}</span></h{level}>',
        ]
        if rep.phone.key != UNIDENTIFIED:
            out.append(_table(_identity_table(rep, cap), level=level + 1))
        out.append(f"<h{level + 1}>Findings</h{level + 1}>")
        out += [_html_log_finding(item) for item in rep.findings] or ["<p>No finding.</p>"]
        out += [_table(_ladder_table(rep, corr, cap), level=level + 1), "</section>"]
    problems = _problems_table(result)
    if problems is not None:
        out.append(_table(problems, level=level))
    return out


def render_logs_html(result: LogsResult) -> str:
    """``capinspect logs --format html``: one self-contained page, the analyze report's CSP."""
    from capinspect.report.html import _CSS, NO_SCRIPT_CSP, h

    names = ", ".join(file_label(p) for p in _paths(result)) or "(none)"
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
        f"<p>{h(_tally(result))}.</p>",
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


def render_logs(result: LogsResult, fmt: str) -> str:
    """``capinspect logs`` in any of its formats."""
    if fmt == "json":
        from capinspect.report.json import dumps

        return dumps(standalone_document(result))
    if fmt == "markdown":
        return render_logs_markdown_document(result)
    if fmt == "html":
        return render_logs_html(result)
    return render_logs_text(result).lstrip("\n")


def redact_logs(result: LogsResult, names: Pseudonyms) -> LogsResult:
    """``result`` with every identifier replaced, with the pseudonyms of ``names``.

    The same walk as the capture report's (report/redact.py), so a phone has the same
    pseudonym in the capture's sections and in the logs'. What only the logs say is registered
    first: IIS ``cs-username`` (often ``DOMAIN\\user``, which free-text scanning does not
    recognise as a user). The merged ladders are keyed by capture device: the keys are
    rewritten too, so the redacted report still finds each phone's ladder."""
    from capinspect.report.redact import redact_also

    for log in result.evidence.iis_logs:
        for rec in log.records:
            if rec.username:
                names.user(rec.username)
    redacted: LogsResult = redact_also(result, names)
    corr = redacted.correlation
    if corr is not None:
        timelines = {names.text(k): v for k, v in corr.timelines.items()}
        redacted = dataclasses.replace(
            redacted, correlation=dataclasses.replace(corr, timelines=timelines)
        )
    return redacted


def with_logs(text: str, fmt: str, result: LogsResult) -> str:
    """The capture's rendered report with the server-log section added in its format."""
    if fmt == "json":
        import json

        from capinspect.report.json import dumps

        document = json.loads(text)
        for device in document.get("devices", []):
            device["log_timeline"] = merged_timeline_json(result, device.get("key", ""))
        document["logs"] = logs_document(result)
        return dumps(document)
    if fmt == "markdown":
        return text.rstrip("\n") + "\n" + render_logs_markdown(result)
    if fmt == "html":
        return append_to_html(text, result)
    return text.rstrip("\n") + "\n" + render_logs_text(result)
