"""The words of a phone's ladder: one line per timeline step, as every renderer shows it.

The devices stage builds the steps as data (``devices/timeline.py``: what happened, the
transaction, the decoded values); this module words them once for the text, Markdown, HTML and
JSON reports, the merged log ladders and ``capinspect live``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from capinspect.analysis import TcpFlowSeen
from capinspect.devices import Checkin, Download, TimelineStep, seconds
from capinspect.devices.clock import describe_offset
from capinspect.devices.encrypted import INFERRED
from capinspect.devices.model import (
    NOTHING_OFFERED,
    OFFER_FETCHED,
    OFFER_UNFETCHED,
    REJECTED,
    UNDECIDED,
    EncryptedCheckin,
)
from capinspect.devices.timeline import ntp_servers
from capinspect.flows.connects import TcpConnect
from capinspect.protocols.dhcp.messages import ACK, INFORM, DhcpSeen
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.ntp.messages import NtpExchange
from capinspect.protocols.tls.messages import (
    DECRYPTED,
    TlsAlert,
    TlsConnection,
    alert_name,
    suite_name,
    version_name,
)

NO_ANSWER = " — no answer"
"""Said of a DNS query the capture holds no answer to."""


def step_summary(step: TimelineStep, *, final: bool = True) -> str:
    """The step in one line. ``final=False`` words a step that may still change (``capinspect
    live``): a DNS query not answered yet is not said to have no answer."""
    subject = step.subject
    if isinstance(subject, DhcpSeen):
        return dhcp_summary(subject)
    if isinstance(subject, DnsLookup):
        if step.event == "dns-query":
            return _dns_query(subject, final)
        return _dns_answer(subject)
    if isinstance(subject, Checkin):
        if step.event == "checkin-request":
            return _checkin_request(subject)
        return _checkin_response(subject)
    if isinstance(subject, Download):
        if step.event == "download-request":
            return f"{subject.exchange.request.method} {subject.url}"
        return _download_response(subject)
    if isinstance(subject, HttpExchange):
        request = subject.request
        return f"{request.method} {request.target} → {_http_status_text(subject)}"
    if isinstance(subject, TlsAlert):
        level = {1: "warning ", 2: "fatal "}.get(subject.level or 0, "")
        return f"TLS alert from the {subject.sender}: {level}{alert_name(subject.description)}"
    if isinstance(subject, TlsConnection):
        return _tls(subject, step.event)
    if isinstance(subject, EncryptedCheckin):
        return encrypted_checkin_summary(subject)
    if isinstance(subject, NtpExchange):
        return _ntp_request(subject) if step.event == "ntp-request" else _ntp_answer(subject)
    if isinstance(subject, TcpConnect):
        return _connect(subject)
    return _flow(subject)


def dhcp_summary(seen: DhcpSeen) -> str:
    """A DHCP message in one line: type, vendor class, addresses, options 43/120/15."""
    msg = seen.message
    parts = [msg.type_name]
    if msg.vendor_class:
        parts.append(f"vendor-class {msg.vendor_class}")
    if msg.msg_type in (ACK, 2) and msg.yiaddr != "0.0.0.0":
        parts.append(f"yiaddr {msg.yiaddr}")
    if msg.msg_type == INFORM:
        parts.append(f"ciaddr {msg.ciaddr}")
    requested = msg.requested_options
    if requested and msg.op == 1:
        wanted = [str(code) for code in (43, 120) if code in requested]
        if wanted:
            parts.append("asks " + "+".join(wanted))
    if msg.option43 is not None:
        opt43 = msg.option43
        # Raw bytes are empty in a redacted report when they held an identifier.
        shown = opt43.url or (f"VLAN {opt43.vlan_id}" if opt43.vlan_id else opt43.raw.hex())
        truncated = "" if opt43.complete else "(TRUNCATED)"
        parts.append(" ".join(part for part in ("opt43", shown, truncated) if part))
    if msg.option120 is not None:
        names = list(msg.option120.names) or list(msg.option120.addresses)
        parts.append("opt120 " + (",".join(names) if names else "(unreadable)"))
    if msg.domain_name:
        parts.append(f"opt15 {msg.domain_name}")
    servers = ntp_servers(seen)
    if servers is not None:
        parts.append("opt42 " + ",".join(servers))
    return " ".join(parts)


def _iso_time(ts: float | None) -> str:
    if ts is None:
        return "(not set)"
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{ts:.0f} s"


def _ntp_request(exchange: NtpExchange) -> str:
    first = exchange.requests[0]
    sent = f" (sent {len(exchange.requests) + exchange.retries_dropped} times)"
    summary = f"NTP request v{first.message.version}" + (sent if exchange.retries else "")
    return summary + f", phone clock {_iso_time(first.message.transmit_ts)}"


def _ntp_answer(exchange: NtpExchange) -> str:
    answer = exchange.answer
    if answer is None:
        return "NTP answer"
    msg = answer.message
    why = msg.usable_time
    summary = f"NTP answer stratum {msg.stratum} ({msg.reference_text})"
    if why is not None:
        summary += f": no time given ({why})"
    else:
        summary += f", server time {_iso_time(msg.transmit_ts)}"
        offset = exchange.server_offset
        if offset is not None:
            summary += f", {describe_offset(offset)} from the capture's clock"
    rtt = exchange.round_trip
    if rtt is not None:
        summary += f", round trip {seconds(max(rtt, 0.0))}"
    return summary


def _connect(attempt: TcpConnect) -> str:
    """A connection attempt that never carried a byte: refused or unanswered."""
    flow = attempt.flow
    tries = f" ({len(attempt.syn_frames)} SYNs)" if len(attempt.syn_frames) > 1 else ""
    what = "refused (RST)" if attempt.answer_frame else "no answer"
    return f"TCP connect to {flow.server_ip}:{flow.server_port}{tries}: {what}"


_ENCRYPTED_WORDS = {
    OFFER_FETCHED: "offered a file the phone then fetched",
    NOTHING_OFFERED: "offered nothing",
    OFFER_UNFETCHED: "offered a file the phone did not fetch",
    REJECTED: "broken off before the answer",
    UNDECIDED: "cannot be judged from the capture",
}


def encrypted_checkin_summary(item: EncryptedCheckin) -> str:
    """A check-in inside TLS judged without keys (devices/encrypted.py): sizes, what it is
    inferred to have been, and the audit log row that filled it in."""
    offered = item.offered_version
    if offered == "interim":
        offered = "the interim file"
    version = f" ({offered})" if offered and item.outcome == OFFER_FETCHED else ""
    audit = f", from the audit log {item.audit.where}" if item.audit is not None else ""
    return (
        f"check-in (encrypted, {item.request_bytes}/{item.answer_bytes} bytes): "
        f"{_ENCRYPTED_WORDS.get(item.outcome, item.outcome)}{version} ({INFERRED}{audit})"
    )


def _dns_query(lookup: DnsLookup, final: bool) -> str:
    query = f"DNS {lookup.qtype} {lookup.qname}?"
    if lookup.retransmissions:
        query += f" (sent {len(lookup.query_frames)} times)"
    if lookup.rcode is None and final:
        query += NO_ANSWER
    return query


def _dns_answer(lookup: DnsLookup) -> str:
    answer = lookup.rcode or ""
    if lookup.cname_chain and len(lookup.cname_chain) > 1:
        answer += " CNAME " + " → ".join(lookup.cname_chain[1:])
    if lookup.addresses:
        answer += " " + ",".join(lookup.addresses)
    elif lookup.rcode == "NOERROR" and not lookup.answers:
        answer += " (no records)"
    return f"DNS {lookup.qname}: {answer}"


def _http_status_text(exchange: HttpExchange, substatus: str | None = None) -> str:
    resp = exchange.response
    if resp is None:
        return "no response in capture"
    text = f"{resp.status} {resp.reason}".strip()
    if substatus:
        text += f" (IIS {substatus})"
    return text


def _checkin_request(checkin: Checkin) -> str:
    req = checkin.request
    version = checkin.firmware or "(empty version)"
    ident = " ".join(v for v in (req.vendor, req.model, req.revision, req.locale) if v)
    path = checkin.exchange.request.path
    return f"POST {path} {ident} firmware {version}".replace("  ", " ")


def _checkin_response(checkin: Checkin) -> str:
    resp = checkin.response
    parts = [_http_status_text(checkin.exchange)]
    if resp is not None:
        if resp.server_version:
            parts.append(f"Server Version {resp.server_version}")
        if resp.service_version:
            parts.append(f"Service Version {resp.service_version}")
        if resp.downloads is not None:
            parts.append(f"downloads={resp.downloads}")
        for module in resp.files:
            parts.append(f"offers {module.file_name or '?'} {module.version or ''}".strip())
    return " ".join(parts)


def _download_response(download: Download) -> str:
    size = f"{download.bytes_received} bytes"
    if download.expected is not None and download.expected != download.bytes_received:
        size += f" of {download.expected}"
    if not download.complete:
        size += " (incomplete)"
    took = f" in {seconds(download.duration)}" if download.duration is not None else ""
    return f"{_http_status_text(download.exchange, download.substatus)} {size}{took}"


def _tls(conn: TlsConnection, event: str) -> str:
    ch, sh = conn.client_hello, conn.server_hello
    if event == "tls-client-hello" and ch is not None:
        return (
            f"TLS ClientHello SNI {ch.sni or '(none)'} {ch.describe_versions()}, "
            f"{len(ch.cipher_suites)} cipher suites"
        )
    if event == "tls-server-hello" and sh is not None:
        parts = [f"TLS ServerHello {version_name(sh.selected_version)}"]
        parts.append(suite_name(sh.cipher_suite))
        if conn.resumed:
            parts.append("(resumed)")
        cert = conn.server_certificate
        if cert is not None:
            names = ",".join(cert.names[:3]) or cert.subject
            parts.append(f"certificate {names} issued by {cert.issuer}")
        elif conn.certificate_encrypted:
            parts.append("certificate encrypted (TLS 1.3)")
        if conn.decryption == DECRYPTED:
            parts.append(f"— decrypted with the {conn.decrypted_with}")
        return " ".join(parts)
    return f"TLS connection to {conn.flow.server_ip}:{conn.flow.server_port} (no handshake seen)"


def _flow(flow: TcpFlowSeen) -> str:
    return (
        f"{flow.kind.upper()} connection to {flow.flow.server_ip}:{flow.flow.server_port} "
        f"({flow.bytes_to_server}/{flow.bytes_to_client} bytes, encrypted)"
    )
