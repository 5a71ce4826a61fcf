"""Frame decoding: link types, VLAN stacks, IPv4/IPv6, what is kept and what is counted."""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP, Ether, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    fragment6,
)
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q

from capinspect.decode.decoder import Decoder
from capinspect.limits import MAX_ANOMALIES_PER_CODE
from capinspect.model import ArpPacket, Packet, RawFrame
from capinspect.sources.pcapfile import open_capture

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "zeek-traces"
PHONE = "00:04:f2:aa:bb:cc"
SWITCH = "00:1b:2c:3d:4e:5f"


def frame(data: bytes, *, linktype: int = 1, index: int = 1, ts: float = 1.0) -> RawFrame:
    return RawFrame(index, ts, linktype, data, len(data))


def dhcp_udp() -> UDP:
    return UDP(sport=68, dport=67) / (b"\x01\x01\x06\x00" + b"\x00" * 236)


def test_ethernet_udp_dhcp_kept_with_macs() -> None:
    decoder = Decoder()
    wire = bytes(
        Ether(src=PHONE, dst="ff:ff:ff:ff:ff:ff")
        / IP(src="0.0.0.0", dst="255.255.255.255")
        / dhcp_udp()
    )
    pkt = decoder.decode(frame(wire))
    assert isinstance(pkt, Packet)
    assert (pkt.src_mac, pkt.dst_mac) == (PHONE, "ff:ff:ff:ff:ff:ff")
    assert (pkt.src_ip, pkt.dst_ip, pkt.sport, pkt.dport, pkt.proto) == (
        "0.0.0.0",
        "255.255.255.255",
        68,
        67,
        17,
    )
    assert pkt.payload.startswith(b"\x01\x01\x06\x00") and len(pkt.payload) == 240
    assert not pkt.truncated and pkt.vlans == ()


def test_ethernet_padding_is_not_payload() -> None:
    wire = bytes(
        Ether(src=PHONE, dst=SWITCH)
        / IP(src="10.0.0.2", dst="10.0.0.1")
        / UDP(sport=5000, dport=53)
        / b"q"
    )
    padded = wire + b"\x00" * 20
    pkt = Decoder().decode(frame(padded))
    assert isinstance(pkt, Packet) and pkt.payload == b"q"


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        (lambda: Dot1Q(vlan=100), (100,)),
        (lambda: Dot1AD(vlan=20) / Dot1Q(vlan=300), (20, 300)),
        (lambda: Dot1Q(vlan=5, type=0x9100) / Dot1Q(vlan=6) / Dot1Q(vlan=7), (5, 6, 7)),
    ],
)
def test_vlan_stacks_outermost_first(layers: object, expected: tuple[int, ...]) -> None:
    tags = layers()  # type: ignore[operator]
    wire = bytes(
        Ether(src=PHONE, dst=SWITCH)
        / tags
        / IP(src="10.0.0.2", dst="10.0.0.1")
        / TCP(sport=40000, dport=443, flags="S", seq=7)
    )
    decoder = Decoder()
    pkt = decoder.decode(frame(wire))
    assert isinstance(pkt, Packet) and pkt.vlans == expected
    assert (pkt.tcp_seq, pkt.tcp_flags) == (7, 0x02)
    assert decoder.capture_stats().vlans == tuple(sorted(set(expected)))


def test_uninteresting_udp_is_counted_not_kept() -> None:
    decoder = Decoder()
    syslog = bytes(Ether() / IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=514, dport=514) / b"x")
    icmp = bytes(Ether() / IP(src="10.0.0.2", dst="10.0.0.1", proto=1) / b"\x08\x00")
    assert decoder.decode(frame(syslog)) is None
    assert decoder.decode(frame(icmp, index=2, ts=2.0)) is None
    stats = decoder.capture_stats()
    assert (stats.frames, stats.frames_kept, stats.udp_frames, stats.other_frames) == (2, 0, 1, 1)
    assert (stats.first_ts, stats.last_ts, stats.linktypes) == (1.0, 2.0, (1,))
    assert stats.bytes == len(syslog) + len(icmp)


def test_ntp_is_kept_and_counted_as_neither_dns_nor_dhcp() -> None:
    """UDP 123 leaves the decoder (the engine keeps only phones' NTP); both paths agree."""
    decoder = Decoder()
    ntp = bytes(Ether() / IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=123, dport=123) / b"x")
    pkt = decoder.decode(frame(ntp))
    assert isinstance(pkt, Packet) and (pkt.sport, pkt.dport, pkt.payload) == (123, 123, b"x")
    fast = decoder.decode_record(2, 2.0, 1, ntp, len(ntp))
    assert isinstance(fast, Packet) and fast.payload == b"x"
    stats = decoder.capture_stats()
    assert (stats.frames_kept, stats.udp_frames, stats.dns_frames, stats.dhcp_frames) == (
        2,
        2,
        0,
        0,
    )


def test_counters_for_tcp_ports_dns_and_dhcp() -> None:
    decoder = Decoder()
    base = Ether(src=PHONE, dst=SWITCH) / IP(src="10.0.0.2", dst="10.0.0.1")
    for i, layer in enumerate(
        [
            TCP(sport=1025, dport=80),
            TCP(sport=443, dport=1026),
            TCP(sport=1027, dport=53),
            UDP(sport=1028, dport=53),
            dhcp_udp(),
            TCP(sport=1029, dport=8080),
        ],
        start=1,
    ):
        assert decoder.decode(frame(bytes(base / layer), index=i)) is not None
    stats = decoder.capture_stats()
    assert (stats.tcp_frames, stats.tcp80_frames, stats.tcp443_frames) == (4, 1, 1)
    assert (stats.udp_frames, stats.dns_frames, stats.dhcp_frames) == (2, 2, 1)
    assert stats.frames_kept == 6


def test_arp_becomes_arp_packet() -> None:
    wire = bytes(
        Ether(src=PHONE, dst="ff:ff:ff:ff:ff:ff")
        / Dot1Q(vlan=12)
        / ARP(op=2, hwsrc=PHONE, psrc="10.0.0.2", hwdst=SWITCH, pdst="10.0.0.1")
    )
    pkt = Decoder().decode(frame(wire))
    assert pkt == ArpPacket(1, 1.0, (12,), 2, PHONE, "10.0.0.2", SWITCH, "10.0.0.1")


def test_linux_cooked_v1_and_v2_and_raw_and_loopback() -> None:
    ip_packet = bytes(IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=5353, dport=53) / b"dns")
    mac = bytes.fromhex(PHONE.replace(":", ""))
    sll = struct.pack(">HHH", 4, 1, 6) + mac + b"\x00\x00" + struct.pack(">H", 0x0800)
    sll2 = struct.pack(">HHIHBB", 0x0800, 0, 3, 1, 4, 6) + mac + b"\x00\x00"
    ip6 = bytes(IPv6(src="2001:db8::2", dst="2001:db8::1") / UDP(sport=5353, dport=53) / b"dns")
    cases = [
        (113, sll + ip_packet, PHONE, "10.0.0.2"),
        (276, sll2 + ip_packet, PHONE, "10.0.0.2"),
        (101, ip_packet, None, "10.0.0.2"),
        (101, ip6, None, "2001:db8::2"),
        (228, ip_packet, None, "10.0.0.2"),
        (229, ip6, None, "2001:db8::2"),
        (0, struct.pack("<I", 2) + ip_packet, None, "10.0.0.2"),
        (0, struct.pack(">I", 30) + ip6, None, "2001:db8::2"),
    ]
    decoder = Decoder()
    for linktype, data, src_mac, src_ip in cases:
        pkt = decoder.decode(frame(data, linktype=linktype))
        assert isinstance(pkt, Packet), linktype
        assert (pkt.src_mac, pkt.src_ip, pkt.payload) == (src_mac, src_ip, b"dns")
    assert decoder.capture_stats().linktypes == (0, 101, 113, 228, 229, 276)


def test_unsupported_linktype_reported_once() -> None:
    decoder = Decoder()
    for i in range(3):
        assert decoder.decode(frame(b"\x00" * 40, linktype=147, index=i + 1)) is None
    assert [a.code for a in decoder.anomalies] == ["decode.unsupported-linktype"]
    assert decoder.capture_stats().other_frames == 3


def test_ipv6_extension_headers_are_skipped() -> None:
    wire = bytes(
        Ether(src=PHONE, dst=SWITCH)
        / IPv6(src="fe80::1", dst="ff02::1:2")
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrRouting()
        / UDP(sport=546, dport=53)
        / b"payload"
    )
    pkt = Decoder().decode(frame(wire))
    assert isinstance(pkt, Packet) and pkt.payload == b"payload" and pkt.dst_ip == "ff02::1:2"


def test_ipv4_fragments_reassembled_with_all_frame_numbers() -> None:
    big = (
        Ether(src=PHONE, dst=SWITCH)
        / IP(src="10.0.0.1", dst="10.0.0.2", id=77)
        / UDP(sport=67, dport=68)
        / (b"O" * 3000)
    )
    pieces = fragment(big[IP], fragsize=1000)
    decoder = Decoder()
    results = [
        decoder.decode(frame(bytes(Ether(src=PHONE, dst=SWITCH) / p), index=i + 1, ts=1.0 + i))
        for i, p in enumerate(pieces)
    ]
    assert results[:-1] == [None] * (len(pieces) - 1)
    pkt = results[-1]
    assert isinstance(pkt, Packet)
    assert pkt.payload == b"O" * 3000 and pkt.sport == 67
    assert pkt.frames == tuple(range(1, len(pieces) + 1)) and pkt.frame == len(pieces)


def test_ipv6_fragment_header_reassembled() -> None:
    whole = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrFragment(id=9)
        / UDP(sport=53, dport=5353)
        / (b"A" * 2000)
    )
    pieces = fragment6(whole, 1280)
    decoder = Decoder()
    out = [decoder.decode(frame(bytes(Ether() / p), index=i + 1)) for i, p in enumerate(pieces)]
    pkt = out[-1]
    assert isinstance(pkt, Packet) and pkt.payload == b"A" * 2000
    assert pkt.frames == tuple(range(1, len(pieces) + 1))


def test_truncated_headers_are_anomalies_and_snaplen_marks_packet() -> None:
    wire = bytes(
        Ether(src=PHONE, dst=SWITCH)
        / IP(src="10.0.0.2", dst="10.0.0.1")
        / TCP(sport=1, dport=80)
        / (b"x" * 100)
    )
    decoder = Decoder()
    for cut in (10, 20, 30, 50):
        assert decoder.decode(RawFrame(1, 1.0, 1, wire[:cut], len(wire))) is None
    assert {a.code for a in decoder.anomalies} == {"decode.truncated"}
    pkt = decoder.decode(RawFrame(2, 1.0, 1, wire[:80], len(wire)))
    assert isinstance(pkt, Packet) and pkt.truncated and len(pkt.payload) == 80 - 54


def test_bad_header_lengths() -> None:
    decoder = Decoder()
    ip = bytearray(bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=53, dport=53)))
    ip[14] = 0x43  # IHL 3 words
    assert decoder.decode(frame(bytes(ip))) is None
    tcp = bytearray(bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / TCP()))
    tcp[14 + 20 + 12] = 0x20  # data offset 8 bytes
    assert decoder.decode(frame(bytes(tcp))) is None
    assert [a.code for a in decoder.anomalies] == ["decode.bad-header", "decode.bad-header"]


def test_anomalies_are_bounded_per_code_and_counted() -> None:
    decoder = Decoder()
    for i in range(1201):
        decoder.decode(frame(b"\x00" * 5, index=i + 1))
    decoder.capture_stats()
    assert [a.frame for a in decoder.anomalies[:MAX_ANOMALIES_PER_CODE]] == list(
        range(1, MAX_ANOMALIES_PER_CODE + 1)
    )
    assert decoder.sink.counts["decode.truncated"] == 1201
    more = decoder.sink.anomalies()[-1]
    assert more.code == "decode.truncated" and more.frame is None
    assert more.count == 1201 - MAX_ANOMALIES_PER_CODE


@given(st.binary(max_size=200), st.sampled_from([0, 1, 101, 113, 228, 229, 276, 9999]))
def test_random_bytes_never_raise(data: bytes, linktype: int) -> None:
    decoder = Decoder()
    decoder.decode(RawFrame(1, 0.0, linktype, data, len(data) + 3))
    decoder.capture_stats()


_SAMPLE = bytes(
    Ether(src=PHONE, dst=SWITCH)
    / Dot1Q(vlan=4)
    / IP(src="10.0.0.2", dst="10.0.0.1", flags="MF")
    / UDP(sport=68, dport=67)
    / b"abcdefgh"
)


@given(st.lists(st.tuples(st.integers(0, len(_SAMPLE) - 1), st.integers(0, 255)), max_size=8))
def test_mutated_frames_never_raise(mutations: list[tuple[int, int]]) -> None:
    data = bytearray(_SAMPLE)
    for at, value in mutations:
        data[at] = value
    Decoder().decode(frame(bytes(data)))


def _decode_file(name: str) -> tuple[Decoder, list[Packet | ArpPacket | None]]:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {name} not present")
    decoder = Decoder()
    with open_capture(str(path)) as capture:
        return decoder, [decoder.decode(f) for f in capture]


def test_corpus_vlan_and_qinq() -> None:
    _, single_all = _decode_file("http-vlan-0.pcap")
    _, double_all = _decode_file("http-qinq-0.pcap")
    single = [p for p in single_all if p is not None]  # pure ACKs are dropped early
    double = [p for p in double_all if p is not None]
    assert single and all(isinstance(p, Packet) and p.vlans == (0,) for p in single)
    assert all(isinstance(p, Packet) and p.vlans == (0, 0) for p in double)
    assert [p.payload for p in single] == [p.payload for p in double]  # type: ignore[union-attr]


def test_corpus_mixed_vlan_mpls_decodes_what_it_can() -> None:
    decoder, out = _decode_file("mixed-vlan-mpls.pcap")
    stats = decoder.capture_stats()
    assert stats.frames == 47 and 4093 in stats.vlans
    # Everything not returned was counted: as "other" or as a TCP segment dropped early.
    assert stats.other_frames + decoder.tcp_dropped == sum(1 for p in out if p is None)


def test_corpus_fragments() -> None:
    decoder, out = _decode_file("ipv6-fragmented-dns.pcap")
    reassembled = [p for p in out if isinstance(p, Packet) and p.frames]
    assert [p.frames for p in reassembled] == [(6, 7, 8)]
    assert reassembled[0].sport == 53
    decoder.capture_stats()
    assert [a.code for a in decoder.anomalies] == ["ip.fragment-incomplete"]  # frame 4 alone
    decoder, out = _decode_file("ipv4_fragmented-1.pcap")
    decoder.capture_stats()
    assert "ip.fragment-overlap" in {a.code for a in decoder.anomalies}


def test_corpus_truncated_tcp_header_and_llc_snap() -> None:
    decoder, out = _decode_file("tcp_truncated-header.pcap")
    assert out[0] is None and decoder.anomalies[0].code == "decode.truncated"
    _, snap = _decode_file("snap-tcp.pcap")
    assert any(isinstance(p, Packet) and p.payload.startswith(b"GET / HTTP/1.1") for p in snap)


def test_mpls_label_stack_is_skipped_to_the_ip_packet() -> None:
    inner = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5353, dport=53) / (b"x" * 12))
    labels = struct.pack("!I", (100 << 12) | (0 << 9) | (0 << 8) | 64)  # not bottom of stack
    labels += struct.pack("!I", (200 << 12) | (0 << 9) | (1 << 8) | 64)  # bottom of stack
    eth = bytes.fromhex("0200000000020200000000018847")
    pkt = Decoder().decode(frame(eth + labels + inner))
    assert isinstance(pkt, Packet)
    assert (pkt.src_ip, pkt.dport) == ("10.0.0.1", 53)


def test_mpls_stack_cut_short_is_an_anomaly() -> None:
    decoder = Decoder()
    eth = bytes.fromhex("0200000000020200000000018847")
    assert decoder.decode(frame(eth + b"\x00\x06\x40")) is None
    assert [a.code for a in decoder.anomalies] == ["decode.truncated"]


def test_pure_acks_and_ignored_flows_are_dropped_before_any_packet_is_built() -> None:
    ignored: set[bytes] = set()
    decoder = Decoder(tcp_ignored=ignored)
    base = Ether() / IP(src="10.0.0.1", dst="10.0.0.2")
    ack = base / TCP(sport=40000, dport=445, flags="A")
    data = base / TCP(sport=40000, dport=445, flags="PA") / b"\x00SMB"
    syn = base / TCP(sport=40000, dport=445, flags="S")
    assert decoder.decode(frame(bytes(ack))) is None
    assert isinstance(decoder.decode(frame(bytes(data))), Packet)
    ignored.add(
        bytes([10, 0, 0, 1, 10, 0, 0, 2]) + (40000).to_bytes(2, "big") + (445).to_bytes(2, "big")
    )
    assert decoder.decode(frame(bytes(data))) is None
    assert isinstance(decoder.decode(frame(bytes(syn))), Packet)  # a new connection is judged again
    assert decoder.tcp_dropped == 2 and decoder.capture_stats().tcp_frames == 4


_IPV6_ADDRESSES = st.one_of(
    st.binary(min_size=16, max_size=16),
    st.sampled_from(["2001:db8::1", "fe80::204:f2ff:feaa:bbcc", "::ffff:10.0.0.2", "::1"]).map(
        lambda text: ipaddress.IPv6Address(text).packed
    ),
)


@st.composite
def _ipv6_frames(draw: st.DrawFn) -> bytes:
    """Ethernet (maybe tagged) + IPv6 + TCP or UDP, then some bytes overwritten: the fast path
    must take the plain ones and hand every odd one to the full decoder unchanged."""
    src, dst = draw(_IPV6_ADDRESSES), draw(_IPV6_ADDRESSES)
    sport = draw(st.sampled_from([53, 67, 123, 443, 5060, 40000]))
    dport = draw(st.sampled_from([53, 68, 80, 123, 443, 4789, 40001]))
    payload = draw(st.binary(max_size=40))
    if draw(st.booleans()):
        flags = draw(st.sampled_from(["A", "PA", "S", "SA", "FA", "R"]))
        transport: object = TCP(sport=sport, dport=dport, flags=flags) / payload
    else:
        transport = UDP(sport=sport, dport=dport) / payload
    packet = IPv6(src=str(ipaddress.IPv6Address(src)), dst=str(ipaddress.IPv6Address(dst)))
    layers = [Dot1Q(vlan=draw(st.integers(0, 4095))) for _ in range(draw(st.integers(0, 2)))]
    outer = Ether(src=PHONE, dst=SWITCH)
    for layer in layers:
        outer = outer / layer
    data = bytearray(bytes(outer / packet / transport))
    for at, value in draw(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 255)), max_size=2)):
        if at < len(data):
            data[at] = value
    return bytes(data[: draw(st.sampled_from([len(data), len(data), len(data) - 5, 70]))])


@given(st.lists(_ipv6_frames(), min_size=1, max_size=6), st.booleans())
def test_fast_path_equals_full_path_on_ipv6(frames: list[bytes], ignore: bool) -> None:
    full = Decoder()
    expected = [full.decode(frame(data, index=i)) for i, data in enumerate(frames)]
    ignored: set[bytes] = set()
    if ignore:
        for packet in expected:
            if isinstance(packet, Packet) and packet.proto == 6:
                ignored.add(
                    ipaddress.IPv6Address(packet.src_ip).packed
                    + ipaddress.IPv6Address(packet.dst_ip).packed
                    + struct.pack(">HH", packet.sport, packet.dport)
                )
        full = Decoder(tcp_ignored=set(ignored))
        expected = [full.decode(frame(data, index=i)) for i, data in enumerate(frames)]
    fast = Decoder(tcp_ignored=set(ignored))
    got = [fast.decode_record(i, 1.0, 1, data, len(data)) for i, data in enumerate(frames)]
    assert got == expected
    assert fast.capture_stats() == full.capture_stats()
    assert fast.tcp_dropped == full.tcp_dropped


def test_plain_ipv6_tcp_is_decided_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes(
        Ether(src=PHONE, dst=SWITCH)
        / Dot1Q(vlan=7)
        / IPv6(src="2001:db8::2", dst="2001:db8::1")
        / TCP(sport=40000, dport=443, flags="PA")
        / b"hello"
    )
    decoder = Decoder()
    monkeypatch.setattr(decoder, "decode", lambda _frame: pytest.fail("went the full way"))
    packet = decoder.decode_record(1, 1.0, 1, data, len(data))
    assert isinstance(packet, Packet)
    assert (packet.src_ip, packet.dst_ip, packet.payload, packet.vlans) == (
        "2001:db8::2", "2001:db8::1", b"hello", (7,),
    )  # fmt: skip
