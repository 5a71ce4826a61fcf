"""The server-log section of the text report (and ``capinspect logs`` as text)."""

from __future__ import annotations

from capinspect.checks.base import Finding, Severity
from capinspect.logs.correlate import MergedStep
from capinspect.logs.timeline import LogStep
from capinspect.report.logs.model import LogsResult, files_line, merged_summary, offset_text
from capinspect.report.text import clock, safe


def _finding_text(item: Finding) -> list[str]:
    f = item
    out = [f"    {str(f.severity).upper():<4} {f.check_id}: {safe(f.summary)}"]
    if f.severity != Severity.INFO:
        out.append(f"         fix: {safe(f.remediation)}")
    return out


def _step_text(step: LogStep | MergedStep, shift: bool = False) -> str:
    if isinstance(step, MergedStep):
        where = f"#{step.frame}" if step.frame is not None else step.where or ""
        src = {"capture": "capture", "iis-log": "iis", "audit-log": "audit"}[step.source]
    else:
        where, src = step.where, {"iis-log": "iis", "audit-log": "audit"}[step.source]
    head = f"    {clock(step.ts)}  {src:<7} {safe(where):<22} {step.stage:<8}"
    summary = merged_summary(step) if isinstance(step, MergedStep) else step.summary
    return f"{head} {safe(summary)}"


def render_logs_text(result: LogsResult) -> str:
    """The "server logs" section: files, clock offsets, per phone findings and ladder."""
    ev = result.evidence
    lines = ["", "Server logs", "==========="]
    lines += [safe(s) for s in files_line(result).splitlines()]
    for bad in result.unreadable:
        lines.append(f"  unreadable: {safe(bad.detail)}")
    problems = ev.problems
    if problems:
        lines.append(
            f"  {len(problems)} line(s) not used, first: {safe(problems[0].source)}:"
            f"{problems[0].line} {safe(problems[0].detail)}"
        )
    if ev.audit_to_iis is not None and ev.has_iis:
        lines.append(
            f"  audit log vs IIS log: {ev.audit_to_iis:+.0f} s "
            f"({ev.audit_to_iis_matches} agreeing row/line pair(s))"
        )
    corr = result.correlation
    if corr is not None:
        lines.append("  clock: " + safe(offset_text(corr.iis)))
        lines.append("  clock: " + safe(offset_text(corr.audit)))
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
            f"  {safe(phone.label)} [{str(rep.verdict).upper()}]"
            + (f" ({safe(ident)})" if ident else "")
            + (f" = capture phone {safe(cap)}" if cap else "")
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
