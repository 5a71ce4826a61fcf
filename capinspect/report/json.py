"""JSON documents: ``capinspect/report@1`` (analyze) and ``capinspect/timeline@1`` (timeline).

Both are documented field by field in docs/json-schema.md. Bytes from the capture are written as
hex (``*_hex``) or, for bodies, as text with undecodable bytes replaced; JSON escaping makes any
control character in them harmless.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from capinspect import __version__
from capinspect.analysis import Analysis
from capinspect.checks.base import Finding
from capinspect.devices import DeviceSession, OtherClient
from capinspect.report.json_values import (
    checkin,
    dhcp_exchange,
    dns_lookup,
    download,
    encrypted_checkin,
    http_exchange,
    iso,
    plain,
    tls_connection,
)
from capinspect.report.model import DeviceReport, Report
from capinspect.report.signin import signin_json, time_json
from capinspect.report.timeline import step_summary

REPORT_SCHEMA = "capinspect/report@1"
TIMELINE_SCHEMA = "capinspect/timeline@1"


# -- devices ----------------------------------------------------------------------------------


def device_core(session: DeviceSession) -> dict[str, Any]:
    return {
        "key": session.key,
        "mac": session.mac,
        "ips": list(session.ips),
        "vlans": list(session.vlans),
        "identity": plain(session.identity),
        "phone_evidence": list(session.phone_evidence),
        "firmware_seen": [
            {"version": s.version, "frame": s.frame, "time": iso(s.ts), "source": s.source}
            for s in session.firmware_seen
        ],
        "boots": [iso(ts) for ts in session.boots],
        "first_seen": iso(session.first_ts),
        "last_seen": iso(session.last_ts),
    }


def device_timeline(session: DeviceSession) -> dict[str, Any]:
    out = device_core(session)
    out["timeline"] = [
        {
            "time": iso(step.ts),
            "frame": step.frame,
            "stage": step.stage,
            "direction": step.direction,
            "peer": step.peer,
            "summary": step_summary(step),
            "details": plain(step.details),
        }
        for step in session.timeline
    ]
    out["dhcp"] = [dhcp_exchange(ex) for ex in session.dhcp]
    out["dns"] = [dns_lookup(lk) for lk in session.dns]
    out["checkins"] = [checkin(c) for c in session.checkins]
    out["downloads"] = [download(d) for d in session.downloads]
    out["other_http"] = [http_exchange(ex) for ex in session.other_http]
    out["other_connections"] = [
        {
            "kind": f.kind,
            "frame": f.frame,
            "time": iso(f.ts),
            "client": f"{f.flow.client_ip}:{f.flow.client_port}",
            "server": f"{f.flow.server_ip}:{f.flow.server_port}",
            "bytes_to_server": f.bytes_to_server,
            "bytes_to_client": f.bytes_to_client,
            "end": f.end_reason,
        }
        for f in session.other_flows
    ]
    out["tls"] = [tls_connection(c) for c in session.tls]
    out["encrypted_checkins"] = [encrypted_checkin(e) for e in session.encrypted_checkins]
    out["signin"] = signin_json(session.signin)
    out["time"] = time_json(session.time)
    return out


def finding(item: Finding) -> dict[str, Any]:
    return {
        "id": item.check_id,
        "severity": str(item.severity),
        "title": item.title,
        "summary": item.summary,
        "expected": item.expected,
        "observed": item.observed,
        "frames": list(item.frames),
        "time": iso(item.ts),
        "explanation": item.explanation,
        "remediation": item.remediation,
        "inferred": item.inferred,
        "basis": list(item.basis) if item.basis is not None else None,
    }


def inputs_and_stats(analysis: Analysis) -> dict[str, Any]:
    stats = analysis.stats
    return {
        "inputs": [
            {
                "path": i.path,
                "size": i.size,
                "sha256": i.sha256,
                "format": i.format,
                "frames": i.frames,
            }
            for i in analysis.inputs
        ],
        "capture": {
            "frames": stats.frames,
            "bytes": stats.bytes,
            "frames_kept": stats.frames_kept,
            "first_time": iso(stats.first_ts),
            "last_time": iso(stats.last_ts),
            "linktypes": list(stats.linktypes),
            "vlans": list(stats.vlans),
            "dhcp_frames": stats.dhcp_frames,
            "dns_frames": stats.dns_frames,
            "tcp80_frames": stats.tcp80_frames,
            "tcp443_frames": stats.tcp443_frames,
            "tunnels": dict(stats.tunnels),
            "tunnels_not_decoded": dict(stats.tunnels_not_decoded),
            "dhcp_background": {
                "clients": analysis.dhcp_background.clients,
                "exchanges": analysis.dhcp_background.exchanges,
                "messages": analysis.dhcp_background.messages,
            },
        },
        "anomalies": plain(analysis.anomalies[:1000]),
        "anomalies_total": sum(a.count for a in analysis.anomalies),
    }


def device_report(item: DeviceReport) -> dict[str, Any]:
    out = device_timeline(item.session)
    out["verdict"] = str(item.verdict.verdict)
    out["verdict_reason"] = item.verdict.reason
    out["verdict_inferred"] = item.verdict.inferred
    out["verdict_basis"] = list(item.verdict.basis) if item.verdict.basis is not None else None
    root = item.verdict.root_cause
    out["root_cause"] = finding(root) if root is not None else None
    out["consequences"] = list(dict.fromkeys(f.check_id for f in item.verdict.consequences))
    out["capture_advice"] = item.verdict.advice
    out["coverage"] = [
        {"stage": s.stage, "seen": s.seen, "note": s.note} for s in item.verdict.coverage
    ]
    out["findings"] = [finding(f) for f in item.findings]
    return out


def _selection(report: Report) -> dict[str, Any]:
    """``selection`` when the report shows only some phones (``analyze --only``/``--phone``):
    the criteria and the counts over every phone (``devices`` and the verdict counts beside it
    are the shown phones')."""
    selection = report.selection
    if selection is None:
        return {}
    return {
        "selection": {
            "only": [str(v) for v in selection.verdicts],
            "phones": list(selection.phones),
            "shown": len(report.devices),
            "of": selection.total,
            "all": {str(v): n for v, n in selection.total_counts},
        }
    }


def report_head(report: Report) -> dict[str, Any]:
    """The report document without its ``devices`` (see :func:`write_report`)."""
    counts = report.verdict_counts()
    return {
        "schema": REPORT_SCHEMA,
        "tool": {"name": "capinspect", "version": __version__},
        **inputs_and_stats(report.analysis),
        "expectations": {
            "source": report.expectations.source,
            **{
                k: v
                for k, v in plain(report.expectations).items()
                if v not in (None, [], ()) and k != "source"
            },
        },
        "summary": {
            "devices": len(report.devices),
            **{str(v): n for v, n in counts.items()},
            "has_fail": report.has_fail,
            **_selection(report),
        },
        "capture_findings": [finding(f) for f in report.capture_findings],
        "other_update_clients": {
            "listed": [other_client(c) for c in report.other_clients],
            "not_listed": report.other_clients_dropped,
        },
    }


def other_client(client: OtherClient) -> dict[str, Any]:
    """A host without phone evidence that touched the update service (never judged)."""
    return {
        "key": client.key,
        "mac": client.mac,
        "ips": list(client.ips),
        "phone_maker_prefix": client.oui_vendor,
        "activity_count": client.activity_count,
        "activities": [
            {"frame": a.frame, "time": iso(a.ts), "what": a.what} for a in client.activities
        ],
    }


def report_document(report: Report) -> dict[str, Any]:
    """The whole ``capinspect/report@1`` document as one dict."""
    return {**report_head(report), "devices": [device_report(d) for d in report.devices]}


def write_report(
    report: Report,
    out: TextIO,
    extra: dict[str, Any] | None = None,
    device_extra: Callable[[DeviceReport], dict[str, Any]] | None = None,
) -> None:
    """Write ``dumps(report_document(report) | extra)`` to ``out``, one device at a time.

    Why: on a capture with many phones the document and its text are tens of megabytes, and
    building both before writing was the largest part of a run's peak memory. Each device's
    dict is built, written and dropped; the text is the same to the byte (tests/report).
    ``device_extra`` adds keys to each device's object (the server logs' merged timeline).
    """
    head = dumps(report_head(report)).rstrip("\n")
    out.write(head[: -len("\n}")])
    out.write(',\n  "devices": [')
    for number, device in enumerate(report.devices):
        entry = device_report(device)
        if device_extra is not None:
            entry.update(device_extra(device))
        text = dumps(entry).rstrip("\n")
        out.write(",\n" if number else "\n")
        out.write("\n".join("    " + line for line in text.split("\n")))
    out.write("\n  ]" if report.devices else "]")
    for key, value in (extra or {}).items():
        text = dumps({key: value}).rstrip("\n")
        out.write(",\n" + text[len("{\n") : -len("\n}")])
    out.write("\n}\n")


def timeline_document(analysis: Analysis, devices: tuple[DeviceSession, ...]) -> dict[str, Any]:
    return {
        "schema": TIMELINE_SCHEMA,
        "tool": {"name": "capinspect", "version": __version__},
        **inputs_and_stats(analysis),
        "devices": [device_timeline(d) for d in devices],
    }


_TERMINAL_UNSAFE = re.compile("[\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
"""C1 controls (0x9b is CSI), zero-width and bidi characters: JSON allows them raw, but the
document is often read in a terminal. Only string contents can hold them, so escaping is safe."""


def dumps(document: dict[str, Any]) -> str:
    """The document as indented UTF-8 text, terminal-unsafe characters escaped.

    Why orjson: with ``indent`` the standard library falls back to its pure-Python encoder,
    which took ~0.13 s of a 1M-packet run's report; orjson writes the same text (two-space
    indent, ``": "``, raw UTF-8) in a tenth of that. Where the two differ it is in spelling
    only: floats below 1e-4 or from 1e16 (``0.00001`` for ``1e-05``) and NaN (``null``, which
    is valid JSON). What orjson refuses (non-string keys, integers over 64 bits, lone
    surrogates) is written by the standard library as before."""
    try:
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        text = json.dumps(document, indent=2, ensure_ascii=False)
    return _TERMINAL_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text) + "\n"
