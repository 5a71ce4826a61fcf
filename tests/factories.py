"""Builders for analyses in unit tests: real message bytes through the real parsers.

Like mitmproxy's ``tflow()``: a test says what the phone did (``boot(...)``) and gets an
:class:`~capinspect.analysis.Analysis` as the protocol stages would have built it, then
runs the real device grouping and checks on it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields, replace
from functools import cache

from locations import PCAPS

from capinspect.analysis import Analysis, TcpFlowSeen
from capinspect.model import Anomaly, CaptureStats, FlowKey
from capinspect.protocols.dhcp.messages import DhcpExchange, DhcpSeen
from capinspect.protocols.dhcp.parser import decode_option43, parse_dhcp
from capinspect.protocols.dns.messages import DnsLookup, DnsRecord
from capinspect.protocols.http.messages import HttpBody, HttpExchange, HttpRequest, HttpResponse
from capinspect.protocols.tls.messages import TlsConnection

PHONE_MAC = "00:21:63:0f:20:7b"
PHONE_IP = "10.20.0.23"
SERVER_IP = "10.0.0.5"
DHCP_IP = "10.0.0.1"
DOMAIN = "contoso.com"

GOOD_OPTION43 = (
    b"\x01\x0cMS-UC-Client\x02\x05https\x03\x0focs.contoso.com\x04\x03443"
    b"\x05\x25/CertProv/CertProvisioningService.svc"
)
GOOD_OPTION120 = b"\x00\x04pool\x07contoso\x03com\x00"


def dhcp_bytes(
    msg_type: int,
    *,
    xid: int = 0x1234,
    mac: str = PHONE_MAC,
    op: int | None = None,
    ciaddr: str = "0.0.0.0",
    yiaddr: str = "0.0.0.0",
    options: list[tuple[int, bytes]] | None = None,
) -> bytes:
    """A BOOTP/DHCP message as on the wire."""
    if op is None:
        op = 2 if msg_type in (2, 5, 6) else 1
    chaddr = bytes.fromhex(mac.replace(":", "")) + b"\x00" * 10

    def ip(text: str) -> bytes:
        return bytes(int(p) for p in text.split("."))

    head = struct.pack("!BBBBIHH", op, 1, 6, 0, xid, 0, 0)
    head += ip(ciaddr) + ip(yiaddr) + ip("0.0.0.0") + ip("0.0.0.0") + chaddr
    head += b"\x00" * 192 + b"\x63\x82\x53\x63"
    opts = b"\x35\x01" + bytes([msg_type])
    for code, value in options or []:
        opts += bytes([code, len(value)]) + value
    return head + opts + b"\xff"


def seen(payload: bytes, frame: int, ts: float, *, from_server: bool) -> DhcpSeen:
    msg = parse_dhcp(payload)
    return DhcpSeen(
        message=msg,
        frame=frame,
        ts=ts,
        src_mac=None,
        dst_mac=None,
        src_ip=DHCP_IP if from_server else (msg.ciaddr if msg.ciaddr != "0.0.0.0" else "0.0.0.0"),
        dst_ip=PHONE_IP if from_server else "255.255.255.255",
        vlans=(),
    )


def _with_vendor_class(reply: DhcpSeen, vendor_class: str) -> DhcpSeen:
    msg = reply.message
    if msg.option43 is None:
        return reply
    return replace(
        reply, message=replace(msg, option43=decode_option43(msg.option43.raw, vendor_class))
    )


def lease(
    frame: int,
    ts: float,
    *,
    xid: int = 0x1111,
    domain: bytes | None = DOMAIN.encode(),
    acked: bool = True,
    mac: str = PHONE_MAC,
) -> DhcpExchange:
    ack_opts = [(54, bytes([10, 0, 0, 1])), (1, bytes([255, 255, 255, 0]))]
    if domain is not None:
        ack_opts.append((15, domain))
    msgs = [
        seen(
            dhcp_bytes(1, xid=xid, mac=mac, options=[(55, bytes([1, 3, 6, 15, 43, 120]))]),
            frame,
            ts,
            from_server=False,
        ),
    ]
    if acked:
        msgs += [
            seen(
                dhcp_bytes(2, xid=xid, mac=mac, yiaddr=PHONE_IP, options=ack_opts),
                frame + 1,
                ts + 0.01,
                from_server=True,
            ),
            seen(
                dhcp_bytes(3, xid=xid, mac=mac, options=[(50, bytes([10, 20, 0, 23]))]),
                frame + 2,
                ts + 0.02,
                from_server=False,
            ),
            seen(
                dhcp_bytes(5, xid=xid, mac=mac, yiaddr=PHONE_IP, options=ack_opts),
                frame + 3,
                ts + 0.03,
                from_server=True,
            ),
        ]
    return DhcpExchange(xid=xid, client_mac=mac, kind="lease", messages=tuple(msgs))


def inform(
    frame: int,
    ts: float,
    *,
    option43: bytes | None = GOOD_OPTION43,
    option120: bytes | None = GOOD_OPTION120,
    answered: bool = True,
    xid: int = 0x2222,
    mac: str = PHONE_MAC,
) -> DhcpExchange:
    req = seen(
        dhcp_bytes(
            8,
            xid=xid,
            mac=mac,
            ciaddr=PHONE_IP,
            options=[(60, b"MS-UC-Client"), (55, bytes([1, 3, 6, 15, 43, 120]))],
        ),
        frame,
        ts,
        from_server=False,
    )
    msgs = [req]
    if answered:
        opts: list[tuple[int, bytes]] = [(54, bytes([10, 0, 0, 1])), (15, DOMAIN.encode())]
        if option43 is not None:
            opts.append((43, option43))
        if option120 is not None:
            opts.append((120, option120))
        ack = seen(
            dhcp_bytes(5, xid=xid, mac=mac, ciaddr=PHONE_IP, options=opts),
            frame + 1,
            ts + 0.01,
            from_server=True,
        )
        msgs.append(_with_vendor_class(ack, "MS-UC-Client"))
    return DhcpExchange(xid=xid, client_mac=mac, kind="inform", messages=tuple(msgs))


def lookup(
    frame: int,
    ts: float,
    *,
    qname: str = f"ucupdates-r2.{DOMAIN}",
    rcode: str | None = "NOERROR",
    addresses: tuple[str, ...] = (SERVER_IP,),
    cname: str | None = None,
) -> DnsLookup:
    answers: list[DnsRecord] = []
    chain: tuple[str, ...] = ()
    if cname:
        answers.append(DnsRecord(qname, "CNAME", 300, cname))
        chain = (qname, cname)
    owner = cname or qname
    answers += [DnsRecord(owner, "A", 300, a) for a in addresses] if rcode == "NOERROR" else []
    return DnsLookup(
        qname=qname,
        qtype="A",
        dns_id=0x4242,
        client_ip=PHONE_IP,
        client_port=50000,
        server_ip=DHCP_IP,
        server_port=53,
        transport="udp",
        query_frames=(frame,),
        first_ts=ts,
        response_frames=(frame + 1,) if rcode else (),
        response_ts=ts + 0.01 if rcode else None,
        rcode=rcode,
        answers=tuple(answers),
        cname_chain=chain,
        addresses=addresses if rcode == "NOERROR" else (),
    )


def checkin_request_xml(
    version: str | None,
    *,
    vendor: str = "LG-Nortel",
    model: str = "IP8540",
    locale: str = "ENU",
    mac: str = "0021630F207B",
) -> bytes:
    stamp = "01-01-1601 00:00:00" if version is None else "16-12-2008 04:43:58"
    return (
        '<?xml version="1.0" encoding="utf-8"?><Request><DeviceType>UCPhone</DeviceType>'
        f"<MacAddress>{mac}</MacAddress><SerialNumber>C185H001209</SerialNumber>"
        f"<Vendor>{vendor}</Vendor><Model>{model}</Model><Revision>A</Revision>"
        f"<Locale>{locale}</Locale><UserName>ruisilva@demo.local</UserName><Modules>"
        f'<Module FileName="cpe.nbt" Version="{version or ""}" TimeStamp="{stamp}"/>'
        "</Modules></Request>"
    ).encode()


def checkin_response_xml(
    *,
    files: list[tuple[str, str]] | None = None,
    server_version: str | None = "3.5.6907.0",
    service_version: str | None = "3.5.6907.0",
) -> bytes:
    """Response dialect A; ``files`` = [(version, internal URL)]."""
    parts = ["<Response>"]
    if server_version:
        parts.append(f"<ServerVersion>{server_version}</ServerVersion>")
    if service_version:
        parts.append(f"<ServiceVersion>{service_version}</ServiceVersion>")
    parts.append(
        "<UpdatesServerInternalUrl>https://ocs.contoso.com/RequestHandler/ucdevice.upx"
        "</UpdatesServerInternalUrl>"
    )
    files = files or []
    parts.append(f'<Downloads Count="{len(files)}">')
    for version, url in files:
        parts.append(
            f'<File Name="CPE.nbt" Version="{version}" TimeStamp="16-12-2008 04:43:58" '
            f'InternalUrl="{url}"/>'
        )
    parts.append("</Downloads></Response>")
    return "".join(parts).encode()


@dataclass
class _Ports:
    next_port: int = 40000


_ports = _Ports()


def http(
    frame: int,
    ts: float,
    method: str,
    target: str,
    *,
    status: int | None = 200,
    reason: str = "OK",
    req_body: bytes = b"",
    resp_body: bytes = b"",
    content_type: str = "text/xml",
    host: str = "ucupdates-r2.contoso.com",
    expected: int | None = None,
    complete: bool = True,
    cut: str | None = None,
    user_agent: str = "Microsoft UCPhone Device",
    client_ip: str = PHONE_IP,
    server_port: int = 80,
) -> HttpExchange:
    _ports.next_port += 1
    flow = FlowKey(client_ip, _ports.next_port, SERVER_IP, server_port)
    req = HttpRequest(
        method=method,
        target=target,
        version="HTTP/1.1",
        headers=(("Host", host), ("User-Agent", user_agent), ("Content-Type", content_type)),
        body=HttpBody(data=req_body, size=len(req_body), expected=len(req_body)),
        frame=frame,
        ts=ts,
        end_frame=frame,
        end_ts=ts,
    )
    resp = None
    if status is not None:
        size = len(resp_body) if expected is None or complete else len(resp_body)
        resp = HttpResponse(
            status=status,
            reason=reason,
            version="HTTP/1.1",
            headers=(("Server", "Microsoft-IIS/7.0"), ("Content-Type", content_type)),
            body=HttpBody(
                data=resp_body,
                size=size,
                expected=expected if expected is not None else len(resp_body),
                complete=complete,
                cut=cut,
            ),
            frame=frame + 1,
            ts=ts + 0.05,
            end_frame=frame + 2,
            end_ts=ts + 0.5,
        )
    return HttpExchange(flow=flow, index=0, request=req, response=resp)


def checkin(
    frame: int,
    ts: float,
    version: str | None,
    *,
    status: int = 200,
    path: str = "/RequestHandler/ucdevice.upx",
    response: bytes | None = None,
    **request_kwargs: str,
) -> HttpExchange:
    body = response if response is not None else checkin_response_xml()
    return http(
        frame,
        ts,
        "POST",
        path,
        status=status,
        req_body=checkin_request_xml(version, **request_kwargs),
        resp_body=body if status == 200 else b"<html>HTTP Error 404.0 - Not Found</html>",
        reason="OK" if status == 200 else "Not Found",
    )


def error_page(status: int, sub: str, reason: str) -> bytes:
    return (
        f"<html><head><title>IIS 7.0 Detailed Error - {status}.{sub} - {reason}</title></head>"
        f"<body><h3>HTTP Error {status}.{sub} - {reason}</h3>"
        "<p>Error Code 0x80070005</p></body></html>"
    ).encode()


@dataclass
class Capture:
    """What a phone did; ``analysis()`` turns it into what the protocol stages would build."""

    dhcp: list[DhcpExchange] = field(default_factory=list)
    dns: list[DnsLookup] = field(default_factory=list)
    http: list[HttpExchange] = field(default_factory=list)
    flows: list[TcpFlowSeen] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    stats: CaptureStats = field(
        default_factory=lambda: CaptureStats(frames=100, first_ts=1000.0, last_ts=2000.0)
    )

    def analysis(self) -> Analysis:
        return Analysis(
            inputs=(),
            stats=self.stats,
            dhcp=tuple(self.dhcp),
            dns=tuple(self.dns),
            http=tuple(sorted(self.http, key=lambda ex: ex.request.frame)),
            other_flows=tuple(self.flows),
            arp=(),
            anomalies=tuple(self.anomalies),
        )


def healthy_boot(version: str = "3.5.6907.0") -> Capture:
    """A phone at the target version: lease, INFORM, ucupdates-r2 lookup, check-in, downloads=0."""
    return Capture(
        dhcp=[lease(1, 1000.0), inform(10, 1001.0)],
        dns=[lookup(20, 1002.0)],
        http=[checkin(30, 1003.0, version)],
    )


def assert_same_analysis(
    one: Analysis,
    other: Analysis,
    *,
    anomaly_order: bool = True,
    ignore: tuple[str, ...] = ("inputs",),
) -> None:
    """Two analyses are the same in every field: every transaction list (DHCP, DNS, HTTP, TLS,
    ARP, other flows, check-ins), the DHCP background, the stats and the anomalies, in the
    same order unless ``anomaly_order`` is False (engines run apart list them by file).

    Fields are read from the dataclass, so a field added to ``Analysis`` is compared without
    touching this function. ``ignore`` names what may honestly differ: by default ``inputs``
    (a live run reads no file)."""
    names = [f.name for f in fields(Analysis)]
    unknown = set(ignore) - set(names)
    assert not unknown, f"ignore names no Analysis field: {sorted(unknown)}"
    for name in names:
        if name in ignore:
            continue
        mine, theirs = getattr(one, name), getattr(other, name)
        if name == "anomalies" and not anomaly_order:
            mine, theirs = sorted(mine, key=repr), sorted(theirs, key=repr)
        assert mine == theirs, f"the analyses differ in {name}"


@cache
def lab_tls_connection() -> TlsConnection:
    """A real TLS connection from the lab (its certificate does not name the SNI)."""
    from capinspect.pipeline import analyze_paths

    return analyze_paths([str(PCAPS / "https-cert-mismatch.pcap")]).tls[0]


def tls_from(
    conn: TlsConnection, ip: str, mac: str | None, sni: str | None = None
) -> TlsConnection:
    """``conn`` as if ``ip`` (``mac``) had opened it, optionally with another SNI."""
    flow = conn.flow
    moved = replace(
        conn, flow=FlowKey(ip, flow.client_port, flow.server_ip, flow.server_port), client_mac=mac
    )
    if sni is not None and moved.client_hello is not None:
        moved = replace(moved, client_hello=replace(moved.client_hello, sni=sni))
    return moved


def write_dhcp_ack_capture(path: str, option43: bytes, domain: bytes = DOMAIN.encode()) -> None:
    """A pcap (scapy) of a phone's MS-UC-Client DHCPINFORM and the server's ACK carrying
    ``option43`` and option 15 ``domain``: for how crafted DHCP values reach the reports."""
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    chaddr = bytes.fromhex(PHONE_MAC.replace(":", "")) + b"\x00" * 10
    server_mac = "00:15:5d:00:00:05"
    inform = (
        Ether(src=PHONE_MAC, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=PHONE_IP, dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(op=1, chaddr=chaddr, ciaddr=PHONE_IP, xid=0x77)
        / DHCP(
            options=[
                ("message-type", "inform"),
                ("vendor_class_id", b"MS-UC-Client"),
                ("param_req_list", [1, 15, 43, 120]),
                "end",
            ]
        )
    )
    ack = (
        Ether(src=server_mac, dst=PHONE_MAC)
        / IP(src=DHCP_IP, dst=PHONE_IP)
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, chaddr=chaddr, ciaddr=PHONE_IP, xid=0x77)
        / DHCP(
            options=[
                ("message-type", "ack"),
                ("server_id", DHCP_IP),
                ("domain", domain),
                (43, option43),
                "end",
            ]
        )
    )
    inform.time, ack.time = 1_700_000_000.0, 1_700_000_000.01
    wrpcap(path, [inform, ack])
