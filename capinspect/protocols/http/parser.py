"""Passive, tolerant HTTP/1.x framing for one direction of a reassembled TCP stream.

Why hand-written: a capture is not a conversation we take part in. Bytes may be missing (the
capture dropped them), the capture may start mid-message, and a phone or a misconfigured IIS may
send things a strict parser (h11) rejects outright. We must still find every message boundary we
can, say plainly where we could not, and never raise.

Theory of operation
-------------------
One :class:`HttpMessageReader` follows one direction (``role`` is ``"request"`` for
client→server bytes, ``"response"`` for server→client). It is sans-IO: the caller feeds bytes
(``feed``), reports bytes the capture lost (``gap``) and the end of the direction (``close``);
each call returns the messages that became complete. Problems become :class:`Anomaly` values in
``reader.anomalies``.

States (``_State``)::

    HEAD ──headers end──▶ BODY_LENGTH ──length reached──▶ HEAD
      │                 ▶ CHUNK_SIZE ⇄ CHUNK_DATA ─0─▶ TRAILERS ──blank line──▶ HEAD
      │                 ▶ UNTIL_CLOSE ──close──▶ CLOSED
      │                 ▶ (no body) ──────────────────────────────────────────▶ HEAD
      ├─gap / malformed start line / header block too large──▶ RESYNC ──start line found──▶ HEAD
      └─101 / CONNECT tunnel──▶ OPAQUE           any framing we cannot trust──▶ STOPPED

* RESYNC skips bytes until a line that starts a message of this role (``METHOD /x HTTP/1.1``
  or ``HTTP/1.1 200``). It looks only at line starts; after a gap the first bytes count as a
  line start (a gap often swallows exactly one body).
* STOPPED is where a Content-Length or chunk size we cannot trust leads (conflicting,
  negative, ≥ 2**63): guessing a boundary there is exactly how request smuggling fools
  middleboxes, so we record the anomaly and read nothing more from this direction.
* A response's framing depends on its request's method (HEAD has no body; a 2xx to CONNECT
  starts a tunnel): the tracker queues the methods with :meth:`expect_method` in request order.

The start line and header block are read by ``head.py`` (pure functions), bodies accumulated
by ``body.py``. Bodies are kept up to ``Limits.max_body_kept`` bytes; beyond that they are only
counted and hashed incrementally, so a 4 GB download costs no memory. The buffer holds at most
one header block (``max_header_bytes``) or one partial line plus the bytes of the current
``feed``.
"""

from __future__ import annotations

import re
from collections import deque
from enum import Enum, auto

from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import Anomaly
from capinspect.protocols.http.body import BodyAccumulator, body_budget, empty_body
from capinspect.protocols.http.head import (
    HEADER_END,
    REQUEST_START,
    STATUS_START,
    Head,
    Problem,
    Role,
    chunk_size,
    content_length,
    parse_header_lines,
    parse_start_line,
)
from capinspect.protocols.http.messages import HttpRequest, HttpResponse

HttpMessage = HttpRequest | HttpResponse

_MAX_CHUNK_LINE = 4096
"""A chunk-size line (hex size plus extensions) longer than this is not a chunk-size line."""


class _State(Enum):
    HEAD = auto()
    BODY_LENGTH = auto()
    CHUNK_SIZE = auto()
    CHUNK_DATA = auto()
    CHUNK_END = auto()
    TRAILERS = auto()
    UNTIL_CLOSE = auto()
    RESYNC = auto()
    OPAQUE = auto()
    STOPPED = auto()
    CLOSED = auto()


class HttpMessageReader:
    """Sans-IO reader for one direction of an HTTP/1.x connection (see module docstring).

    ``feed``/``gap``/``close`` return the messages completed by that call and never raise;
    trouble is appended to ``anomalies``. After ``close`` the reader ignores further input.
    """

    def __init__(self, role: Role, limits: Limits = DEFAULT_LIMITS) -> None:
        self.role: Role = role
        self.limits = limits
        self.anomalies: list[Anomaly] = []
        self._buf = bytearray()
        self._state = _State.HEAD
        self._line_start = True
        """In RESYNC: whether the buffer begins at the start of a line."""
        self._head: Head | None = None
        self._body: BodyAccumulator | None = None
        self._remaining = 0
        self._trailers: list[tuple[str, str]] = []
        self._methods: deque[tuple[str, str]] = deque()
        self._started_methods: list[tuple[str, str]] = []
        self._interim: list[int] = []
        self._frame = 0
        self._first_frame = 0
        self._ts = 0.0
        self._chunk_start = True
        """Whether the next byte of the buffer is the first byte of the current feed."""
        self._skipping: Anomaly | None = None
        """A malformed start line whose anomaly waits for the count of bytes skipped after it."""
        self._skipped = 0

    # -- public interface --------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        """True once this direction can no longer be parsed (untrusted framing, tunnel, close)."""
        return self._state in (_State.STOPPED, _State.OPAQUE, _State.CLOSED)

    def expect_method(self, method: str, target: str = "") -> None:
        """Response reader: the next unanswered request used ``method`` (HEAD has no body) on
        ``target`` (a check-in's answer is kept whole, see :func:`body_budget`)."""
        self._methods.append((method.upper(), target))

    def take_started_methods(self) -> list[str]:
        """Request reader: methods of requests whose headers ended since the last call."""
        return [method for method, _ in self.take_started_requests()]

    def take_started_requests(self) -> list[tuple[str, str]]:
        """Request reader: (method, target) of requests whose headers ended since the last call.

        The tracker hands them to the response reader as soon as the headers are known, before
        the request body ends (a server may answer ``100 Continue`` or an early error)."""
        started, self._started_methods = self._started_methods, []
        return started

    def become_opaque(self) -> None:
        """The connection switched protocols (101, CONNECT): stop reading this direction."""
        if self._state is not _State.CLOSED:
            self._state = _State.OPAQUE
            self._buf.clear()

    def feed(
        self, data: bytes, frame: int, ts: float, first_frame: int | None = None
    ) -> list[HttpMessage]:
        """Take the next in-order bytes (delivered by ``frame``; the first of them by
        ``first_frame``) and return the messages they completed."""
        if self._state in (_State.STOPPED, _State.OPAQUE, _State.CLOSED) or not data:
            return []
        self._frame = frame
        self._first_frame = frame if first_frame is None else first_frame
        self._ts = ts
        self._chunk_start = not self._buf
        self._buf += data
        out: list[HttpMessage] = []
        self._run(out)
        if len(self._buf) > self.limits.max_stream_buffer:
            self._note(
                "limit.max_stream_buffer",
                f"more than {self.limits.max_stream_buffer} bytes buffered without a message "
                f"boundary; the rest of this {self.role} direction is not parsed",
            )
            self._stop()
        return out

    def gap(self, size: int, frame: int, ts: float) -> list[HttpMessage]:
        """``size`` bytes of this direction are missing from the capture."""
        out: list[HttpMessage] = []
        if self._state in (_State.STOPPED, _State.OPAQUE, _State.CLOSED) or size <= 0:
            return out
        self._frame, self._first_frame, self._ts = frame, frame, ts
        self._end_skipping(f"then {size} bytes missing from the capture")
        state = self._state
        if state is _State.BODY_LENGTH and self._body is not None and not self._buf:
            # The count goes on: the next message starts where the length says.
            self._body.had_gap = True
            missing = min(size, self._remaining)
            self._remaining -= missing
            if self._remaining == 0:
                self._finish_message(out, complete=False, cut="gap")
                if size > missing:
                    self._lose_sync()
            return out
        if state is _State.CHUNK_DATA and self._body is not None and not self._buf:
            if size < self._remaining:
                self._body.had_gap = True
                self._remaining -= size
                return out
        if state is _State.UNTIL_CLOSE and self._body is not None:
            self._body.had_gap = True
            return out
        if state in (_State.CHUNK_DATA, _State.CHUNK_SIZE, _State.CHUNK_END, _State.TRAILERS):
            self._finish_message(out, complete=False, cut="gap")
        elif state is _State.BODY_LENGTH:
            self._finish_message(out, complete=False, cut="gap")
        elif state is _State.HEAD:
            self._note(
                "http.gap-in-headers",
                f"{size} bytes missing from the capture before a {self.role} header block "
                "ended; skipping to the next start line",
            )
        self._lose_sync()
        return out

    def close(self, reason: str, frame: int | None, ts: float) -> list[HttpMessage]:
        """The direction ended (``fin``, ``rst``, ``idle`` or ``eof``); flush what is pending."""
        out: list[HttpMessage] = []
        if self._state is _State.CLOSED:
            return out
        if frame is not None:
            self._frame = self._first_frame = frame
        self._ts = ts
        self._skipped += len(self._buf)
        self._end_skipping(f"and no {self.role} line before the end ({reason})")
        state = self._state
        if state is _State.UNTIL_CLOSE:
            self._finish_message(
                out, complete=reason == "fin", cut=None if reason == "fin" else reason
            )
        elif state in (
            _State.BODY_LENGTH,
            _State.CHUNK_SIZE,
            _State.CHUNK_DATA,
            _State.CHUNK_END,
            _State.TRAILERS,
        ):
            self._finish_message(out, complete=False, cut=reason)
        elif state is _State.HEAD and self._buf.strip():
            self._note(
                "http.incomplete-headers",
                f"the {self.role} direction ended ({reason}) inside a header block "
                f"({len(self._buf)} bytes)",
            )
        self._buf.clear()
        self._state = _State.CLOSED
        return out

    # -- the state machine -------------------------------------------------------------------

    def _run(self, out: list[HttpMessage]) -> None:
        """Step until no state can make progress with the buffered bytes."""
        while self._step(out):
            pass

    def _step(self, out: list[HttpMessage]) -> bool:
        """One transition; True when it consumed bytes or changed state."""
        state = self._state
        if state is _State.HEAD:
            return self._parse_head(out)
        if state is _State.BODY_LENGTH:
            return self._read_length_body(out)
        if state is _State.CHUNK_SIZE:
            return self._read_chunk_size(out)
        if state is _State.CHUNK_DATA:
            return self._read_chunk_data()
        if state is _State.CHUNK_END:
            return self._read_chunk_end()
        if state is _State.TRAILERS:
            return self._read_trailers(out)
        if state is _State.RESYNC:
            return self._resync()
        if state is _State.UNTIL_CLOSE and self._body is not None and self._buf:
            self._body.add(self._buf)
        self._buf.clear()
        return False

    def _consume(self, count: int) -> bytes:
        taken = bytes(self._buf[:count])
        del self._buf[:count]
        if count:
            self._chunk_start = False
            if self._skipping is not None:
                self._skipped += count
        return taken

    def _message_frame(self) -> int:
        return self._first_frame if self._chunk_start else self._frame

    def _parse_head(self, out: list[HttpMessage]) -> bool:
        # Blank lines between messages are tolerated (RFC 9112 §2.2).
        stripped = len(self._buf) - len(self._buf.lstrip(b"\r\n"))
        if stripped:
            self._consume(stripped)
        if not self._buf:
            return False
        limit = self.limits.max_header_bytes
        first_newline = self._buf.find(b"\n", 0, limit)
        if first_newline >= 0:
            frame = self._message_frame()
            first_line = bytes(self._buf[:first_newline]).rstrip(b"\r")
            head = parse_start_line(self.role, first_line, frame, self._ts)
            if head is None:
                # Reported once the next start line is found, with the bytes skipped to it.
                self._skipping = Anomaly(
                    "http.malformed-start-line",
                    f"not an HTTP/1.x {self.role} line: {first_line[:80]!r}",
                    self._frame or None,
                    self._ts,
                )
                self._skipped = 0
                self._consume(first_newline + 1)
                self._state = _State.RESYNC
                self._line_start = True
                return True
        end = HEADER_END.search(self._buf, 0, limit + 4)
        if end is None or end.end() > limit:
            if end is not None or len(self._buf) > limit:
                self._note(
                    "http.header-too-large",
                    f"a {self.role} header block is longer than {limit} bytes",
                )
                self._enter_resync_after_first_line()
                return True
            return False
        frame, ts = self._message_frame(), self._ts
        block = self._consume(end.end())[: end.start()]
        lines = re.split(rb"\r?\n", block)
        head = parse_start_line(self.role, lines[0].rstrip(b"\r"), frame, ts)
        if head is None:  # unreachable: the first line was checked above
            return True
        head.headers = self._header_fields(lines[1:])
        self._begin_body(head, out)
        return True

    def _header_fields(self, lines: list[bytes]) -> list[tuple[str, str]]:
        fields, nameless = parse_header_lines(lines)
        for raw in nameless:
            self._note("http.malformed-header", f"{self.role} header line without a name: {raw!r}")
        return fields

    def _begin_body(self, head: Head, out: list[HttpMessage]) -> None:
        """Decide how the body is framed (RFC 9112 §6.3, tolerantly)."""
        self._head = head
        self._trailers = []
        ctype = next(iter(head.values("content-type")), "")
        limit = self.limits.max_body_kept
        if self.role == "request":
            keep = body_budget(head.start[1], None, ctype, limit)
            self._started_methods.append(head.start)
        else:
            status = head.status or 0
            if 100 <= status < 200 and status != 101:
                self._interim.append(status)
                self._head = None
                return
            method, target = self._methods.popleft() if self._methods else ("", "")
            keep = body_budget(target, status, ctype, limit)
            tunnel = status == 101 or (method == "CONNECT" and 200 <= status < 300)
            if tunnel or method == "HEAD" or status in (204, 304):
                self._body = BodyAccumulator(keep, None, False)
                self._finish_message(out, complete=True, cut=None, empty=True)
                if tunnel:
                    self._state = _State.OPAQUE
                    self._buf.clear()
                return

        codings = [
            part.strip().lower()
            for value in head.values("transfer-encoding")
            for part in value.split(",")
            if part.strip()
        ]
        lengths = [
            part.strip() for value in head.values("content-length") for part in value.split(",")
        ]
        if codings:
            if lengths:
                self._note(
                    "http.te-and-content-length",
                    f"{self.role} has both Transfer-Encoding {', '.join(codings)} and "
                    f"Content-Length {', '.join(lengths)}; Transfer-Encoding wins",
                )
            if codings[-1] == "chunked":
                self._body = BodyAccumulator(keep, None, True)
                self._state = _State.CHUNK_SIZE
                return
            if self.role == "request":
                self._note(
                    "http.unframed-request-body",
                    f"request Transfer-Encoding {', '.join(codings)} does not end in chunked",
                )
                self._deliver_headers_then_stop(out)
                return
            self._body = BodyAccumulator(keep, None, False)
            self._state = _State.UNTIL_CLOSE
            return
        if lengths:
            length = content_length(lengths)
            if isinstance(length, Problem):
                self._note(length.code, f"{self.role} {length.detail}")
                self._deliver_headers_then_stop(out)
                return
            self._body = BodyAccumulator(keep, length, False)
            if length == 0:
                self._finish_message(out, complete=True, cut=None)
                return
            self._remaining = length
            self._state = _State.BODY_LENGTH
            return
        self._body = BodyAccumulator(keep, None, False)
        if self.role == "request":
            self._finish_message(out, complete=True, cut=None, empty=True)
        else:
            self._state = _State.UNTIL_CLOSE

    def _deliver_headers_then_stop(self, out: list[HttpMessage]) -> None:
        """Report the message whose framing we cannot trust, then read no further."""
        self._body = BodyAccumulator(self.limits.max_body_kept, None, False)
        self._finish_message(out, complete=False, cut="malformed")
        self._stop()

    def _read_length_body(self, out: list[HttpMessage]) -> bool:
        if not self._buf or self._body is None:
            return False
        take = min(self._remaining, len(self._buf))
        self._body.add(memoryview(self._buf)[:take])
        self._consume(take)
        self._remaining -= take
        if self._remaining == 0:
            self._finish_message(out, complete=True, cut=None)
        return True

    def _read_chunk_size(self, out: list[HttpMessage]) -> bool:
        newline = self._buf.find(b"\n", 0, _MAX_CHUNK_LINE + 1)
        if newline < 0:
            if len(self._buf) > _MAX_CHUNK_LINE:
                self._note("http.bad-chunk-size", f"{self.role} chunk-size line is too long")
                self._cut_and_stop(out)
            return False
        line = self._consume(newline + 1).rstrip(b"\r\n")
        if not line.strip():
            return True  # tolerate a stray blank line before the size
        size = chunk_size(line)
        if isinstance(size, Problem):
            self._note(size.code, f"{self.role} {size.detail}")
            self._cut_and_stop(out)
            return False
        if size == 0:
            self._state = _State.TRAILERS
        else:
            self._remaining = size
            self._state = _State.CHUNK_DATA
        return True

    def _read_chunk_data(self) -> bool:
        if not self._buf or self._body is None:
            return False
        take = min(self._remaining, len(self._buf))
        self._body.add(memoryview(self._buf)[:take])
        self._consume(take)
        self._remaining -= take
        if self._remaining == 0:
            self._state = _State.CHUNK_END
        return True

    def _read_chunk_end(self) -> bool:
        """The CRLF after a chunk's data; a bare LF is tolerated, anything else noted."""
        if not self._buf:
            return False
        if self._buf.startswith(b"\r\n"):
            self._consume(2)
        elif self._buf.startswith(b"\n"):
            self._consume(1)
        elif self._buf == b"\r":
            return False
        else:
            self._note("http.chunk-missing-crlf", f"{self.role} chunk data not followed by CRLF")
        self._state = _State.CHUNK_SIZE
        return True

    def _read_trailers(self, out: list[HttpMessage]) -> bool:
        while True:
            newline = self._buf.find(b"\n")
            if newline < 0:
                if len(self._buf) > self.limits.max_header_bytes:
                    self._note("http.header-too-large", f"{self.role} trailers too large")
                    self._cut_and_stop(out)
                return False
            line = self._consume(newline + 1).rstrip(b"\r\n")
            if not line:
                self._finish_message(out, complete=True, cut=None)
                return True
            self._trailers.extend(self._header_fields([line]))
            if sum(len(k) + len(v) for k, v in self._trailers) > self.limits.max_header_bytes:
                self._note("http.header-too-large", f"{self.role} trailers too large")
                self._cut_and_stop(out)
                return False

    def _cut_and_stop(self, out: list[HttpMessage]) -> None:
        self._finish_message(out, complete=False, cut="malformed")
        self._stop()

    def _resync(self) -> bool:
        pattern = REQUEST_START if self.role == "request" else STATUS_START
        start = 0
        if not self._line_start:
            newline = self._buf.find(b"\n")
            if newline < 0:
                self._drop_partial_line()
                return False
            start = newline + 1
        match = pattern.search(self._buf, start)
        # A start line longer than a header block is not one: split input would have dropped
        # it as a partial line (_drop_partial_line), so whole input must not take it either.
        while match is not None and match.end() - match.start() - 1 > self.limits.max_header_bytes:
            match = pattern.search(self._buf, match.end())
        if match is not None:
            self._consume(match.start())
            self._end_skipping(f"and the next {self.role} line")
            self._state = _State.HEAD
            return True
        # Keep only the last, unfinished line: it may still become a start line.
        newline = self._buf.rfind(b"\n")
        if newline >= 0:
            self._consume(newline + 1)
            self._line_start = True
        self._drop_partial_line()
        return False

    def _drop_partial_line(self) -> None:
        if len(self._buf) > self.limits.max_header_bytes:
            self._skipped += len(self._buf)
            self._buf.clear()
            self._line_start = False

    def _enter_resync_after_first_line(self) -> None:
        newline = self._buf.find(b"\n")
        if newline < 0:
            self._buf.clear()
            self._line_start = False
        else:
            self._consume(newline + 1)
            self._line_start = True
        self._state = _State.RESYNC

    def _lose_sync(self) -> None:
        """After missing bytes we no longer know where we are: look for a start line."""
        self._buf.clear()
        self._head = None
        self._body = None
        self._state = _State.RESYNC
        self._line_start = True

    def _end_skipping(self, until: str) -> None:
        """Report the malformed start line with the bytes skipped from it (the line included)
        to ``until``: a start line found, a gap, the end of the direction."""
        if self._skipping is not None:
            anomaly, self._skipping = self._skipping, None
            detail = f"{anomaly.detail}; {self._skipped} bytes skipped from it {until}"
            self.anomalies.append(Anomaly(anomaly.code, detail, anomaly.frame, anomaly.ts))

    def _stop(self) -> None:
        self._skipped += len(self._buf)
        self._end_skipping("when parsing stopped")
        self._buf.clear()
        self._state = _State.STOPPED

    def _note(self, code: str, detail: str) -> None:
        self.anomalies.append(Anomaly(code, detail, self._frame or None, self._ts))

    def _finish_message(
        self, out: list[HttpMessage], complete: bool, cut: str | None, empty: bool = False
    ) -> None:
        head, body = self._head, self._body
        self._head = None
        self._body = None
        self._state = _State.HEAD
        if head is None:
            return
        built = empty_body() if body is None or empty else body.build(complete, cut)
        out.append(head.message(built, self._trailers, self._frame, self._ts, self._interim))
        self._trailers = []
        if head.status is not None:
            self._interim = []
