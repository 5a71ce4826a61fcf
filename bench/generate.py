"""Deterministic synthetic mirror-port capture for the benchmark (`python -m bench.generate`).

Why a generator and not the lab: the lab's captures are a few hundred packets; a performance
number needs 100k-1M packets of the traffic a mirror port really carries (mostly unrelated bulk
TCP, TLS, RTP), with a handful of phones booting somewhere inside. Frames are packed with
``struct`` straight into a classic pcap (Ethernet), because scapy costs about 1 ms per packet.

Determinism: the same ``--packets/--phones/--seed`` give the same bytes. Each phone's packets
come from its own ``random.Random`` seeded by (seed, phone index) only, so phone *i* says the same
things in the 100k and the 1M capture; that is what lets the runner compare the two reports.

Next to the capture it writes ``<out>.truth.json``: every planted phone with its MAC, IP, VLANs,
the firmware it reports, what it was offered, how its download ended, the verdict a correct
analyzer must reach and, for a phone checking in over HTTPS, its handshake (``tls_checkin``).
The background is written as it is generated (memory stays flat); only the phones' frames (a
few hundred KB each) are built up front.

``--noisy-pcs`` (off by default, so the default capture stays byte for byte what the benchmark
numbers were measured on) adds what a real mirror port also carries and a naive analyzer takes
for phones: PCs looking up ucupdates-r2 and the pool's names, talking TLS to the pool and getting
a certificate for another name, an admin fetching the update files in a browser (the article's
step 5), Windows DHCPINFORMs and Android leases. The truth file then lists those hosts too.

The traffic-mix variants (all off by default, likewise) change what the background looks like
to a decoder without touching the planted phones: ``--ipv6-share F`` carries that share of the
PCs' TLS sessions and DNS lookups over IPv6, ``--tls-share F`` makes PCs' TLS that share of
the background frames, and ``--wrap erspan2|vxlan`` delivers every frame as a remote mirror
does, inside ERSPAN type II over GRE or inside VXLAN, between a mirror session's two addresses.
"""

from __future__ import annotations

import argparse
import calendar
import functools
import hashlib
import json
import math
import random
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENERATOR_VERSION = 1
DOMAIN = "contoso.com"
WEB_FQDN = f"ocs.{DOMAIN}"
EXT_FQDN = f"ocsext.{DOMAIN}"
UPDATES_NAME = f"ucupdates-r2.{DOMAIN}"
POOL_FQDN = f"ocspool.{DOMAIN}"
"""The Enterprise pool's FQDN (SRV target of _sipinternaltls); it resolves to the same load
balancer address as the web components, but the pool's web certificate does not carry it."""
OTHER_DOMAIN = "fabrikam.com"
"""A second SIP domain PCs' Lync clients try (a partner, a merged company, a laptop's home
domain); its ucupdates-r2 name sometimes resolves, to a server with its own certificate."""
OTHER_UPDATES_NAME = f"ucupdates-r2.{OTHER_DOMAIN}"
TARGET_VERSION = "3.5.6907.0"
INTERIM_VERSION = "1.0.522.103"
TARGET_TIMESTAMP = "16-12-2008 04:43:58"
INTERIM_PATH = "/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt"
CHECKIN_PATH = "/RequestHandler/ucdevice.upx"
USER_AGENT = "Microsoft UCPhone Device"
VOICE_VLAN = 100
QINQ_OUTER = 200
DATA_VLAN = 10
START_TIME = calendar.timegm((2026, 11, 30, 8, 0, 0))
DURATION_US = 600 * 1_000_000
MSS = 1460
REBOOT = -1
"""Gap marker for a phone's reboot; place_phones turns it into up to REBOOT_SLOTS background
packets (fewer in tiny captures) so the facts never depend on the file size, only the timing."""
REBOOT_SLOTS = 1_000

INFORM_PRL = bytes((1, 3, 6, 15, 42, 43, 120))
LEASE_PRL = bytes((1, 3, 6, 15, 42))
CERT_PROV_PATH = "/CertProv/CertProvisioningService.svc"

ROUTER_MAC = bytes.fromhex("001b54aa0001")
ROUTER_IP = bytes((10, 20, 0, 1))
"""The voice subnet's gateway; it is also the DHCP server (Cisco IOS style) and every off-subnet
peer's frames on the mirror port carry its MAC."""
DNS_IP = bytes((10, 10, 0, 2))
OCS_IP = bytes((10, 10, 0, 10))
NTP_IP = bytes((10, 10, 0, 5))
OTHER_UPDATES_IP = bytes((172, 16, 40, 10))
PC_DHCP_SERVER_IP = bytes((10, 30, 0, 1))
BROADCAST_MAC = b"\xff" * 6
BROADCAST_IP = b"\xff" * 4
ZERO_IP = b"\x00" * 4

ETH_IPV4 = b"\x08\x00"
ETH_ARP = b"\x08\x06"
ETH_IPV6 = b"\x86\xdd"
TCP, UDP = 6, 17
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

_IP = struct.Struct("!BBHHHBBH4s4s")
_IP_WORDS = struct.Struct("!10H")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
_IP6 = struct.Struct("!IHBB")
_REC = struct.Struct("<IIII")
_SYN_OPTIONS = b"\x02\x04\x05\xb4\x01\x03\x03\x08\x01\x01\x04\x02"  # MSS 1460, WS 8, SACK ok


def ip_text(ip: bytes) -> str:
    """Dotted quad, for the truth file."""
    return ".".join(str(b) for b in ip)


def mac_text(mac: bytes) -> str:
    """aa:bb:... as capinspect's report spells MACs."""
    return ":".join(f"{b:02x}" for b in mac)


def vlan_tags(vlans: tuple[int, ...], pcp: int = 0) -> bytes:
    """802.1Q tag bytes (outermost first); two tags are QinQ with an 802.1ad outer TPID."""
    if not vlans:
        return b""
    if len(vlans) == 2:
        return struct.pack("!HHHH", 0x88A8, vlans[0], 0x8100, (pcp << 13) | vlans[1])
    return struct.pack("!HH", 0x8100, (pcp << 13) | vlans[0])


def ipv4_frame(
    dst_mac: bytes,
    src_mac: bytes,
    tags: bytes,
    src: bytes,
    dst: bytes,
    proto: int,
    l4: bytes,
    ident: int,
    ttl: int = 64,
) -> bytes:
    """One Ethernet/IPv4 frame with a correct header checksum, padded to the 60-byte minimum."""
    hdr = _IP.pack(0x45, 0, 20 + len(l4), ident & 0xFFFF, 0x4000, ttl, proto, 0, src, dst)
    s = sum(_IP_WORDS.unpack(hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    frame = b"".join(
        (dst_mac, src_mac, tags, ETH_IPV4, hdr[:10], (~s & 0xFFFF).to_bytes(2, "big"), hdr[12:], l4)
    )
    if len(frame) < 60:
        frame += bytes(60 - len(frame))
    return frame


def ipv6_frame(
    dst_mac: bytes, src_mac: bytes, tags: bytes, src: bytes, dst: bytes, proto: int, l4: bytes
) -> bytes:
    """One Ethernet/IPv6 frame, the transport header right behind the IPv6 one."""
    hdr = _IP6.pack(0x60000000, len(l4), proto, 64)
    return b"".join((dst_mac, src_mac, tags, ETH_IPV6, hdr, src, dst, l4))


def udp6_segment(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    """UDP header plus payload for IPv6, where the checksum is mandatory (RFC 8200 8.1)."""
    length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!IxxxB", length, UDP)
    segment = _UDP.pack(sport, dport, length, 0) + payload
    data = pseudo + segment + (b"\0" if length % 2 else b"")
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    checksum = ~total & 0xFFFF or 0xFFFF
    return segment[:6] + checksum.to_bytes(2, "big") + payload


def udp_segment(sport: int, dport: int, payload: bytes) -> bytes:
    """UDP header (checksum 0 = not computed, legal for IPv4) plus payload."""
    return _UDP.pack(sport, dport, 8 + len(payload), 0) + payload


@dataclass(frozen=True, slots=True)
class Host:
    """An endpoint as the mirror port sees it: `mac` is the router's for off-subnet hosts; `ip`
    4 bytes (IPv4) or 16 (IPv6)."""

    mac: bytes
    ip: bytes


class Noise:
    """Cheap deterministic payload bytes: slices of one random block (randbytes per packet is
    the slowest thing the generator could do)."""

    def __init__(self, rng: random.Random, size: int = 1 << 20) -> None:
        self.block = rng.randbytes(size)
        self.rng = rng

    def take(self, n: int) -> bytes:
        """`n` bytes from a random offset (n must be below the block size)."""
        off = self.rng.randrange(len(self.block) - n)
        return self.block[off : off + n]


class TcpConn:
    """Both directions of one TCP connection: sequence/ack bookkeeping and frame building."""

    def __init__(
        self,
        cli: Host,
        srv: Host,
        sport: int,
        dport: int,
        tags: bytes,
        rng: random.Random,
        noise: Noise | None = None,
    ) -> None:
        self.cli, self.srv, self.sport, self.dport, self.tags = cli, srv, sport, dport, tags
        self.seq = [rng.getrandbits(32), rng.getrandbits(32)]  # client, server
        self.ident = [rng.getrandbits(16), rng.getrandbits(16)]
        self.noise = noise

    def frame(
        self, from_client: bool, flags: int, payload: bytes = b"", opts: bytes = b""
    ) -> bytes:
        """Build one segment and advance that side's sequence number."""
        me = 0 if from_client else 1
        seq = self.seq[me]
        ack = self.seq[1 - me] if flags & ACK else 0
        self.seq[me] = (seq + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        self.ident[me] = (self.ident[me] + 1) & 0xFFFF
        off = (5 + len(opts) // 4) << 4
        if from_client:
            tcp = _TCP.pack(self.sport, self.dport, seq, ack, off, flags, 64240, 0, 0)
            a, b = self.cli, self.srv
        else:
            tcp = _TCP.pack(self.dport, self.sport, seq, ack, off, flags, 65535, 0, 0)
            a, b = self.srv, self.cli
        if len(a.ip) == 16:
            return ipv6_frame(b.mac, a.mac, self.tags, a.ip, b.ip, TCP, tcp + opts + payload)
        return ipv4_frame(
            b.mac, a.mac, self.tags, a.ip, b.ip, TCP, tcp + opts + payload, self.ident[me]
        )

    def handshake(self) -> Iterator[bytes]:
        """SYN, SYN/ACK, ACK."""
        yield self.frame(True, SYN, opts=_SYN_OPTIONS)
        yield self.frame(False, SYN | ACK, opts=_SYN_OPTIONS)
        yield self.frame(True, ACK)

    def send(self, from_client: bool, data: bytes | int) -> Iterator[bytes]:
        """Send `data` (or that many noise bytes) as MSS segments; the peer ACKs every second
        segment and the last one, as a delayed-ACK stack does."""
        total = data if isinstance(data, int) else len(data)
        pos = 0
        n = 0
        while pos < total:
            size = min(MSS, total - pos)
            if isinstance(data, int):
                assert self.noise is not None
                chunk = self.noise.take(size)
            else:
                chunk = data[pos : pos + size]
            pos += size
            n += 1
            last = pos >= total
            yield self.frame(from_client, ACK | (PSH if last else 0), chunk)
            if last or n % 2 == 0:
                yield self.frame(not from_client, ACK)

    def close(self) -> Iterator[bytes]:
        """Client-initiated FIN/ACK teardown."""
        yield self.frame(True, FIN | ACK)
        yield self.frame(False, FIN | ACK)
        yield self.frame(True, ACK)


# --- DHCP / DNS / TLS payloads --------------------------------------------------------------


def dhcp_payload(
    op: int,
    xid: int,
    chaddr: bytes,
    options: list[tuple[int, bytes]],
    ciaddr: bytes = ZERO_IP,
    yiaddr: bytes = ZERO_IP,
    siaddr: bytes = ZERO_IP,
) -> bytes:
    """A BOOTP message with DHCP options, padded to the customary 300 bytes."""
    head = struct.pack("!BBBBIHH4s4s4s4s", op, 1, 6, 0, xid, 0, 0, ciaddr, yiaddr, siaddr, ZERO_IP)
    body = head + chaddr + bytes(10) + bytes(64 + 128) + b"\x63\x82\x53\x63"
    for code, value in options:
        body += bytes((code, len(value))) + value
    body += b"\xff"
    if len(body) < 300:
        body += bytes(300 - len(body))
    return body


def option43(web_fqdn: str) -> bytes:
    """The MS-UC-Client vendor option: sub-options 1-5 as ASCII TLVs (protocol.md §1.2)."""
    out = b""
    for code, text in enumerate(
        ("MS-UC-Client", "https", web_fqdn, "443", CERT_PROV_PATH), start=1
    ):
        out += bytes((code, len(text))) + text.encode()
    return out


def option120(fqdn: str) -> bytes:
    """SIP server option, encoding 0: RFC 1035 labels ending in the root label."""
    return b"\x00" + dns_name(fqdn)


def dns_name(name: str) -> bytes:
    """Uncompressed wire form of a domain name."""
    out = b""
    for label in name.split("."):
        out += bytes((len(label),)) + label.encode()
    return out + b"\x00"


def dns_query(qid: int, name: str, qtype: int = 1) -> bytes:
    """A recursive query for one name."""
    return (
        struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        + dns_name(name)
        + struct.pack("!HH", qtype, 1)
    )


def dns_answer(qid: int, name: str, qtype: int, rdatas: list[bytes], rcode: int = 0) -> bytes:
    """The response: the question again plus one answer per rdata, names compressed to the
    question (0xc00c)."""
    out = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(rdatas), 0, 0)
    out += dns_name(name) + struct.pack("!HH", qtype, 1)
    for rd in rdatas:
        out += struct.pack("!HHHIH", 0xC00C, qtype, 1, 3600, len(rd)) + rd
    return out


def tls_client_hello(sni: str, rng: random.Random) -> bytes:
    """A TLS 1.2 ClientHello record with a server_name extension (what tshark shows as SNI);
    none when `sni` is empty (a browser sent to an IP address)."""
    host = sni.encode()
    sni_ext = (
        struct.pack("!HHHBH", 0, len(host) + 5, len(host) + 3, 0, len(host)) + host if host else b""
    )
    groups = struct.pack("!HHH", 10, 6, 4) + struct.pack("!HH", 23, 24)
    exts = sni_ext + groups + struct.pack("!HHB", 11, 2, 1) + b"\x00"
    ciphers = bytes.fromhex("c02bc02fc02cc030009c009d002f0035000a")
    body = (
        b"\x03\x03"
        + rng.randbytes(32)
        + b"\x20"
        + rng.randbytes(32)
        + struct.pack("!H", len(ciphers))
        + ciphers
        + b"\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_records(content_type: int, payload: bytes) -> bytes:
    """Wrap opaque bytes into TLS 1.2 records of at most 16 KiB."""
    out = []
    for i in range(0, len(payload), 16384):
        part = payload[i : i + 16384]
        out.append(bytes((content_type, 3, 3)) + struct.pack("!H", len(part)) + part)
    return b"".join(out)


def tls_handshake(msg_type: int, body: bytes) -> bytes:
    """One handshake message: type, 24-bit length, body."""
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


ALERT_HANDSHAKE_FAILURE, ALERT_BAD_CERTIFICATE, ALERT_CERTIFICATE_UNKNOWN = 40, 42, 46


def tls_alert(description: int) -> bytes:
    """A plaintext fatal alert record (sent before ChangeCipherSpec, so readable on the wire)."""
    return tls_records(21, bytes((2, description)))


RSA_EXPONENT = 65537
_SMALL_PRIMES_PRODUCT = math.prod(
    n for n in range(3, 2000, 2) if all(n % d for d in range(3, math.isqrt(n) + 1, 2))
)
"""The odd primes below 2000 multiplied: one gcd sieves a prime candidate."""


def _rsa_prime(rng: random.Random, bits: int) -> int:
    """A random `bits`-bit prime (top two bits set, so two of them make a full-size modulus),
    p - 1 prime to the public exponent; Miller-Rabin with 40 rounds drawn from `rng`."""
    while True:
        n = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if math.gcd(n, _SMALL_PRIMES_PRODUCT) != 1 or (n - 1) % RSA_EXPONENT == 0:
            continue
        d, s = n - 1, 0
        while not d & 1:
            d, s = d >> 1, s + 1
        for _ in range(40):
            x = pow(rng.randrange(2, n - 1), d, n)
            if x in (1, n - 1):
                continue
            for _ in range(s - 1):
                x = x * x % n
                if x == n - 1:
                    break
            else:
                break
        else:
            return n


@functools.cache
def rsa_modulus(label: str, bits: int = 2048) -> int:
    """The public modulus of a deterministic RSA key (two primes drawn from a generator seeded by
    `label`): `cryptography` cannot seed its own key generation, and the capture must be the same
    bytes for the same seed. About half a second, once a process. Only the public half is used:
    the benchmark's TLS check-ins are never decrypted, and no private key is written anywhere."""
    rng = random.Random(f"capinspect-bench/rsa/{label}")
    while True:
        p, q = _rsa_prime(rng, bits // 2), _rsa_prime(rng, bits // 2)
        if p != q and (p * q).bit_length() == bits:
            return p * q


def rsa_encrypt_pkcs1(modulus: int, message: bytes, rng: random.Random) -> bytes:
    """RSAES-PKCS1-v1_5 encryption (RFC 8017 7.2.1) with padding bytes from `rng`: what a TLS
    client's ClientKeyExchange carries for RSA key exchange, deterministic for the seed."""
    size = (modulus.bit_length() + 7) // 8
    pad = bytes(rng.randrange(1, 256) for _ in range(size - 3 - len(message)))
    block = int.from_bytes(b"\x00\x02" + pad + b"\x00" + message, "big")
    return pow(block, RSA_EXPONENT, modulus).to_bytes(size, "big")


@functools.cache
def certificate_chain(
    names: tuple[str, ...], issuer: str, leaf_key: str = "ed25519"
) -> tuple[bytes, bytes]:
    """DER of a server certificate for `names` (CN = the first, every name a SAN) and of the CA
    that issued it.

    Ed25519 because its signatures are deterministic (RFC 8032): the same seed gives the same
    bytes, which a random-nonce ECDSA or a freshly generated RSA key would not. The validity
    period covers the capture, so only the name can be wrong. ``leaf_key="rsa"`` gives the
    server certificate a deterministic RSA 2048 key (:func:`rsa_modulus`) instead, for RSA key
    exchange (TLS_RSA_WITH_*, what the phones' check-in uses); the CA still signs it with its
    Ed25519 key (PKCS#1 v1.5 RSA signatures would be deterministic too, but a second RSA key
    would cost another half second).
    """
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers
    from cryptography.x509.oid import NameOID

    def key(label: str) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(
            hashlib.sha256(f"capinspect-bench/key/{label}".encode()).digest()
        )

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    end = datetime.datetime(2028, 1, 1, tzinfo=datetime.UTC)
    ca_key = key(issuer)
    ca = (
        x509.CertificateBuilder()
        .subject_name(name(issuer))
        .issuer_name(name(issuer))
        .public_key(ca_key.public_key())
        .serial_number(int.from_bytes(hashlib.sha256(issuer.encode()).digest()[:8], "big"))
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, None)
    )
    leaf_public: Ed25519PublicKey | RSAPublicKey
    if leaf_key == "rsa":
        leaf_public = RSAPublicNumbers(RSA_EXPONENT, rsa_modulus(names[0])).public_key()
        serial_text = f"rsa/{names[0]}"  # not the Ed25519 certificate's serial: same issuer
    elif leaf_key == "ed25519":
        leaf_public = key(names[0]).public_key()
        serial_text = names[0]
    else:
        raise ValueError(f"leaf_key must be ed25519 or rsa, not {leaf_key!r}")
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name(names[0]))
        .issuer_name(name(issuer))
        .public_key(leaf_public)
        .serial_number(int.from_bytes(hashlib.sha256(serial_text.encode()).digest()[:8], "big"))
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, None)
    )
    der = serialization.Encoding.DER
    return leaf.public_bytes(der), ca.public_bytes(der)


def tls_server_flight(chain: tuple[bytes, bytes], rng: random.Random) -> bytes:
    """ServerHello (TLS 1.2, ECDHE-ECDSA-AES128-GCM, which an Ed25519 certificate signs for),
    Certificate, ServerKeyExchange and ServerHelloDone in one handshake record, all plaintext:
    what a passive reader sees of a server's first flight."""
    exts = b"\xff\x01\x00\x01\x00" + b"\x00\x17\x00\x00" + b"\x00\x0b\x00\x02\x01\x00"
    hello = (
        b"\x03\x03"
        + rng.randbytes(32)
        + b"\x20"
        + rng.randbytes(32)
        + b"\xc0\x2b\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    certs = b"".join(len(der).to_bytes(3, "big") + der for der in chain)
    kx = b"\x03\x00\x17\x41\x04" + rng.randbytes(64) + b"\x08\x07\x00\x40" + rng.randbytes(64)
    return tls_records(
        22,
        tls_handshake(2, hello)
        + tls_handshake(11, len(certs).to_bytes(3, "big") + certs)
        + tls_handshake(12, kx)
        + tls_handshake(14, b""),
    )


CHECKIN_SUITE = 0x002F
CHECKIN_SUITE_NAME = "TLS_RSA_WITH_AES_128_CBC_SHA"
"""The phones' HTTPS check-in suite (AES128-SHA): RSA key exchange, as in the lab's "rsa"
HTTPS scenarios (lab/iis.py), AES-128-CBC with HMAC-SHA1."""
CBC_BLOCK, SHA1_MAC = 16, 20


def cbc_record_size(plaintext: int) -> int:
    """Fragment size of a TLS 1.2 AES-CBC-SHA record carrying `plaintext` bytes (RFC 5246
    6.2.3.2): the explicit IV, then the plaintext and its HMAC-SHA1 padded to whole blocks with
    at least one padding byte. The 16-byte Finished message takes 64 bytes."""
    return CBC_BLOCK + (plaintext + SHA1_MAC) // CBC_BLOCK * CBC_BLOCK + CBC_BLOCK


def tls_rsa_server_flight(chain: tuple[bytes, bytes], rng: random.Random) -> bytes:
    """ServerHello (TLS 1.2, TLS_RSA_WITH_AES_128_CBC_SHA, a new session ID, no extensions: the
    client offered none a server may answer), Certificate and ServerHelloDone in one handshake
    record; RSA key exchange has no ServerKeyExchange."""
    hello = b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32)
    hello += struct.pack("!HB", CHECKIN_SUITE, 0)
    certs = b"".join(len(der).to_bytes(3, "big") + der for der in chain)
    return tls_records(
        22,
        tls_handshake(2, hello)
        + tls_handshake(11, len(certs).to_bytes(3, "big") + certs)
        + tls_handshake(14, b""),
    )


def tls_rsa_client_key_exchange(modulus: int, rng: random.Random) -> bytes:
    """The ClientKeyExchange record of RSA key exchange: a 48-byte pre-master secret (client
    version 3.3 first) encrypted to the certificate's key, behind its 16-bit length."""
    secret = rsa_encrypt_pkcs1(modulus, b"\x03\x03" + rng.randbytes(46), rng)
    return tls_records(22, tls_handshake(16, struct.pack("!H", len(secret)) + secret))


def srv_rdata(priority: int, weight: int, port: int, target: str) -> bytes:
    """SRV record data (RFC 2782), target uncompressed."""
    return struct.pack("!HHH", priority, weight, port) + dns_name(target)


# --- the phones -----------------------------------------------------------------------------

PHONE_KINDS = ("upgrade", "current", "interim", "missing", "tls")
"""Cycled by phone index. upgrade: 1.0.522.103 is offered the target, downloads it, reboots and
checks in current; current: nothing offered; interim: 1.0.522.34 takes the interim build, then
the target (three check-ins, two downloads, like the lab's interim-upgrade); missing: offered the
target, the GET gets IIS 404.0; tls: runs the target and checks in over HTTPS (a full TLS 1.2
handshake with RSA key exchange, then the check-in encrypted), so its handshake and certificate
are readable but not what it reported or was offered."""
MODELS = (("Polycom", "CX700", "0004f2"), ("LG-Nortel", "IP8540", "002163"))


def target_path(vendor: str, model: str) -> str:
    """Store layout from the seed: UCPhone/<Vendor>/<Model>/<Rev>/<Locale>/<Ver>/CPE/CPE.nbt."""
    return f"/DeviceUpdateFiles_Int/UCPhone/{vendor}/{model}/A/ENU/{TARGET_VERSION}/CPE/CPE.nbt"


def request_xml(mac: bytes, serial: str, vendor: str, model: str, user: str, ver: str) -> bytes:
    """Check-in body in the lab's dialect A (docs/checkin-format.md)."""
    mac_hex = mac.hex().upper()
    return (
        '<?xml version="1.0" encoding="utf-8"?><Request><DeviceType>UCPhone</DeviceType>'
        f"<MacAddress>{mac_hex}</MacAddress><SerialNumber>{serial}</SerialNumber>"
        f"<Vendor>{vendor}</Vendor><Model>{model}</Model><Revision>A</Revision>"
        f"<Locale>ENU</Locale><UserName>{user}</UserName><Modules>"
        f'<Module FileName="cpe.nbt" Version="{ver}" TimeStamp="01-01-1601 00:00:00" />'
        "</Modules></Request>"
    ).encode()


def response_xml(offer: tuple[str, str] | None) -> bytes:
    """Check-in answer in dialect A: versions, update URLs, Downloads Count 0 or one File."""
    files = ""
    count = 0
    if offer is not None:
        path, version = offer
        ext_path = path.replace("DeviceUpdateFiles_Int", "DeviceUpdateFiles_Ext")
        files = (
            f'<File Name="CPE.nbt" Version="{version}" TimeStamp="{TARGET_TIMESTAMP}" '
            f'InternalUrl="http://{WEB_FQDN}{path}" ExternalUrl="https://{EXT_FQDN}{ext_path}" />'
        )
        count = 1
    return (
        '<?xml version="1.0" encoding="utf-8"?><Response>'
        f"<ServerVersion>{TARGET_VERSION}</ServerVersion>"
        f"<ServiceVersion>{TARGET_VERSION}</ServiceVersion>"
        f"<UpdatesServerInternalUrl>https://{WEB_FQDN}{CHECKIN_PATH}</UpdatesServerInternalUrl>"
        f"<UpdatesServerExternalUrl>https://{EXT_FQDN}/RequestHandlerExt/ucdevice.upx"
        f'</UpdatesServerExternalUrl><Downloads Count="{count}">{files}</Downloads></Response>'
    ).encode()


def http_response(status: str, ctype: str, body_len: int, extra: str = "") -> bytes:
    """IIS 7 response headers."""
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nServer: Microsoft-IIS/7.0\r\n"
        f"{extra}X-Powered-By: ASP.NET\r\nDate: Mon, 30 Nov 2026 08:00:00 GMT\r\n"
        f"Content-Length: {body_len}\r\n\r\n"
    ).encode()


IIS_404 = (
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n<html '
    b'xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n<title>IIS 7.0 Detailed Error - 404.0 - '
    b"Not Found</title>\r\n</head>\r\n<body>\r\n<h2>HTTP Error 404.0 - Not Found</h2>\r\n<h3>The "
    b"resource you are looking for has been removed, had its name changed, or is temporarily "
    b"unavailable.</h3>\r\n<table><tr><th>Module</th><td>IIS Web Core</td></tr>\r\n<tr><th>"
    b"Notification</th><td>MapRequestHandler</td></tr>\r\n<tr><th>Handler</th><td>StaticFile"
    b"</td></tr>\r\n<tr><th>Error Code</th><td>0x80070002</td></tr></table>\r\n</body>\r\n</html>"
    b"\r\n"
)


@dataclass
class PhonePlan:
    """One phone's frames (each with the background gap before it) and its truth record."""

    truth: dict[str, Any]
    frames: list[tuple[int, bytes]] = field(default_factory=list)

    def add(self, frames: Iterator[bytes] | list[bytes], gap: int = 0, spread: int = 1) -> None:
        """Queue frames: the first after `gap` background slots, the rest `spread` apart."""
        for n, fr in enumerate(frames):
            self.frames.append((gap if n == 0 else spread, fr))


def build_phone(index: int, seed: int) -> PhonePlan:
    """Every frame of one phone's boot(s); depends only on (seed, index), never on file size."""
    rng = random.Random(f"capinspect-bench/{seed}/phone/{index}")
    noise = Noise(rng, 1 << 19)
    kind = PHONE_KINDS[index % len(PHONE_KINDS)]
    vendor, model, oui = MODELS[index % len(MODELS)]
    mac = bytes.fromhex(oui) + bytes((0xB0 | (index >> 16 & 0x0F), index >> 8 & 0xFF, index & 0xFF))
    ip = bytes((10, 20, 1 + index // 200, 20 + index % 200))
    if index == 3:
        vlans: tuple[int, ...] = (QINQ_OUTER, VOICE_VLAN)
    elif index % 2 == 1:
        vlans = (VOICE_VLAN,)
    else:
        vlans = ()
    tags = vlan_tags(vlans, pcp=5)
    serial = f"C18{index % 10}H{rng.randrange(10**6):06d}"
    user = f"user{index:03d}@{DOMAIN}"
    phone = Host(mac, ip)
    ocs = Host(ROUTER_MAC, OCS_IP)
    first_version = {
        "upgrade": INTERIM_VERSION,
        "current": TARGET_VERSION,
        "interim": "1.0.522.34",
        "missing": "1.0.522.101",
        "tls": TARGET_VERSION,
    }[kind]
    truth: dict[str, Any] = {
        "index": index,
        "kind": kind,
        "mac": mac_text(mac),
        "ip": ip_text(ip),
        "vlans": list(vlans),
        "vendor": vendor,
        "model": model,
        "serial": serial,
        "user": user,
        "transport": "tls" if kind == "tls" else "http",
        "firmware_initial": first_version,
        "firmware_reported": [],
        "checkins": 0,
        "offered": [],
        "downloads": [],
        "boots": 0,
        "tls_checkin": None,
    }
    plan = PhonePlan(truth)
    ip_ident = rng.getrandbits(16)

    def udp_frame(src: Host, dst: Host, sport: int, dport: int, payload: bytes) -> bytes:
        nonlocal ip_ident
        ip_ident += 1
        return ipv4_frame(
            dst.mac,
            src.mac,
            tags,
            src.ip,
            dst.ip,
            UDP,
            udp_segment(sport, dport, payload),
            ip_ident,
            128,
        )

    def dhcp_frame(from_phone: bool, dst_ip: bytes, payload: bytes, src_ip: bytes) -> bytes:
        src = Host(mac if from_phone else ROUTER_MAC, src_ip)
        dst_mac = (
            BROADCAST_MAC if dst_ip == BROADCAST_IP else (mac if not from_phone else ROUTER_MAC)
        )
        sport, dport = (68, 67) if from_phone else (67, 68)
        return udp_frame(src, Host(dst_mac, dst_ip), sport, dport, payload)

    def lookup(name: str, gap: int) -> None:
        qid = rng.getrandbits(16)
        sport = rng.randrange(49152, 65536)
        q = udp_frame(phone, Host(ROUTER_MAC, DNS_IP), sport, 53, dns_query(qid, name))
        a = udp_frame(
            Host(ROUTER_MAC, DNS_IP), phone, 53, sport, dns_answer(qid, name, 1, [OCS_IP])
        )
        plan.add([q, a], gap=gap, spread=rng.randrange(1, 4))

    def checkin_post(version: str) -> bytes:
        """The check-in request: POST headers and the dialect A body."""
        body = request_xml(mac, serial, vendor, model, user, version)
        head = (
            f"POST {CHECKIN_PATH} HTTP/1.1\r\nHost: {UPDATES_NAME}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n"
            "Connection: Keep-Alive\r\n\r\n"
        ).encode()
        return head + body

    def checkin_answer(offer_file: tuple[str, str] | None) -> bytes:
        """The server's answer: IIS headers and the dialect A response."""
        answer = response_xml(offer_file)
        return http_response("200 OK", "text/xml", len(answer)) + answer

    def checkin_over_tls(sport: int, version: str) -> None:
        """A full TLS 1.2 handshake with RSA key exchange to the update name, then the check-in
        in one application data record each way. Its plaintext is the HTTP phones' check-in
        (this phone runs the target, so the answer offers nothing); the protected records are
        exactly as long as AES-128-CBC with HMAC-SHA1 makes them, but their bytes are random:
        no key opens them. The phone does not resume a session, so the whole handshake is in
        the capture."""
        chain = checkin_chain()
        conn = TcpConn(phone, ocs, sport, 443, tags, rng, noise)
        plan.add(conn.handshake(), gap=2, spread=1)
        plan.add(conn.send(True, tls_client_hello(UPDATES_NAME, rng)), gap=1)
        plan.add(conn.send(False, tls_rsa_server_flight(chain, rng)), gap=2)
        change_cipher_spec = tls_records(20, b"\x01")
        finished = cbc_record_size(16)  # type 20, 24-bit length, 12 bytes of verify_data
        key_exchange = tls_rsa_client_key_exchange(rsa_modulus(CHECKIN_CERT_NAMES[0]), rng)
        client_finish = key_exchange + change_cipher_spec + tls_records(22, noise.take(finished))
        plan.add(conn.send(True, client_finish), gap=1)
        plan.add(conn.send(False, change_cipher_spec + tls_records(22, noise.take(finished))))
        request, answer = len(checkin_post(version)), len(checkin_answer(None))
        plan.add(conn.send(True, tls_records(23, noise.take(cbc_record_size(request)))), gap=1)
        plan.add(conn.send(False, tls_records(23, noise.take(cbc_record_size(answer)))), gap=3)
        plan.add(conn.close(), gap=1)
        truth["tls_checkin"] = {
            "version": "TLS 1.2",
            "cipher_suite": CHECKIN_SUITE_NAME,
            "sni": UPDATES_NAME,
            "certificate_names": list(CHECKIN_CERT_NAMES),
            "application_bytes_to_server": cbc_record_size(request),
            "application_bytes_to_client": cbc_record_size(answer),
            "request_plaintext_bytes": request,
            "answer_plaintext_bytes": answer,
        }

    def boot(version: str, gap: int) -> tuple[str, str] | None:
        """DHCP lease + INFORM, DNS, check-in; returns the offer (path, version) if any."""
        truth["boots"] += 1
        cid = b"\x01" + mac
        xid = rng.getrandbits(32)
        server_id = ROUTER_IP
        mask = bytes((255, 255, 0, 0))
        lease_opts = [
            (1, mask),
            (3, ROUTER_IP),
            (6, DNS_IP),
            (15, DOMAIN.encode()),
            (51, (86400).to_bytes(4, "big")),
            (54, server_id),
        ]
        disc = dhcp_payload(1, xid, mac, [(53, b"\x01"), (61, cid), (55, LEASE_PRL)])
        offer = dhcp_payload(2, xid, mac, [(53, b"\x02"), *lease_opts], yiaddr=ip)
        req = dhcp_payload(
            1, xid, mac, [(53, b"\x03"), (61, cid), (50, ip), (54, server_id), (55, LEASE_PRL)]
        )
        ack = dhcp_payload(2, xid, mac, [(53, b"\x05"), *lease_opts], yiaddr=ip)
        plan.add(
            [
                dhcp_frame(True, BROADCAST_IP, disc, ZERO_IP),
                dhcp_frame(False, BROADCAST_IP, offer, ROUTER_IP),
                dhcp_frame(True, BROADCAST_IP, req, ZERO_IP),
                dhcp_frame(False, BROADCAST_IP, ack, ROUTER_IP),
            ],
            gap=gap,
            spread=2,
        )
        ixid = rng.getrandbits(32)
        inform = dhcp_payload(
            1,
            ixid,
            mac,
            [(53, b"\x08"), (61, cid), (60, b"MS-UC-Client"), (55, INFORM_PRL)],
            ciaddr=ip,
        )
        iack = dhcp_payload(
            2,
            ixid,
            mac,
            [
                (53, b"\x05"),
                (54, server_id),
                (1, mask),
                (3, ROUTER_IP),
                (6, DNS_IP),
                (15, DOMAIN.encode()),
                (42, NTP_IP),
                (43, option43(WEB_FQDN)),
                (120, option120(WEB_FQDN)),
            ],
            ciaddr=ip,
        )
        plan.add(
            [dhcp_frame(True, BROADCAST_IP, inform, ip), dhcp_frame(False, ip, iack, ROUTER_IP)],
            gap=3,
            spread=2,
        )
        lookup(UPDATES_NAME, gap=3)
        sport = rng.randrange(49152, 65536)
        if kind == "tls":
            checkin_over_tls(sport, version)
            return None
        truth["firmware_reported"].append(version)
        truth["checkins"] += 1
        if version == TARGET_VERSION or kind == "current":
            offer_file = None
        elif version == "1.0.522.34":
            offer_file = (INTERIM_PATH, INTERIM_VERSION)
        else:
            offer_file = (target_path(vendor, model), TARGET_VERSION)
        conn = TcpConn(phone, ocs, sport, 80, tags, rng, noise)
        plan.add(conn.handshake(), gap=2, spread=1)
        plan.add(conn.send(True, checkin_post(version)), gap=1)
        plan.add(conn.send(False, checkin_answer(offer_file)), gap=2)
        plan.add(conn.close(), gap=1)
        if offer_file is not None:
            truth["offered"].append(
                {"url": f"http://{WEB_FQDN}{offer_file[0]}", "version": offer_file[1]}
            )
        return offer_file

    def download(path: str) -> bool:
        """DNS for the file host, then the GET; True when the whole file arrived."""
        lookup(WEB_FQDN, gap=2)
        conn = TcpConn(phone, ocs, rng.randrange(49152, 65536), 80, tags, rng, noise)
        plan.add(conn.handshake(), gap=2, spread=1)
        get = (
            f"GET {path} HTTP/1.1\r\nHost: {WEB_FQDN}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Connection: Keep-Alive\r\n\r\n"
        ).encode()
        plan.add(conn.send(True, get), gap=1)
        url = f"http://{WEB_FQDN}{path}"
        if kind == "missing":
            head = http_response("404 Not Found", "text/html", len(IIS_404))
            plan.add(conn.send(False, head + IIS_404), gap=2)
            plan.add(conn.close(), gap=1)
            truth["downloads"].append(
                {"url": url, "status": 404, "bytes": len(IIS_404), "complete": True}
            )
            return False
        size = rng.randint(150_000, 400_000)
        head = http_response(
            "200 OK",
            "application/octet-stream",
            size,
            'ETag: "80ea3b6b8c5fc91:0"\r\nAccept-Ranges: bytes\r\n',
        )
        body = b"NBT0" + noise.take(size - 4)
        plan.add(conn.send(False, head + body), gap=2, spread=1)
        plan.add(conn.close(), gap=1)
        truth["downloads"].append({"url": url, "status": 200, "bytes": size, "complete": True})
        return True

    version = first_version
    gap = 0
    for _ in range(4):
        offer = boot(version, gap)
        if offer is None:
            break
        if not download(offer[0]):
            break
        version = offer[1]
        gap = REBOOT
    # A "tls" phone is current: its encrypted check-in is answered, no download follows and no
    # alert comes, so it is judged without keys: pass (inferred without decryption).
    truth["expected_verdict"] = {"missing": "fail"}.get(kind, "pass")
    truth["frames"] = len(plan.frames)
    return plan


# --- background -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PcNoise:
    """How much non-phone traffic touching the update service the background carries.

    Each share is the approximate fraction of background frames of that kind (0 = none); `pcs`
    is how many of the 400 background PCs do it. All zero by default: the capture is then byte
    for byte the one the benchmark's numbers were measured on.
    """

    pcs: int = 0
    """Background PCs that look up, connect to or browse the update service."""
    dns: float = 0.0
    """Lookups of ucupdates-r2 (this and another domain), the web FQDN, the pool FQDN,
    lyncdiscoverinternal and _sipinternaltls._tcp SRV; some answered, some NXDOMAIN."""
    tls: float = 0.0
    """TLS to the pool (SNI the pool FQDN, ucupdates-r2 or none) or to another domain's
    ucupdates-r2; mostly a certificate for another name, some alerts, some completed handshakes."""
    http: float = 0.0
    """Browser GETs of /DeviceUpdateFiles_Int/ on the web server (the article's step 5)."""
    dhcp: float = 0.0
    """Windows DHCPINFORMs (MSFT 5.0, asking for 43 and 252) and Android leases."""

    @property
    def enabled(self) -> bool:
        return any((self.dns, self.tls, self.http, self.dhcp))

    def as_dict(self) -> dict[str, float] | None:
        """For the truth file (None when off, so a default capture's truth says so plainly)."""
        if not self.enabled:
            return None
        return {k: getattr(self, k) for k in ("pcs", "dns", "tls", "http", "dhcp")}


NOISY_PCS = PcNoise(pcs=40, dns=0.004, tls=0.01, http=0.005, dhcp=0.002)
"""The ``--noisy-pcs`` preset: a tenth of the PCs, about 2% of the frames."""
WRAPS = ("erspan2", "vxlan")


@dataclass(frozen=True)
class Variant:
    """How the background's traffic mix differs from the plain capture's (none by default: the
    capture is then byte for byte the plain one). The phones are never changed."""

    ipv6: float = 0.0
    """Share of the PCs' TLS sessions and DNS lookups carried over IPv6."""
    tls: float = 0.0
    """Share of the background frames in PCs' TLS sessions (0: the plain mix's 15%)."""
    wrap: str | None = None
    """Every frame inside ERSPAN type II over GRE ("erspan2") or inside VXLAN ("vxlan")."""

    @property
    def enabled(self) -> bool:
        return bool(self.ipv6 or self.tls or self.wrap)

    def as_dict(self) -> dict[str, Any]:
        return {"ipv6_share": self.ipv6, "tls_share": self.tls, "wrap": self.wrap}


VARIANTS = {
    "plain": Variant(),
    "ipv6": Variant(ipv6=0.13),
    "tls": Variant(tls=0.30),
    "erspan2": Variant(wrap="erspan2"),
    "vxlan": Variant(wrap="vxlan"),
}
"""The benchmark's named variants (``bench.run --variant``)."""
PC_V6_PREFIX = bytes.fromhex("20010db8003000000000000000000000")[:14]
"""The PCs' IPv6 /64 (documentation prefix); the PC's IPv4 host bytes end the address."""
DNS_IP6 = bytes.fromhex("20010db8001000000000000000000002")
MIRROR_SOURCE = Host(bytes.fromhex("001b54aa00fe"), bytes((10, 99, 0, 1)))
"""The mirror session's source: the switch that copies the port."""
MIRROR_COLLECTOR = Host(bytes.fromhex("005056c00010"), bytes((10, 99, 0, 10)))
"""The mirror session's destination: the capturing host."""
MIRROR_SESSION = 7
"""ERSPAN session ID, and the VXLAN network identifier."""


class Wrapper:
    """Wraps each frame as a remote mirror delivers it (ERSPAN II over GRE, or VXLAN)."""

    def __init__(self, kind: str) -> None:
        if kind not in WRAPS:
            raise ValueError(f"--wrap must be one of {', '.join(WRAPS)}, not {kind!r}")
        self.kind = kind
        self.sequence = 0

    def __call__(self, frame: bytes) -> bytes:
        self.sequence += 1
        src, dst = MIRROR_SOURCE, MIRROR_COLLECTOR
        if self.kind == "erspan2":
            # GRE with a sequence number, protocol 0x88BE; ERSPAN II: version 1, VLAN 0,
            # COS 0, En 3 (tags kept in the frame), session, index 0.
            gre = struct.pack("!HHI", 0x1000, 0x88BE, self.sequence & 0xFFFFFFFF)
            erspan = struct.pack("!HHI", 0x1000, (3 << 11) | MIRROR_SESSION, 0)
            return ipv4_frame(dst.mac, src.mac, b"", src.ip, dst.ip, 47, gre + erspan + frame,
                              self.sequence)  # fmt: skip
        # VXLAN: the source port from a hash of the inner headers, as a VTEP picks it.
        sport = 0xC000 | (zlib.crc32(frame[:64]) & 0x3FFF)
        vxlan = struct.pack("!II", 0x08000000, MIRROR_SESSION << 8)
        return ipv4_frame(dst.mac, src.mac, b"", src.ip, dst.ip, UDP,
                          udp_segment(sport, 4789, vxlan + frame), self.sequence)  # fmt: skip


ANDROIDS = 12
NOISE_ACTIVITIES = (
    "dns-update-name",
    "dns-web-fqdn",
    "dns-sip-srv",
    "dns-pool-name",
    "dns-lyncdiscover",
    "dns-nxdomain",
    "tls-update-sni",
    "tls-no-sni",
    "tls-pool-sni",
    "tls-server-alert",
    "tls-cert-other-name",
    "tls-cert-matching",
    "tls-client-alert",
    "tls-established",
    "http-update-files",
    "dhcp-inform",
    "dhcp-ack-option43",
    "dhcp-lease",
)
"""What the truth file says a noisy host did (each with a count)."""
UPDATE_SERVICE_ACTIVITIES = (
    "dns-update-name",
    "dns-web-fqdn",
    "dns-sip-srv",
    "tls-update-sni",
    "tls-no-sni",
    "http-update-files",
)
"""What makes a host an "other client of the update service" an analyzer must list: it looked
up ucupdates-r2 (any domain), the web/pool FQDN the phones got in options 43/120 or the
_sipinternaltls SRV, sent a ClientHello naming ucupdates-r2 or none to the server's address, or
fetched the update files. DHCP alone does not."""
POOL_NAME_ACTIVITIES = ("dns-pool-name", "dns-lyncdiscover", "tls-pool-sni")
"""Names of the pool no phone was told (the Enterprise pool FQDN is only an SRV target here)
and lyncdiscoverinternal: a host that did only these may be listed or not."""
WINDOWS_INFORM_PRL = bytes((1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43, 252))
ANDROID_PRL = bytes((1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108))
BROWSER_AGENT = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)"
IIS_403_14 = (
    b"<html><head><title>IIS 7.0 Detailed Error - 403.14 - Forbidden</title></head><body>"
    b"<h2>HTTP Error 403.14 - Forbidden</h2><h3>The Web server is configured to not list the "
    b"contents of this directory.</h3></body></html>"
)


CHECKIN_CERT_NAMES = (WEB_FQDN, UPDATES_NAME)
"""The names on the certificate the phones' HTTPS check-in gets (the pool's web names)."""


def checkin_chain() -> tuple[bytes, bytes]:
    """The certificate the update service shows the phones: the pool's web names, as in
    :func:`pool_chain`, on an RSA key (the check-in's RSA key exchange encrypts to it), issued
    by the same CA."""
    return certificate_chain(CHECKIN_CERT_NAMES, "Contoso Issuing CA", "rsa")


def pool_chain() -> tuple[bytes, bytes]:
    """The pool's web certificate: right for phones (ucupdates-r2 and the web FQDN), but it
    does not carry the pool FQDN that PCs' Lync clients use as SNI."""
    return certificate_chain(CHECKIN_CERT_NAMES, "Contoso Issuing CA")


def other_chain() -> tuple[bytes, bytes]:
    """What answers at the other domain's ucupdates-r2 address: its mail server's certificate."""
    return certificate_chain(
        (f"mail.{OTHER_DOMAIN}", f"autodiscover.{OTHER_DOMAIN}"), "Fabrikam Root CA"
    )


class Background:
    """An endless, deterministic mix of unrelated mirror-port traffic.

    Each category keeps a small pool of live flows and one frame at a time is drawn from a
    random flow of a category picked by its packet share, so flows interleave like on a real
    link and nothing but the live flows is held in memory.

    With a `PcNoise`, some PCs (and Android devices) also touch the update service the way
    real non-phones do; `noisy_hosts` records what each did, as its frame is emitted.
    """

    def __init__(
        self, rng: random.Random, pc_noise: PcNoise = PcNoise(), variant: Variant = Variant()
    ) -> None:
        self.rng = rng
        self.pc_noise = pc_noise
        self.variant = variant
        self.noisy_hosts: dict[bytes, dict[str, Any]] = {}
        self.pending: list[tuple[bytes, tuple[Host, bytes, str, str, str] | None]] = []
        """Frames that must follow the one just drawn (a DNS answer, a DHCP reply), with the
        note to record when each goes out; only the noise uses it."""
        self.noise = Noise(rng)
        self.counts: dict[str, int] = {}
        self.pcs = [
            (
                Host(
                    bytes.fromhex("3c5282") + bytes((0, k >> 8, k & 0xFF)),
                    bytes((10, 30, k // 200, 10 + k % 200)),
                ),
                vlan_tags((DATA_VLAN,)) if k % 5 == 0 else b"",
            )
            for k in range(400)
        ]
        cats: list[tuple[str, float, int, Callable[[], Iterator[bytes]]]] = [
            ("bulk", 0.33, 16, self.bulk_flow),
            ("tls", 0.15, 10, self.tls_flow),
            ("http", 0.06, 6, self.http_flow),
            ("rtp", 0.38, 8, self.rtp_stream),
            ("dns", 0.012, 4, self.dns_lookup),
            ("ntp", 0.01, 2, self.ntp_exchange),
            ("snmp", 0.02, 2, self.snmp_poll),
            ("arp", 0.01, 2, self.arp_exchange),
            ("syslog", 0.016, 1, self.syslog_stream),
            ("pc_dhcp", 0.002, 1, self.pc_dhcp),
        ]
        self.noisy: list[tuple[Host, bytes]] = []
        self.androids: list[Host] = []
        if pc_noise.enabled:
            # Only here is the RNG touched for noise, so a capture without it is unchanged.
            self.noisy = [self.pcs[k] for k in sorted(rng.sample(range(400), pc_noise.pcs))]
            self.androids = [
                Host(bytes((0xDA, 0xA1, 0x19, 0, 0, j)), bytes((10, 30, 2, 10 + j)))
                for j in range(ANDROIDS)
            ]
            for name, share, n, factory in (
                ("pc_update_dns", pc_noise.dns, 2, self.update_lookup),
                ("pc_update_tls", pc_noise.tls, 3, self.update_tls),
                ("pc_update_http", pc_noise.http, 1, self.update_browse),
                ("pc_dhcp_noise", pc_noise.dhcp, 1, self.dhcp_noise),
            ):
                if share > 0:
                    cats.append((name, share, n, factory))
        if variant.tls:
            # The TLS category's weight that makes it this share of all the weights.
            rest = sum(c[1] for c in cats if c[0] != "tls")
            cats[1] = ("tls", variant.tls * rest / (1 - variant.tls), 10, self.tls_flow)
        total = sum(c[1] for c in cats)
        self.thresholds: list[float] = []
        acc = 0.0
        for _name, share, _n, _f in cats:
            acc += share / total
            self.thresholds.append(acc)
        self.names = [c[0] for c in cats]
        self.factories = [c[3] for c in cats]
        self.pools = [[f() for _ in range(n)] for _name, _s, n, f in cats]
        self.counts = {name: len(pool) for name, pool in zip(self.names, self.pools, strict=True)}

    def next_frame(self) -> bytes:
        """One background frame."""
        if self.pending:
            follow, note = self.pending.pop(0)
            if note is not None:
                self.note(*note)
            return follow
        rng = self.rng
        r = rng.random()
        cat = 0
        for cat, limit in enumerate(self.thresholds):  # noqa: B007 - the index is the result
            if r < limit:
                break
        pool = self.pools[cat]
        slot = rng.randrange(len(pool))
        for _ in range(3):
            frame = next(pool[slot], None)
            if frame is not None:
                return frame
            pool[slot] = self.factories[cat]()
            self.counts[self.names[cat]] += 1
        raise RuntimeError("background flow factory yielded nothing")

    def pc(self) -> tuple[Host, bytes]:
        return self.pcs[self.rng.randrange(len(self.pcs))]

    def over_ipv6(self) -> bool:
        """Whether the flow being started goes over IPv6 (the RNG is touched only when the
        variant asks for IPv6, so the plain capture is unchanged)."""
        return bool(self.variant.ipv6) and self.rng.random() < self.variant.ipv6

    @staticmethod
    def pc_v6(pc: Host) -> Host:
        """The PC's IPv6 address: its /64 and the last two bytes of its IPv4 address."""
        return Host(pc.mac, PC_V6_PREFIX + pc.ip[2:4])

    def bulk_flow(self) -> Iterator[bytes]:
        """SMB/445, HTTP-alt/8080 or RDP/3389: a request, then a long MSS-sized transfer."""
        rng = self.rng
        cli, tags = self.pc()
        port = rng.choice((445, 445, 8080, 3389))
        srv = Host(
            ROUTER_MAC, bytes((10, 40, {445: 0, 8080: 1, 3389: 2}[port], rng.randrange(2, 60)))
        )
        conn = TcpConn(cli, srv, rng.randrange(49152, 65536), port, tags, rng, self.noise)
        yield from conn.handshake()
        for _ in range(rng.randint(1, 4)):
            size = rng.randint(20_000, 600_000)
            if port == 8080:  # an app server/proxy: real HTTP on a non-standard port
                yield from conn.send(
                    True,
                    f"GET /api/v2/items?page={rng.randrange(500)} HTTP/1.1\r\nHost: app"
                    f"{srv.ip[3]}.corp.{DOMAIN}:8080\r\nAccept: */*\r\n\r\n".encode(),
                )
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {size}\r\n\r\n"
                ).encode()
                yield from conn.send(False, head + self.noise.take(size))
            else:
                yield from conn.send(True, rng.randint(60, 400))
                yield from conn.send(False, size)
        yield from conn.close()

    def tls_flow(self) -> Iterator[bytes]:
        """A PC's HTTPS session: ClientHello with SNI, server handshake, application data."""
        rng = self.rng
        cli, tags = self.pc()
        srv = Host(
            ROUTER_MAC,
            bytes(
                (
                    rng.choice((13, 20, 52, 104)),
                    rng.randrange(256),
                    rng.randrange(256),
                    rng.randrange(1, 255),
                )
            ),
        )
        if self.over_ipv6():
            cli = self.pc_v6(cli)
            srv = Host(srv.mac, bytes.fromhex("2606470000") + bytes(7) + srv.ip)
        conn = TcpConn(cli, srv, rng.randrange(49152, 65536), 443, tags, rng, self.noise)
        yield from conn.handshake()
        sni = rng.choice(
            (
                "outlook.office365.com",
                "www.bing.com",
                "login.microsoftonline.com",
                "teams.microsoft.com",
                "update.example.net",
                "cdn.example.org",
            )
        )
        yield from conn.send(True, tls_client_hello(sni, rng))
        yield from conn.send(False, tls_records(22, self.noise.take(rng.randint(2500, 5000))))
        yield from conn.send(True, tls_records(22, self.noise.take(100)))
        for _ in range(rng.randint(1, 6)):
            yield from conn.send(True, tls_records(23, self.noise.take(rng.randint(200, 1400))))
            size = rng.randint(1_000, 200_000)
            yield from conn.send(False, tls_records(23, self.noise.take(size)))
        yield from conn.close()

    def http_flow(self) -> Iterator[bytes]:
        """Plain HTTP GETs of unrelated pages and images on one keep-alive connection."""
        rng = self.rng
        cli, tags = self.pc()
        host = f"www.example{rng.randrange(100)}.com"
        srv = Host(ROUTER_MAC, bytes((93, 184, rng.randrange(256), rng.randrange(1, 255))))
        conn = TcpConn(cli, srv, rng.randrange(49152, 65536), 80, tags, rng, self.noise)
        yield from conn.handshake()
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(
                (
                    "/",
                    "/index.html",
                    "/news/today",
                    "/img/logo.png",
                    "/static/app.js",
                    f"/files/report{rng.randrange(1000)}.pdf",
                )
            )
            req = (
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 (Windows NT "
                "10.0; Win64; x64)\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
                "Connection: keep-alive\r\n\r\n"
            ).encode()
            yield from conn.send(True, req)
            size = rng.randint(500, 150_000)
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                f"{size}\r\nServer: nginx\r\n\r\n"
            ).encode()
            yield from conn.send(False, head + self.noise.take(size))
        yield from conn.close()

    def rtp_stream(self) -> Iterator[bytes]:
        """One RTP call leg pair (G.711, 20 ms) on the voice VLAN between two other phones'
        media endpoints; these hosts never boot, so they are not devices."""
        rng = self.rng
        k = rng.randrange(200)
        a = Host(bytes.fromhex("00e0bb") + bytes((0, 0, k)), bytes((10, 21, 0, 10 + k)))
        b = Host(ROUTER_MAC, bytes((10, 21, 1, 10 + rng.randrange(200))))
        pa, pb = rng.randrange(16384, 32768, 2), rng.randrange(16384, 32768, 2)
        tags = vlan_tags((VOICE_VLAN,), pcp=5)
        ssrc = [rng.getrandbits(32), rng.getrandbits(32)]
        seq = [rng.getrandbits(16), rng.getrandbits(16)]
        ts = [rng.getrandbits(32), rng.getrandbits(32)]
        ident = [rng.getrandbits(16), rng.getrandbits(16)]
        for _ in range(rng.randint(200, 3000)):
            for d in (0, 1):
                rtp = struct.pack("!BBHII", 0x80, 0, seq[d], ts[d], ssrc[d]) + self.noise.take(160)
                seq[d] = (seq[d] + 1) & 0xFFFF
                ts[d] = (ts[d] + 160) & 0xFFFFFFFF
                ident[d] += 1
                src, dst, sp, dp = (a, b, pa, pb) if d == 0 else (b, a, pb, pa)
                yield ipv4_frame(
                    dst.mac,
                    src.mac,
                    tags,
                    src.ip,
                    dst.ip,
                    UDP,
                    udp_segment(sp, dp, rtp),
                    ident[d],
                    128,
                )

    def dns_lookup(self) -> Iterator[bytes]:
        """An unrelated A/AAAA lookup and its answer (some NXDOMAIN)."""
        rng = self.rng
        cli, tags = self.pc()
        srv = Host(ROUTER_MAC, DNS_IP)
        name = rng.choice(
            (
                f"host{rng.randrange(5000)}.corp.{DOMAIN}",
                f"www.example{rng.randrange(100)}.com",
                f"fs{rng.randrange(40)}.corp.{DOMAIN}",
                "time.windows.com",
                f"wpad.{DOMAIN}",
            )
        )
        qtype = 28 if rng.random() < 0.3 else 1
        qid = rng.getrandbits(16)
        sport = rng.randrange(49152, 65536)
        if self.over_ipv6():
            yield from self.dns_lookup_v6(self.pc_v6(cli), tags, name, qtype, qid, sport)
            return
        yield ipv4_frame(
            srv.mac,
            cli.mac,
            tags,
            cli.ip,
            srv.ip,
            UDP,
            udp_segment(sport, 53, dns_query(qid, name, qtype)),
            qid,
            128,
        )
        if name.startswith("wpad"):
            ans = dns_answer(qid, name, qtype, [], rcode=3)
        elif qtype == 1:
            ans = dns_answer(qid, name, 1, [bytes((10, 40, 3, rng.randrange(1, 255)))])
        else:
            ans = dns_answer(qid, name, 28, [bytes(15) + b"\x01"])
        yield ipv4_frame(
            cli.mac,
            srv.mac,
            tags,
            srv.ip,
            cli.ip,
            UDP,
            udp_segment(53, sport, ans),
            qid ^ 0x5555,
            128,
        )

    def dns_lookup_v6(
        self, cli: Host, tags: bytes, name: str, qtype: int, qid: int, sport: int
    ) -> Iterator[bytes]:
        """The same lookup over IPv6, to the DNS server's IPv6 address."""
        query = udp6_segment(cli.ip, DNS_IP6, sport, 53, dns_query(qid, name, qtype))
        yield ipv6_frame(ROUTER_MAC, cli.mac, tags, cli.ip, DNS_IP6, UDP, query)
        if name.startswith("wpad"):
            ans = dns_answer(qid, name, qtype, [], rcode=3)
        elif qtype == 1:
            ans = dns_answer(qid, name, 1, [bytes((10, 40, 3, self.rng.randrange(1, 255)))])
        else:
            ans = dns_answer(qid, name, 28, [bytes(15) + b"\x01"])
        yield ipv6_frame(cli.mac, ROUTER_MAC, tags, DNS_IP6, cli.ip, UDP,
                         udp6_segment(DNS_IP6, cli.ip, 53, sport, ans))  # fmt: skip

    def ntp_exchange(self) -> Iterator[bytes]:
        """An NTP client request (mode 3) and server reply (mode 4)."""
        cli, tags = self.pc()
        srv = Host(ROUTER_MAC, NTP_IP)
        yield ipv4_frame(
            srv.mac,
            cli.mac,
            tags,
            cli.ip,
            srv.ip,
            UDP,
            udp_segment(123, 123, b"\x23" + self.noise.take(47)),
            1,
        )
        yield ipv4_frame(
            cli.mac,
            srv.mac,
            tags,
            srv.ip,
            cli.ip,
            UDP,
            udp_segment(123, 123, b"\x24\x02" + self.noise.take(46)),
            2,
        )

    def snmp_poll(self) -> Iterator[bytes]:
        """An SNMPv2c get of sysUpTime from the NMS to a switch, and the answer."""
        rng = self.rng
        nms = Host(ROUTER_MAC, bytes((10, 10, 0, 50)))
        sw = Host(
            bytes.fromhex("0019e8") + bytes((0, 0, rng.randrange(1, 40))),
            bytes((10, 20, 0, 2 + rng.randrange(40))),
        )
        rid = rng.getrandbits(16)
        oid = bytes.fromhex("06082b06010201010300")
        get = (
            bytes.fromhex("302902010104067075626c6963a01c0202")
            + rid.to_bytes(2, "big")
            + bytes.fromhex("020100020100300e300c")
            + oid
            + b"\x05\x00"
        )
        resp = (
            bytes.fromhex("302d02010104067075626c6963a2200202")
            + rid.to_bytes(2, "big")
            + bytes.fromhex("0201000201003012301006082b060102010103004304")
            + rng.getrandbits(32).to_bytes(4, "big")
        )
        sport = rng.randrange(49152, 65536)
        yield ipv4_frame(sw.mac, nms.mac, b"", nms.ip, sw.ip, UDP, udp_segment(sport, 161, get), 3)
        yield ipv4_frame(nms.mac, sw.mac, b"", sw.ip, nms.ip, UDP, udp_segment(161, sport, resp), 4)

    def arp_exchange(self) -> Iterator[bytes]:
        """Who-has from a PC for its gateway and the router's reply."""
        cli, tags = self.pc()
        gw = bytes((10, 30, 0, 1))
        req = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + cli.mac + cli.ip + bytes(6) + gw
        rep = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + ROUTER_MAC + gw + cli.mac + cli.ip
        yield (BROADCAST_MAC + cli.mac + tags + ETH_ARP + req).ljust(60, b"\x00")
        yield (cli.mac + ROUTER_MAC + tags + ETH_ARP + rep).ljust(60, b"\x00")

    def syslog_stream(self) -> Iterator[bytes]:
        """Switches logging to a syslog server over UDP/514."""
        rng = self.rng
        src = Host(bytes.fromhex("0019e8000001"), bytes((10, 20, 0, 2)))
        dst = Host(ROUTER_MAC, bytes((10, 10, 0, 60)))
        for n in range(rng.randint(50, 500)):
            msg = (
                f"<189>{n}: %LINEPROTO-5-UPDOWN: Line protocol on Interface "
                f"GigabitEthernet1/0/{rng.randrange(1, 48)}, changed state to up"
            ).encode()
            yield ipv4_frame(
                dst.mac, src.mac, b"", src.ip, dst.ip, UDP, udp_segment(514, 514, msg), n
            )

    def pc_dhcp(self) -> Iterator[bytes]:
        """A PC renewing its lease (vendor class MSFT 5.0): DHCP that is not a phone's."""
        rng = self.rng
        cli, tags = self.pc()
        xid = rng.getrandbits(32)
        opts = [
            (53, b"\x03"),
            (61, b"\x01" + cli.mac),
            (60, b"MSFT 5.0"),
            (55, bytes((1, 3, 6, 15))),
        ]
        req = dhcp_payload(1, xid, cli.mac, opts, ciaddr=cli.ip)
        ack = dhcp_payload(
            2,
            xid,
            cli.mac,
            [(53, b"\x05"), (54, bytes((10, 30, 0, 1))), (1, bytes((255, 255, 0, 0)))],
            ciaddr=cli.ip,
            yiaddr=cli.ip,
        )
        gw = Host(ROUTER_MAC, bytes((10, 30, 0, 1)))
        yield ipv4_frame(
            ROUTER_MAC, cli.mac, tags, cli.ip, gw.ip, UDP, udp_segment(68, 67, req), xid
        )
        yield ipv4_frame(
            cli.mac, ROUTER_MAC, tags, gw.ip, cli.ip, UDP, udp_segment(67, 68, ack), xid
        )

    # --- non-phones touching the update service (PcNoise) ---------------------------------

    def noisy_pc(self) -> tuple[Host, bytes]:
        return self.noisy[self.rng.randrange(len(self.noisy))]

    def note(self, host: Host, tags: bytes, kind: str, activity: str, detail: str) -> None:
        """Record that `host` did `activity`; called right before the frame that shows it is
        yielded, so a flow cut off by the end of the file never claims more than it sent."""
        assert activity in NOISE_ACTIVITIES, activity
        rec = self.noisy_hosts.get(host.mac)
        if rec is None:
            rec = self.noisy_hosts[host.mac] = {
                "mac": mac_text(host.mac),
                "ip": ip_text(host.ip),
                "vlans": [DATA_VLAN] if tags else [],
                "kind": kind,
                "activities": {},
                "details": set(),
            }
        rec["activities"][activity] = rec["activities"].get(activity, 0) + 1
        rec["details"].add(detail)

    def noisy_truth(self) -> list[dict[str, Any]]:
        """The noisy hosts for the truth file, sorted by MAC."""
        out = []
        for mac in sorted(self.noisy_hosts):
            rec = self.noisy_hosts[mac]
            out.append(
                {
                    **rec,
                    "activities": dict(sorted(rec["activities"].items())),
                    "details": sorted(rec["details"]),
                    "update_service_client": any(
                        a in rec["activities"] for a in UPDATE_SERVICE_ACTIVITIES
                    ),
                    "pool_names_only": not any(
                        a in rec["activities"] for a in UPDATE_SERVICE_ACTIVITIES
                    )
                    and any(a in rec["activities"] for a in POOL_NAME_ACTIVITIES),
                }
            )
        return out

    def update_lookup(self) -> Iterator[bytes]:
        """A PC's Lync client resolving the update service and SIP discovery names: the
        phones' own ucupdates-r2 name, another domain's (NXDOMAIN or answered), the web FQDN the
        phones got in DHCP, the pool FQDN, lyncdiscoverinternal (absent in OCS 2007 R2) and the
        _sipinternaltls SRV. The answer is the very next frame (as a DNS server answers within
        a millisecond), not left to the random interleaving of flows."""
        rng = self.rng
        cli, tags = self.noisy_pc()
        srv = Host(ROUTER_MAC, DNS_IP)
        activity, name, qtype, rdatas, rcode = rng.choice(
            (
                ("dns-update-name", UPDATES_NAME, 1, [OCS_IP], 0),
                ("dns-update-name", UPDATES_NAME, 1, [OCS_IP], 0),
                ("dns-update-name", UPDATES_NAME, 28, [], 0),
                ("dns-update-name", OTHER_UPDATES_NAME, 1, [], 3),
                ("dns-update-name", OTHER_UPDATES_NAME, 1, [], 3),
                ("dns-update-name", OTHER_UPDATES_NAME, 1, [OTHER_UPDATES_IP], 0),
                ("dns-web-fqdn", WEB_FQDN, 1, [OCS_IP], 0),
                ("dns-pool-name", POOL_FQDN, 1, [OCS_IP], 0),
                ("dns-lyncdiscover", f"lyncdiscoverinternal.{DOMAIN}", 1, [], 3),
                ("dns-lyncdiscover", f"lyncdiscoverinternal.{OTHER_DOMAIN}", 1, [], 3),
                (
                    "dns-sip-srv",
                    f"_sipinternaltls._tcp.{DOMAIN}",
                    33,
                    [srv_rdata(0, 0, 5061, POOL_FQDN)],
                    0,
                ),
                ("dns-sip-srv", f"_sipinternaltls._tcp.{OTHER_DOMAIN}", 33, [], 3),
            )
        )
        qid = rng.getrandbits(16)
        sport = rng.randrange(49152, 65536)
        ans = dns_answer(qid, name, qtype, rdatas, rcode=rcode)
        self.pending.append(
            (
                ipv4_frame(
                    cli.mac,
                    srv.mac,
                    tags,
                    srv.ip,
                    cli.ip,
                    UDP,
                    udp_segment(53, sport, ans),
                    qid ^ 0x55,
                    128,
                ),
                (cli, tags, "windows-pc", "dns-nxdomain", name) if rcode else None,
            )
        )
        self.note(cli, tags, "windows-pc", activity, name)
        yield ipv4_frame(
            srv.mac,
            cli.mac,
            tags,
            cli.ip,
            srv.ip,
            UDP,
            udp_segment(sport, 53, dns_query(qid, name, qtype)),
            qid,
            128,
        )

    def update_tls(self) -> Iterator[bytes]:
        """A PC's HTTPS to the pool's address (SNI the pool FQDN, ucupdates-r2, or none: an
        admin typing https://<address>/) or to the other domain's ucupdates-r2 server. The
        certificate mostly names other hosts, so a checker that judged every client would call
        it a name mismatch; the browser then sends an alert or the user clicks through. The
        other domain's server sometimes refuses the ClientHello outright (handshake_failure)."""
        rng = self.rng
        cli, tags = self.noisy_pc()
        r = rng.random()
        if r < 0.35:
            sni, server_ip, chain, hello_kind = POOL_FQDN, OCS_IP, pool_chain(), "tls-pool-sni"
        elif r < 0.6:
            sni, server_ip, chain = OTHER_UPDATES_NAME, OTHER_UPDATES_IP, other_chain()
            hello_kind = "tls-update-sni"
        elif r < 0.8:
            sni, server_ip, chain, hello_kind = UPDATES_NAME, OCS_IP, pool_chain(), "tls-update-sni"
        else:
            sni, server_ip, chain, hello_kind = "", OCS_IP, pool_chain(), "tls-no-sni"
        mismatch = sni != UPDATES_NAME
        conn = TcpConn(
            cli,
            Host(ROUTER_MAC, server_ip),
            rng.randrange(49152, 65536),
            443,
            tags,
            rng,
            self.noise,
        )
        yield from conn.handshake()
        hello = tls_client_hello(sni, rng)
        self.note(cli, tags, "windows-pc", hello_kind, sni or ip_text(server_ip))
        yield from conn.send(True, hello)
        if server_ip == OTHER_UPDATES_IP and rng.random() < 0.3:
            self.note(cli, tags, "windows-pc", "tls-server-alert", "handshake_failure")
            yield from conn.send(False, tls_alert(ALERT_HANDSHAKE_FAILURE))
            yield from conn.close()
            return
        flight = tls_server_flight(chain, rng)
        self.note(
            cli,
            tags,
            "windows-pc",
            "tls-cert-other-name" if mismatch else "tls-cert-matching",
            sni or ip_text(server_ip),
        )
        yield from conn.send(False, flight)
        outcome = rng.random() if mismatch else 1.0
        if outcome < 0.6:
            alert = ALERT_CERTIFICATE_UNKNOWN if outcome < 0.4 else ALERT_BAD_CERTIFICATE
            self.note(cli, tags, "windows-pc", "tls-client-alert", f"alert {alert}")
            yield from conn.send(True, tls_alert(alert))
            yield from conn.close()
            return
        finish = (
            tls_records(22, tls_handshake(16, b"\x41\x04" + rng.randbytes(64)))
            + tls_records(20, b"\x01")
            + tls_records(22, self.noise.take(40))
        )
        yield from conn.send(True, finish)
        self.note(cli, tags, "windows-pc", "tls-established", sni or ip_text(server_ip))
        yield from conn.send(False, tls_records(20, b"\x01") + tls_records(22, self.noise.take(40)))
        for _ in range(rng.randint(1, 3)):
            yield from conn.send(True, tls_records(23, self.noise.take(rng.randint(300, 900))))
            yield from conn.send(False, tls_records(23, self.noise.take(rng.randint(500, 6000))))
        yield from conn.close()

    def update_browse(self) -> Iterator[bytes]:
        """An admin following the article's step 5: a browser opens the update folder (IIS
        refuses the directory listing, 403.14) and downloads CPE.nbt."""
        rng = self.rng
        cli, tags = self.noisy_pc()
        conn = TcpConn(
            cli,
            Host(ROUTER_MAC, OCS_IP),
            rng.randrange(49152, 65536),
            80,
            tags,
            rng,
            self.noise,
        )
        yield from conn.handshake()
        vendor, model, _oui = rng.choice(MODELS)
        folder = f"/DeviceUpdateFiles_Int/UCPhone/{vendor}/{model}/A/ENU/"
        paths = rng.choice(
            (
                (folder, target_path(vendor, model)),
                (target_path(vendor, model),),
                (INTERIM_PATH,),
            )
        )
        for path in paths:
            req = (
                f"GET {path} HTTP/1.1\r\nAccept: text/html, application/xhtml+xml, */*\r\n"
                f"Accept-Language: en-US\r\nUser-Agent: {BROWSER_AGENT}\r\n"
                f"Accept-Encoding: gzip, deflate\r\nHost: {WEB_FQDN}\r\n"
                "Connection: Keep-Alive\r\n\r\n"
            ).encode()
            self.note(cli, tags, "windows-pc", "http-update-files", path)
            yield from conn.send(True, req)
            if path.endswith("/"):
                head = http_response("403 Forbidden", "text/html", len(IIS_403_14))
                yield from conn.send(False, head + IIS_403_14)
                continue
            size = rng.randint(100_000, 300_000)
            head = http_response(
                "200 OK", "application/octet-stream", size, "Accept-Ranges: bytes\r\n"
            )
            yield from conn.send(False, head + b"NBT0" + self.noise.take(size - 4))
        yield from conn.close()

    def dhcp_noise(self) -> Iterator[bytes]:
        """DHCP that is not a phone's: a Windows PC's DHCPINFORM (vendor class MSFT 5.0, asking
        for options 43 and 252; some servers hand everyone the scope's option 43) or an Android
        device's lease (vendor class android-dhcp-NN)."""
        rng = self.rng
        xid = rng.getrandbits(32)
        server = Host(ROUTER_MAC, PC_DHCP_SERVER_IP)
        mask = bytes((255, 255, 0, 0))
        if rng.random() < 0.65:
            cli, tags = self.noisy_pc()
            hostname = f"PC-{cli.mac[4]:02X}{cli.mac[5]:02X}".encode()
            inform = dhcp_payload(
                1,
                xid,
                cli.mac,
                [
                    (53, b"\x08"),
                    (61, b"\x01" + cli.mac),
                    (12, hostname),
                    (60, b"MSFT 5.0"),
                    (55, WINDOWS_INFORM_PRL),
                ],
                ciaddr=cli.ip,
            )
            opts = [(53, b"\x05"), (54, server.ip), (1, mask), (15, DOMAIN.encode()), (6, DNS_IP)]
            if rng.random() < 0.5:
                opts.append((252, f"http://wpad.{DOMAIN}/wpad.dat\x00".encode()))
            scope_43 = rng.random() < 0.25
            if scope_43:
                opts.append((43, option43(WEB_FQDN)))
            ack = dhcp_payload(2, xid, cli.mac, opts, ciaddr=cli.ip)
            self.pending.append(
                (
                    ipv4_frame(
                        cli.mac,
                        server.mac,
                        tags,
                        server.ip,
                        cli.ip,
                        UDP,
                        udp_segment(67, 68, ack),
                        xid,
                    ),
                    (cli, tags, "windows-pc", "dhcp-ack-option43", "MS-UC-Client")
                    if scope_43
                    else None,
                )
            )
            self.note(cli, tags, "windows-pc", "dhcp-inform", "MSFT 5.0")
            yield ipv4_frame(
                BROADCAST_MAC,
                cli.mac,
                tags,
                cli.ip,
                BROADCAST_IP,
                UDP,
                udp_segment(68, 67, inform),
                xid,
                128,
            )
            return
        phone = self.androids[rng.randrange(len(self.androids))]
        n = phone.mac[5]
        vendor_class = f"android-dhcp-{11 + n % 4}".encode()
        common = [
            (57, (1500).to_bytes(2, "big")),
            (60, vendor_class),
            (12, f"Galaxy-S2{n % 4}".encode()),
            (55, ANDROID_PRL),
        ]
        lease = [
            (54, server.ip),
            (51, (3600).to_bytes(4, "big")),
            (1, mask),
            (3, server.ip),
            (6, DNS_IP),
        ]
        disc = dhcp_payload(1, xid, phone.mac, [(53, b"\x01"), *common])
        offer = dhcp_payload(2, xid, phone.mac, [(53, b"\x02"), *lease], yiaddr=phone.ip)
        req = dhcp_payload(
            1, xid, phone.mac, [(53, b"\x03"), (50, phone.ip), (54, server.ip), *common]
        )
        ack = dhcp_payload(2, xid, phone.mac, [(53, b"\x05"), *lease], yiaddr=phone.ip)

        def frame(from_client: bool, payload: bytes) -> bytes:
            src = Host(phone.mac, ZERO_IP) if from_client else server
            sport, dport = (68, 67) if from_client else (67, 68)
            return ipv4_frame(
                BROADCAST_MAC,
                src.mac,
                b"",
                src.ip,
                BROADCAST_IP,
                UDP,
                udp_segment(sport, dport, payload),
                xid,
            )

        self.note(phone, b"", "android", "dhcp-lease", vendor_class.decode())
        self.pending.append((frame(False, offer), None))
        yield frame(True, disc)
        self.pending.append((frame(False, ack), None))
        yield frame(True, req)


# --- assembling the file --------------------------------------------------------------------


def place_phones(plans: list[PhonePlan], packets: int) -> dict[int, bytes]:
    """Give each phone frame a slot (packet number); phones start evenly spread over the file
    so a reader's memory is exercised everywhere, not only at the start."""
    slots: dict[int, bytes] = {}
    n = len(plans)
    reboot = min(REBOOT_SLOTS, packets // (20 * max(n, 1)))
    for i, plan in enumerate(plans):
        slot = int(packets * (0.02 + 0.93 * i / max(n, 1))) - 1
        for gap, frame in plan.frames:
            slot += 1 + (reboot if gap == REBOOT else gap)
            while slot in slots:
                slot += 1
            slots[slot] = frame
        if slot >= packets:
            raise SystemExit(
                f"--packets {packets} is too small for {n} phones (phone {i} ends at {slot})"
            )
    return slots


def generate(
    packets: int,
    phones: int,
    seed: int,
    out: Path,
    pc_noise: PcNoise = PcNoise(),
    variant: Variant = Variant(),
) -> dict[str, Any]:
    """Write the capture and its truth file; returns the truth document."""
    if not (0 <= variant.ipv6 <= 1 and 0 <= variant.tls < 1):
        raise ValueError("--ipv6-share must be within 0..1 and --tls-share within 0..1 (not 1)")
    wrap = Wrapper(variant.wrap) if variant.wrap else None
    if pc_noise.enabled and not 1 <= pc_noise.pcs <= 400:
        raise ValueError(
            f"noisy PCs must be 1..400 (of the 400 background PCs), not {pc_noise.pcs}"
        )
    plans = [build_phone(i, seed) for i in range(phones)]
    slots = place_phones(plans, packets)
    bg = Background(
        random.Random(f"capinspect-bench/{seed}/background/{packets}"), pc_noise, variant
    )
    jitter = random.Random(f"capinspect-bench/{seed}/time/{packets}")
    step = max(1, DURATION_US // packets)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    pack_rec = _REC.pack
    size = 24
    with open(tmp, "wb", buffering=1 << 20) as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        chunk: list[bytes] = []
        for i in range(packets):
            frame = slots.get(i)
            if frame is None:
                frame = bg.next_frame()
            if wrap is not None:
                frame = wrap(frame)
            us = i * DURATION_US // packets + jitter.randrange(step)
            n = len(frame)
            chunk.append(pack_rec(START_TIME + us // 1_000_000, us % 1_000_000, n, n))
            chunk.append(frame)
            size += 16 + n
            if len(chunk) >= 8192:
                fh.writelines(chunk)
                chunk.clear()
        fh.writelines(chunk)
    tmp.replace(out)
    truth: dict[str, Any] = {
        "generator": {
            "version": GENERATOR_VERSION,
            "source_sha256": source_digest(),
            "packets": packets,
            "phones": phones,
            "seed": seed,
            "noise": pc_noise.as_dict(),
            **({"variant": variant.as_dict()} if variant.enabled else {}),
        },
        "capture": {
            "file": out.name,
            "packets": packets,
            "bytes": size,
            "start": START_TIME,
            "duration_s": DURATION_US / 1e6,
        },
        "network": {
            "domain": DOMAIN,
            "web_fqdn": WEB_FQDN,
            "updates_name": UPDATES_NAME,
            "ocs_ip": ip_text(OCS_IP),
            "dns_ip": ip_text(DNS_IP),
            "router_ip": ip_text(ROUTER_IP),
            "voice_vlan": VOICE_VLAN,
        },
        "phone_frames": len(slots),
        "background_flows_started": bg.counts,
        "phones": [p.truth for p in plans],
    }
    if pc_noise.enabled:
        noisy = bg.noisy_truth()
        truth["network"].update(
            {
                "pool_fqdn": POOL_FQDN,
                "other_domain": OTHER_DOMAIN,
                "other_updates_ip": ip_text(OTHER_UPDATES_IP),
            }
        )
        truth["noisy_hosts"] = noisy
        truth["expected"] = {
            "devices": sorted(p.truth["mac"] for p in plans),
            "non_phone_devices_with_verdict": 0,
            "other_update_service_clients": [h["mac"] for h in noisy if h["update_service_client"]],
            "may_be_listed": [h["mac"] for h in noisy if h["pool_names_only"]],
        }
    truth_path = out.with_name(out.name + ".truth.json")
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth


def source_digest() -> str:
    """Hash of this file, so the runner regenerates captures written by an older generator."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def parse_count(text: str) -> int:
    """Accept 100000, 100k or 1m."""
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.generate", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--packets", type=parse_count, default=100_000, help="e.g. 100000, 100k, 1m")
    ap.add_argument("--phones", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", "--output", type=Path, required=True)
    noise = ap.add_argument_group(
        "non-phones touching the update service (all off by default; see docs/performance.md)"
    )
    noise.add_argument(
        "--noisy-pcs",
        action="store_true",
        help=f"preset: {NOISY_PCS.pcs} noisy PCs, shares dns {NOISY_PCS.dns}, tls "
        f"{NOISY_PCS.tls}, http {NOISY_PCS.http}, dhcp {NOISY_PCS.dhcp}",
    )
    noise.add_argument("--noise-pcs", type=int, help="how many of the 400 PCs are noisy")
    for kind, what in (
        ("dns", "lookups of ucupdates-r2, the pool, lyncdiscoverinternal, _sipinternaltls"),
        ("tls", "TLS to the pool / ucupdates-r2 names, certificates for other names"),
        ("http", "browser GETs of /DeviceUpdateFiles_Int/"),
        ("dhcp", "Windows DHCPINFORMs (MSFT 5.0) and Android leases"),
    ):
        noise.add_argument(
            f"--noise-{kind}", type=float, metavar="SHARE", help=f"share of frames: {what}"
        )
    mix = ap.add_argument_group(
        "traffic-mix variants of the background (all off by default; see docs/performance.md)"
    )
    mix.add_argument(
        "--ipv6-share", type=float, default=0.0, metavar="F",
        help="share of the PCs' TLS sessions and DNS lookups over IPv6, e.g. 0.13",
    )  # fmt: skip
    mix.add_argument(
        "--tls-share", type=float, default=0.0, metavar="F",
        help="share of the background frames in PCs' TLS sessions, e.g. 0.30",
    )  # fmt: skip
    mix.add_argument(
        "--wrap", choices=WRAPS, help="every frame inside ERSPAN II over GRE, or inside VXLAN"
    )
    args = ap.parse_args(argv)
    if args.packets < 1 or args.phones < 0:
        ap.error("--packets must be positive and --phones not negative")
    if not 0 <= args.ipv6_share <= 1:
        ap.error(f"--ipv6-share must be between 0 and 1, not {args.ipv6_share}")
    if not 0 <= args.tls_share < 1:
        ap.error(f"--tls-share must be at least 0 and below 1, not {args.tls_share}")
    variant = Variant(args.ipv6_share, args.tls_share, args.wrap)
    try:
        pc_noise = noise_config(
            args.noisy_pcs,
            args.noise_pcs,
            {k: getattr(args, f"noise_{k}") for k in ("dns", "tls", "http", "dhcp")},
        )
    except ValueError as exc:
        ap.error(str(exc))
    truth = generate(args.packets, args.phones, args.seed, args.output, pc_noise, variant)
    noisy = truth.get("expected", {}).get("other_update_service_clients", [])
    print(
        f"wrote {args.output} ({truth['capture']['packets']} packets, "
        f"{truth['capture']['bytes'] / 1e6:.1f} MB, {args.phones} phones, "
        f"{truth['phone_frames']} phone frames"
        + (
            f", {len(truth['noisy_hosts'])} noisy hosts of which {len(noisy)} touch the "
            "update service)"
            if pc_noise.enabled
            else ")"
        )
    )
    return 0


def noise_config(preset: bool, pcs: int | None, shares: dict[str, float | None]) -> PcNoise:
    """The PcNoise the options ask for: the preset (or nothing), overridden option by option;
    a share given without --noise-pcs gets the preset's number of noisy PCs."""
    base = NOISY_PCS if preset else PcNoise()
    values: dict[str, Any] = {k: getattr(base, k) for k in ("dns", "tls", "http", "dhcp")}
    for kind, share in shares.items():
        if share is not None:
            if not 0 <= share <= 0.5:
                raise ValueError(f"--noise-{kind} must be between 0 and 0.5, not {share}")
            values[kind] = share
    count = pcs if pcs is not None else (base.pcs or NOISY_PCS.pcs)
    config = PcNoise(pcs=count, **values)
    if not config.enabled:
        return PcNoise()
    if not 1 <= count <= 400:
        raise ValueError(f"--noise-pcs must be 1..400 (there are 400 background PCs), not {count}")
    return config


if __name__ == "__main__":
    sys.exit(main())
