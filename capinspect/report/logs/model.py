"""The logs given on the command line, read and checked: :class:`LogsResult`.

``load_logs`` is the one entry point the CLI uses (``capinspect logs`` and ``analyze
--iis-log/--audit-log``): it reads every file, keeps going past bad lines and bad files, and
raises only when nothing at all could be read. The helpers below word what every format shows
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.checks.base import Finding, Severity
from capinspect.checks.logs import LogPhoneReport, evaluate_logs
from capinspect.devices import DeviceSession, seconds
from capinspect.errors import CapinspectError
from capinspect.expectations import Expectations
from capinspect.logs.audit import AuditLog
from capinspect.logs.correlate import ClockOffset, Correlation, MergedStep, correlate
from capinspect.logs.files import LogFileError, LogProblem, expand_paths
from capinspect.logs.fill import read_audit_logs
from capinspect.logs.iis import IisLog, read_iis_log
from capinspect.logs.timeline import LogEvidence, build_evidence
from capinspect.report.timeline import step_summary

LOGS_SCHEMA = "capinspect/logs@1"


@dataclass(frozen=True, slots=True)
class LogsResult:
    evidence: LogEvidence
    phones: tuple[LogPhoneReport, ...]
    correlation: Correlation | None
    unreadable: tuple[LogProblem, ...]
    """Files that could not be opened (the others were used)."""

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for p in self.phones for f in p.findings)

    @property
    def has_fail(self) -> bool:
        return any(f.severity == Severity.FAIL for f in self.findings)


def load_logs(
    iis_paths: tuple[str, ...] | list[str],
    audit_paths: tuple[str, ...] | list[str],
    expect: Expectations,
    sessions: tuple[DeviceSession, ...] | None = None,
    audit_read: tuple[tuple[AuditLog, ...], tuple[tuple[str, str], ...]] | None = None,
) -> LogsResult:
    """Read, group and check the logs; correlate with the capture's phones when given.

    ``audit_read``: the audit logs as ``logs.fill.read_audit_logs`` already read them for
    this run (then ``audit_paths`` are not read again)."""
    unreadable: list[LogProblem] = []
    iis_logs: list[IisLog] = []
    audit_logs: list[AuditLog] = []
    for path in expand_paths(list(iis_paths)):
        try:
            iis_logs.append(read_iis_log(path))
        except LogFileError as exc:
            unreadable.append(LogProblem(path, None, "iis-log.unreadable", str(exc)))
    read, failed = audit_read if audit_read is not None else read_audit_logs(audit_paths)
    audit_logs.extend(read)
    for path, why in failed:
        unreadable.append(LogProblem(path, None, "audit-log.unreadable", why))
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


def offset_text(off: ClockOffset) -> str:
    if off.offset is None:
        return f"{off.log}: unknown ({off.how})"
    sign = "+" if off.offset >= 0 else "−"
    size = seconds(abs(off.offset)) if abs(off.offset) >= 0.001 else "0 s"
    matches = f", {off.matches} matched" if off.matches else ""
    return f"capture − {off.log} = {sign}{size} ({off.how}{matches})"


def files_line(result: LogsResult) -> str:
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


def merged_summary(step: MergedStep) -> str:
    """A step of a merged (capture and server logs) ladder in one line: a capture step in the
    words of the capture's ladder (report/timeline.py), a log step in its own."""
    return step_summary(step.capture) if step.capture is not None else step.summary
