"""Remote mirrors: frames inside GRE, ERSPAN, VXLAN and IP in IP analysed as if local.

A phone behind a remote SPAN must be judged exactly as on its own switch port. So a real lab
capture is wrapped frame by frame in each envelope (with scapy's GRE, ERSPAN and VXLAN layers)
and the whole analysis — transactions, devices, verdicts, findings — must equal the unwrapped
capture's, except the facts of the file itself (its hash, its bytes, the tunnel counters).
The third-party tunnel captures are checked against tshark's innermost addresses and ports;
damaged tunnel headers are anomalies, never exceptions.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from locations import PCAPS, ZEEK_TRACES, needs_tshark
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import GRE, Dot1Q, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw

from capinspect.analysis import Analysis
from capinspect.decode.decoder import Decoder
from capinspect.expectations import Expectations
from capinspect.limits import Limits
from capinspect.model import Packet, RawFrame, RecordBatch, Tunnel
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.json import report_document
from capinspect.sources.merge import iter_frames

LAB = PCAPS / "multi-phone.pcapng"
MIRROR = Ether(src="00:11:22:33:44:55", dst="00:aa:bb:cc:dd:ee")
OUTER = IP(src="192.0.2.1", dst="192.0.2.99", flags="DF")


def _write_pcap(path: Path, frames: list[tuple[float, bytes]]) -> None:
    """A classic Ethernet pcap with microsecond times; the same writer for the plain capture
    and the wrapped ones, so that their times are the same floats."""
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for ts, data in frames:
            seconds = int(ts)
            micro = round((ts - seconds) * 1e6)
            out.write(struct.pack("<IIII", seconds, micro, len(data), len(data)) + data)


@cache
def _lab_frames() -> tuple[tuple[float, bytes], ...]:
    frames = tuple((f.ts, f.data) for f in iter_frames([str(LAB)]))
    assert all(f.linktype == 1 for f in iter_frames([str(LAB)]))
    return frames


def _erspan_ii(index: int, inner: bytes) -> bytes:
    gre = GRE(seqnum_present=1, sequence_number=index, proto=0x88BE)
    return bytes(MIRROR / OUTER / gre / ERSPAN_II(ver=1, session_id=7, index=index) / Raw(inner))


def _erspan_iii(index: int, inner: bytes) -> bytes:
    erspan = ERSPAN_III(ver=2, session_id=300, timestamp=index, ft=0, o=0)
    return bytes(MIRROR / OUTER / GRE(proto=0x22EB) / erspan / Raw(inner))


def _erspan_iii_platform(index: int, inner: bytes) -> bytes:
    erspan = ERSPAN_III(ver=2, session_id=301, ft=0, o=1) / ERSPAN_PlatformSpecific(platf_id=3)
    return bytes(MIRROR / Dot1Q(vlan=900) / OUTER / GRE(proto=0x22EB) / erspan / Raw(inner))


def _erspan_i(index: int, inner: bytes) -> bytes:
    return bytes(MIRROR / OUTER / GRE(proto=0x88BE) / Raw(inner))


def _gre_ethernet(index: int, inner: bytes) -> bytes:
    gre = GRE(chksum_present=1, key_present=1, key=42, seqnum_present=1, proto=0x6558)
    return bytes(MIRROR / OUTER / gre / Raw(inner))


def _vxlan(index: int, inner: bytes) -> bytes:
    udp = UDP(sport=49152 + index % 1000, dport=4789)
    return bytes(MIRROR / OUTER / udp / VXLAN(flags=0x08, vni=5001) / Raw(inner))


def _vxlan_in_gre_over_ipv6(index: int, inner: bytes) -> bytes:
    """Two envelopes: IPv6 GRE carrying IPv4 VXLAN (a tunnel inside a tunnel)."""
    vxlan = IP(src="198.51.100.1", dst="198.51.100.2") / UDP(sport=50000, dport=4789)
    outer = IPv6(src="2001:db8::1", dst="2001:db8::2") / GRE(proto=0x0800)
    return bytes(MIRROR / outer / vxlan / VXLAN(vni=77) / Raw(inner))


WRAPPERS: dict[str, Callable[[int, bytes], bytes]] = {
    "erspan-ii": _erspan_ii,
    "erspan-iii": _erspan_iii,
    "erspan-iii-platform": _erspan_iii_platform,
    "erspan-i": _erspan_i,
    "gre-ethernet": _gre_ethernet,
    "vxlan": _vxlan,
    "vxlan-in-gre": _vxlan_in_gre_over_ipv6,
}
KINDS = {
    "erspan-ii": {"erspan-ii"},
    "erspan-iii": {"erspan-iii"},
    "erspan-iii-platform": {"erspan-iii"},
    "erspan-i": {"erspan-i"},
    "gre-ethernet": {"gre"},
    "vxlan": {"vxlan"},
    "vxlan-in-gre": {"gre", "vxlan"},
}


def _without_file_facts(analysis: Analysis) -> dict[str, Any]:
    """The JSON report of ``analysis`` without what belongs to the file rather than to the
    frames inside it: the inputs (path, hash, size), the byte count and the envelopes opened
    (``capture.tunnels``, asserted on their own)."""
    document = report_document(evaluate(analysis, Expectations()))
    document.pop("inputs")
    document["capture"].pop("bytes")
    document["capture"].pop("tunnels")
    return document


@cache
def _plain(tmp: Path) -> Analysis:
    path = tmp / "plain.pcap"
    _write_pcap(path, list(_lab_frames()))
    return analyze_paths([str(path)])


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    return _plain(tmp_path_factory.mktemp("plain"))


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_a_wrapped_capture_is_analysed_as_the_plain_one(
    name: str, plain: Analysis, tmp_path: Path
) -> None:
    wrap = WRAPPERS[name]
    frames = [(ts, wrap(i, data)) for i, (ts, data) in enumerate(_lab_frames())]
    path = tmp_path / f"{name}.pcap"
    _write_pcap(path, frames)
    wrapped = analyze_paths([str(path)])

    assert wrapped.dhcp == plain.dhcp
    assert wrapped.dns == plain.dns
    assert wrapped.http == plain.http
    assert wrapped.tls == plain.tls
    assert wrapped.arp == plain.arp
    assert wrapped.other_flows == plain.other_flows
    assert wrapped.anomalies == plain.anomalies
    counted = dict(wrapped.stats.tunnels)
    assert set(counted) == KINDS[name]
    assert all(n == len(frames) for n in counted.values())
    outer_vlans = (900,) if name == "erspan-iii-platform" else ()
    assert wrapped.stats == replace(
        plain.stats,
        bytes=wrapped.stats.bytes,
        tunnels=wrapped.stats.tunnels,
        vlans=tuple(sorted(set(plain.stats.vlans) | set(outer_vlans))),
    )
    if name != "erspan-iii-platform":  # its outer VLAN tag is in the capture's VLAN list
        assert _without_file_facts(wrapped) == _without_file_facts(plain)
    document = report_document(evaluate(wrapped, Expectations()))
    assert document["capture"]["tunnels"] == counted
    assert plain.dhcp and plain.http  # the comparison is about something


def _inner_ip(data: bytes) -> bytes:
    """The IP packet of an Ethernet frame (behind its VLAN tags), or b"" for ARP and others."""
    ethertype, at = struct.unpack_from(">H", data, 12)[0], 14
    while ethertype in (0x8100, 0x88A8):
        ethertype, at = struct.unpack_from(">H", data, at + 2)[0], at + 4
    return data[at:] if ethertype in (0x0800, 0x86DD) else b""


def _summary(analysis: Analysis) -> tuple[object, ...]:
    """What a capture without MACs still tells: the names asked and answered, the requests
    made and their statuses, who asked."""
    dns = [(d.qname, d.rcode, d.client_ip, d.answers) for d in analysis.dns]
    http = [
        (h.request.method, h.request.path, h.response.status if h.response else None)
        for h in analysis.http
    ]
    dhcp = [(e.xid, e.client_mac, [s.message.msg_type for s in e.messages]) for e in analysis.dhcp]
    return dns, http, dhcp


@pytest.mark.parametrize("protocol", ["gre-ipv4", "ip-in-ip"])
def test_ip_without_ethernet_in_a_tunnel(protocol: str, plain: Analysis, tmp_path: Path) -> None:
    """GRE 0x0800 and IP in IP carry the IP packet alone: the analysis loses the MACs (as
    a raw-IP capture does) but none of the transactions."""
    frames = []
    for ts, data in _lab_frames():
        inner = _inner_ip(data)
        if not inner:
            continue
        envelope = (
            OUTER / GRE(proto=0x0800)
            if protocol == "gre-ipv4"
            else IP(src="192.0.2.1", dst="192.0.2.99", proto=4)
        )
        frames.append((ts, bytes(MIRROR / envelope / Raw(inner))))
    path = tmp_path / f"{protocol}.pcap"
    _write_pcap(path, frames)
    wrapped = analyze_paths([str(path)])
    kind = "gre" if protocol == "gre-ipv4" else "ip-in-ip"
    assert wrapped.stats.tunnels == ((kind, len(frames)),)
    assert _summary(wrapped) == _summary(plain)


def _decoder_of(*frames: bytes, limits: Limits | None = None) -> tuple[Decoder, list[object]]:
    decoder = Decoder(limits) if limits else Decoder()
    return decoder, [
        decoder.decode(RawFrame(i + 1, 1.0, 1, f, len(f))) for i, f in enumerate(frames)
    ]


DNS_QUERY = UDP(sport=5353, dport=53) / (
    b"\x12\x34\x01\x00\x00\x01" + bytes(6) + b"\x01a\x00\x00\x01\x00\x01"
)
PHONE_FRAME = bytes(
    Ether(src="00:04:f2:00:00:01", dst="00:00:5e:00:01:01")
    / Dot1Q(vlan=20)
    / IP(src="10.1.20.5", dst="10.1.0.53")
    / DNS_QUERY
)


def test_the_packet_keeps_its_envelope() -> None:
    _, (packet,) = _decoder_of(_erspan_ii(5, PHONE_FRAME))
    assert isinstance(packet, Packet)
    assert (packet.src_mac, packet.vlans, packet.src_ip, packet.dport) == (
        "00:04:f2:00:00:01", (20,), "10.1.20.5", 53,
    )  # fmt: skip
    assert packet.tunnel == Tunnel("erspan-ii", "192.0.2.1", "192.0.2.99", 7)
    _, (nested,) = _decoder_of(_vxlan_in_gre_over_ipv6(0, PHONE_FRAME))
    assert isinstance(nested, Packet)
    gre = Tunnel("gre", "2001:db8::1", "2001:db8::2", None)
    assert nested.tunnel == Tunnel("vxlan", "198.51.100.1", "198.51.100.2", 77, gre)


def test_tunnels_nested_too_deep_are_an_anomaly() -> None:
    frame = PHONE_FRAME
    for depth in range(5):
        frame = bytes(
            Ether()
            / IP(src="10.9.9.1", dst=f"10.9.9.{depth + 2}")
            / UDP(dport=4789)
            / VXLAN(vni=depth)
            / Raw(frame)
        )
    decoder, (result,) = _decoder_of(frame)
    assert result is None
    assert [a.code for a in decoder.anomalies] == ["tunnel.too-deep"]
    assert decoder.capture_stats().other_frames == 1
    deeper, (packet,) = _decoder_of(frame, limits=Limits(max_tunnel_depth=5))
    assert isinstance(packet, Packet) and packet.src_ip == "10.1.20.5"
    assert deeper.capture_stats().tunnels == (("vxlan", 5),)


def test_damaged_tunnel_headers_are_anomalies() -> None:
    cut_gre = bytes(MIRROR / IP(src="192.0.2.1", dst="192.0.2.2", proto=47) / b"\xb0\x00")
    no_i_flag = bytes(MIRROR / OUTER / UDP(dport=4789) / VXLAN(flags=0x00) / Raw(PHONE_FRAME))
    wrong_version = bytes(
        MIRROR / OUTER / GRE(seqnum_present=1, proto=0x88BE) / ERSPAN_II(ver=2) / Raw(PHONE_FRAME)
    )
    cut_erspan = _erspan_iii(1, PHONE_FRAME)[: 14 + 20 + 4 + 6]
    cut_platform = _erspan_iii_platform(1, PHONE_FRAME)[: 18 + 20 + 4 + 12 + 4]
    decoder, results = _decoder_of(cut_gre, no_i_flag, wrong_version, cut_erspan, cut_platform)
    assert results == [None] * 5
    assert [a.code for a in decoder.anomalies] == [
        "decode.truncated", "tunnel.bad-header", "tunnel.bad-header", "decode.truncated",
        "decode.truncated",
    ]  # fmt: skip
    assert "GRE header" in decoder.anomalies[0].detail
    assert "0x00" in decoder.anomalies[1].detail
    stats = decoder.capture_stats()
    assert stats.other_frames == 5 and stats.frames_kept == 0


def test_encapsulations_not_opened_are_counted_and_reported_once() -> None:
    geneve = bytes(MIRROR / OUTER / UDP(sport=1, dport=6081) / bytes(8) / PHONE_FRAME)
    ppp_in_gre = bytes(MIRROR / OUTER / GRE(proto=0x880B) / b"\xff\x03\x00\x21")
    pptp = bytes(MIRROR / OUTER / GRE(version=1, proto=0x880B) / bytes(8))
    decoder, results = _decoder_of(geneve, geneve, ppp_in_gre, pptp, pptp)
    assert results == [None] * 5
    assert [a.code for a in decoder.anomalies] == ["tunnel.not-decoded"] * 3
    assert [a.frame for a in decoder.anomalies] == [1, 3, 4]
    assert "192.0.2.1" in decoder.anomalies[0].detail
    stats = decoder.capture_stats()
    assert stats.tunnels_not_decoded == (
        ("GRE protocol 0x880b", 1), ("GRE version 1", 2), ("Geneve", 2),
    )  # fmt: skip
    assert (stats.udp_frames, stats.other_frames, stats.tunnels) == (2, 3, ())


_GRE_HEADS = st.sampled_from(
    [
        struct.pack(">HH", flags, protocol)
        for flags in (0x0000, 0x1000, 0x2000, 0x8000, 0xB000, 0x4000, 0x0001)
        for protocol in (0x6558, 0x0800, 0x86DD, 0x88BE, 0x22EB, 0x1234)
    ]
)


@settings(max_examples=300, deadline=None)
@given(_GRE_HEADS, st.binary(max_size=120), st.booleans())
def test_random_bytes_after_a_gre_header_never_raise(head: bytes, rest: bytes, vxlan: bool) -> None:
    """Whatever follows a GRE header (or a VXLAN one), decoding it is an answer or an anomaly;
    and the fast path, the sieve and the full decoder agree on it."""
    if vxlan:
        body = bytes(
            IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=7, dport=4789) / Raw(head + rest)
        )
    else:
        body = bytes(IP(src="10.0.0.1", dst="10.0.0.2", proto=47) / Raw(head + rest))
    data = bytes(MIRROR) + body
    full, fast, sieved = Decoder(), Decoder(), Decoder()
    expected = full.decode(RawFrame(1, 1.0, 1, data, len(data)))
    assert fast.decode_record(1, 1.0, 1, data, len(data)) == expected
    batch = RecordBatch(
        data, 1, 1, np.array([0]), np.array([len(data)]), np.array([len(data)]), np.array([1.0])
    )
    if sieved.sieve(batch).tolist():
        assert sieved.decode_record(1, 1.0, 1, data, len(data)) == expected
    else:  # the sieve judged the frame inside and dropped it
        assert expected is None
    assert full.capture_stats() == fast.capture_stats() == sieved.capture_stats()
    assert [a.code for a in full.anomalies] == [a.code for a in fast.anomalies]


def test_ordinary_udp_is_still_dropped_by_the_sieve() -> None:
    """The sieve passes only tunnels: UDP from port 4789 (not to it) is still nothing."""
    frames = [
        bytes(MIRROR / OUTER / UDP(sport=4789, dport=9999) / bytes(20)),
        bytes(MIRROR / OUTER / UDP(sport=1, dport=4789) / VXLAN(vni=1) / Raw(PHONE_FRAME)),
        bytes(MIRROR / IP(src="192.0.2.1", dst="192.0.2.99", proto=50) / bytes(20)),
        bytes(MIRROR / OUTER / GRE(proto=0x6558) / Raw(PHONE_FRAME)),
    ]
    buf = b"".join(frames)
    ends = np.cumsum([len(f) for f in frames])
    starts = ends - np.array([len(f) for f in frames])
    batch = RecordBatch(buf, 1, 1, starts, ends, ends - starts, np.arange(4, dtype=np.float64))
    assert Decoder().sieve(batch).tolist() == [1, 3]


TUNNEL_CORPUS = sorted(
    {
        p
        for pattern in (
            "erspan*.pcap",
            "tunnels_gre-*.pcap",
            "tunnels_vxlan*.pcap",
            "tunnels_?in?.pcap",
        )
        for p in (ZEEK_TRACES.glob(pattern) if ZEEK_TRACES.is_dir() else [])
    }
)


def _tshark_frames(path: Path) -> dict[int, tuple[int, tuple[str, str, int, int] | None]]:
    """Per frame: how many envelopes tshark opened (GRE, VXLAN, IP directly in IP) and, when it
    found TCP or UDP innermost, that packet's addresses and ports (last occurrences)."""
    fields = ["frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
              "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"]  # fmt: skip
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t"]
    cmd += ["-E", "occurrence=l", *(arg for field in fields for arg in ("-e", field))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120).stdout
    found: dict[int, tuple[int, tuple[str, str, int, int] | None]] = {}
    for line in out.splitlines():
        row = line.split("\t")
        layers = row[1].split(":")
        ip_layers = [i for i, p in enumerate(layers) if p in ("ip", "ipv6")]
        envelopes = layers.count("gre") + layers.count("vxlan")
        envelopes += sum(1 for i in ip_layers if i and layers[i - 1] in ("ip", "ipv6"))
        inner: tuple[str, str, int, int] | None = None
        last = next((p for p in reversed(layers) if p in ("tcp", "udp")), None)
        if ip_layers and last is not None:
            v6 = layers[ip_layers[-1]] == "ipv6"
            src, dst = (row[4], row[5]) if v6 else (row[2], row[3])
            sport, dport = (row[8], row[9]) if last == "udp" else (row[6], row[7])
            inner = (src, dst, int(sport), int(dport))
        found[int(row[0])] = (envelopes, inner)
    return found


@needs_tshark
@pytest.mark.parametrize("path", TUNNEL_CORPUS, ids=lambda p: p.name)
def test_corpus_tunnels_agree_with_tshark(path: Path) -> None:
    """Frame by frame, capinspect opens as many envelopes as tshark does, and every packet it
    takes out of them has the addresses and ports tshark shows innermost."""
    decoder = Decoder()
    theirs = _tshark_frames(path)
    opened = 0
    for frame in iter_frames([str(path)]):
        packet = decoder.decode(frame)
        total = sum(n for _, n in decoder.capture_stats(flush=False).tunnels)
        envelopes, inner = theirs[frame.index]
        assert total - opened == envelopes, frame.index
        opened = total
        if isinstance(packet, Packet):
            assert packet.tunnel is not None
            assert (packet.src_ip, packet.dst_ip, packet.sport, packet.dport) == inner
    assert opened == sum(n for n, _ in theirs.values()) > 0


def _gre_ip(index: int, inner: bytes) -> bytes:
    """GRE carrying the IP packet without its Ethernet header (a GRE tunnel of a router)."""
    return bytes(MIRROR / OUTER / GRE(key_present=1, key=9, proto=0x0800) / Raw(inner[14:]))


def _vxlan_over_ipv6(index: int, inner: bytes) -> bytes:
    outer = IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=40000, dport=4789)
    return bytes(MIRROR / Dot1Q(vlan=901) / outer / VXLAN(vni=5002) / Raw(inner))


FAST_PATH_WRAPPERS = {
    name: wrap for name, wrap in WRAPPERS.items() if name not in {"vxlan-in-gre", "erspan-i"}
} | {"erspan-i": _erspan_i, "gre-ip": _gre_ip, "vxlan-over-ipv6": _vxlan_over_ipv6}


@pytest.mark.parametrize("name", sorted(FAST_PATH_WRAPPERS))
def test_remote_mirrors_stay_on_the_fast_path(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The common remote-mirror envelopes (one deep) are opened by ``decode_record`` inline,
    with the same packet, envelope and counts as the full decoder gives."""
    wrap = FAST_PATH_WRAPPERS[name]
    frames = [
        (index, wrap(index, data))
        for index, (_, data) in enumerate(_lab_frames(), start=1)
        if data[12:14] == b"\x08\x00" and len(data) >= 60  # IPv4, as GRE-IP carries it
    ]
    full = Decoder()
    expected = [full.decode(RawFrame(index, 1.0, 1, data, len(data))) for index, data in frames]
    assert any(isinstance(p, Packet) and p.tunnel is not None for p in expected)
    fast = Decoder()

    def no_full_way(frame: RawFrame) -> None:
        raise AssertionError(f"frame {frame.index} left the fast path")

    monkeypatch.setattr(fast, "decode", no_full_way)
    got = [fast.decode_record(index, 1.0, 1, data, len(data)) for index, data in frames]
    assert got == expected
    assert fast.capture_stats() == full.capture_stats()


def test_arp_on_the_fast_path_is_the_full_decoders() -> None:
    """ARP (a quarter of what the sieve keeps on a mirror port) is decoded inline: requests,
    replies, tagged, inside an envelope, of another protocol, cut short."""
    from scapy.layers.l2 import ARP

    arp = ARP(op=2, hwsrc="00:04:f2:aa:bb:cc", psrc="10.1.1.50", hwdst="00:15:5d:00:00:05")
    frames = [
        bytes(Ether(src="00:04:f2:aa:bb:cc") / arp),
        bytes(Ether() / Dot1Q(vlan=100) / ARP(pdst="10.1.1.1")),
        bytes(Ether() / ARP(ptype=0x86DD, plen=16)),
        bytes(Ether() / arp)[:40] + bytes(20),
        bytes(Ether() / arp)[:30],
        _erspan_ii(1, bytes(Ether() / Dot1Q(vlan=7) / arp)),
        _vxlan(2, bytes(Ether() / arp)),
    ]
    full, fast = Decoder(), Decoder()
    for index, data in enumerate(frames, start=1):
        expected = full.decode(RawFrame(index, 1.0, 1, data, len(data)))
        assert fast.decode_record(index, 1.0, 1, data, len(data)) == expected, index
    assert fast.capture_stats() == full.capture_stats()
    assert [a.code for a in fast.anomalies] == [a.code for a in full.anomalies]
