"""A message head read on its own: start lines, header lines, lengths that can be trusted."""

from __future__ import annotations

from capinspect.protocols.http.body import empty_body
from capinspect.protocols.http.head import (
    MAX_CONTENT_LENGTH,
    Problem,
    chunk_size,
    content_length,
    parse_header_lines,
    parse_start_line,
)
from capinspect.protocols.http.messages import HttpRequest, HttpResponse


def test_start_lines_of_either_role() -> None:
    request = parse_start_line("request", b"POST /RequestHandler/ucdevice.upx HTTP/1.1", 3, 1.5)
    assert request is not None and request.start == ("POST", "/RequestHandler/ucdevice.upx")
    assert (request.version, request.status, request.frame) == ("1.1", None, 3)
    response = parse_start_line("response", b"HTTP/1.1 500 Internal Server Error ", 4, 2.0)
    assert response is not None and (response.status, response.start[1]) == (
        500,
        "Internal Server Error",
    )
    assert parse_start_line("request", b"HTTP/1.1 200 OK", 1, 0.0) is None
    assert parse_start_line("response", b"GET / HTTP/1.1", 1, 0.0) is None


def test_header_lines_fold_and_hand_back_nameless_lines() -> None:
    fields, nameless = parse_header_lines(
        [b"Host: ucupdates-r2.contoso.com", b"X-Long: a", b"\tb", b"no colon here", b": x", b""]
    )
    assert fields == [("Host", "ucupdates-r2.contoso.com"), ("X-Long", "a b")]
    assert nameless == [b"no colon here", b": x"]


def test_lengths_that_cannot_be_trusted_are_problems() -> None:
    assert content_length(["42", "42"]) == 42
    for values, code in (
        (["-1"], "http.bad-content-length"),
        (["1", "2"], "http.conflicting-content-length"),
        ([str(MAX_CONTENT_LENGTH + 1)], "http.content-length-overflow"),
    ):
        problem = content_length(values)
        assert isinstance(problem, Problem) and problem.code == code
    assert chunk_size(b"1a;ext=1") == 26
    assert chunk_size(b"0000") == 0
    bad, big = chunk_size(b"zz"), chunk_size(b"f" * 17)
    assert isinstance(bad, Problem) and bad.code == "http.bad-chunk-size"
    assert isinstance(big, Problem) and big.code == "http.chunk-size-overflow"


def test_a_head_becomes_its_message_with_the_trailers() -> None:
    head = parse_start_line("response", b"HTTP/1.1 200 OK", 5, 1.0)
    assert head is not None
    head.headers = [("Content-Type", "text/xml")]
    message = head.message(empty_body(), [("X-Trailer", "1")], 9, 2.0, [100])
    assert isinstance(message, HttpResponse)
    assert message.headers == (("Content-Type", "text/xml"), ("X-Trailer", "1"))
    assert (message.interim, message.end_frame) == ((100,), 9)
    request = parse_start_line("request", b"GET / HTTP/1.0", 1, 0.5)
    assert request is not None
    assert isinstance(request.message(empty_body(), [], 1, 0.5, []), HttpRequest)
