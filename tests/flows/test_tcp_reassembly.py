"""TCP reassembly: which flows are followed, orientation, ordering, overlaps, gaps, ends, bounds."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamfeed import JUNK, tr

from capinspect.decode.decoder import Decoder
from capinspect.flows.tcp import TcpReassembler, classify_payload
from capinspect.limits import Limits
from capinspect.model import (
    TCP_ACK,
    TCP_FIN,
    TCP_PSH,
    TCP_RST,
    TCP_SYN,
    Direction,
    FlowKey,
    FlowOpened,
    Packet,
    StreamData,
    StreamEnd,
    StreamEvent,
    StreamGap,
)
from capinspect.sources.pcapfile import open_capture

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "zeek-traces"
PHONE, SERVER = "10.20.0.23", "10.0.0.5"
KEY = FlowKey(PHONE, 50000, SERVER, 80)
REQUEST = b"POST /RequestHandler/ucdevice.upx HTTP/1.1\r\nHost: ucupdates-r2\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class Conversation:
    """Builds segments of one connection with the sequence numbers a real stack would use."""

    def __init__(self, client_isn: int = 1000, server_isn: int = 9000, port: int = 80) -> None:
        self.isn = {Direction.TO_SERVER: client_isn, Direction.TO_CLIENT: server_isn}
        self.port = port
        self.frame = 0

    def seg(
        self,
        direction: Direction,
        offset: int,
        payload: bytes = b"",
        flags: int = TCP_ACK | TCP_PSH,
        *,
        ts: float | None = None,
        truncated: bool = False,
    ) -> Packet:
        """``offset`` is the stream position (0 = first data byte after the SYN)."""
        self.frame += 1
        seq = (self.isn[direction] + 1 + offset) % (1 << 32)
        if flags & TCP_SYN:
            seq = self.isn[direction]
        src, dst = (PHONE, SERVER) if direction == Direction.TO_SERVER else (SERVER, PHONE)
        sport, dport = (
            (50000, self.port) if direction == Direction.TO_SERVER else (self.port, 50000)
        )
        return Packet(
            self.frame,
            ts if ts is not None else float(self.frame),
            "00:04:f2:00:00:01" if direction == Direction.TO_SERVER else "00:1b:00:00:00:02",
            "00:1b:00:00:00:02" if direction == Direction.TO_SERVER else "00:04:f2:00:00:01",
            (),
            src,
            dst,
            6,
            sport,
            dport,
            payload,
            seq,
            0,
            flags,
            truncated,
        )

    def handshake(self) -> list[Packet]:
        return [
            self.seg(Direction.TO_SERVER, 0, flags=TCP_SYN),
            self.seg(Direction.TO_CLIENT, 0, flags=TCP_SYN | TCP_ACK),
            self.seg(Direction.TO_SERVER, 0, flags=TCP_ACK),
        ]


def run(
    packets: list[Packet], limits: Limits | None = None
) -> tuple[list[StreamEvent], TcpReassembler]:
    reassembler = TcpReassembler(limits or Limits())
    events: list[StreamEvent] = []
    for pkt in packets:
        events.extend(reassembler.feed(pkt))
    events.extend(reassembler.finish(1e9))
    return events, reassembler


def stream(events: list[StreamEvent], direction: Direction) -> bytes:
    """The direction's bytes with each gap written as that many '?' bytes."""
    out = b""
    for e in events:
        if isinstance(e, StreamData) and e.direction == direction:
            out += e.data
        elif isinstance(e, StreamGap) and e.direction == direction:
            out += b"?" * e.size
    return out


def ends(events: list[StreamEvent]) -> list[tuple[Direction, str]]:
    return [(e.direction, e.reason) for e in events if isinstance(e, StreamEnd)]


def test_full_connection_in_order() -> None:
    c = Conversation()
    packets = c.handshake() + [
        c.seg(Direction.TO_SERVER, 0, REQUEST),
        c.seg(Direction.TO_CLIENT, 0, RESPONSE),
        c.seg(Direction.TO_SERVER, len(REQUEST), flags=TCP_FIN | TCP_ACK),
        c.seg(Direction.TO_CLIENT, len(RESPONSE), flags=TCP_FIN | TCP_ACK),
    ]
    events, reassembler = run(packets)
    opened = events[0]
    assert isinstance(opened, FlowOpened)
    assert (opened.flow, opened.kind, opened.syn_seen, opened.frame) == (KEY, "http", True, 4)
    assert opened.client_mac == "00:04:f2:00:00:01"
    assert stream(events, Direction.TO_SERVER) == REQUEST
    assert stream(events, Direction.TO_CLIENT) == RESPONSE
    assert ends(events) == [(Direction.TO_SERVER, "fin"), (Direction.TO_CLIENT, "fin")]
    assert reassembler.followed == 0 and reassembler.anomalies == []


def test_reordered_segments_are_delivered_in_order_with_frames() -> None:
    c = Conversation()
    parts = [REQUEST[:10], REQUEST[10:30], REQUEST[30:]]
    packets = c.handshake() + [
        c.seg(Direction.TO_SERVER, 0, parts[0]),
        c.seg(Direction.TO_SERVER, 30, parts[2]),
        c.seg(Direction.TO_SERVER, 10, parts[1]),
    ]
    events, _ = run(packets)
    data = [e for e in events if isinstance(e, StreamData)]
    assert [d.data for d in data] == [parts[0], parts[1] + parts[2]]
    assert (data[1].first_frame, data[1].frame) == (6, 5)
    assert ends(events) == [(Direction.TO_SERVER, "eof"), (Direction.TO_CLIENT, "eof")]


def test_retransmission_and_overlap_keep_first_copy() -> None:
    c = Conversation()
    packets = (
        c.handshake()
        + [
            c.seg(Direction.TO_SERVER, 0, REQUEST[:20]),
            c.seg(Direction.TO_SERVER, 0, REQUEST[:20]),  # exact retransmission
            c.seg(Direction.TO_SERVER, 10, REQUEST[10:40]),  # overlapping, same bytes
            c.seg(Direction.TO_SERVER, 30, b"Z" * 20),  # overlapping, different bytes
        ]
    )
    events, reassembler = run(packets)
    assert stream(events, Direction.TO_SERVER) == REQUEST[:40] + b"Z" * 10
    assert [a.code for a in reassembler.anomalies] == ["tcp.overlap-conflict"]


def test_overlapping_held_segments_conflict_detected() -> None:
    c = Conversation()
    packets = (
        c.handshake()
        + [
            c.seg(Direction.TO_SERVER, 0, REQUEST[:5]),
            c.seg(Direction.TO_SERVER, 20, REQUEST[20:40]),
            c.seg(Direction.TO_SERVER, 20, b"Y" * 25),  # same start, different and longer
            c.seg(Direction.TO_SERVER, 5, REQUEST[5:20]),
        ]
    )
    events, reassembler = run(packets)
    assert stream(events, Direction.TO_SERVER) == REQUEST[:40] + b"Y" * 5
    assert [a.code for a in reassembler.anomalies] == ["tcp.overlap-conflict"]


def test_hole_passed_at_eof_becomes_gap_then_data() -> None:
    c = Conversation()
    packets = c.handshake() + [
        c.seg(Direction.TO_SERVER, 0, REQUEST[:10]),
        c.seg(Direction.TO_SERVER, 25, REQUEST[25:]),
    ]
    events, _ = run(packets)
    assert stream(events, Direction.TO_SERVER) == REQUEST[:10] + b"?" * 15 + REQUEST[25:]
    gap = next(e for e in events if isinstance(e, StreamGap))
    assert (gap.size, gap.frame) == (15, 5)


def test_rst_passes_holes_and_ends_both_directions() -> None:
    c = Conversation()
    packets = c.handshake() + [
        c.seg(Direction.TO_SERVER, 0, REQUEST[:10]),
        c.seg(Direction.TO_SERVER, 20, REQUEST[20:]),
        c.seg(Direction.TO_CLIENT, 0, flags=TCP_RST),
    ]
    events, reassembler = run(packets)
    assert stream(events, Direction.TO_SERVER) == REQUEST[:10] + b"?" * 10 + REQUEST[20:]
    assert ends(events) == [(Direction.TO_SERVER, "rst"), (Direction.TO_CLIENT, "rst")]
    assert reassembler.followed == 0


def test_fin_waits_for_retransmission_that_fills_the_hole() -> None:
    c = Conversation()
    body = RESPONSE
    packets = c.handshake() + [
        c.seg(Direction.TO_SERVER, 0, REQUEST),
        c.seg(Direction.TO_CLIENT, 0, body[:10]),
        c.seg(Direction.TO_CLIENT, 20, body[20:], flags=TCP_FIN | TCP_ACK),
        c.seg(Direction.TO_CLIENT, 10, body[10:20]),  # the retransmission after the FIN
    ]
    events, _ = run(packets)
    assert stream(events, Direction.TO_CLIENT) == body
    assert (Direction.TO_CLIENT, "fin") in ends(events)
    assert not any(isinstance(e, StreamGap) for e in events)


def test_fin_behind_hole_passed_when_peer_has_ended() -> None:
    c = Conversation()
    packets = c.handshake() + [
        c.seg(Direction.TO_SERVER, 0, REQUEST),
        c.seg(Direction.TO_SERVER, len(REQUEST), flags=TCP_FIN | TCP_ACK),
        c.seg(Direction.TO_CLIENT, 0, RESPONSE[:10]),
        c.seg(Direction.TO_CLIENT, 20, RESPONSE[20:], flags=TCP_FIN | TCP_ACK),
    ]
    events, reassembler = run(packets)
    assert stream(events, Direction.TO_CLIENT) == RESPONSE[:10] + b"?" * 10 + RESPONSE[20:]
    assert ends(events) == [(Direction.TO_SERVER, "fin"), (Direction.TO_CLIENT, "fin")]
    assert reassembler.followed == 0


@pytest.mark.parametrize("isn", [(1 << 32) - 5, (1 << 32) - 1, 0xFFFFFFF0])
def test_sequence_wraparound(isn: int) -> None:
    c = Conversation(client_isn=isn)
    chunks = [REQUEST[i : i + 7] for i in range(0, len(REQUEST), 7)]
    packets = c.handshake()
    offset = 0
    for chunk in chunks:
        packets.append(c.seg(Direction.TO_SERVER, offset, chunk))
        offset += len(chunk)
    packets.insert(4, packets.pop())  # one segment out of order across the wrap
    events, _ = run(packets)
    assert stream(events, Direction.TO_SERVER) == REQUEST


def test_mid_connection_capture_orients_by_payload() -> None:
    c = Conversation()
    packets = [
        c.seg(Direction.TO_CLIENT, 500, RESPONSE),  # the response is all we see first
        c.seg(Direction.TO_SERVER, 700, REQUEST),
    ]
    events, _ = run(packets)
    opened = events[0]
    assert isinstance(opened, FlowOpened) and opened.flow == KEY and not opened.syn_seen
    assert stream(events, Direction.TO_CLIENT) == RESPONSE
    assert stream(events, Direction.TO_SERVER) == REQUEST


def test_tls_and_dns_are_followed_other_traffic_ignored() -> None:
    assert classify_payload(b"\x16\x03\x01\x00\x10\x01rest", 50000, 443) == ("tls", True)
    assert classify_payload(b"\x16\x03\x03\x00\x10\x02rest", 443, 50000) == ("tls", False)
    assert classify_payload(b"\x00\x1c\xab\xcd", 50000, 53) == ("dns", True)
    assert classify_payload(b"SSH-2.0-OpenSSH\r\n", 50000, 22) is None
    assert classify_payload(b"SEARCH / HTTP/1.1\r\n", 50000, 80) is None
    c = Conversation(port=22)
    packets = c.handshake() + [c.seg(Direction.TO_CLIENT, 0, b"SSH-2.0-x\r\n")]
    packets += [c.seg(Direction.TO_SERVER, 0, REQUEST)]  # later HTTP-looking bytes: still ignored
    events, reassembler = run(packets)
    assert events == [] and reassembler.followed == 0


def test_new_syn_on_followed_flow_starts_a_new_connection() -> None:
    first = Conversation()
    packets = first.handshake() + [first.seg(Direction.TO_SERVER, 0, REQUEST)]
    second = Conversation(client_isn=777_777)
    second.frame = first.frame
    packets += second.handshake() + [second.seg(Direction.TO_SERVER, 0, REQUEST)]
    events, _ = run(packets)
    assert sum(isinstance(e, FlowOpened) for e in events) == 2
    assert stream(events, Direction.TO_SERVER) == REQUEST * 2
    assert ends(events)[:2] == [(Direction.TO_SERVER, "idle"), (Direction.TO_CLIENT, "idle")]


def test_snaplen_cut_segment_passes_hole_immediately() -> None:
    c = Conversation()
    packets = (
        c.handshake()
        + [
            c.seg(Direction.TO_SERVER, 0, REQUEST[:20], truncated=True),  # really 40 bytes
            c.seg(Direction.TO_SERVER, 40, REQUEST[40:]),
        ]
    )
    reassembler = TcpReassembler()
    immediate: list[StreamEvent] = []
    for pkt in packets:
        immediate.extend(reassembler.feed(pkt))
    assert stream(immediate, Direction.TO_SERVER) == REQUEST[:20] + b"?" * 20 + REQUEST[40:]


def test_pending_overflow_becomes_gap_and_anomaly() -> None:
    c = Conversation()
    packets = c.handshake() + [c.seg(Direction.TO_SERVER, 0, b"GET / HTTP/1.1\r\n")]
    packets += [c.seg(Direction.TO_SERVER, 100 + 10 * i, b"x" * 10) for i in range(5)]
    events, reassembler = run(packets, Limits(max_pending_segments=3))
    assert "limit.max_pending_segments" in [a.code for a in reassembler.anomalies]
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert gaps and gaps[0].size == 100 - 16
    assert stream(events, Direction.TO_SERVER).endswith(b"x" * 50)


def test_idle_flows_expire_in_packet_time() -> None:
    c = Conversation()
    reassembler = TcpReassembler(Limits(flow_idle_timeout=60.0))
    for pkt in c.handshake() + [c.seg(Direction.TO_SERVER, 0, REQUEST, ts=10.0)]:
        reassembler.feed(pkt)
    assert reassembler.expire(69.0) == []
    events = reassembler.expire(71.0)
    assert ends(events) == [(Direction.TO_SERVER, "idle"), (Direction.TO_CLIENT, "idle")]
    assert reassembler.followed == 0


def test_max_flows_evicts_least_recently_active() -> None:
    reassembler = TcpReassembler(Limits(max_flows=2))
    events: list[StreamEvent] = []
    for port in (1001, 1002, 1003):
        pkt = Packet(
            port, float(port), None, None, (), PHONE, SERVER, 6, port, 80, REQUEST, 1, 0, 0x18
        )
        events.extend(reassembler.feed(pkt))
    assert reassembler.followed == 2
    assert [a.code for a in reassembler.anomalies] == ["limit.max_flows"]
    evicted = [e for e in events if isinstance(e, StreamEnd)]
    assert {e.flow.client_port for e in evicted} == {1001} and {e.reason for e in evicted} == {
        "idle"
    }


def test_ignored_and_syn_tables_are_bounded() -> None:
    reassembler = TcpReassembler(Limits(max_flows=10))
    for port in range(2000, 2100):
        syn = Packet(1, 1.0, None, None, (), PHONE, SERVER, 6, port, 25, b"", 5, 0, TCP_SYN)
        data = Packet(
            2, 1.0, None, None, (), SERVER, PHONE, 6, 25, port + 1000, b"220 mail", 5, 0, 0x18
        )
        reassembler.feed(syn)
        reassembler.feed(data)
    assert len(reassembler._syns) <= 10 and len(reassembler._ignored) <= 10


@given(
    st.permutations(range(1, 6)),
    st.lists(st.integers(0, 5), max_size=4),
    st.integers(0, (1 << 32) - 1),
)
def test_any_order_and_duplicates_give_the_same_stream(
    order: list[int], duplicates: list[int], isn: int
) -> None:
    c = Conversation(client_isn=isn)
    chunks = [REQUEST[i * 12 : (i + 1) * 12] for i in range(6)]
    chunks[-1] = REQUEST[60:]
    segments = c.handshake()
    for i in [0, *order] + duplicates:
        segments.append(c.seg(Direction.TO_SERVER, i * 12, chunks[i]))
    events, reassembler = run(segments)
    assert stream(events, Direction.TO_SERVER) == REQUEST
    assert reassembler.anomalies == []


@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1]), st.integers(0, 200), st.binary(max_size=30), st.integers(0, 31)
        ),
        max_size=30,
    )
)
def test_random_segments_never_raise(segments: list[tuple[int, int, bytes, int]]) -> None:
    c = Conversation()
    reassembler = TcpReassembler(Limits(max_pending_segments=4, max_flows=2))
    for side, offset, payload, flags in segments:
        reassembler.feed(c.seg(Direction(side), offset, b"GET " + payload, flags))
    reassembler.expire(1e6)
    reassembler.finish(1e6)


# -- real captures, compared with tshark's "follow tcp" ----------------------------------------


def follow_file(name: str) -> tuple[list[StreamEvent], TcpReassembler]:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {name} not present")
    decoder = Decoder()
    reassembler = TcpReassembler(follow_all=True)
    events: list[StreamEvent] = []
    last = 0.0
    with open_capture(str(path)) as capture:
        for frame in capture:
            last = frame.ts
            pkt = decoder.decode(frame)
            if isinstance(pkt, Packet) and pkt.proto == 6:
                events.extend(reassembler.feed(pkt))
    events.extend(reassembler.finish(last))
    return events, reassembler


def tshark_follow(name: str) -> tuple[bytes, bytes]:
    """(client→server, server→client) bytes of TCP stream 0 as tshark reassembles them."""
    out = subprocess.run(
        ["tshark", "-r", str(CORPUS / name), "-q", "-z", "follow,tcp,raw,0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    to_server, to_client = b"", b""
    body = out.split("===================================================================")[1]
    for line in body.splitlines()[5:]:
        if not line.strip():
            continue
        data = bytes.fromhex(line.strip())
        if line.startswith("\t"):
            to_client += data
        else:
            to_server += data
    return _gaps_as_marks(to_server), _gaps_as_marks(to_client)


def _gaps_as_marks(data: bytes) -> bytes:
    """tshark writes a hole as the text "[N bytes missing in capture file]"; we write N '?'."""
    return re.sub(rb"\[(\d+) bytes missing in capture file\]", lambda m: b"?" * int(m[1]), data)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("name", ["http_get.pcap", "http_get-without-fins.pcap", "snap-tcp.pcap"])
def test_corpus_matches_tshark_follow(name: str) -> None:
    events, _ = follow_file(name)
    first = next(e for e in events if isinstance(e, FlowOpened)).flow
    mine = [e for e in events if getattr(e, "flow", None) == first]
    expected_to_server, expected_to_client = tshark_follow(name)
    assert stream(mine, Direction.TO_SERVER) == expected_to_server
    assert stream(mine, Direction.TO_CLIENT) == expected_to_client


def test_corpus_overlapping_segments_keep_first_copy() -> None:
    """tcp_reassembly.pcap is an evasion trace: retransmissions with different content."""
    events, reassembler = follow_file("tcp_reassembly.pcap")
    to_server = stream(events, Direction.TO_SERVER)
    assert to_server.startswith(b"SEARCH /AAAA")
    # Frame 9 (relative seq 1723, after an 8-byte hole) is the first copy of those bytes.
    assert to_server[1714:1722] == b"?" * 8 and to_server[1722:1729] == b"dddddde"
    assert "tcp.overlap-conflict" in {a.code for a in reassembler.anomalies}


def test_corpus_without_fins_ends_at_eof() -> None:
    events, _ = follow_file("http_get-without-fins.pcap")
    assert {reason for _, reason in ends(events)} == {"eof"}


def test_corpus_truncated_and_fast_retransmit_captures_do_not_crash() -> None:
    for name in ("tcp_truncated-header.pcap", "tcp_retransmit-fast009.pcap"):
        events, reassembler = follow_file(name)
        for e in events:
            assert isinstance(e, (FlowOpened, StreamData, StreamGap, StreamEnd))


def test_corpus_http_flow_is_followed_without_follow_all() -> None:
    path = CORPUS / "http_get.pcap"
    if not path.exists():
        pytest.skip("corpus not present")
    decoder, reassembler = Decoder(), TcpReassembler()
    events: list[StreamEvent] = []
    with open_capture(str(path)) as capture:
        for frame in capture:
            pkt = decoder.decode(frame)
            if isinstance(pkt, Packet):
                events.extend(reassembler.feed(pkt))
    opened = [e for e in events if isinstance(e, FlowOpened)]
    assert [(o.kind, o.flow.server_port, o.syn_seen) for o in opened] == [("http", 80, True)]
    assert stream(events, Direction.TO_SERVER).startswith(b"GET /download/CHANGES.bro-aux.txt")


def test_shuffled_corpus_segments_reassemble_the_same() -> None:
    events, _ = follow_file("http_get.pcap")
    expected = stream(events, Direction.TO_CLIENT)
    path = CORPUS / "http_get.pcap"
    decoder = Decoder()
    with open_capture(str(path)) as capture:
        packets = [p for p in (decoder.decode(f) for f in capture) if isinstance(p, Packet)]
    handshake, rest = packets[:4], packets[4:]  # SYN, SYN-ACK, ACK, request
    random.Random(3).shuffle(rest)
    rest = [p for p in rest if not p.tcp_flags & (TCP_FIN | TCP_RST)]
    shuffled, _ = run(handshake + rest)
    assert stream(shuffled, Direction.TO_CLIENT) == expected


def test_segment_overtaking_the_first_does_not_get_the_flow_ignored() -> None:
    c = Conversation()
    packets = (
        c.handshake()
        + [
            c.seg(Direction.TO_SERVER, 30, REQUEST[30:]),  # overtook the request line
            c.seg(Direction.TO_SERVER, 0, REQUEST[:30]),
            c.seg(Direction.TO_CLIENT, 0, RESPONSE),
        ]
    )
    events, _ = run(packets)
    assert isinstance(events[0], FlowOpened) and events[0].kind == "http"
    assert stream(events, Direction.TO_SERVER).startswith(REQUEST[:30])
    assert stream(events, Direction.TO_CLIENT) == RESPONSE


class _ClientStream:
    """A connection whose client sends each fed chunk as the next segment (for ``tr``)."""

    def __init__(self, limits: Limits) -> None:
        self.conversation = Conversation()
        self.reassembler = TcpReassembler(limits)
        self.sent = 0
        for pkt in self.conversation.handshake():
            assert self.reassembler.feed(pkt) == []

    def send(self, chunk: bytes) -> list[StreamEvent]:
        pkt = self.conversation.seg(Direction.TO_SERVER, self.sent, chunk)
        self.sent += len(chunk)
        return self.reassembler.feed(pkt)

    def end(self) -> list[StreamEvent]:
        fin = self.conversation.seg(Direction.TO_SERVER, self.sent, flags=TCP_FIN | TCP_ACK)
        return [*self.reassembler.feed(fin), *self.reassembler.finish(1e9)]


def test_one_segment_or_one_byte_per_segment_give_the_same_stream() -> None:
    # One byte per segment keeps the flow undecided for a while: allow as many held segments.
    limits = Limits(max_classify_segments=len(REQUEST))
    fed = tr(
        lambda: _ClientStream(limits),
        lambda conn, chunk, _: conn.send(chunk),
        REQUEST,
        end=lambda conn, _: conn.end(),
        view=lambda events: stream(events, Direction.TO_SERVER),
        state=lambda conn: [a.code for a in conn.reassembler.anomalies],
    )
    assert fed.whole == REQUEST
    for conn in (fed.whole_parser, fed.bytewise_parser, fed.junk_parser):
        assert conn.reassembler.anomalies == []
    # A byte stream has no boundary to keep: the junk simply follows the request.
    assert fed.junk == REQUEST + JUNK
