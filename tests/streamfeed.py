"""Feed a stream parser its input three ways and hold it to one answer (h11's ``tr()``).

A parser that takes a byte stream in pieces must not care where the pieces were cut: a TCP
segment, a capture's snap length or a file read may end anywhere. h11's test suite checks each
reader by feeding it a message whole, then one byte at a time, then with trailing bytes after
it (h11/tests/test_io.py, ``tr``). :func:`tr` does the same for any of capinspect's parsers:

* **whole**: ``data`` in one ``feed``;
* **a byte at a time**: ``len(data)`` feeds of one byte each;
* **with trailing junk**: ``data + junk`` in one feed. ``data`` must end on a unit boundary
  (a complete message, record, frame), so what it yields must come out unchanged *before*
  whatever the junk leads to; the test then asserts what the parser did with the junk (held
  it as a partial unit, stopped, noted an anomaly) on :attr:`Fed.junk_parser`.

Whole and byte-at-a-time must give equal results (after ``view``, which drops what honestly
depends on the cut, such as frame numbers) and equal ``state`` (anomalies, pending bytes).
:func:`split_at` cuts data at arbitrary points for property tests of the same rule.

Where it is used (the incremental parsers):

* ``protocols/http/parser.py`` ``HttpMessageReader`` (tests/protocols/http/test_http_parser.py)
* ``protocols/dns/parser.py`` ``DnsTcpFramer`` (tests/protocols/dns/test_dns_parser.py)
* ``protocols/tls/parser.py`` ``RecordReader`` and ``HandshakeReader``
  (tests/protocols/tls/test_tls_parser.py)
* ``flows/tcp.py`` ``TcpReassembler``: one stream sent as one segment or one byte per segment
  (tests/flows/test_tcp_reassembly.py)
* ``sources/pcapfile.py`` ``CaptureReader`` pulls its bytes from a stream, so it is fed through
  a stream that returns one byte per read (tests/sources/test_pcapfile.py)

Not incremental, so only :func:`with_junk` applies (each takes one whole unit its caller has
already cut out, and the junk case is what remains to test):

* ``protocols/upx.py`` ``parse_checkin_request``/``parse_checkin_response``: a check-in body is
  whole when the HTTP reader hands it over (tests/protocols/test_upx.py);
  ``protocols/checkins.py`` ``CheckinTracker`` takes whole exchanges, not bytes;
* ``protocols/dns/parser.py`` ``parse_dns``: one message (a datagram, or one cut by the framer);
* ``protocols/dhcp/parser.py`` ``parse_dhcp``: one datagram;
* ``sources/netmon.py`` ``NetmonReader``: seeks to the frame table the header points at, so a
  file is read by offset, never as a stream (tests/sources/test_netmon.py);
* ``logs/iis.py`` and ``logs/audit.py``: fed lines, not bytes; junk is a stray last line
  (tests/logs/test_iis_log.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

P = TypeVar("P")
T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S", str, bytes)

JUNK = b"trailing junk\r\n\x00\xff\x16\x03"
"""Bytes after the last unit: text, a line end, a NUL, and the start of a TLS record header."""

_UNSET: Any = object()


@dataclass(frozen=True)
class Fed(Generic[P]):
    """What the three feedings gave (after ``view``) and the parsers they left behind."""

    whole: Sequence[Any]
    bytewise: Sequence[Any]
    junk: Sequence[Any]
    whole_parser: P
    bytewise_parser: P
    junk_parser: P


def _run(
    new: Callable[[], P],
    feed: Callable[[P, bytes, int], Iterable[T]],
    chunks: Sequence[bytes],
    end: Callable[[P, int], Iterable[T]] | None,
) -> tuple[P, list[T]]:
    parser = new()
    out: list[T] = []
    for number, chunk in enumerate(chunks, start=1):
        out.extend(feed(parser, chunk, number))
    if end is not None:
        out.extend(end(parser, len(chunks) + 1))
    return parser, out


def tr(
    new: Callable[[], P],
    feed: Callable[[P, bytes, int], Iterable[T]],
    data: bytes,
    expected: Sequence[Any] = _UNSET,
    *,
    end: Callable[[P, int], Iterable[T]] | None = None,
    view: Callable[[list[T]], Sequence[Any]] = list,
    state: Callable[[P], object] | None = None,
    junk: bytes = JUNK,
) -> Fed[P]:
    """Feed ``data`` whole, a byte at a time and followed by ``junk``; assert they agree.

    ``new()`` makes a parser; ``feed(parser, chunk, number)`` gives it the next chunk
    (``number`` counts chunks from 1: a test may use it as the frame number) and returns
    what completed; ``end(parser, number)``, when given, ends the stream and returns what that
    flushed. ``view`` turns the collected results into a comparable sequence, ``state`` reads
    what else must not depend on the cut (anomalies, pending bytes), ``expected`` is the
    answer when the test knows it. Returns the three results for further assertions.
    """
    whole_parser, whole_out = _run(new, feed, [data], end)
    bytewise_parser, bytewise_out = _run(
        new, feed, [data[i : i + 1] for i in range(len(data))], end
    )
    junk_parser, junk_out = _run(new, feed, [data + junk], end)
    whole, bytewise, after_junk = view(whole_out), view(bytewise_out), view(junk_out)
    assert bytewise == whole, "fed a byte at a time, the parser gave another answer"
    if state is not None:
        assert state(bytewise_parser) == state(whole_parser)
    assert after_junk[: len(whole)] == whole, "trailing junk changed what came before it"
    if expected is not _UNSET:
        assert whole == expected
    return Fed(whole, bytewise, after_junk, whole_parser, bytewise_parser, junk_parser)


def with_junk(parse: Callable[[S], R], data: S, junk: S | None = None) -> tuple[R, R]:
    """For a parser that takes one whole unit (see the module docstring): its answer for
    ``data`` and for ``data + junk`` (:data:`JUNK` by default; text parsers pass text), for
    the test to hold the second to the first."""
    tail = cast(S, JUNK) if junk is None else junk
    return parse(data), parse(cast(S, data + tail))


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo ``len(data) + 1``), no empty piece."""
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]
