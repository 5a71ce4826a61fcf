"""HttpMessageReader: framing rules, gaps, resync, limits and feeding-independence."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamfeed import split_at, tr

from capinspect.limits import Limits
from capinspect.protocols.http.head import Role
from capinspect.protocols.http.messages import HttpRequest, HttpResponse
from capinspect.protocols.http.parser import HttpMessage, HttpMessageReader


def feed_all(
    role: Role,
    chunks: list[bytes],
    methods: tuple[str, ...] = (),
    close: str | None = "fin",
    limits: Limits | None = None,
) -> tuple[list[HttpMessage], list[str]]:
    reader = HttpMessageReader(role, limits or Limits())
    for method in methods:
        reader.expect_method(method)
    out: list[HttpMessage] = []
    for number, chunk in enumerate(chunks, start=1):
        out += reader.feed(chunk, number, float(number))
    if close is not None:
        out += reader.close(close, len(chunks) + 1, float(len(chunks) + 1))
    return out, [anomaly.code for anomaly in reader.anomalies]


def without_positions(messages: list[HttpMessage]) -> list[HttpMessage]:
    """Frames and times depend on how bytes were split; everything else must not."""
    return [replace(m, frame=0, ts=0.0, end_frame=0, end_ts=0.0) for m in messages]


REQUESTS = (
    b"GET /RequestHandler/ucdevice.upx HTTP/1.1\r\nHost: ocs\r\n\r\n"
    b"POST /RequestHandler/ucdevice.upx HTTP/1.1\r\nContent-Length: 5\r\n"
    b"X-Folded: a\r\n b\r\n\r\nhello"
    b"PUT /c HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;name=value\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: yes\r\n\r\n"
    b"\r\nHEAD /DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt HTTP/1.1\r\n\r\n"
)

RESPONSES = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n"
    b"HTTP/1.1 500 Internal Server Error\r\n\r\nuntil close"
)
RESPONSE_METHODS = ("GET", "POST", "GET", "HEAD", "GET")


def test_requests_keep_alive_chunked_trailers_and_folding() -> None:
    messages, anomalies = feed_all("request", [REQUESTS])
    assert anomalies == []
    assert all(isinstance(m, HttpRequest) for m in messages)
    requests = [m for m in messages if isinstance(m, HttpRequest)]
    assert [(r.method, r.target, r.version) for r in requests] == [
        ("GET", "/RequestHandler/ucdevice.upx", "1.1"),
        ("POST", "/RequestHandler/ucdevice.upx", "1.1"),
        ("PUT", "/c", "1.0"),
        ("HEAD", "/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt", "1.1"),
    ]
    assert requests[0].host == "ocs"
    assert requests[1].body.data == b"hello" and requests[1].body.expected == 5
    assert requests[1].header("x-folded") == "a b"
    chunked = requests[2].body
    assert chunked.chunked and chunked.data == b"abcde" and chunked.complete
    assert chunked.sha256 == hashlib.sha256(b"abcde").hexdigest()
    assert requests[2].header("X-Trailer") == "yes"


def test_responses_head_304_interim_and_until_close() -> None:
    messages, anomalies = feed_all("response", [RESPONSES], RESPONSE_METHODS)
    responses = [m for m in messages if isinstance(m, HttpResponse)]
    assert anomalies == []
    assert [r.status for r in responses] == [200, 200, 304, 200, 500]
    assert responses[1].interim == (100,) and responses[1].body.data == b"abcd"
    # 304 ignores its Content-Length; the answer to HEAD has no body despite 4096.
    assert responses[2].body.size == 0 and responses[3].body.size == 0
    assert responses[3].body.complete
    last = responses[4].body
    assert last.data == b"until close" and last.complete and last.expected is None


def test_until_close_body_cut_by_rst_is_incomplete() -> None:
    messages, _ = feed_all("response", [b"HTTP/1.0 200 OK\r\n\r\npartial"], close="rst")
    assert isinstance(messages[0], HttpResponse)
    assert messages[0].body.complete is False and messages[0].body.cut == "rst"


def test_body_cut_by_eof_and_fin() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    for reason in ("eof", "fin", "rst"):
        messages, _ = feed_all("response", [head], close=reason)
        body = messages[0].body
        assert (body.complete, body.cut, body.size, body.expected) == (False, reason, 3, 10)
        assert body.sha256 == hashlib.sha256(b"abc").hexdigest()


def test_gap_inside_content_length_body_advances_the_count() -> None:
    reader = HttpMessageReader("response")
    reader.expect_method("GET")
    reader.expect_method("GET")
    assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1, 1.0) == []
    assert reader.gap(4, 2, 2.0) == []
    out = reader.feed(b"hij" + b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 3, 3.0)
    first, second = out
    assert isinstance(first, HttpResponse) and isinstance(second, HttpResponse)
    assert (first.body.complete, first.body.cut, first.body.sha256) == (False, "gap", None)
    assert first.body.size == 6 and first.body.data == b"abchij"
    assert second.status == 404 and second.body.complete
    assert reader.anomalies == []


def test_gap_in_headers_resyncs_at_next_request_line() -> None:
    reader = HttpMessageReader("request")
    assert reader.feed(b"GET /a HTTP/1.1\r\nHo", 1, 1.0) == []
    assert reader.gap(100, 2, 2.0) == []
    out = reader.feed(b"rest of a header\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 3, 3.0)
    assert [m.target for m in out if isinstance(m, HttpRequest)] == ["/b"]
    assert [a.code for a in reader.anomalies] == ["http.gap-in-headers"]


def test_gap_covering_a_whole_body_then_next_response() -> None:
    reader = HttpMessageReader("response")
    reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 1, 1.0)
    out = reader.gap(50, 2, 2.0)
    assert len(out) == 1 and out[0].body.cut == "gap" and not out[0].body.complete
    out = reader.feed(b"HTTP/1.1 204 No Content\r\n\r\n", 3, 3.0)
    assert [m.status for m in out if isinstance(m, HttpResponse)] == [204]


def test_malformed_start_line_resyncs() -> None:
    messages, anomalies = feed_all(
        "request", [b"\x16\x03\x01garbage line\r\nmore\r\nGET /ok HTTP/1.1\r\n\r\n"]
    )
    assert [m.target for m in messages if isinstance(m, HttpRequest)] == ["/ok"]
    assert anomalies == ["http.malformed-start-line"]


def test_header_block_too_large() -> None:
    limits = Limits(max_header_bytes=64)
    data = b"GET /big HTTP/1.1\r\n" + b"X-A: " + b"a" * 200 + b"\r\n\r\nGET /next HTTP/1.1\r\n\r\n"
    messages, anomalies = feed_all("request", [data], limits=limits)
    assert "http.header-too-large" in anomalies
    assert [m.target for m in messages if isinstance(m, HttpRequest)] == ["/next"]


def test_conflicting_negative_and_absurd_lengths_stop_the_direction() -> None:
    for header, code in (
        (b"Content-Length: 5\r\nContent-Length: 6", "http.conflicting-content-length"),
        (b"Content-Length: -1", "http.bad-content-length"),
        (b"Content-Length: 18446744073709551615", "http.content-length-overflow"),
    ):
        data = b"POST / HTTP/1.1\r\n" + header + b"\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"
        messages, anomalies = feed_all("request", [data])
        assert anomalies == [code]
        assert [m.target for m in messages if isinstance(m, HttpRequest)] == ["/"]
        assert messages[0].body.cut == "malformed" and not messages[0].body.complete


def test_duplicate_equal_content_length_is_fine() -> None:
    data = b"POST / HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok"
    messages, anomalies = feed_all("request", [data])
    assert anomalies == [] and messages[0].body.data == b"ok"


def test_chunk_size_overflow_stops() -> None:
    data = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n\r\n"
    messages, anomalies = feed_all("request", [data + b"GET /x HTTP/1.1\r\n\r\n"])
    assert anomalies == ["http.chunk-size-overflow"]
    assert len(messages) == 1 and messages[0].body.cut == "malformed"


def test_transfer_encoding_wins_over_content_length() -> None:
    data = (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n0\r\n\r\n"
        b"GET /after HTTP/1.1\r\n\r\n"
    )
    messages, anomalies = feed_all("request", [data])
    assert anomalies == ["http.te-and-content-length"]
    assert [m.target for m in messages if isinstance(m, HttpRequest)] == ["/", "/after"]


def test_large_body_is_counted_and_hashed_not_kept() -> None:
    limits = Limits(max_body_kept=16)
    reader = HttpMessageReader("response", limits)
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 4000000000\r\n\r\n", 1, 1.0)
    digest = hashlib.sha256()
    block = b"x" * 65536
    for frame in range(2, 50):
        reader.feed(block, frame, float(frame))
        digest.update(block)
    (message,) = reader.close("eof", 50, 50.0)
    body = message.body
    assert len(body.data) == 16 and not body.kept_all
    assert body.size == 48 * 65536 and body.expected == 4_000_000_000
    assert body.sha256 == digest.hexdigest() and body.cut == "eof"


def test_frames_and_times_of_a_message() -> None:
    reader = HttpMessageReader("request")
    assert reader.feed(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na", 7, 1.5, 6) == []
    (message,) = reader.feed(b"bc", 9, 2.5)
    assert (message.frame, message.ts, message.end_frame, message.end_ts) == (6, 1.5, 9, 2.5)


def test_connect_tunnel_and_101_stop_parsing() -> None:
    reader = HttpMessageReader("response")
    reader.expect_method("GET")
    out = reader.feed(b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello", 1, 1.0)
    assert [m.status for m in out if isinstance(m, HttpResponse)] == [101]
    assert reader.stopped and reader.feed(b"HTTP/1.1 200 OK\r\n\r\n", 2, 2.0) == []


def test_take_started_methods_before_body_ends() -> None:
    reader = HttpMessageReader("request")
    reader.feed(b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", 1, 1.0)
    assert reader.take_started_methods() == ["POST"]
    assert reader.take_started_methods() == []


# -- feeding independence and robustness ---------------------------------------------------------


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_requests_same_result_for_any_split(cuts: list[int]) -> None:
    whole, whole_anomalies = feed_all("request", [REQUESTS])
    split, split_anomalies = feed_all("request", split_at(REQUESTS, cuts))
    assert without_positions(split) == without_positions(whole)
    assert split_anomalies == whole_anomalies


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_responses_same_result_for_any_split(cuts: list[int]) -> None:
    whole, _ = feed_all("response", [RESPONSES], RESPONSE_METHODS)
    split, _ = feed_all("response", split_at(RESPONSES, cuts), RESPONSE_METHODS)
    assert without_positions(split) == without_positions(whole)


def _reader(role: Role, methods: tuple[str, ...]) -> HttpMessageReader:
    reader = HttpMessageReader(role)
    for method in methods:
        reader.expect_method(method)
    return reader


@pytest.mark.parametrize(
    ("role", "data", "methods", "count"),
    [
        ("request", REQUESTS, (), 4),
        # Up to the 4096-byte body the stream stops in: every message here is whole.
        (
            "response",
            RESPONSES[: RESPONSES.index(b"HTTP/1.1 200 OK\r\nContent-Length: 4096")],
            RESPONSE_METHODS,
            3,
        ),
    ],
    ids=["requests", "responses"],
)
def test_whole_byte_at_a_time_and_trailing_junk_agree(
    role: Role, data: bytes, methods: tuple[str, ...], count: int
) -> None:
    fed = tr(
        lambda: _reader(role, methods),
        lambda reader, chunk, n: reader.feed(chunk, n, float(n)),
        data,
        end=lambda reader, n: reader.close("fin", n, float(n)),
        view=without_positions,
        state=lambda reader: [a.code for a in reader.anomalies],
    )
    assert len(fed.whole) == count
    assert [a.code for a in fed.whole_parser.anomalies] == []
    # The junk's first line is no start line: reported and skipped, never a message.
    assert len(fed.junk) == count
    assert [a.code for a in fed.junk_parser.anomalies] == ["http.malformed-start-line"]


def test_until_close_body_is_the_same_whole_or_a_byte_at_a_time() -> None:
    # A body delimited by the close owns whatever follows, so there is no junk case here.
    fed = tr(
        lambda: _reader("response", RESPONSE_METHODS),
        lambda reader, chunk, n: reader.feed(chunk, n, float(n)),
        RESPONSES,
        end=lambda reader, n: reader.close("fin", n, float(n)),
        view=without_positions,
        state=lambda reader: [a.code for a in reader.anomalies],
        junk=b"",
    )
    assert [m.body.data for m in fed.whole][-2:] == [b"", b"until close"]


_PIECES = st.sampled_from(
    [
        b"GET / HTTP/1.1\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"Content-Length: 3\r\n",
        b"Content-Length: x\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"\r\n",
        b"3\r\nabc\r\n",
        b"0\r\n\r\n",
        b"ffffffffffffffffff\r\n",
        b"junk",
        b"\n",
    ]
)


@given(
    st.sampled_from(["request", "response"]),
    st.lists(st.one_of(_PIECES, st.binary(max_size=20)), max_size=30),
    st.lists(st.integers(min_value=0, max_value=2_000), max_size=10),
    st.sampled_from(["fin", "rst", "eof"]),
)
def test_random_input_never_raises_and_split_does_not_matter(
    role: Role, pieces: list[bytes], cuts: list[int], reason: str
) -> None:
    data = b"".join(pieces)
    limits = Limits(max_header_bytes=128, max_body_kept=8)
    whole, whole_anomalies = feed_all(role, [data], ("GET", "HEAD"), reason, limits)
    split, split_anomalies = feed_all(role, split_at(data, cuts), ("GET", "HEAD"), reason, limits)
    assert without_positions(split) == without_positions(whole)
    assert split_anomalies == whole_anomalies


@given(
    st.lists(
        st.one_of(
            st.binary(max_size=64).map(lambda b: ("data", b)),
            st.integers(min_value=-5, max_value=100).map(lambda n: ("gap", n)),
        ),
        max_size=20,
    )
)
def test_random_data_and_gaps_never_raise(events: list[tuple[str, object]]) -> None:
    for role in ("request", "response"):
        reader = HttpMessageReader(role, Limits(max_header_bytes=64))
        for number, (kind, value) in enumerate(events, start=1):
            if kind == "data":
                assert isinstance(value, bytes)
                reader.feed(value, number, float(number))
            else:
                assert isinstance(value, int)
                reader.gap(value, number, float(number))
        reader.close("eof", None, 0.0)
        assert reader.feed(b"GET / HTTP/1.1\r\n\r\n", 99, 99.0) == []


def test_over_long_start_line_is_skipped_while_resyncing_whole_or_split() -> None:
    # Found by tests/fuzz (corpus/http/crash-resync-long-start-line): fed whole, a start line
    # longer than max_header_bytes was taken after a resync; fed in pieces it was dropped.
    data = b"e\nGET /" + b"a" * 100 + b" HTTP/1.1\r\nGET /ok HTTP/1.1\r\n\r\n"
    limits = Limits(max_header_bytes=64)
    whole, whole_anomalies = feed_all("request", [data], limits=limits)
    single, single_anomalies = feed_all(
        "request", [data[i : i + 1] for i in range(len(data))], limits=limits
    )
    assert without_positions(single) == without_positions(whole)
    assert single_anomalies == whole_anomalies == ["http.malformed-start-line"]
    assert [m.path for m in whole if isinstance(m, HttpRequest)] == ["/ok"]


def test_firmware_bodies_are_counted_and_hashed_not_kept() -> None:
    reader = HttpMessageReader("response")
    reader.expect_method("GET", "/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt")
    body = bytes(range(256)) * 1000
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    (message,) = reader.feed(head + body, 1, 1.0)
    assert message.body.data == b"" and message.body.size == len(body)
    assert message.body.complete and message.body.sha256 == hashlib.sha256(body).hexdigest()


@given(st.binary(max_size=200), st.lists(st.integers(min_value=0, max_value=2_000), max_size=6))
def test_trailing_junk_leaves_the_messages_before_it_unchanged(
    junk: bytes, cuts: list[int]
) -> None:
    for role, data, methods in (
        ("request", REQUESTS, ()),
        (
            "response",
            RESPONSES[: RESPONSES.index(b"HTTP/1.1 200 OK\r\nContent-Length: 4096")],
            RESPONSE_METHODS,
        ),
    ):
        before, _ = feed_all(role, [data], methods, close=None)  # type: ignore[arg-type]
        after, _ = feed_all(role, split_at(data + junk, cuts), methods, close=None)  # type: ignore[arg-type]
        assert without_positions(after)[: len(before)] == without_positions(before)
