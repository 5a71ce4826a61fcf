"""A bounded cursor over wire bytes, so no parser ever indexes past what a length announced.

Every TLV in capinspect (DHCP options, option-43 sub-options, option-120 name lists, DNS
headers) is read through :class:`WireReader`. The reader keeps a current ``end``; reading past it
raises :class:`~capinspect.errors.Truncated` instead of silently returning short slices (what
``bytes[a:b]`` does) or an ``IndexError`` (what ``bytes[i]`` does). ``restrict_to(length)``
narrows ``end`` to one TLV value for the duration of a ``with`` block, as dnspython's
``dns.wirebase.Parser.restrict_to`` does, so a sub-parser cannot wander into the next TLV.

The reader never raises anything but ``Truncated``/``Malformed``; callers catch those at their
boundary and turn them into an :class:`~capinspect.model.Anomaly`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager

from capinspect.errors import Malformed, Truncated

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
MAX_NAME_LEN = 255
"""RFC 1035 §2.3.4: a domain name in wire form is at most 255 bytes."""


class WireReader:
    """Sequential reads over ``data[offset:end]`` that refuse to run past ``end``."""

    __slots__ = ("_data", "_offset", "_end")

    def __init__(self, data: bytes, offset: int = 0, end: int | None = None) -> None:
        limit = len(data) if end is None else end
        if not 0 <= offset <= limit <= len(data):
            raise Malformed(f"reader window {offset}..{limit} outside {len(data)} bytes", offset)
        self._data = data
        self._offset = offset
        self._end = limit

    @property
    def data(self) -> bytes:
        """The whole buffer (offsets such as compression pointers are relative to it)."""
        return self._data

    @property
    def offset(self) -> int:
        """Position of the next byte to read, counted from the start of :attr:`data`."""
        return self._offset

    @property
    def end(self) -> int:
        """Position just past the last byte this reader may read."""
        return self._end

    def remaining(self) -> int:
        return self._end - self._offset

    def at_end(self) -> bool:
        return self._offset >= self._end

    def _take(self, count: int) -> int:
        """Reserve ``count`` bytes and return where they start."""
        if count < 0:
            raise Malformed(f"negative length {count}", self._offset)
        if count > self._end - self._offset:
            raise Truncated(
                f"{count} bytes needed at offset {self._offset} but only "
                f"{self._end - self._offset} remain",
                self._offset,
            )
        start = self._offset
        self._offset += count
        return start

    def u8(self) -> int:
        start = self._take(1)
        return self._data[start]

    def u16(self) -> int:
        start = self._take(2)
        value: int = _U16.unpack_from(self._data, start)[0]
        return value

    def u32(self) -> int:
        start = self._take(4)
        value: int = _U32.unpack_from(self._data, start)[0]
        return value

    def peek_u8(self) -> int:
        """The next byte without consuming it."""
        if self._offset >= self._end:
            raise Truncated(f"no byte left at offset {self._offset}", self._offset)
        return self._data[self._offset]

    def read(self, count: int) -> bytes:
        start = self._take(count)
        return self._data[start : start + count]

    def read_rest(self) -> bytes:
        """Every byte up to ``end`` (possibly none)."""
        return self.read(self._end - self._offset)

    def skip(self, count: int) -> None:
        self._take(count)

    @contextmanager
    def restrict_to(self, length: int) -> Iterator[None]:
        """Limit reads to the next ``length`` bytes while the block runs.

        Raises ``Truncated`` at once when fewer than ``length`` bytes remain (the TLV announced
        more than the buffer holds). When the block ends normally the cursor moves to the end of
        the window, so bytes the block did not need are skipped, never read as the next TLV.
        """
        if length < 0:
            raise Malformed(f"negative length {length}", self._offset)
        if length > self._end - self._offset:
            raise Truncated(
                f"length {length} at offset {self._offset} runs past the end "
                f"({self._end - self._offset} bytes remain)",
                self._offset,
            )
        saved_end = self._end
        window_end = self._offset + length
        self._end = window_end
        try:
            yield
        finally:
            self._end = saved_end
        self._offset = window_end


_PLAIN_LABEL_BYTES = bytes(b for b in range(0x21, 0x7F) if b not in (0x2E, 0x5C))
"""Bytes that stand for themselves in a label's presentation form (see :func:`label_text`)."""


def plain_name(data: bytes, start: int) -> str | None:
    """:func:`read_name`'s name for the common case, quickly: labels of plain printable bytes,
    no compression pointer, a root label before the end. None for anything else (the caller
    then uses :func:`read_name`, which also explains what is wrong).

    Why: the DNS tracker reads the question of every DNS message on a mirror port to decide
    whether it concerns a phone, and most are not worth more than this."""
    labels: list[str] = []
    pos = start
    end = len(data)
    while pos < end:
        length = data[pos]
        if length == 0:
            return ".".join(labels)
        stop = pos + 1 + length
        if length > 63 or stop > end:
            return None
        label = data[pos + 1 : stop]
        if label.translate(None, _PLAIN_LABEL_BYTES):
            return None
        labels.append(label.decode("ascii"))
        pos = stop
    return None


def label_text(label: bytes) -> str:
    """A label in presentation form, escaping what is not a plain printable character."""
    out = []
    for b in label:
        if b in (0x2E, 0x5C):  # '.' and '\' must be escaped inside a label
            out.append("\\" + chr(b))
        elif 0x21 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return "".join(out)


def read_name(data: bytes, start: int) -> tuple[str, int, bool]:
    """Read one RFC 1035 name at ``start`` of ``data``.

    Returns (name, offset just past the name in the original position, terminated). Pointers
    are offsets into ``data``; each must point strictly before the previous one (dnspython's
    rule), so a loop of pointers cannot make this run forever. ``terminated`` is False when the
    data ends before a root label (tolerated: some encoders omit it).
    """
    reader = WireReader(data, start)
    labels: list[str] = []
    wire_len = 1
    resume: int | None = None
    lowest_pointer = start
    while True:
        if reader.at_end():
            return ".".join(labels), resume if resume is not None else reader.offset, False
        length = reader.u8()
        if length == 0:
            break
        kind = length & 0xC0
        if kind == 0xC0:
            target = ((length & 0x3F) << 8) | reader.u8()
            if resume is None:
                resume = reader.offset
            if target >= lowest_pointer:
                raise Malformed(
                    f"compression pointer to offset {target} does not point backwards "
                    f"(must be below {lowest_pointer})",
                    reader.offset - 2,
                )
            lowest_pointer = target
            reader = WireReader(data, target)
            continue
        if kind != 0:
            raise Malformed(f"unsupported label type 0x{kind:02x}", reader.offset - 1)
        label = reader.read(length)
        wire_len += length + 1
        if wire_len > MAX_NAME_LEN:
            raise Malformed(f"name longer than {MAX_NAME_LEN} bytes", reader.offset)
        labels.append(label_text(label))
    return ".".join(labels), resume if resume is not None else reader.offset, True
