"""HttpTracker: pairing, flow kinds, ends, anomalies; real captures against tshark."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from http_pcap_streams import pcap_stream_events
from hypothesis import given
from hypothesis import strategies as st

from capinspect.limits import Limits
from capinspect.model import (
    Direction,
    FlowKey,
    FlowOpened,
    StreamData,
    StreamEnd,
    StreamEvent,
    StreamGap,
)
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.http.tracker import HttpTracker

CORPUS = Path(
    os.environ.get(
        "CAPINSPECT_CORPUS", Path(__file__).resolve().parents[3].parent / "shared/corpus"
    )
)
ZEEK_TRACES = CORPUS / "zeek-traces"
FLOW = FlowKey("10.0.0.20", 49152, "10.0.0.1", 80)
UP, DOWN = Direction.TO_SERVER, Direction.TO_CLIENT


def opened(kind: str = "http", flow: FlowKey = FLOW) -> FlowOpened:
    return FlowOpened(flow, 1, 1.0, "00:21:63:0f:20:7b", (100,), kind, True)


def data(direction: Direction, payload: bytes, frame: int, flow: FlowKey = FLOW) -> StreamData:
    return StreamData(flow, direction, payload, frame, float(frame), frame)


def end(direction: Direction, frame: int, reason: str = "fin") -> StreamEnd:
    return StreamEnd(FLOW, direction, reason, frame, float(frame))


def run(events: list[StreamEvent]) -> tuple[list[HttpExchange], HttpTracker]:
    tracker = HttpTracker()
    out: list[HttpExchange] = []
    for event in events:
        out += tracker.feed(event)
    out += tracker.finish()
    return out, tracker


def test_keep_alive_with_head_pairs_in_order() -> None:
    exchanges, tracker = run(
        [
            opened(),
            data(UP, b"HEAD /f HTTP/1.1\r\n\r\nGET /f HTTP/1.1\r\n\r\n", 2),
            data(DOWN, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 3),
            data(DOWN, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 4),
            end(UP, 5),
            end(DOWN, 6),
        ]
    )
    assert [
        (x.index, x.request.method, x.response and x.response.body.data) for x in exchanges
    ] == [
        (0, "HEAD", b""),
        (1, "GET", b"hello"),
    ]
    assert exchanges[0].client_mac == "00:21:63:0f:20:7b" and exchanges[0].vlans == (100,)
    assert tracker.anomalies == []


def test_exchange_returned_as_soon_as_response_completes() -> None:
    tracker = HttpTracker()
    assert tracker.feed(opened()) == []
    assert tracker.feed(data(UP, b"GET /a HTTP/1.1\r\n\r\n", 2)) == []
    (exchange,) = tracker.feed(data(DOWN, b"HTTP/1.1 204 No Content\r\n\r\n", 3))
    assert exchange.response is not None and exchange.response.status == 204


def test_100_continue_is_interim() -> None:
    exchanges, _ = run(
        [
            opened(),
            data(UP, b"POST /RequestHandler/ucdevice.upx HTTP/1.1\r\nContent-Length: 4\r\n", 2),
            data(UP, b"Expect: 100-continue\r\n\r\n", 3),
            data(DOWN, b"HTTP/1.1 100 Continue\r\n\r\n", 4),
            data(UP, b"<a/>", 5),
            data(DOWN, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 6),
        ]
    )
    (exchange,) = exchanges
    assert exchange.request.body.data == b"<a/>"
    assert exchange.response is not None and exchange.response.interim == (100,)


def test_request_without_response_flushed_when_server_closes() -> None:
    tracker = HttpTracker()
    for event in (opened(), data(UP, b"GET /x HTTP/1.1\r\n\r\n", 2)):
        assert tracker.feed(event) == []
    (exchange,) = tracker.feed(end(DOWN, 3, "rst"))
    assert exchange.response is None
    assert tracker.finish() == []


def test_finish_flushes_and_cuts_bodies_as_eof() -> None:
    exchanges, _ = run(
        [
            opened(),
            data(UP, b"GET /CPE.nbt HTTP/1.1\r\n\r\n", 2),
            data(DOWN, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", 3),
            StreamGap(FLOW, DOWN, 10, 4, 4.0),
        ]
    )
    (exchange,) = exchanges
    assert exchange.response is not None
    assert exchange.response.body.cut == "eof" and not exchange.response.body.complete
    assert exchange.response.body.sha256 is None  # a gap was seen


def test_non_http_flows_are_ignored() -> None:
    exchanges, tracker = run(
        [opened("tls"), data(UP, b"GET / HTTP/1.1\r\n\r\n", 2), end(UP, 3), end(DOWN, 4)]
    )
    assert exchanges == [] and tracker.anomalies == []


def test_anomalies_carry_the_flow_and_attach_to_the_exchange() -> None:
    exchanges, tracker = run(
        [
            opened(),
            data(UP, b"\x00\x01bad\r\nGET /y HTTP/1.1\r\n\r\n", 2),
            data(DOWN, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3),
        ]
    )
    assert [a.code for a in tracker.anomalies] == ["http.malformed-start-line"]
    assert "10.0.0.20:49152" in tracker.anomalies[0].detail
    assert [a.code for a in exchanges[0].anomalies] == ["http.malformed-start-line"]


def test_response_without_any_request_is_an_anomaly() -> None:
    exchanges, tracker = run(
        [opened(), data(DOWN, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2)]
    )
    assert exchanges == []
    assert [a.code for a in tracker.anomalies] == ["http.response-without-request"]


def test_flow_forgotten_after_both_ends() -> None:
    tracker = HttpTracker()
    events: list[StreamEvent] = [
        opened(),
        data(UP, b"GET / HTTP/1.1\r\n\r\n", 2),
        end(UP, 3),
        end(DOWN, 4),
        data(DOWN, b"HTTP/1.1 200 OK\r\n\r\n", 5),
    ]
    out = [x for event in events for x in tracker.feed(event)]
    assert len(out) == 1 and out[0].response is None
    assert tracker.finish() == []


@given(
    st.lists(
        st.tuples(st.sampled_from([UP, DOWN]), st.binary(max_size=40)),
        max_size=15,
    )
)
def test_random_streams_never_raise(chunks: list[tuple[Direction, bytes]]) -> None:
    events: list[StreamEvent] = [opened()]
    events += [data(direction, payload, n) for n, (direction, payload) in enumerate(chunks, 2)]
    exchanges, _ = run(events)
    assert [x.index for x in exchanges] == list(range(len(exchanges)))


# -- real captures ---------------------------------------------------------------------------------

CORPUS_FILES = sorted(ZEEK_TRACES.glob("http_*.pcap")) if ZEEK_TRACES.is_dir() else []
# Framing we refuse to trust on purpose: tshark reads on after the bad length, we stop.
STOPS_EARLY = {
    "http_261_variant-01-chunk_2pow64_overflow.pcap": "http.chunk-size-overflow",
    "http_261_variant-02-cl_uint64max.pcap": "http.content-length-overflow",
    "http_261_variant-03-cl_negative.pcap": "http.bad-content-length",
}

# Requests with a method tshark (4.0) does not know: any RFC 9110 token is a method.
UNKNOWN_TO_TSHARK = {"http_query-method.pcap": [("QUERY", "/users")]}


def tshark_view(path: Path) -> tuple[list[tuple[str, str]], list[int]]:
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-Y",
            "http",
            "-T",
            "fields",
            "-e",
            "http.request.method",
            "-e",
            "http.request.uri",
            "-e",
            "http.response.code",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests: list[tuple[str, str]] = []
    statuses: list[int] = []
    for line in out.splitlines():
        method, uri, code = (line.split("\t") + ["", "", ""])[:3]
        if method:
            requests += list(zip(method.split(","), uri.split(","), strict=False))
        if code:
            statuses += [int(c) for c in code.split(",")]
    return requests, statuses


@pytest.mark.skipif(not CORPUS_FILES, reason="zeek-traces corpus not present")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_never_raises(path: Path) -> None:
    exchanges, tracker = run(pcap_stream_events(path))
    assert exchanges, "every http_* trace holds at least one request"
    if path.name in STOPS_EARLY:
        assert STOPS_EARLY[path.name] in [a.code for a in tracker.anomalies]


@pytest.mark.tshark
@pytest.mark.skipif(not CORPUS_FILES, reason="zeek-traces corpus not present")
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_matches_tshark(path: Path) -> None:
    exchanges, _ = run(pcap_stream_events(path))
    ours = [(x.request.method, x.request.target) for x in exchanges]
    our_statuses = [
        s
        for x in exchanges
        if x.response is not None
        for s in (*x.response.interim, x.response.status)
    ]
    requests, statuses = tshark_view(path)
    if path.name in STOPS_EARLY:
        assert ours == requests[: len(ours)] and len(ours) <= len(requests)
    elif path.name in UNKNOWN_TO_TSHARK:
        unknown = UNKNOWN_TO_TSHARK[path.name]
        assert [r for r in ours if r not in unknown] == [r for r in requests if r not in unknown]
        assert all(r in ours for r in unknown)
    else:
        assert ours == requests
    # tshark shows a status only once the response is fully reassembled; we show it as soon as
    # its headers are in (an entity gap, a cut download), so ours may hold more.
    for status in statuses:
        assert status in our_statuses


def test_capture_level_anomalies_are_capped_and_counted() -> None:
    # A million half-open flows each left "incomplete headers" in the capture-level list
    # (tests/test_resource_bounds.py measured ~300 MB); now the sink keeps the first of each code
    # and counts the rest.
    from capinspect.limits import MAX_ANOMALIES_PER_CODE

    events: list[StreamEvent] = []
    for n in range(MAX_ANOMALIES_PER_CODE + 50):
        flow = FlowKey("10.0.0.20", 1024 + n, "10.0.0.1", 80)
        events += [opened(flow=flow), data(UP, b"GET / HTTP/1.1\r\n", 2, flow)]
    _, tracker = run(events)
    codes = [a.code for a in tracker.anomalies]
    assert codes == ["http.incomplete-headers"] * MAX_ANOMALIES_PER_CODE
    assert tracker.sink.counts == {"http.incomplete-headers": MAX_ANOMALIES_PER_CODE + 50}
    more = tracker.sink.anomalies()[-1]
    assert (more.code, more.count) == ("http.incomplete-headers", 50)
    assert "50 more" in more.detail


def _bounded(events: list[StreamEvent], limit: int) -> tuple[list[HttpExchange], HttpTracker]:
    tracker = HttpTracker(Limits(max_http_exchanges_per_flow=limit))
    out = [ex for event in events for ex in tracker.feed(event)]
    return out + tracker.finish(), tracker


def test_exchanges_per_flow_are_bounded_but_update_traffic_is_kept() -> None:
    paths = [f"/page/{n}" for n in range(3000)]
    paths[1500] = "/RequestHandler/ucdevice.upx"
    paths[2500] = "/DeviceUpdateFiles_Int/UCPhone/Polycom/CX700/ENU/4.0.7577.4100/CPE/CPE.nbt"
    events: list[StreamEvent] = [opened()]
    frame = 2
    for path in paths:
        events.append(data(UP, f"GET {path} HTTP/1.1\r\n\r\n".encode(), frame))
        events.append(data(DOWN, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", frame + 1))
        frame += 2
    events += [end(UP, frame), end(DOWN, frame + 1)]

    exchanges, tracker = _bounded(events, 100)
    assert [x.index for x in exchanges] == [*range(100), 1500, 2500]
    assert [x.request.path for x in exchanges] == [*paths[:100], paths[1500], paths[2500]]
    limited = [a for a in tracker.anomalies if a.code == "limit.max_http_exchanges_per_flow"]
    assert len(limited) == 1 and "2898 HTTP exchanges" in limited[0].detail
    assert limited[0].frame == 2 + 2 * 100  # the first request left out
    # Under the bound nothing changes and nothing is said.
    exchanges, tracker = _bounded(events, 3000)
    assert len(exchanges) == 3000 and tracker.anomalies == []


def test_requests_never_answered_do_not_pile_up() -> None:
    requests = b"".join(f"GET /{n} HTTP/1.1\r\n\r\n".encode() for n in range(50))
    tracker_events: list[StreamEvent] = [opened(), data(UP, requests, 2)]
    tracker = HttpTracker(Limits(max_http_exchanges_per_flow=10))
    out = [ex for event in tracker_events for ex in tracker.feed(event)]
    # The oldest waiting requests were given up as unanswered (within the bound: the first 10
    # are kept, the next ones counted).
    assert [(x.request.target, x.response) for x in out] == [(f"/{n}", None) for n in range(10)]
    assert len(tracker._flows[FLOW].waiting) == 10
    out += tracker.finish()
    assert len(out) == 10
    assert "40 HTTP exchanges" in tracker.anomalies[-1].detail
