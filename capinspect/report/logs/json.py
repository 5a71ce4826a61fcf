"""The ``logs`` object of the JSON report (``capinspect/logs@1`` alone)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from capinspect import __version__
from capinspect.checks.base import Finding
from capinspect.logs.audit import AuditModule, AuditRecord
from capinspect.logs.correlate import ClockOffset, MergedStep
from capinspect.logs.files import file_label
from capinspect.logs.iis import IisRecord
from capinspect.logs.timeline import LogStep
from capinspect.report.json import finding
from capinspect.report.json_values import iso, plain
from capinspect.report.logs.model import LOGS_SCHEMA, LogsResult, merged_summary

if TYPE_CHECKING:
    from collections.abc import Callable

    from capinspect.report.model import DeviceReport


def _finding_json(item: Finding) -> dict[str, Any]:
    out = finding(item)
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
        "timestamp": iso(module.timestamp),
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
        "time": iso(rec.ts),
        "start_time": iso(rec.start_ts),
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
        "logging_time": iso(rec.logged_ts),
        "logging_time_text": rec.logged_text or None,
        "request_time": iso(rec.request_ts),
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
    out: dict[str, Any] = {
        "time": iso(step.ts),
        "source": step.source,
        "frame": step.frame,
        "line": step.where,
        "stage": step.stage,
        "summary": merged_summary(step),
    }
    if step.source == "capture":
        cap = step.capture
        out["direction"] = cap.direction if cap is not None else None
        out["peer"] = cap.peer if cap is not None else None
        out["details"] = plain(cap.details) if cap is not None else {}
    else:
        out["log_time"] = iso(step.log_ts)
        out["shift_seconds"] = None if step.shift is None else round(step.shift, 3)
        out["record"] = record_json(step.record)
    return out


def _step_json(step: LogStep) -> dict[str, Any]:
    return {
        "time": iso(step.ts),
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
    return {
        "schema": LOGS_SCHEMA,
        "tool": {"name": "capinspect", "version": __version__},
        **logs_document(result),
    }
