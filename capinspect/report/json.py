"""JSON documents: ``capinspect/report@1`` (analyze) and ``capinspect/timeline@1`` (timeline).

Both are documented field by field in docs/json-schema.md. Bytes from the capture are written as
hex (``*_hex``) or, for bodies, as text with undecodable bytes replaced; JSON escaping makes any
control character in them harmless.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from capinspect import __version__
from capinspect.checks.base import Finding
from capinspect.devices import Checkin, DeviceSession, Download, OtherClient
from capinspect.engine import Analysis
from capinspect.protocols.dhcp.messages import (
    URL_FIELDS,
    DhcpExchange,
    DhcpMessage,
    DhcpOption,
    DhcpSeen,
    Option43,
    value_text,
)
from capinspect.protocols.dhcp.options import option_kind
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.http.messages import HttpBody, HttpExchange, HttpRequest, HttpResponse
from capinspect.protocols.tls.messages import TlsConnection, suite_name, version_name
from capinspect.report.model import DeviceReport, Report
from capinspect.report.signin import signin_json, time_json

REPORT_SCHEMA = "capinspect/report@1"
TIMELINE_SCHEMA = "capinspect/timeline@1"
BODY_TEXT_LIMIT = 64 * 1024
"""Bytes of an HTTP body shown as text in JSON (check-in XML, error pages).

Firmware bodies are never shown: only their size and hash."""


def iso(ts: float | None) -> str | None:
    """ISO 8601 UTC; a timestamp no calendar can show (a damaged record) stays epoch seconds."""
    if ts is None:
        return None
    try:
        moment = datetime.fromtimestamp(ts, UTC)
    except (ValueError, OverflowError, OSError):
        return f"{ts:.6f}"
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """Turn dataclasses, tuples and bytes into JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, float):
        return round(value, 6)
    return value


# -- DHCP -------------------------------------------------------------------------------------


def _option_value(option: DhcpOption) -> Any:
    """A text option's value only when its bytes are text: else null, the bytes being in
    ``raw_hex`` (the model's ``01 BB (hex)`` display form could be mistaken for text)."""
    if option_kind(option.code) == "text" and value_text(option.raw) is None:
        return None
    return plain(option.value)


def _vendor_class(msg: DhcpMessage) -> str | None:
    option = msg.option(60)
    return None if option is None or value_text(option.raw) is None else msg.vendor_class


def _option43(o43: Option43) -> dict[str, Any]:
    """Option 43 with each named field the sub-option's text, or null and its bytes in
    ``hex`` (``{"web_server_port": "01bb"}``) when they are not text."""
    binary = set(o43.binary)

    def text(name: str, value: str | None) -> str | None:
        return None if name in binary else value

    return {
        "vendor_class": o43.vendor_class,
        "complete": o43.complete,
        "problems": list(o43.problems),
        "url": None if binary.intersection(URL_FIELDS) else o43.url,
        "uc_identifier": text("uc_identifier", o43.uc_identifier),
        "url_scheme": text("url_scheme", o43.url_scheme),
        "web_server_fqdn": text("web_server_fqdn", o43.web_server_fqdn),
        "web_server_port": text("web_server_port", o43.web_server_port),
        "cert_prov_path": text("cert_prov_path", o43.cert_prov_path),
        "vlan_id": text("vlan_id", o43.vlan_id),
        "hex": {name: (o43.field_raw(name) or b"").hex() for name in o43.binary},
        "suboptions": [
            {"code": s.code, "name": s.name, "text": s.text, "raw_hex": s.raw.hex()}
            for s in o43.suboptions
        ],
        "raw_hex": o43.raw.hex(),
    }


def dhcp_message(msg: DhcpMessage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "op": msg.op,
        "type": msg.type_name,
        "xid": f"0x{msg.xid:08x}",
        "chaddr": msg.chaddr,
        "ciaddr": msg.ciaddr,
        "yiaddr": msg.yiaddr,
        "siaddr": msg.siaddr,
        "giaddr": msg.giaddr,
        "flags": msg.flags,
        "server_id": msg.server_id,
        "vendor_class": _vendor_class(msg),
        "options": [
            {"code": o.code, "name": o.name, "value": _option_value(o), "raw_hex": o.raw.hex()}
            for o in msg.options
        ],
    }
    if msg.option43 is not None:
        out["option43"] = _option43(msg.option43)
    if msg.option120 is not None:
        o120 = msg.option120
        out["option120"] = {
            "encoding": o120.encoding,
            "names": list(o120.names),
            "addresses": list(o120.addresses),
            "problems": list(o120.problems),
            "raw_hex": o120.raw.hex(),
        }
    if msg.anomalies:
        out["anomalies"] = plain(msg.anomalies)
    return out


def dhcp_seen(seen: DhcpSeen) -> dict[str, Any]:
    return {
        "frame": seen.frame,
        "time": iso(seen.ts),
        "src_ip": seen.src_ip,
        "dst_ip": seen.dst_ip,
        "src_mac": seen.src_mac,
        "vlans": list(seen.vlans),
        "message": dhcp_message(seen.message),
    }


def dhcp_exchange(exchange: DhcpExchange) -> dict[str, Any]:
    return {
        "xid": f"0x{exchange.xid:08x}",
        "client_mac": exchange.client_mac,
        "kind": exchange.kind,
        "assigned_ip": exchange.assigned_ip,
        "messages": [dhcp_seen(s) for s in exchange.messages],
    }


# -- DNS --------------------------------------------------------------------------------------


def dns_lookup(lookup: DnsLookup) -> dict[str, Any]:
    return {
        "qname": lookup.qname,
        "qtype": lookup.qtype,
        "id": lookup.dns_id,
        "transport": lookup.transport,
        "client": f"{lookup.client_ip}:{lookup.client_port}",
        "server": f"{lookup.server_ip}:{lookup.server_port}",
        "query_frames": list(lookup.query_frames),
        "time": iso(lookup.first_ts),
        "response_frames": list(lookup.response_frames),
        "response_time": iso(lookup.response_ts),
        "rcode": lookup.rcode,
        "answers": plain(lookup.answers),
        "cname_chain": list(lookup.cname_chain),
        "addresses": list(lookup.addresses),
        "retransmissions": lookup.retransmissions,
        "anomalies": plain(lookup.anomalies),
    }


# -- HTTP -------------------------------------------------------------------------------------


def _body(body: HttpBody, show_text: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "size": body.size,
        "expected": body.expected,
        "chunked": body.chunked,
        "complete": body.complete,
        "cut": body.cut,
        "sha256": body.sha256,
    }
    if show_text and body.data:
        out["text"] = body.data[:BODY_TEXT_LIMIT].decode("utf-8", errors="replace")
        out["text_truncated"] = len(body.data) > BODY_TEXT_LIMIT or not body.kept_all
    return out


def _is_texty(headers: tuple[tuple[str, str], ...]) -> bool:
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "").lower()
    return any(t in ctype for t in ("xml", "text", "html", "json", "form"))


def http_request(req: HttpRequest, show_body: bool) -> dict[str, Any]:
    return {
        "frame": req.frame,
        "time": iso(req.ts),
        "method": req.method,
        "target": req.target,
        "version": req.version,
        "headers": [list(h) for h in req.headers],
        "body": _body(req.body, show_body),
    }


def http_response(resp: HttpResponse, show_body: bool) -> dict[str, Any]:
    return {
        "frame": resp.frame,
        "time": iso(resp.ts),
        "end_frame": resp.end_frame,
        "end_time": iso(resp.end_ts),
        "status": resp.status,
        "reason": resp.reason,
        "version": resp.version,
        "interim": list(resp.interim),
        "headers": [list(h) for h in resp.headers],
        "body": _body(resp.body, show_body),
    }


def http_exchange(exchange: HttpExchange, show_bodies: bool = False) -> dict[str, Any]:
    resp = exchange.response
    return {
        "client": f"{exchange.flow.client_ip}:{exchange.flow.client_port}",
        "server": f"{exchange.flow.server_ip}:{exchange.flow.server_port}",
        "index_on_connection": exchange.index,
        "request": http_request(
            exchange.request, show_bodies or _is_texty(exchange.request.headers)
        ),
        "response": None
        if resp is None
        else http_response(resp, show_bodies or _is_texty(resp.headers) or resp.status >= 400),
        "anomalies": plain(exchange.anomalies),
    }


def checkin(item: Checkin) -> dict[str, Any]:
    return {
        "path_kind": item.path_kind,
        "firmware": item.firmware,
        "request_fields": plain(item.request),
        "response_fields": plain(item.response),
        "http": http_exchange(item.exchange, show_bodies=True),
    }


def download(item: Download) -> dict[str, Any]:
    return {
        "url": item.url,
        "file_name": item.file_name,
        "status": item.status,
        "iis_substatus": item.substatus,
        "iis_error_code": item.error_code,
        "bytes_received": item.bytes_received,
        "content_length": item.expected,
        "complete": item.complete,
        "duration_s": None if item.duration is None else round(item.duration, 3),
        "offered_by_frame": item.offered_by,
        "offered_version": item.offered_version,
        "http": http_exchange(item.exchange),
    }


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
            "summary": step.summary,
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
    out["signin"] = signin_json(session.signin)
    out["time"] = time_json(session.time)
    return out


def tls_connection(conn: TlsConnection) -> dict[str, Any]:
    """One TLS connection (docs/json-schema.md, ``TlsConnection``)."""
    ch, sh = conn.client_hello, conn.server_hello
    return {
        "frame": conn.frame,
        "time": iso(conn.ts),
        "client": f"{conn.flow.client_ip}:{conn.flow.client_port}",
        "server": f"{conn.flow.server_ip}:{conn.flow.server_port}",
        "sni": conn.sni,
        "client_hello": None
        if ch is None
        else {
            "frame": ch.frame,
            "versions_offered": [version_name(v) for v in ch.versions_offered],
            "max_version_only": ch.max_version_only,
            "cipher_suites": [suite_name(c) for c in ch.cipher_suites],
            "alpn": list(ch.alpn),
            "session_id_hex": ch.session_id.hex(),
            "extensions": list(ch.extensions),
        },
        "server_hello": None
        if sh is None
        else {
            "frame": sh.frame,
            "version": version_name(sh.selected_version),
            "cipher_suite": suite_name(sh.cipher_suite),
            "alpn": sh.alpn,
            "extended_master_secret": sh.extended_master_secret,
            "encrypt_then_mac": sh.encrypt_then_mac,
        },
        "resumed": conn.resumed,
        "certificates": [
            {
                "subject": c.subject,
                "issuer": c.issuer,
                "dns_names": list(c.dns_names),
                "ip_addresses": list(c.ip_addresses),
                "serial": c.serial,
                "not_before": iso(c.not_before),
                "not_after": iso(c.not_after),
                "key_type": c.key_type,
                "key_bits": c.key_bits,
                "signature_algorithm": c.signature_algorithm,
                "sha256": c.sha256,
                "problem": c.problem,
            }
            for c in conn.certificates
        ],
        "certificate_frame": conn.certificate_frame,
        "certificate_encrypted": conn.certificate_encrypted,
        "alerts": [
            {
                "frame": a.frame,
                "time": iso(a.ts),
                "from": a.sender,
                "level": a.level,
                "description": a.name,
            }
            for a in conn.alerts
        ],
        "outcome": conn.outcome,
        "outcome_detail": conn.outcome_detail,
        "application_bytes_to_server": conn.app_bytes_to_server,
        "application_bytes_to_client": conn.app_bytes_to_client,
        "decryption": conn.decryption,
        "decryption_detail": conn.decryption_detail,
        "decrypted_with": conn.decrypted_with,
        "end": conn.end_reason,
    }


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
        "anomalies_total": len(analysis.anomalies),
    }


def device_report(item: DeviceReport) -> dict[str, Any]:
    out = device_timeline(item.session)
    out["verdict"] = str(item.verdict.verdict)
    out["verdict_reason"] = item.verdict.reason
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
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return _TERMINAL_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text) + "\n"
