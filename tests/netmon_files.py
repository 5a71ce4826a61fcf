"""Hand-made Microsoft Network Monitor capture files, laid out as wiretap/netmon.c reads them.

Used where editcap cannot help: editcap writes only versions 1.1, 2.0 and (with several link
types) 2.1, never the 2.2/2.3 trailers, NetMon-only media types or damage.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

EPOCH_1601 = 116_444_736_000_000_000


@dataclass
class Frame:
    data: bytes
    offset_us: int = 0
    """2.x: microseconds after the header's start time; 1.x: milliseconds."""
    media: int = 1
    orig_len: int | None = None
    filetime: int | None = None
    """2.3: the frame's own UTC time, 100 ns units since 1601."""


def systemtime(year: int, month: int, day: int, hour: int, minute: int, sec: int, ms: int) -> bytes:
    return struct.pack("<8H", year, month, 0, day, hour, minute, sec, ms)


def netmon_file(
    frames: list[Frame],
    *,
    major: int = 2,
    minor: int = 1,
    media: int = 1,
    start: bytes = systemtime(2026, 11, 29, 6, 39, 44, 250),
    table: bool = True,
    table_at: int | None = None,
    table_len: int | None = None,
    offsets: list[int] | None = None,
) -> bytes:
    """A NetMon file of ``frames``; ``table_at``/``table_len``/``offsets`` override what the
    header and frame table say (for damage)."""
    body = bytearray()
    found: list[int] = []
    for frame in frames:
        found.append(128 + len(body))
        orig = len(frame.data) if frame.orig_len is None else frame.orig_len
        if major == 1:
            body += struct.pack("<IHH", frame.offset_us, orig, len(frame.data))
        else:
            body += struct.pack("<QII", frame.offset_us, orig, len(frame.data))
        body += frame.data
        if major == 2 and minor >= 1:
            body += struct.pack("<H", frame.media)
        if major == 2 and minor >= 2:
            body += struct.pack("<I", 0)
        if major == 2 and minor >= 3:
            body += struct.pack("<QB", frame.filetime or 0, 0)
    listed = found if offsets is None else offsets
    at = 128 + len(body)
    entries = struct.pack(f"<{len(listed)}I", *listed)
    header = b"GMBU" if major == 2 else b"RTSS"
    header += struct.pack("<BBH", minor, major, media) + start
    header += struct.pack(
        "<II",
        (at if table else 0) if table_at is None else table_at,
        (len(entries) if table else 0) if table_len is None else table_len,
    )
    header = header.ljust(128, b"\0")
    return header + bytes(body) + (entries if table else b"")
