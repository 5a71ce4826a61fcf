"""TcpReassembler: the ignore table the decoder reads, and the judging of first bytes."""

from __future__ import annotations

import subprocess

import pytest
from locations import ZEEK_TRACES, needs_tshark

from capinspect.flows.tcp import MORE, TcpReassembler, classify_head
from capinspect.limits import Limits
from capinspect.model import (
    TCP_ACK,
    TCP_FIN,
    TCP_PSH,
    TCP_SYN,
    Anomaly,
    FlowOpened,
    Packet,
    StreamData,
    StreamEvent,
)
from capinspect.pipeline import analyze_paths
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.http.tracker import HttpTracker


def test_ignored_flows_are_published_as_raw_keys_both_ways() -> None:
    reassembler = TcpReassembler()
    smb = Packet(
        1, 1.0, None, None, (), "10.0.0.1", "10.0.0.2", 6, 40000, 445, b"\x00SMB", 1, 1, 0x18
    )
    assert reassembler.feed(smb) == []
    forward = (
        bytes([10, 0, 0, 1, 10, 0, 0, 2]) + (40000).to_bytes(2, "big") + (445).to_bytes(2, "big")
    )
    backward = (
        bytes([10, 0, 0, 2, 10, 0, 0, 1]) + (445).to_bytes(2, "big") + (40000).to_bytes(2, "big")
    )
    assert reassembler.ignored_raw == {forward, backward}
    syn = Packet(2, 2.0, None, None, (), "10.0.0.1", "10.0.0.2", 6, 40000, 445, b"", 100, 0, 0x02)
    reassembler.feed(syn)  # the ports are reused by a new connection: judged afresh
    assert reassembler.ignored_raw == set()


# -- first bytes that cannot tell at once (a split request line, any method, bytes before) -----

CLIENT, SERVER = ("10.1.0.20", 50123), ("10.1.0.1", 8080)


@pytest.mark.parametrize(
    ("head", "final", "verdict"),
    [
        (b"GET ", False, True),
        (b"G", False, MORE),
        (b"G", True, None),
        (b"QUERY /users HTTP/1.1\r\n", False, True),
        (b"QUERY /users HTT", False, MORE),
        (b"QUERY /users HTTP/1.1", True, True),  # the sender ended right after the line
        (b"M-SEARCH * HTTP/1.1\r\n", False, True),
        (b"\r\n\r\nPROPFIND /x HTTP/1.0\n", False, True),
        (b"HT", False, MORE),
        (b"HTTP/1.0 200 OK\r\n", False, False),
        (b"hello there\r\nQUERY / HTTP/1.1\r\n", False, True),
        (b"hello there\r\nGET ", False, True),
        (b"220 mail.example.com ESMTP\r\n", False, MORE),  # a line of text: a request may follow
        (b"220 mail.example.com ESMTP\r\n", True, None),
        (b"\x00\x00\x00\x2f\xff\x53MB", False, None),  # binary: ignored at the first segment
        (b"SSH-2.0-OpenSSH_9.2\r\n\x00\x00\x05\xdc", False, None),
        (b"QUERY /users HTTP/2.0\r\n", True, None),
    ],
)
def test_classify_head(head: bytes, final: bool, verdict: bool | None | str) -> None:
    assert classify_head(head, final) == verdict


def _segments(
    data: bytes, sizes: int | None, *, isn: int = 1000, frame: int = 3, fin: bool = True
) -> list[Packet]:
    """A client's SYN, the SYN-ACK, ``data`` in segments of ``sizes`` bytes (whole if None),
    the server's answer and both FINs, numbered from 1."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    out = [
        _pkt(1, CLIENT, SERVER, b"", isn, TCP_SYN),
        _pkt(2, SERVER, CLIENT, b"", 7000, TCP_SYN | TCP_ACK),
    ]
    step = sizes or len(data)
    for at in range(0, len(data), step):
        out.append(_pkt(frame, CLIENT, SERVER, data[at : at + step], isn + 1 + at))
        frame += 1
    out.append(_pkt(frame, SERVER, CLIENT, answer, 7001))
    if fin:
        out.append(_pkt(frame + 1, CLIENT, SERVER, b"", isn + 1 + len(data), TCP_FIN | TCP_ACK))
        out.append(_pkt(frame + 2, SERVER, CLIENT, b"", 7001 + len(answer), TCP_FIN | TCP_ACK))
    return out


def _pkt(
    frame: int,
    src: tuple[str, int],
    dst: tuple[str, int],
    payload: bytes,
    seq: int,
    flags: int = TCP_ACK | TCP_PSH,
) -> Packet:
    return Packet(
        frame, float(frame), None, None, (), src[0], dst[0], 6, src[1], dst[1], payload, seq, 1,
        flags,
    )  # fmt: skip


def _http(
    packets: list[Packet], limits: Limits | None = None
) -> tuple[list[StreamEvent], list[HttpExchange], list[Anomaly], TcpReassembler]:
    reassembler = TcpReassembler(limits or Limits())
    tracker = HttpTracker()
    events: list[StreamEvent] = []
    for pkt in packets:
        events += reassembler.feed(pkt)
    events += reassembler.finish(1e9)
    exchanges = [ex for event in events for ex in tracker.feed(event)]
    exchanges += tracker.finish()
    return events, exchanges, tracker.anomalies, reassembler


REQUEST = b"QUERY /RequestHandler/ucdevice.upx HTTP/1.1\r\nHost: ucupdates-r2.example\r\n\r\n"


@pytest.mark.parametrize(
    "data",
    [REQUEST, b"\r\n" + REQUEST, b"GET /a HTTP/1.0\n\n", b"junk line\r\n" + REQUEST],
    ids=["query", "leading-crlf", "http10-lf", "junk-first"],
)
def test_a_request_fed_byte_by_byte_is_the_request_fed_whole(data: bytes) -> None:
    # A segment a byte needs more held segments than the default (32) allows.
    limits = Limits(max_classify_segments=len(data))
    whole_events, whole, whole_anomalies, _ = _http(_segments(data, None), limits)
    split_events, split, split_anomalies, _ = _http(_segments(data, 1), limits)
    for events in (whole_events, split_events):
        opened = [e for e in events if isinstance(e, FlowOpened)]
        assert [(o.flow.client_ip, o.flow.client_port, o.kind, o.frame) for o in opened] == [
            (CLIENT[0], CLIENT[1], "http", 3)
        ]
        assert b"".join(e.data for e in events if isinstance(e, StreamData)).startswith(data)
    assert [(ex.request.method, ex.request.target) for ex in split] == [
        (ex.request.method, ex.request.target) for ex in whole
    ]
    assert len(whole) == 1 and whole[0].response is not None and whole[0].response.status == 200
    assert [a.code for a in split_anomalies] == [a.code for a in whole_anomalies]
    # The request ends in the segment that carries its blank line (as tshark counts it).
    assert split[0].request.end_frame == 3 + len(data) - 1


def test_bytes_before_the_request_line_are_counted_in_an_anomaly() -> None:
    _, exchanges, anomalies, _ = _http(_segments(b"hello\r\n" + REQUEST, 3))
    assert [(ex.request.method, ex.request.path) for ex in exchanges] == [
        ("QUERY", "/RequestHandler/ucdevice.upx")
    ]
    assert [a.code for a in anomalies] == ["http.malformed-start-line"]
    assert "7 bytes skipped" in anomalies[0].detail
    # Leading CR/LF are legal (RFC 9112 §2.2): nothing to say.
    _, exchanges, anomalies, _ = _http(_segments(b"\r\n\r\n" + REQUEST, 4))
    assert [ex.request.method for ex in exchanges] == ["QUERY"] and anomalies == []


def test_flows_that_cannot_be_http_are_ignored_and_published() -> None:
    # Binary at once; text that is never a request line once the peer speaks; text without a
    # line end beyond max_classify_bytes; more tiny segments than max_classify_segments.
    limits = Limits(max_classify_bytes=40, max_classify_segments=5)
    for data, size in (
        (b"\x00\x01\x02binary", None),
        (b"EHLO mail.example.com\r\n", None),
        (b"a" * 60, 10),
        (b"abcdefgh", 1),
    ):
        events, exchanges, _, reassembler = _http(_segments(data, size, fin=False), limits)
        assert (events, exchanges) == ([], [])
        assert len(reassembler.ignored_raw) == 2
        assert not reassembler._undecided


def test_undecided_flow_holds_segments_out_of_order_and_retransmitted() -> None:
    packets = _segments(REQUEST, 4)
    data = packets[2:-3]
    # The second segment overtakes the first one's retransmission... and the third comes twice.
    shuffled = [data[0], data[2], data[1], data[1], *data[3:]]
    _, exchanges, anomalies, _ = _http([*packets[:2], *shuffled, *packets[-3:]])
    assert [(ex.request.method, ex.request.host) for ex in exchanges] == [
        ("QUERY", "ucupdates-r2.example")
    ]
    assert anomalies == []


def test_undecided_flow_ended_by_eof_is_judged_on_what_it_sent() -> None:
    line = b"QUERY /x HTTP/1.1"
    packets = _segments(line, 2, fin=False)[:-1]  # no answer, no FIN, no line end
    events, _, anomalies, _ = _http(packets)
    assert [e.kind for e in events if isinstance(e, FlowOpened)] == ["http"]
    assert b"".join(e.data for e in events if isinstance(e, StreamData)) == line
    assert [a.code for a in anomalies] == ["http.incomplete-headers"]


# Hand-checked against the captures' bytes (tshark -q -z follow,tcp,raw,0): the padded trace
# sends "G", "E", "T / HTTP", "/1", ".", "0", "\n", "\n" in frames 4..18 (Ethernet padding
# after each 1-byte segment), on port 27272; the other sends "QUERY /users HTTP/1.1" whole.
# A request whose head spans segments is numbered by the segment that completes it.
CORPUS_EXCHANGES = {
    "tcp-http-with-padding.pcap": [("GET", "/", 18, 18, 200, 21)],
    "http_query-method.pcap": [("QUERY", "/users", 4, 4, 200, 6)],
}


def _exchanges(name: str) -> list[tuple[str, str, int, int, int | None, int | None]]:
    path = ZEEK_TRACES / name
    if not path.is_file():
        pytest.skip(f"corpus file {name} not present")
    return [
        (
            ex.request.method,
            ex.request.target,
            ex.request.frame,
            ex.request.end_frame,
            ex.response.status if ex.response else None,
            ex.response.end_frame if ex.response else None,
        )
        for ex in analyze_paths([str(path)], follow_all=True).http
    ]


@pytest.mark.parametrize("name", sorted(CORPUS_EXCHANGES))
def test_corpus_split_and_unknown_method_requests_are_found(name: str) -> None:
    assert _exchanges(name) == CORPUS_EXCHANGES[name]


@needs_tshark
@pytest.mark.parametrize("name", sorted(CORPUS_EXCHANGES))
def test_corpus_split_and_unknown_method_requests_agree_with_tshark(name: str) -> None:
    path = ZEEK_TRACES / name
    ours = _exchanges(name)

    def tshark(display: str, fields: list[str]) -> list[list[str]]:
        cmd = ["tshark", "-n", "-r", str(path), "-d", "tcp.port==27272,http", "-Y", display]
        cmd += ["-T", "fields", *(a for f in fields for a in ("-e", f))]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
        return [line.split("\t") for line in out.splitlines()]

    requests = tshark("http.request", ["frame.number", "http.request.method", "http.request.uri"])
    responses = tshark("http.response", ["frame.number", "http.response.code"])
    # tshark names a request by the frame that completes it: our end_frame.
    theirs = [(method, uri, int(frame)) for frame, method, uri in requests]
    mine = [(method, uri, end) for method, uri, _, end, _, _ in ours]
    # tshark 4.0 does not know QUERY (an IETF draft method): it shows the answer only.
    assert theirs == mine or (name == "http_query-method.pcap" and theirs == [])
    assert [(int(frame), int(code)) for frame, code in responses] == [
        (end, status) for _, _, _, _, status, end in ours
    ]


def test_undecided_flows_are_bounded_and_the_oldest_is_judged_not_lost() -> None:
    reassembler = TcpReassembler(Limits(max_undecided_flows=2))
    line = b"QUERY /x HTTP/1.1"  # a whole request line, its line end not yet sent
    opened: list[FlowOpened] = []
    for n in range(3):
        client = ("10.1.0.30", 40000 + n)
        events = reassembler.feed(_pkt(n + 1, client, SERVER, line, 1000))
        opened += [e for e in events if isinstance(e, FlowOpened)]
        assert len(reassembler._undecided) == min(n + 1, 2)
    # The third flow made room by judging the first on what it had sent: a request line.
    assert [o.flow.client_port for o in opened] == [40000]
    events = reassembler.finish(10.0)
    assert [e.flow.client_port for e in events if isinstance(e, FlowOpened)] == [40001, 40002]


def test_idle_undecided_flow_is_judged_at_expiry() -> None:
    reassembler = TcpReassembler(Limits(flow_idle_timeout=60.0))
    assert reassembler.feed(_pkt(1, CLIENT, SERVER, b"\r\nGE", 1000)) == []
    assert reassembler.expire(30.0) == []  # not idle yet
    assert reassembler._undecided
    assert reassembler.expire(100.0) == []  # "GE" and no more: not HTTP
    assert not reassembler._undecided and len(reassembler.ignored_raw) == 2
