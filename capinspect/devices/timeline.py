"""A phone's boot as a ladder: one step per DHCP message, DNS query and answer, NTP request and
answer, check-in, download, TLS handshake step, refused or unanswered connection and other
connection, with the decoded values that matter.

Data only: each step says what happened (``event``), the transaction it belongs to
(``subject``) and its decoded values (``details``); the words a reader sees are the
renderers', in ``report/timeline.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from capinspect.analysis import TcpFlowSeen
from capinspect.devices.model import Checkin, Download, TimelineStep
from capinspect.flows.connects import ACCEPTED, TcpConnect
from capinspect.protocols.dhcp.messages import ACK, INFORM, DhcpExchange, DhcpSeen
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.ntp.messages import NtpExchange
from capinspect.protocols.tls.messages import TlsConnection


def dhcp_details(seen: DhcpSeen) -> dict[str, object]:
    """The decoded values of a DHCP message that matter."""
    msg = seen.message
    details: dict[str, object] = {"xid": f"0x{msg.xid:08x}", "type": msg.type_name}
    if msg.vendor_class:
        details["vendor_class"] = msg.vendor_class
    if msg.msg_type in (ACK, 2) and msg.yiaddr != "0.0.0.0":
        details["yiaddr"] = msg.yiaddr
    if msg.msg_type == INFORM:
        details["ciaddr"] = msg.ciaddr
    if msg.requested_options and msg.op == 1:
        details["requested_options"] = list(msg.requested_options)
    if msg.option43 is not None:
        details["option43"] = {
            "url": msg.option43.url,
            "complete": msg.option43.complete,
            "vendor_class": msg.option43.vendor_class,
        }
    if msg.option120 is not None:
        details["option120"] = list(msg.option120.names) or list(msg.option120.addresses)
    if msg.domain_name:
        details["option15"] = msg.domain_name
    servers = ntp_servers(seen)
    if servers is not None:
        details["option42"] = servers
    if msg.server_id and msg.op == 2:
        details["server_id"] = msg.server_id
    return details


def ntp_servers(seen: DhcpSeen) -> list[str] | None:
    """Option 42's NTP servers in a server's DHCP message, None when it gave none."""
    msg = seen.message
    ntp = msg.option(42)
    if ntp is not None and isinstance(ntp.value, list) and msg.op == 2:
        return [str(server) for server in ntp.value]
    return None


def _dhcp_steps(exchange: DhcpExchange) -> list[TimelineStep]:
    steps = []
    for seen in exchange.messages:
        to_server = seen.message.op == 1
        peer = seen.dst_ip if to_server else seen.src_ip
        direction = "from-server"
        if to_server:
            direction = "broadcast" if seen.dst_ip == "255.255.255.255" else "to-server"
        steps.append(
            TimelineStep(
                seen.ts, seen.frame, "dhcp", direction, peer, "dhcp", seen, dhcp_details(seen)
            )
        )
    return steps


def _dns_steps(lookup: DnsLookup) -> list[TimelineStep]:
    steps: list[TimelineStep] = []
    if lookup.query_frames:
        details = {"qname": lookup.qname, "qtype": lookup.qtype, "id": lookup.dns_id}
        steps.append(
            TimelineStep(
                lookup.first_ts,
                lookup.query_frames[0],
                "dns",
                "to-server",
                lookup.server_ip,
                "dns-query",
                lookup,
                details,
            )
        )
    if lookup.rcode is None:
        return steps
    steps.append(
        TimelineStep(
            lookup.response_ts if lookup.response_ts is not None else lookup.first_ts,
            lookup.response_frames[0] if lookup.response_frames else 0,
            "dns",
            "from-server",
            lookup.server_ip,
            "dns-answer",
            lookup,
            {
                "rcode": lookup.rcode,
                "cname_chain": list(lookup.cname_chain),
                "addresses": list(lookup.addresses),
            },
        )
    )
    return steps


def _checkin_steps(checkin: Checkin) -> list[TimelineStep]:
    ex = checkin.exchange
    request = ex.request
    steps = [
        TimelineStep(
            request.ts,
            request.frame,
            "checkin",
            "to-server",
            ex.flow.server_ip,
            "checkin-request",
            checkin,
            {"host": request.host, "path": request.path, "firmware": checkin.firmware},
        )
    ]
    if ex.response is not None:
        steps.append(
            TimelineStep(
                ex.response.ts,
                ex.response.frame,
                "checkin",
                "from-server",
                ex.flow.server_ip,
                "checkin-response",
                checkin,
                {"status": ex.response.status},
            )
        )
    return steps


def _download_steps(download: Download) -> list[TimelineStep]:
    ex = download.exchange
    steps = [
        TimelineStep(
            ex.request.ts,
            ex.request.frame,
            "download",
            "to-server",
            ex.flow.server_ip,
            "download-request",
            download,
            {"url": download.url},
        )
    ]
    if ex.response is not None:
        steps.append(
            TimelineStep(
                ex.response.end_ts,
                ex.response.frame,
                "download",
                "from-server",
                ex.flow.server_ip,
                "download-response",
                download,
                {"status": download.status, "substatus": download.substatus},
            )
        )
    return steps


def _tls_steps(conn: TlsConnection) -> list[TimelineStep]:
    """ClientHello, ServerHello + certificate, and alerts of a TLS connection."""
    steps: list[TimelineStep] = []
    server = conn.flow.server_ip
    ch, sh = conn.client_hello, conn.server_hello
    if ch is None and sh is None:
        steps.append(
            TimelineStep(conn.ts, conn.frame, "tls", "to-server", server, "tls-connection", conn)
        )
    if ch is not None:
        details: dict[str, object] = {"sni": ch.sni, "port": conn.flow.server_port}
        steps.append(
            TimelineStep(
                ch.ts, ch.frame, "tls", "to-server", server, "tls-client-hello", conn, details
            )
        )
    if sh is not None:
        details = {"outcome": conn.outcome, "decryption": conn.decryption}
        steps.append(
            TimelineStep(
                sh.ts, sh.frame, "tls", "from-server", server, "tls-server-hello", conn, details
            )
        )
    for alert in conn.alerts:
        direction = "to-server" if alert.sender == "client" else "from-server"
        steps.append(
            TimelineStep(alert.ts, alert.frame, "tls", direction, server, "tls-alert", alert)
        )
    return steps


def _ntp_steps(exchange: NtpExchange) -> list[TimelineStep]:
    """The request (with its retries counted) and the answer of one NTP exchange."""
    steps: list[TimelineStep] = []
    server = exchange.flow.server_ip
    if exchange.requests:
        first = exchange.requests[0]
        steps.append(
            TimelineStep(first.ts, first.frame, "ntp", "to-server", server, "ntp-request", exchange)
        )
    answer = exchange.answer
    if answer is not None:
        steps.append(
            TimelineStep(
                answer.ts, answer.frame, "ntp", "from-server", server, "ntp-answer", exchange
            )
        )
    return steps


def _connect_step(attempt: TcpConnect) -> TimelineStep | None:
    """A connection attempt that never carried a byte: refused or unanswered."""
    if attempt.outcome == ACCEPTED:
        return None
    return TimelineStep(
        attempt.ts,
        attempt.frame,
        "tcp",
        "to-server",
        attempt.flow.server_ip,
        "tcp-connect",
        attempt,
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
        steps.extend(_dhcp_steps(dhcp_exchange))
    for lookup in dns:
        steps.extend(_dns_steps(lookup))
    for checkin in checkins:
        steps.extend(_checkin_steps(checkin))
    for download in downloads:
        steps.extend(_download_steps(download))
    for exchange in other_http:
        request = exchange.request
        server = exchange.flow.server_ip
        steps.append(
            TimelineStep(request.ts, request.frame, "http", "to-server", server, "http", exchange)
        )
    for conn in tls:
        steps.extend(_tls_steps(conn))
    described = {(c.flow, c.frame) for c in tls}
    for flow in other_flows:
        if (flow.flow, flow.frame) in described:
            continue
        steps.append(
            TimelineStep(
                flow.ts, flow.frame, flow.kind, "to-server", flow.flow.server_ip, flow.kind, flow
            )
        )
    steps.sort(key=lambda s: (s.ts, s.frame))
    return tuple(steps)
