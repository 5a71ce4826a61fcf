"""A phone's boot as a ladder: one line per DHCP message, DNS lookup, NTP request and answer,
check-in, download, TLS handshake step, refused or unanswered connection and other connection,
with the decoded values that matter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from capinspect.devices.clock import describe_offset
from capinspect.devices.model import Checkin, Download, TimelineStep, seconds
from capinspect.engine import TcpFlowSeen
from capinspect.flows.connects import ACCEPTED, TcpConnect
from capinspect.protocols.dhcp.messages import ACK, INFORM, DhcpExchange, DhcpSeen
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.ntp.messages import NtpExchange
from capinspect.protocols.tls.messages import (
    DECRYPTED,
    TlsConnection,
    alert_name,
    suite_name,
    version_name,
)


def describe_dhcp(seen: DhcpSeen) -> tuple[str, dict[str, object]]:
    """The one-line summary of a DHCP message and the decoded values that matter."""
    msg = seen.message
    parts = [msg.type_name]
    details: dict[str, object] = {"xid": f"0x{msg.xid:08x}", "type": msg.type_name}
    if msg.vendor_class:
        parts.append(f"vendor-class {msg.vendor_class}")
        details["vendor_class"] = msg.vendor_class
    if msg.msg_type in (ACK, 2) and msg.yiaddr != "0.0.0.0":
        parts.append(f"yiaddr {msg.yiaddr}")
        details["yiaddr"] = msg.yiaddr
    if msg.msg_type == INFORM:
        parts.append(f"ciaddr {msg.ciaddr}")
        details["ciaddr"] = msg.ciaddr
    requested = msg.requested_options
    if requested and msg.op == 1:
        details["requested_options"] = list(requested)
        wanted = [str(code) for code in (43, 120) if code in requested]
        if wanted:
            parts.append("asks " + "+".join(wanted))
    if msg.option43 is not None:
        opt43 = msg.option43
        shown = opt43.url or (f"VLAN {opt43.vlan_id}" if opt43.vlan_id else opt43.raw.hex())
        parts.append(f"opt43 {shown}" + ("" if opt43.complete else " (TRUNCATED)"))
        details["option43"] = {
            "url": opt43.url,
            "complete": opt43.complete,
            "vendor_class": opt43.vendor_class,
        }
    if msg.option120 is not None:
        names = list(msg.option120.names) or list(msg.option120.addresses)
        parts.append("opt120 " + (",".join(names) if names else "(unreadable)"))
        details["option120"] = names
    if msg.domain_name:
        parts.append(f"opt15 {msg.domain_name}")
        details["option15"] = msg.domain_name
    ntp = msg.option(42)
    if ntp is not None and isinstance(ntp.value, list) and msg.op == 2:
        parts.append("opt42 " + ",".join(str(server) for server in ntp.value))
        details["option42"] = [str(server) for server in ntp.value]
    if msg.server_id and msg.op == 2:
        details["server_id"] = msg.server_id
    return " ".join(parts), details


def _dns_steps(lookup: DnsLookup) -> list[TimelineStep]:
    steps: list[TimelineStep] = []
    query = f"DNS {lookup.qtype} {lookup.qname}?"
    if lookup.retransmissions:
        query += f" (sent {len(lookup.query_frames)} times)"
    if lookup.query_frames:
        steps.append(
            TimelineStep(
                lookup.first_ts,
                lookup.query_frames[0],
                "dns",
                "to-server",
                lookup.server_ip,
                query,
                {"qname": lookup.qname, "qtype": lookup.qtype, "id": lookup.dns_id},
            )
        )
    if lookup.rcode is None:
        if steps:
            steps[-1] = TimelineStep(
                steps[-1].ts,
                steps[-1].frame,
                "dns",
                "to-server",
                lookup.server_ip,
                query + " — no answer",
                steps[-1].details,
            )
        return steps
    answer = lookup.rcode
    if lookup.cname_chain and len(lookup.cname_chain) > 1:
        answer += " CNAME " + " → ".join(lookup.cname_chain[1:])
    if lookup.addresses:
        answer += " " + ",".join(lookup.addresses)
    elif lookup.rcode == "NOERROR" and not lookup.answers:
        answer += " (no records)"
    steps.append(
        TimelineStep(
            lookup.response_ts if lookup.response_ts is not None else lookup.first_ts,
            lookup.response_frames[0] if lookup.response_frames else 0,
            "dns",
            "from-server",
            lookup.server_ip,
            f"DNS {lookup.qname}: {answer}",
            {
                "rcode": lookup.rcode,
                "cname_chain": list(lookup.cname_chain),
                "addresses": list(lookup.addresses),
            },
        )
    )
    return steps


def _http_status_text(exchange: HttpExchange, substatus: str | None = None) -> str:
    resp = exchange.response
    if resp is None:
        return "no response in capture"
    text = f"{resp.status} {resp.reason}".strip()
    if substatus:
        text += f" (IIS {substatus})"
    return text


def _tls_steps(connections: Sequence[TlsConnection]) -> list[TimelineStep]:
    """ClientHello, ServerHello + certificate, and alerts of each TLS connection, one line each."""
    steps: list[TimelineStep] = []
    for conn in connections:
        server = conn.flow.server_ip
        ch, sh = conn.client_hello, conn.server_hello
        if ch is None and sh is None:
            summary = f"TLS connection to {server}:{conn.flow.server_port} (no handshake seen)"
            steps.append(TimelineStep(conn.ts, conn.frame, "tls", "to-server", server, summary))
        if ch is not None:
            summary = (
                f"TLS ClientHello SNI {ch.sni or '(none)'} {ch.describe_versions()}, "
                f"{len(ch.cipher_suites)} cipher suites"
            )
            details: dict[str, object] = {"sni": ch.sni, "port": conn.flow.server_port}
            steps.append(
                TimelineStep(ch.ts, ch.frame, "tls", "to-server", server, summary, details)
            )
        if sh is not None:
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
            details = {"outcome": conn.outcome, "decryption": conn.decryption}
            steps.append(
                TimelineStep(
                    sh.ts, sh.frame, "tls", "from-server", server, " ".join(parts), details
                )
            )
        for alert in conn.alerts:
            level = {1: "warning ", 2: "fatal "}.get(alert.level or 0, "")
            direction = "to-server" if alert.sender == "client" else "from-server"
            summary = f"TLS alert from the {alert.sender}: {level}{alert_name(alert.description)}"
            steps.append(TimelineStep(alert.ts, alert.frame, "tls", direction, server, summary))
    return steps


def _iso_time(ts: float | None) -> str:
    if ts is None:
        return "(not set)"
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{ts:.0f} s"


def _ntp_steps(exchange: NtpExchange) -> list[TimelineStep]:
    """The request (with its retries counted) and the answer of one NTP exchange."""
    steps: list[TimelineStep] = []
    server = exchange.flow.server_ip
    if exchange.requests:
        first = exchange.requests[0]
        sent = f" (sent {len(exchange.requests) + exchange.retries_dropped} times)"
        summary = f"NTP request v{first.message.version}" + (sent if exchange.retries else "")
        summary += f", phone clock {_iso_time(first.message.transmit_ts)}"
        steps.append(TimelineStep(first.ts, first.frame, "ntp", "to-server", server, summary))
    answer = exchange.answer
    if answer is not None:
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
        steps.append(TimelineStep(answer.ts, answer.frame, "ntp", "from-server", server, summary))
    return steps


def _connect_step(attempt: TcpConnect) -> TimelineStep | None:
    """A connection attempt that never carried a byte: refused or unanswered."""
    if attempt.outcome == ACCEPTED:
        return None
    flow = attempt.flow
    tries = f" ({len(attempt.syn_frames)} SYNs)" if len(attempt.syn_frames) > 1 else ""
    what = "refused (RST)" if attempt.answer_frame else "no answer"
    return TimelineStep(
        attempt.ts,
        attempt.frame,
        "tcp",
        "to-server",
        flow.server_ip,
        f"TCP connect to {flow.server_ip}:{flow.server_port}{tries}: {what}",
    )


def build_timeline(
    *,
    dhcp: Sequence[DhcpExchange],
    dns: Sequence[DnsLookup],
    checkins: Sequence[Checkin],
    downloads: Sequence[Download],
    other_http: Sequence[HttpExchange],
    tls: Sequence[TlsConnection],
    other_flows: Sequence[TcpFlowSeen],
    ntp: Sequence[NtpExchange] = (),
    connects: Sequence[TcpConnect] = (),
) -> tuple[TimelineStep, ...]:
    """Every step of one phone's boot, in packet-time order."""
    steps: list[TimelineStep] = []
    for ntp_exchange in ntp:
        steps.extend(_ntp_steps(ntp_exchange))
    steps.extend(step for step in map(_connect_step, connects) if step is not None)
    for dhcp_exchange in dhcp:
        for seen in dhcp_exchange.messages:
            summary, details = describe_dhcp(seen)
            to_server = seen.message.op == 1
            broadcast = seen.dst_ip == "255.255.255.255"
            peer = seen.dst_ip if to_server else seen.src_ip
            direction = (
                "broadcast"
                if (to_server and broadcast)
                else "to-server"
                if to_server
                else "from-server"
            )
            steps.append(
                TimelineStep(seen.ts, seen.frame, "dhcp", direction, peer, summary, details)
            )
    for lookup in dns:
        steps.extend(_dns_steps(lookup))
    for checkin in checkins:
        ex = checkin.exchange
        req = checkin.request
        version = checkin.firmware or "(empty version)"
        ident = " ".join(v for v in (req.vendor, req.model, req.revision, req.locale) if v)
        steps.append(
            TimelineStep(
                ex.request.ts,
                ex.request.frame,
                "checkin",
                "to-server",
                ex.flow.server_ip,
                f"POST {ex.request.path} {ident} firmware {version}".replace("  ", " "),
                {"host": ex.request.host, "path": ex.request.path, "firmware": checkin.firmware},
            )
        )
        if ex.response is not None:
            resp = checkin.response
            parts = [_http_status_text(ex)]
            if resp is not None:
                if resp.server_version:
                    parts.append(f"Server Version {resp.server_version}")
                if resp.service_version:
                    parts.append(f"Service Version {resp.service_version}")
                if resp.downloads is not None:
                    parts.append(f"downloads={resp.downloads}")
                for module in resp.files:
                    parts.append(f"offers {module.file_name or '?'} {module.version or ''}".strip())
            steps.append(
                TimelineStep(
                    ex.response.ts,
                    ex.response.frame,
                    "checkin",
                    "from-server",
                    ex.flow.server_ip,
                    " ".join(parts),
                    {"status": ex.response.status},
                )
            )
    for download in downloads:
        ex = download.exchange
        steps.append(
            TimelineStep(
                ex.request.ts,
                ex.request.frame,
                "download",
                "to-server",
                ex.flow.server_ip,
                f"{ex.request.method} {download.url}",
                {"url": download.url},
            )
        )
        if ex.response is not None:
            size = f"{download.bytes_received} bytes"
            if download.expected is not None and download.expected != download.bytes_received:
                size += f" of {download.expected}"
            if not download.complete:
                size += " (incomplete)"
            took = f" in {seconds(download.duration)}" if download.duration is not None else ""
            steps.append(
                TimelineStep(
                    ex.response.end_ts,
                    ex.response.frame,
                    "download",
                    "from-server",
                    ex.flow.server_ip,
                    f"{_http_status_text(ex, download.substatus)} {size}{took}",
                    {"status": download.status, "substatus": download.substatus},
                )
            )
    for exchange in other_http:
        steps.append(
            TimelineStep(
                exchange.request.ts,
                exchange.request.frame,
                "http",
                "to-server",
                exchange.flow.server_ip,
                f"{exchange.request.method} {exchange.request.target} → "
                f"{_http_status_text(exchange)}",
            )
        )
    steps.extend(_tls_steps(tls))
    described = {(c.flow, c.frame) for c in tls}
    for flow in other_flows:
        if (flow.flow, flow.frame) in described:
            continue
        steps.append(
            TimelineStep(
                flow.ts,
                flow.frame,
                flow.kind,
                "to-server",
                flow.flow.server_ip,
                f"{flow.kind.upper()} connection to {flow.flow.server_ip}:{flow.flow.server_port} "
                f"({flow.bytes_to_server}/{flow.bytes_to_client} bytes, encrypted)",
            )
        )
    steps.sort(key=lambda s: (s.ts, s.frame))
    return tuple(steps)
