"""An HTTP/1.x message head: the start line and the header block, read without a reader.

Pure functions the stream reader (parser.py) calls once it has cut a head out of the stream:
:func:`parse_start_line`, :func:`parse_header_lines` (obs-fold joined; lines without a name
handed back for the reader to report), :func:`content_length` (RFC 9112 §6.3) and
:func:`chunk_size`, with the reasons a length cannot be trusted as :class:`Problem` values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from capinspect.protocols.http.messages import HttpBody, HttpRequest, HttpResponse

Role = Literal["request", "response"]

MAX_CONTENT_LENGTH = 2**63 - 1
"""The largest length we trust: anything bigger does not fit a signed 64-bit counter, which is
what the servers and middleboxes reading the same bytes use (Zeek's and Suricata's int64)."""

TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
REQUEST_LINE = re.compile(rb"(" + TOKEN + rb")[ \t]+(\S+)[ \t]+HTTP/([0-9]\.[0-9])[ \t]*")
STATUS_LINE = re.compile(rb"HTTP/([0-9]\.[0-9])[ \t]+([0-9]{3})(?:[ \t]+([^\r\n]*))?[ \t]*")
# Where RESYNC may pick up again: a whole start line at a line start.
REQUEST_START = re.compile(
    rb"^" + TOKEN + rb"[ \t]+\S+[ \t]+HTTP/[0-9]\.[0-9][ \t]*\r?\n", re.MULTILINE
)
STATUS_START = re.compile(rb"^HTTP/[0-9]\.[0-9][ \t]+[0-9]{3}[^\r\n]*\r?\n", re.MULTILINE)
HEADER_END = re.compile(rb"\r?\n\r?\n")
CHUNK_SIZE = re.compile(rb"[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a framing value cannot be trusted: an anomaly code and the words after the role."""

    code: str
    detail: str


class Head:
    """A parsed start line and header block, waiting for its body."""

    __slots__ = ("start", "version", "status", "reason", "headers", "frame", "ts")

    def __init__(
        self,
        start: tuple[str, str],
        version: str,
        status: int | None,
        headers: list[tuple[str, str]],
        frame: int,
        ts: float,
    ) -> None:
        self.start = start
        """(method, target) for a request, ("", reason) for a response."""
        self.version = version
        self.status = status
        self.headers = headers
        self.frame = frame
        self.ts = ts

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]

    def message(
        self,
        body: HttpBody,
        trailers: list[tuple[str, str]],
        end_frame: int,
        end_ts: float,
        interim: list[int],
    ) -> HttpRequest | HttpResponse:
        """The whole message, once its body is read (trailers join the headers)."""
        headers = tuple(self.headers) + tuple(trailers)
        if self.status is None:
            return HttpRequest(
                method=self.start[0],
                target=self.start[1],
                version=self.version,
                headers=headers,
                body=body,
                frame=self.frame,
                ts=self.ts,
                end_frame=end_frame,
                end_ts=end_ts,
            )
        return HttpResponse(
            status=self.status,
            reason=self.start[1],
            version=self.version,
            headers=headers,
            body=body,
            frame=self.frame,
            ts=self.ts,
            end_frame=end_frame,
            end_ts=end_ts,
            interim=tuple(interim),
        )


def parse_start_line(role: Role, line: bytes, frame: int, ts: float) -> Head | None:
    """A request line (``role`` request) or a status line, or None when ``line`` is not one."""
    text = line.strip(b" \t")
    if role == "request":
        match = REQUEST_LINE.fullmatch(text)
        if match is None:
            return None
        method = match.group(1).decode("latin-1")
        target = match.group(2).decode("latin-1")
        return Head((method, target), match.group(3).decode(), None, [], frame, ts)
    match = STATUS_LINE.fullmatch(text)
    if match is None:
        return None
    reason = (match.group(3) or b"").decode("latin-1").strip()
    return Head(("", reason), match.group(1).decode(), int(match.group(2)), [], frame, ts)


def parse_header_lines(lines: list[bytes]) -> tuple[list[tuple[str, str]], list[bytes]]:
    """Header fields in order (obs-fold joined), and the lines that have no name (their
    first 80 bytes)."""
    headers: list[tuple[str, str]] = []
    nameless: list[bytes] = []
    for raw in lines:
        if raw[:1] in (b" ", b"\t") and headers:
            # obs-fold: a continuation of the previous header's value.
            previous_name, previous_value = headers[-1]
            folded = f"{previous_value} {raw.strip().decode('latin-1')}".strip()
            headers[-1] = (previous_name, folded)
            continue
        name, colon, value = raw.partition(b":")
        if not colon or not name.strip():
            if raw.strip():
                nameless.append(raw[:80])
            continue
        headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
    return headers, nameless


def content_length(values: list[str]) -> int | Problem:
    """The one length all Content-Length values agree on, or why none can be trusted."""
    for value in values:
        if not value.isdigit() or not value.isascii():
            return Problem(
                "http.bad-content-length",
                f"Content-Length {value!r} is not a non-negative integer",
            )
    numbers = {int(value) for value in values}
    if len(numbers) > 1:
        return Problem(
            "http.conflicting-content-length",
            f"carries different Content-Length values: {', '.join(values)}",
        )
    length = numbers.pop()
    if length > MAX_CONTENT_LENGTH:
        return Problem(
            "http.content-length-overflow",
            f"Content-Length {length} does not fit in 63 bits",
        )
    return length


def chunk_size(line: bytes) -> int | Problem:
    """The size on a chunk-size line (extensions ignored), or why it cannot be trusted."""
    match = CHUNK_SIZE.fullmatch(line)
    if match is None:
        return Problem("http.bad-chunk-size", f"chunk-size line {line[:80]!r}")
    digits = match.group(1).lstrip(b"0") or b"0"
    if len(digits) > 16 or int(digits, 16) > MAX_CONTENT_LENGTH:
        return Problem(
            "http.chunk-size-overflow",
            f"chunk size {match.group(1)[:40].decode()} does not fit in 63 bits",
        )
    return int(digits, 16)
