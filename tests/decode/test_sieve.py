"""The batch sieve drops only what the decoder drops, counts it the same, and misses nothing.

The sieve (capinspect/decode/sieve.py) exists only for speed: deciding for a whole read buffer with
numpy which records the decoder would throw away. Three things are checked against the full
decoder (``Decoder.decode`` on every record, with the same ignore table):

* nothing the decoder keeps is dropped, and the packets and counters come out the same;
* every record :func:`plainly_droppable` (the rules written out plainly, record by record) is
  dropped, except the records of a 4-tuple that has a SYN in the same buffer: the engine
  un-ignores a flow on its SYN, so the sieve never drops those as "ignored flow".

On every classic pcap of the lab and the corpus, on the benchmark generator's mirror-port
capture and on random frames, with a non-empty ignore table (half of each capture's TCP
flows), so every rule runs.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from factories import assert_same_analysis
from hypothesis import given, settings
from hypothesis import strategies as st
from locations import ROOT, corpus_files, lab_captures
from scapy.layers.inet import IP, TCP, UDP, Ether
from scapy.utils import wrpcap

from capinspect.decode.decoder import Decoder
from capinspect.model import Packet, RawFrame, RecordBatch
from capinspect.pipeline import analyze_paths
from capinspect.sources import pcapfile
from capinspect.sources.pcapfile import open_capture

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import Variant, generate  # noqa: E402

PCAP_CAPTURES = [p for p in lab_captures() + corpus_files() if p.suffix == ".pcap"]


def _batches(path: Path) -> Iterator[RecordBatch]:
    """Every read buffer of a classic pcap, the short ones (the record cut between two reads)
    included, which the reader hands to the decoder without the sieve."""
    yield from open_capture(str(path)).batches()


def _raw_keys(pkt: Packet) -> tuple[bytes, bytes]:
    """Both orientations of a TCP packet's raw flow key (TcpReassembler.ignored_raw)."""
    src, dst = ipaddress.ip_address(pkt.src_ip).packed, ipaddress.ip_address(pkt.dst_ip).packed
    sport, dport = struct.pack(">H", pkt.sport), struct.pack(">H", pkt.dport)
    return src + dst + sport + dport, dst + src + dport + sport


def _tcp_packets(batch: RecordBatch) -> list[tuple[int, Packet]]:
    full = Decoder()
    found = []
    for position, record in enumerate(batch.records()):
        pkt = full.decode(RawFrame(*record))
        if isinstance(pkt, Packet) and pkt.proto == 6:
            found.append((position, pkt))
    return found


def _half_the_flows(batches: list[RecordBatch]) -> set[bytes]:
    keys: set[bytes] = set()
    for batch in batches:
        for _, pkt in _tcp_packets(batch):
            keys.update(_raw_keys(pkt))
    ordered = sorted(keys)
    return {key for key in ordered[::2]} | {_raw_keys_swap(key) for key in ordered[::2]}


def _raw_keys_swap(key: bytes) -> bytes:
    width = (len(key) - 4) // 2
    return key[width : 2 * width] + key[:width] + key[-2:] + key[-4:-2]


def plainly_droppable(data: bytes, orig_len: int, ignored: set[bytes]) -> bool:
    """The sieve's rules, record by record: a whole Ethernet frame (any VLAN tags) carrying
    IPv4 without options or fragmentation or IPv6 with TCP or UDP as its next header, and then
    UDP not to or from 53/67/68/123, a pure TCP ACK, a TCP segment with payload, FIN or RST (no
    SYN) of an ignored flow, or another protocol — except tunnels (UDP to 4789 or 6081, GRE,
    IP in IP), which the decoder opens, and IPv6 extension headers, which it walks. A remote
    mirror's envelope (GRE carrying Ethernet or IP, ERSPAN I/II/III with Ethernet inside,
    VXLAN) is opened once and the frame inside judged by the same rules."""
    if len(data) < 54 or orig_len != len(data):
        return False
    return _droppable(data, 14, struct.unpack_from(">H", data, 12)[0], len(data), ignored, True)


def _droppable(
    data: bytes, ip: int, ethertype: int, size: int, ignored: set[bytes], tunnels: bool
) -> bool:
    while ethertype in (0x8100, 0x88A8, 0x9100):
        if size < ip + 44:
            return False
        ethertype, ip = struct.unpack_from(">H", data, ip + 2)[0], ip + 4
    if ethertype == 0x86DD:
        if size < ip + 40 or data[ip] >> 4 != 6:
            return False
        proto = data[ip + 6]
        if proto in (0, 43, 44, 60, 4, 41) or (proto == 47 and not tunnels):
            return False
        if proto not in (6, 17, 47):
            return True
        if size < ip + 60:
            return False
        transport = ip + 40
        stop = transport + struct.unpack_from(">H", data, ip + 4)[0]
        key = data[ip + 8 : ip + 44]
    elif (
        ethertype != 0x0800
        or size < ip + 40
        or data[ip] != 0x45
        or struct.unpack_from(">H", data, ip + 6)[0] & 0x3FFF
    ):
        return False
    else:
        total, proto = struct.unpack_from(">H", data, ip + 2)[0], data[ip + 9]
        transport, stop = ip + 20, ip + total
        key = data[ip + 12 : ip + 24]
    if stop > size or stop < transport + 8:
        return False
    sport, dport = struct.unpack_from(">HH", data, transport)
    if proto == 17 and dport == 4789 and tunnels and not {sport} & {53, 67, 68, 123}:
        length = struct.unpack_from(">H", data, transport + 4)[0]
        if 8 <= length <= stop - transport:
            stop = transport + length
        if stop < transport + 16 + 54 or not data[transport + 8] & 0x08:
            return False
        inner = transport + 16
        ethertype = struct.unpack_from(">H", data, inner + 12)[0]
        return _droppable(data, inner + 14, ethertype, stop, ignored, False)
    if proto == 17:
        return not {sport, dport} & {53, 67, 68, 123} and dport not in (4789, 6081)
    if proto == 47 and tunnels:
        return _gre_droppable(data, transport, stop, ignored)
    if proto in (4, 41, 47):
        return False
    if proto != 6:
        return True
    header_len, flags = (data[transport + 12] >> 4) * 4, data[transport + 13]
    if header_len < 20 or transport + header_len > stop or flags & 0x02:
        return False
    if not flags & 0x05 and transport + header_len == stop:
        return True  # a pure ACK
    return key in ignored


def _gre_droppable(data: bytes, gre: int, stop: int, ignored: set[bytes]) -> bool:
    """GRE version 0 without source routing: its payload after the optional checksum, key and
    sequence number; Ethernet for 0x6558 and ERSPAN (type I: no sequence number, no ERSPAN
    header; II: an 8-byte header of version 1; III: 12 bytes of version 2, 8 more when its O
    bit is set, frame type 0), IP for 0x0800 and 0x86DD."""
    flags, protocol = struct.unpack_from(">HH", data, gre)
    if flags & 0x4007:
        return False
    body = gre + 4 + 4 * sum(bool(flags & bit) for bit in (0x8000, 0x2000, 0x1000))
    if protocol in (0x0800, 0x86DD):
        return stop >= body + 40 and _droppable(data, body, protocol, stop, ignored, False)
    if protocol == 0x88BE and flags & 0x1000:
        if stop < body + 8 or data[body] >> 4 != 1:
            return False
        body += 8
    elif protocol == 0x22EB:
        if stop < body + 12 or data[body] >> 4 != 2 or (data[body + 10] >> 2) & 0x1F:
            return False
        body += 20 if data[body + 11] & 1 else 12
    elif protocol not in (0x6558, 0x88BE):
        return False
    if stop < body + 54:
        return False
    ethertype = struct.unpack_from(">H", data, body + 12)[0]
    return _droppable(data, body + 14, ethertype, stop, ignored, False)


def _compare(batches: list[RecordBatch], ignored: set[bytes]) -> int:
    """Sieve (then ``decode_record`` of what it keeps) against ``decode`` of every record;
    returns how many records the sieve dropped."""
    by_sieve, full = Decoder(tcp_ignored=set(ignored)), Decoder(tcp_ignored=set(ignored))
    sieved: list[object] = []
    expected: list[object] = []
    dropped = 0
    for batch in batches:
        kept = by_sieve.sieve(batch).tolist()
        assert kept == sorted(set(kept))
        dropped += len(batch) - len(kept)
        reopened = {k for _, p in _tcp_packets(batch) if p.tcp_flags & 0x02 for k in _raw_keys(p)}
        tcp = dict(_tcp_packets(batch))
        for position, record in enumerate(batch.records()):
            packet = full.decode(RawFrame(*record))
            expected.append(packet)
            if position not in kept:
                assert packet is None, f"the sieve dropped record {record[0]}, which matters"
            elif plainly_droppable(record[3], record[4], ignored):
                # Kept although the rules drop it: only as a flow reopened in this buffer.
                assert position in tcp and _raw_keys(tcp[position])[0] in reopened, record[0]
        for record in batch.records(np.array(kept, dtype=np.intp)):
            sieved.append(by_sieve.decode_record(*record))
    assert [p for p in sieved if p is not None] == [p for p in expected if p is not None]
    assert by_sieve.capture_stats() == full.capture_stats()
    assert by_sieve.tcp_dropped == full.tcp_dropped
    return dropped


@pytest.mark.parametrize("path", PCAP_CAPTURES, ids=lambda p: p.name)
def test_sieve_agrees_with_the_decoder(path: Path) -> None:
    batches = list(_batches(path))
    _compare(batches, set())
    _compare(batches, _half_the_flows(batches))


@pytest.fixture(scope="module")
def mirror_port(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sieve") / "mirror.pcap"
    generate(6000, 3, 11, out)
    return out


def test_sieve_drops_most_of_a_mirror_port_and_agrees(mirror_port: Path) -> None:
    batches = list(_batches(mirror_port))
    assert len(batches) > 1  # the capture spans several read buffers
    dropped = _compare(batches, _half_the_flows(batches))
    assert dropped > 6000 * 0.5


def test_sieve_drops_ipv6_of_a_mirror_port_and_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half the PCs' TLS and DNS over IPv6: its pure ACKs and ignored flows' segments are
    dropped in bulk too, and the analysis is the same as without the sieve."""
    path = tmp_path / "mirror-v6.pcap"
    generate(6000, 3, 11, path, variant=Variant(ipv6=0.5, tls=0.3))
    batches = list(_batches(path))
    ignored = _half_the_flows(batches)
    assert any(len(key) == 36 for key in ignored)
    _compare(batches, ignored)
    decoder = Decoder(tcp_ignored=set(ignored))
    dropped_v6 = 0
    for batch in batches:
        kept = set(decoder.sieve(batch).tolist())
        for position, record in enumerate(batch.records()):
            data = record[3]
            if position not in kept and b"\x86\xdd" in (data[12:14], data[16:18], data[20:22]):
                dropped_v6 += 1
    assert dropped_v6 > 100
    with_sieve = analyze_paths([str(path)])
    monkeypatch.setattr(Decoder, "sieve", lambda self, batch: np.arange(len(batch)))
    assert_same_analysis(with_sieve, analyze_paths([str(path)]))


@pytest.mark.parametrize("wrap", ["erspan2", "vxlan"])
def test_sieve_drops_inside_a_remote_mirror_and_agrees(
    wrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every frame inside ERSPAN II or VXLAN (IPv6 and TLS in the mix): the sieve judges the
    frame inside, drops as much as on the plain capture, counts it the same (tunnels
    included), and the analysis is the same as without the sieve."""
    path, plain = tmp_path / f"mirror-{wrap}.pcap", tmp_path / "mirror-plain.pcap"
    generate(6000, 3, 11, path, variant=Variant(ipv6=0.3, tls=0.3, wrap=wrap))
    generate(6000, 3, 11, plain, variant=Variant(ipv6=0.3, tls=0.3))
    batches = list(_batches(path))
    ignored = _half_the_flows(batches)
    dropped = _compare(batches, ignored)
    # Not equal: the read buffers end elsewhere, and a SYN shields its flow in its buffer only.
    assert abs(dropped - _compare(list(_batches(plain)), ignored)) < 6000 * 0.05
    assert dropped > 6000 * 0.5
    with_sieve = analyze_paths([str(path)])
    assert dict(with_sieve.stats.tunnels)[wrap.replace("erspan2", "erspan-ii")] == 6000
    monkeypatch.setattr(Decoder, "sieve", lambda self, batch: np.arange(len(batch)))
    assert_same_analysis(with_sieve, analyze_paths([str(path)]))


def test_analysis_is_the_same_with_and_without_the_sieve(
    mirror_port: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_sieve = analyze_paths([str(mirror_port)])
    monkeypatch.setattr(Decoder, "sieve", lambda self, batch: np.arange(len(batch)))
    without = analyze_paths([str(mirror_port)])
    assert_same_analysis(with_sieve, without)


def test_a_reopened_flow_is_seen_whole_within_its_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4-tuple the engine ignores (its first payload was not HTTP), opened again later with
    a SYN and a check-in, all of the second connection inside one read buffer: the sieve must
    not drop the check-in as a segment of the ignored flow (the engine un-ignores on the SYN,
    after the sieve has looked at the buffer)."""
    chunk = 4096
    monkeypatch.setattr(pcapfile, "CHUNK_SIZE", chunk)
    monkeypatch.setattr(pcapfile, "SIEVE_RUN", 1)  # the sieve acts on these small buffers
    phone, server = ("10.0.0.5", 40000), ("10.0.0.9", 80)

    def segment(forward: bool, flags: str, seq: int, ack: int, payload: bytes = b"") -> bytes:
        src, dst = (phone, server) if forward else (server, phone)
        layer = TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack)
        return bytes(Ether() / IP(src=src[0], dst=dst[0]) / layer / payload)

    def connection(isn: int, request: bytes, answer: bytes) -> list[bytes]:
        return [
            segment(True, "S", isn, 0),
            segment(False, "SA", 9000, isn + 1),
            segment(True, "A", isn + 1, 9001),
            segment(True, "PA", isn + 1, 9001, request),
            segment(False, "PA", 9001, isn + 1 + len(request), answer),
        ]

    frames = connection(100, b"\x00\x01 not a protocol of interest", b"\x00\x02")
    checkin = b"POST /RequestHandler/ucdevice.upx HTTP/1.1\r\nHost: u\r\nContent-Length: 0\r\n\r\n"
    reopened = connection(5000, checkin, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    # Filler so that the second connection starts 32 bytes into the third read buffer.
    used = 24 + sum(16 + len(f) for f in frames)
    filler = 2 * chunk + 32 - used - 16 - 42
    frames.append(
        bytes(Ether() / IP(src="10.0.0.7", dst="10.0.0.8") / UDP(dport=9) / bytes(filler))
    )
    assert 24 + sum(16 + len(f) for f in frames) == 2 * chunk + 32
    frames += reopened
    path = tmp_path / "reopened.pcap"
    wrpcap(str(path), [Ether(f) for f in frames])

    with_sieve = analyze_paths([str(path)])
    assert [ex.request.path for ex in with_sieve.http] == ["/RequestHandler/ucdevice.upx"]
    monkeypatch.setattr(Decoder, "sieve", lambda self, batch: np.arange(len(batch)))
    assert_same_analysis(with_sieve, analyze_paths([str(path)]))


def _batch_of(frames: list[bytes]) -> RecordBatch:
    buf = b"".join(frames)
    ends = np.cumsum([len(f) for f in frames], dtype=np.int64)
    starts = ends - np.array([len(f) for f in frames], dtype=np.int64)
    return RecordBatch(
        buf, 1, 1, starts, ends, ends - starts, np.arange(len(frames), dtype=np.float64)
    )


_ETH = bytes(6) + bytes.fromhex("020000000001")
_FRAME_HEADS = st.sampled_from(
    [
        _ETH + b"\x08\x00",
        _ETH + b"\x81\x00\x00\x64\x08\x00",
        _ETH + b"\x88\xa8\x00\xc8\x81\x00\x00\x64\x08\x00",
        _ETH + b"\x81\x00\x00\x0a",
        _ETH + b"\x86\xdd",
    ]
)


@st.composite
def _frames(draw: st.DrawFn) -> bytes:
    head = draw(_FRAME_HEADS)
    proto = draw(st.sampled_from([6, 6, 17, 1, 47, 4]))  # GRE and IP in IP: tunnels
    ihl = draw(st.sampled_from([0x45, 0x45, 0x46]))
    payload = draw(st.binary(max_size=30))
    sport = draw(st.sampled_from([53, 67, 80, 123, 443, 5060, 40000]))
    dport = draw(st.sampled_from([53, 68, 80, 123, 443, 5060, 40001, 4789, 6081]))
    if proto == 6:
        offset = draw(st.sampled_from([0x50, 0x50, 0x40, 0xF0]))
        flags = draw(st.sampled_from([0x10, 0x18, 0x02, 0x12, 0x11, 0x04, 0x00]))
        transport = struct.pack(">HHIIBBHHH", sport, dport, 1, 2, offset, flags, 0, 0, 0)
    else:
        transport = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0)
    body = transport + payload
    if draw(st.booleans()):
        return _cut(draw, draw(_IPV6_HEADS) + _ipv6(draw, proto, body))
    total = draw(st.sampled_from([20 + len(body), 20 + len(body), 20 + len(body) + 9, 10]))
    fragment = draw(st.sampled_from([0, 0, 0, 0x2000, 1]))
    ip = struct.pack(">BBHHHBBH", ihl, 0, total, 0, fragment, 64, proto, 0)
    ip += bytes([10, 0, 0, draw(st.integers(1, 2))]) + bytes([10, 0, 0, 9])
    return _cut(draw, head + ip + body)


_IPV6_HEADS = st.sampled_from(
    [_ETH + b"\x86\xdd", _ETH + b"\x86\xdd", _ETH + b"\x81\x00\x00\x64\x86\xdd"]
)


def _ipv6(draw: st.DrawFn, proto: int, body: bytes) -> bytes:
    """An IPv6 header for ``body`` (``proto`` 1 stands for ICMPv6): mostly plain, sometimes
    behind an extension header, with a wrong or zero payload length, or not version 6."""
    proto = 58 if proto == 1 else proto
    extension = draw(st.sampled_from([None, None, None, 0, 60, 44]))
    if extension is not None:
        body = bytes([proto, 0]) + bytes(6) + body
        proto = extension
    length = draw(st.sampled_from([len(body), len(body), len(body) + 9, 0, 6]))
    version = draw(st.sampled_from([0x60, 0x60, 0x60, 0x40]))
    src = bytes.fromhex("20010db8") + bytes(11) + bytes([draw(st.integers(1, 2))])
    dst = bytes.fromhex("20010db8") + bytes(11) + b"\x09"
    return struct.pack(">BBHHBB", version, 0, 0, length, proto, 64) + src + dst + body


def _cut(draw: st.DrawFn, frame: bytes) -> bytes:
    """The frame whole, or cut by a snap length."""
    cut = draw(st.sampled_from([len(frame), len(frame), len(frame) - 3, 53, 70]))
    return frame[: max(cut, 0)]


@settings(max_examples=300, deadline=None)
@given(st.lists(_frames(), min_size=1, max_size=12), st.booleans())
def test_sieve_agrees_on_random_frames(frames: list[bytes], ignore_all: bool) -> None:
    _compare([_batch_of(frames)], _random_ignored(ignore_all))


def _random_ignored(ignore_all: bool) -> set[bytes]:
    """Every flow ``_frames`` can make, ignored (or none)."""
    ignored: set[bytes] = set()
    if ignore_all:
        for a in (1, 2):
            for sport in (53, 67, 80, 443, 5060, 40000):
                for dport in (53, 68, 80, 443, 5060, 40001):
                    ports = struct.pack(">HH", sport, dport)
                    key = bytes([10, 0, 0, a, 10, 0, 0, 9]) + ports
                    ignored.update((key, _raw_keys_swap(key)))
                    v6 = bytes.fromhex("20010db8") + bytes(11)
                    key = v6 + bytes([a]) + v6 + b"\x09" + ports
                    ignored.update((key, _raw_keys_swap(key)))
    return ignored


@st.composite
def _wrapped(draw: st.DrawFn) -> bytes:
    """A random frame of ``_frames`` inside a random remote mirror's envelope: GRE (any flag
    combination) carrying Ethernet, IPv4 or IPv6, ERSPAN I, II or III (right or wrong version,
    with or without the platform sub-header, Ethernet or IP frame type), or VXLAN (I flag or
    not, odd UDP lengths), over IPv4 or IPv6, tagged or not; sometimes cut short."""
    inner = draw(_frames()) if draw(st.booleans()) else draw(_sound_frames())
    if draw(st.booleans()):
        inner += bytes(max(0, 60 - len(inner)))  # a mirrored frame keeps its padding
    kind = draw(st.sampled_from(["gre", "gre-ip", "erspan1", "erspan2", "erspan3", "vxlan"]))
    if kind == "vxlan":
        flags = draw(st.sampled_from([0x08, 0x08, 0x00]))
        body = struct.pack(">BBHI", flags, 0, 0, 7 << 8) + inner
        length = draw(st.sampled_from([8 + len(body), 8 + len(body), 8 + len(body) + 5, 4]))
        sport = draw(st.sampled_from([40000, 40000, 53]))
        transport, proto = struct.pack(">HHHH", sport, 4789, length, 0) + body, 17
    else:
        flags = draw(st.sampled_from([0x0000, 0x1000, 0x2000, 0x8000, 0xB000, 0x4000, 0x0001]))
        options = bytes(4 * sum(bool(flags & bit) for bit in (0x8000, 0x2000, 0x1000)))
        if kind == "gre-ip":
            ip_at = 14 + (4 if inner[12:14] == b"\x81\x00" else 0)
            protocol, payload = (
                (0x86DD if inner[ip_at - 2 : ip_at] == b"\x86\xdd" else 0x0800),
                inner[ip_at:],
            )
        elif kind == "gre":
            protocol, payload = 0x6558, inner
        elif kind == "erspan1":
            protocol, payload = 0x88BE, inner
        elif kind == "erspan2":
            flags |= 0x1000
            options = bytes(4 * sum(bool(flags & bit) for bit in (0x8000, 0x2000, 0x1000)))
            version = draw(st.sampled_from([0x10, 0x10, 0x20]))
            protocol, payload = 0x88BE, bytes([version, 0x64, 0x00, 0x07]) + bytes(4) + inner
        else:
            version = draw(st.sampled_from([0x20, 0x20, 0x10]))
            frame_type = draw(st.sampled_from([0, 0, 2]))
            platform = draw(st.booleans())
            head = bytes([version, 0x64, 0x00, 0x07]) + bytes(6)
            head += bytes([frame_type << 2, 1 if platform else 0]) + (bytes(8) if platform else b"")
            protocol, payload = 0x22EB, head + inner
        transport, proto = struct.pack(">HH", flags, protocol) + options + payload, 47
    if draw(st.booleans()):
        return _cut(draw, draw(_IPV6_HEADS) + _outer_ipv6(proto, transport))
    outer = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(transport), 0, 0x4000, 64, proto, 0)
    outer += bytes([192, 0, 2, 1, 192, 0, 2, 99])
    return _cut(draw, draw(_FRAME_HEADS) + outer + transport)


@st.composite
def _sound_frames(draw: st.DrawFn) -> bytes:
    """An undamaged TCP or UDP frame of the flows ``_random_ignored`` knows, padded as a
    mirror port delivers it (so that the rules can judge it)."""
    proto = draw(st.sampled_from([6, 17, 1]))
    sport = draw(st.sampled_from([53, 67, 80, 443, 5060, 40000]))
    dport = draw(st.sampled_from([53, 68, 80, 443, 5060, 40001]))
    payload = draw(st.sampled_from([b"", b"", b"x" * 10]))
    if proto == 6:
        flags = draw(st.sampled_from([0x10, 0x18, 0x02, 0x11, 0x04]))
        body = struct.pack(">HHIIBBHHH", sport, dport, 1, 2, 0x50, flags, 0, 0, 0) + payload
    else:
        body = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    if draw(st.booleans()):
        frame = draw(_IPV6_HEADS) + struct.pack(">BBHHBB", 0x60, 0, 0, len(body), proto, 64)
        frame += bytes.fromhex("20010db8") + bytes(11) + bytes([draw(st.integers(1, 2))])
        frame += bytes.fromhex("20010db8") + bytes(11) + b"\x09" + body
    else:
        frame = draw(_FRAME_HEADS)
        frame += struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(body), 0, 0x4000, 64, proto, 0)
        frame += bytes([10, 0, 0, draw(st.integers(1, 2)), 10, 0, 0, 9]) + body
    return frame + bytes(max(0, 60 - len(frame)))


def _outer_ipv6(proto: int, body: bytes) -> bytes:
    src, dst = (
        bytes.fromhex("20010db8") + bytes(11) + b"\x01",
        bytes.fromhex("20010db8") + bytes(12),
    )
    return struct.pack(">BBHHBB", 0x60, 0, 0, len(body), proto, 64) + src + dst + body


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_frames(), _wrapped()), min_size=1, max_size=12), st.booleans())
def test_sieve_agrees_on_random_frames_in_tunnels(frames: list[bytes], ignore_all: bool) -> None:
    """Inside remote mirrors' envelopes, damaged or not, the sieve drops only what the decoder
    drops, all that the rules plainly drop, counted the same (tunnels and outer tags too)."""
    _compare([_batch_of(frames)], _random_ignored(ignore_all))


def test_flows_judged_after_several_segments_are_the_same_with_and_without_the_sieve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flows the reassembler leaves undecided for a few segments (a request line in 3-byte
    segments, a line before it, text that turns out to be something else) are not in the ignore
    table while undecided, so the sieve passes them; once ignored, it drops the rest. Across
    several small read buffers the analysis must not depend on it."""
    monkeypatch.setattr(pcapfile, "CHUNK_SIZE", 1024)
    monkeypatch.setattr(pcapfile, "SIEVE_RUN", 1)  # the sieve acts on these small buffers

    def connection(port: int, request: bytes, size: int, answer: bytes, more: int) -> list[bytes]:
        phone, server = ("10.0.0.5", port), ("10.0.0.9", 80)

        def segment(forward: bool, flags: str, seq: int, ack: int, payload: bytes = b"") -> bytes:
            src, dst = (phone, server) if forward else (server, phone)
            layer = TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack)
            return bytes(Ether() / IP(src=src[0], dst=dst[0]) / layer / payload)

        frames = [segment(True, "S", 99, 0), segment(False, "SA", 9000, 100)]
        for at in range(0, len(request), size):
            frames.append(segment(True, "PA", 100 + at, 9001, request[at : at + size]))
        frames.append(segment(False, "PA", 9001, 100 + len(request), answer))
        seq = 9001 + len(answer)
        for _ in range(more):  # later segments: dropped by the sieve once the flow is ignored
            frames.append(segment(False, "PA", seq, 100 + len(request), b"\x00" * 40))
            seq += 40
        return frames

    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    checkin = b"QUERY /RequestHandler/ucdevice.upx HTTP/1.1\r\nHost: u\r\n\r\n"
    frames = connection(40001, b"\r\n" + checkin, 3, ok, 0)
    frames += connection(40002, b"hello\r\n" + checkin.replace(b"QUERY", b"POST"), 5, ok, 0)
    frames += connection(40003, b"SSH-2.0-OpenSSH_9.2\r\n", 4, b"SSH-2.0-x\r\n\x00\x01", 60)
    path = tmp_path / "undecided.pcap"
    wrpcap(str(path), [Ether(f) for f in frames])

    dropped = [0]
    real_sieve = Decoder.sieve

    def counting(self: Decoder, batch: RecordBatch) -> np.ndarray:
        kept = real_sieve(self, batch)
        dropped[0] += len(batch) - len(kept)
        return kept

    monkeypatch.setattr(Decoder, "sieve", counting)
    with_sieve = analyze_paths([str(path)])
    assert [(ex.request.method, ex.flow.client_port) for ex in with_sieve.http] == [
        ("QUERY", 40001),
        ("POST", 40002),
    ]
    assert dropped[0] >= 40  # most of the ignored flow's 60 later segments
    monkeypatch.setattr(Decoder, "sieve", lambda self, batch: np.arange(len(batch)))
    assert_same_analysis(with_sieve, analyze_paths([str(path)]))
