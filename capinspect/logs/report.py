"""Reading the logs given on the command line, checking them, and showing the result.

``load_logs`` is the one entry point the CLI uses (``capinspect logs`` and ``analyze
--iis-log/--audit-log``): it reads every file, keeps going past bad lines and bad files, and
raises only when nothing at all could be read. The renderers add a "server logs" section to
the capture's report (text, Markdown) or a ``logs`` object (JSON), so the capture's own report
stays exactly as it was.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from capinspect.checks.base import Severity
from capinspect.checks.logs import LogFinding, LogPhoneReport, evaluate_logs
from capinspect.devices import DeviceSession, seconds
from capinspect.errors import CapinspectError
from capinspect.expectations import Expectations
from capinspect.logs.audit import AuditLog, read_audit_log
from capinspect.logs.correlate import ClockOffset, Correlation, MergedStep, correlate
from capinspect.logs.files import LogFileError, LogProblem, expand_paths
from capinspect.logs.iis import IisLog, read_iis_log
from capinspect.logs.timeline import LogEvidence, LogStep, build_evidence

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


def _merged_json(step: MergedStep) -> dict[str, Any]:
    return {
        "time": _iso(step.ts),
        "source": step.source,
        "frame": step.frame,
        "line": step.where,
        "stage": step.stage,
        "summary": step.summary,
    }


def _step_json(step: LogStep) -> dict[str, Any]:
    from capinspect.report.json import plain

    return {
        "time": _iso(step.ts),
        "source": step.source,
        "line": step.where,
        "stage": step.stage,
        "summary": step.summary,
        "details": plain(step.details),
    }


def _offset_json(off: ClockOffset) -> dict[str, Any]:
    return {
        "seconds": None if off.offset is None else round(off.offset, 3),
        "matches": off.matches,
        "how": off.how,
    }


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


def render_logs_markdown(result: LogsResult) -> str:
    """The server-log section for a ticket: the text section in a code block."""
    return "\n## Server logs\n\n```text\n" + render_logs_text(result).strip("\n") + "\n```\n"


def append_to_html(page: str, result: LogsResult) -> str:
    """Insert the server-log section before ``</body>`` (escaped, preformatted)."""
    block = (
        '<section id="server-logs"><h2>Server logs</h2><pre>'
        + html.escape(render_logs_text(result))
        + "</pre></section>\n"
    )
    idx = page.rfind("</body>")
    return page[:idx] + block + page[idx:] if idx >= 0 else page + block


def with_logs(text: str, fmt: str, result: LogsResult) -> str:
    """The capture's rendered report with the server-log section added in its format."""
    if fmt == "json":
        import json

        from capinspect.report.json import dumps

        document = json.loads(text)
        document["logs"] = logs_document(result)
        return dumps(document)
    if fmt == "markdown":
        return text.rstrip("\n") + "\n" + render_logs_markdown(result)
    if fmt == "html":
        return append_to_html(text, result)
    return text.rstrip("\n") + "\n" + render_logs_text(result)
