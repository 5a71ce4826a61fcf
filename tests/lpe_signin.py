"""A Lync Phone Edition phone's sign-in path as scapy frames (a pcap for the whole pipeline).

``signin_frames`` builds one boot, step by step, the way the phone does it: DHCPINFORM with
``MS-UC-Client`` and the ACK with options 43 (provisioning host, port, path), 120 (pool) and 42
(NTP server); NTP request(s) and maybe an answer; the lookup of option 43's host; TCP to it
(accepted, refused or unanswered) and a real TLS handshake made by OpenSSL in memory (the phone
trusting the server's root or not, naming the host or not); the lookup of the pool. Every knob
is a keyword, so each test says only what differs from a healthy sign-in.
"""

from __future__ import annotations

import ssl
import struct
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.ntp import NTPHeader
from scapy.packet import Packet
from scapy.utils import wrpcap

from tests.protocols.tls.tls_handshakes import client_context, connect, server_context

PHONE_MAC = "00:04:f2:5a:10:01"  # Polycom prefix
PHONE_IP = "10.30.0.41"
DHCP_MAC = "00:15:5d:00:00:01"
DHCP_IP = "10.30.0.1"
DNS_IP = "10.30.0.2"
NTP_IP = "10.30.0.3"
PROV_IP = "10.30.0.10"
PROV_HOST = "ucupdates-r2.contoso.com"
"""Named in the lab certificate (pcaps/https-healthy.crt.pem: ocs and ucupdates-r2)."""
OTHER_HOST = "lyncweb.contoso.com"
"""Not in the lab certificate."""
POOL = "pool.contoso.com"
POOL_IP = "10.30.0.11"
NTP_EPOCH = 2_208_988_800
BASE = 1_796_860_800.0
"""2026-12-10 00:00 UTC: inside the lab certificate's validity (2026-11-29 … 2029-03-03)."""
PATH = "/CertProv/CertProvisioningService.svc"


def option43(host: str, port: bytes = b"443", path: str = PATH) -> bytes:
    subs = [(1, b"MS-UC-Client"), (2, b"https"), (3, host.encode()), (4, port), (5, path.encode())]
    return b"".join(bytes([code, len(value)]) + value for code, value in subs)


def option120(name: str) -> bytes:
    return b"\x00" + b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def ntp_timestamp(posix: float) -> float:
    """scapy's NTP timestamp fields take seconds since 1900."""
    return posix + NTP_EPOCH


@dataclass
class Builder:
    frames: list[Packet]
    ts: float = BASE

    def add(self, packet: Packet, step: float = 0.01) -> None:
        self.ts += step
        packet.time = self.ts
        self.frames.append(packet)


def _phone(dst_mac: str = DHCP_MAC) -> Ether:
    return Ether(src=PHONE_MAC, dst=dst_mac)


def _server(src_mac: str = DHCP_MAC) -> Ether:
    return Ether(src=src_mac, dst=PHONE_MAC)


def _dhcp(b: Builder, opt43: bytes | None, pool: str | None, ntp_server: str | None) -> None:
    chaddr = bytes.fromhex(PHONE_MAC.replace(":", "")) + bytes(10)
    b.add(
        Ether(src=PHONE_MAC, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=PHONE_IP, dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(op=1, chaddr=chaddr, ciaddr=PHONE_IP, xid=0x4C50)
        / DHCP(
            options=[
                ("message-type", "inform"),
                ("vendor_class_id", b"MS-UC-Client"),
                ("param_req_list", [1, 6, 15, 42, 43, 120]),
                "end",
            ]
        )
    )
    options: list[object] = [
        ("message-type", "ack"),
        ("server_id", DHCP_IP),
        ("domain", b"contoso.com"),
    ]
    if opt43 is not None:
        options.append(("vendor_specific", opt43))
    if pool is not None:
        options.append((120, option120(pool)))
    if ntp_server is not None:
        options.append(("NTP_server", ntp_server))
    b.add(
        _server()
        / IP(src=DHCP_IP, dst=PHONE_IP)
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, chaddr=chaddr, ciaddr=PHONE_IP, xid=0x4C50)
        / DHCP(options=[*options, "end"])
    )


def _ntp(b: Builder, answer: bool, retries: int, phone_clock: float, server_clock: float) -> None:
    for attempt in range(retries + 1):
        sent = ntp_timestamp(phone_clock + attempt) if phone_clock else 0  # 0: not set
        b.add(
            _phone()
            / IP(src=PHONE_IP, dst=NTP_IP)
            / UDP(sport=123, dport=123)
            / NTPHeader(mode=3, version=3, stratum=0, sent=sent, orig=None, ref=None, recv=None),
            step=1.0 if attempt else 0.01,
        )
    if answer:
        request_sent = ntp_timestamp(phone_clock + retries) if phone_clock else 0
        b.add(
            _server()
            / IP(src=NTP_IP, dst=PHONE_IP)
            / UDP(sport=123, dport=123)
            / NTPHeader(
                mode=4,
                version=3,
                stratum=2,
                id="10.30.0.250",
                orig=request_sent,
                recv=ntp_timestamp(server_clock),
                sent=ntp_timestamp(server_clock + 0.001),
                ref=ntp_timestamp(server_clock - 30),
            ),
            step=0.002,
        )


def _lookup(b: Builder, name: str, address: str | None, qid: int) -> None:
    b.add(
        _phone()
        / IP(src=PHONE_IP, dst=DNS_IP)
        / UDP(sport=50000 + qid, dport=53)
        / DNS(id=qid, rd=1, qd=DNSQR(qname=name))
    )
    if address is None:
        answer = DNS(id=qid, qr=1, aa=1, rd=1, ra=1, rcode=3, qd=DNSQR(qname=name))
    else:
        answer = DNS(
            id=qid,
            qr=1,
            aa=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname=name),
            an=DNSRR(rrname=name, rdata=address),
        )
    b.add(_server() / IP(src=DNS_IP, dst=PHONE_IP) / UDP(sport=53, dport=50000 + qid) / answer)


def _tcp(
    b: Builder, server: str, sport: int, outcome: str, chunks: list[tuple[int, bytes]]
) -> None:
    """SYN, then: ``refused`` (RST), ``no-answer`` (three SYNs, nothing) or ``accepted``
    followed by the TLS ``chunks`` (direction 0 phone→server, 1 back) as segments."""
    cseq, sseq = 1000, 5000
    ip_out, ip_in = IP(src=PHONE_IP, dst=server), IP(src=server, dst=PHONE_IP)
    syns = 3 if outcome == "no-answer" else 1
    for n in range(syns):
        b.add(_phone() / ip_out / TCP(sport=sport, dport=443, flags="S", seq=cseq), 3.0 * n or 0.01)
    if outcome == "no-answer":
        b.ts += 10.0  # the phone gives up on the connection
        return
    if outcome == "refused":
        b.add(_server() / ip_in / TCP(sport=443, dport=sport, flags="RA", seq=0, ack=cseq + 1))
        return
    b.add(_server() / ip_in / TCP(sport=443, dport=sport, flags="SA", seq=sseq, ack=cseq + 1))
    cseq, sseq = cseq + 1, sseq + 1
    b.add(_phone() / ip_out / TCP(sport=sport, dport=443, flags="A", seq=cseq, ack=sseq))
    for direction, data in chunks:
        for start in range(0, len(data), 1400):
            piece = data[start : start + 1400]
            if direction == 0:
                b.add(
                    _phone()
                    / ip_out
                    / TCP(sport=sport, dport=443, flags="PA", seq=cseq, ack=sseq)
                    / piece
                )
                cseq += len(piece)
            else:
                b.add(
                    _server()
                    / ip_in
                    / TCP(sport=443, dport=sport, flags="PA", seq=sseq, ack=cseq)
                    / piece
                )
                sseq += len(piece)
    b.add(_phone() / ip_out / TCP(sport=sport, dport=443, flags="FA", seq=cseq, ack=sseq))
    b.add(_server() / ip_in / TCP(sport=443, dport=sport, flags="FA", seq=sseq, ack=cseq + 1))


def tls_chunks(trusted: bool, sni: str) -> list[tuple[int, bytes]]:
    """A real handshake (and one request) between OpenSSL client and server, in memory."""
    wire = connect(
        client_context(ssl.TLSVersion.TLSv1_2, trust=trusted),
        server_context(ssl.TLSVersion.TLSv1_2),
        sni=sni,
    )
    return [(int(direction), data) for direction, data in wire.chunks]


def signin_frames(
    *,
    host: str = PROV_HOST,
    port: bytes = b"443",
    with_option43: bool = True,
    resolves: bool = True,
    connect_outcome: str = "accepted",
    trusted: bool = True,
    pool: str | None = POOL,
    pool_resolves: bool = True,
    ntp_server: str | None = NTP_IP,
    ntp_sent: bool = True,
    ntp_answer: bool = True,
    ntp_retries: int = 0,
    ntp_tail: bool = True,
    phone_clock: float = 1_262_304_000.0,
    server_offset: float = 0.0,
) -> list[Packet]:
    """One phone's boot up to the pool lookup (see the module docstring)."""
    b = Builder([])
    _dhcp(b, option43(host, port) if with_option43 else None, pool, ntp_server)
    if ntp_sent:
        _ntp(b, ntp_answer, ntp_retries, phone_clock, b.ts + 0.02 + ntp_retries + server_offset)
        if not ntp_answer and not ntp_tail:
            return b.frames  # the capture ends right after the requests
        if not ntp_answer:
            b.ts += 5.0  # the phone gives up waiting for the time
    _lookup(b, host, PROV_IP if resolves else None, 1)
    if resolves:
        _tcp(b, PROV_IP, 49200, connect_outcome, tls_chunks(trusted, host))
    if pool is not None:
        _lookup(b, pool, POOL_IP if pool_resolves else None, 2)
    return b.frames


def write_signin(path: Path, **knobs: object) -> Path:
    wrpcap(str(path), signin_frames(**knobs))  # type: ignore[arg-type]
    return path


def ntp_payload(**fields: object) -> bytes:
    """One NTP header's bytes from scapy (fields as scapy names them)."""
    return bytes(NTPHeader(**fields))


__all__ = ["struct"]
