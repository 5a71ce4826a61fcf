"""Writing pcapng: the one writer for every capture capinspect produces.

Two users: the live mode's evidence ring (``sources/ring.py``) and ``analyze --evidence``
(``report/evidence.py``). Only pcapng carries a comment per packet (EPB ``opt_comment``),
which both use to say why a frame is there. The writer is deliberately small — a section
header, interface descriptions, enhanced packet blocks with microsecond timestamps — and
depends on nothing, so the live mode does not wait for the report modules.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_OPT_END = 0
_OPT_COMMENT = 1
_IF_NAME = 2
_SHB_USERAPPL = 4
_IF_TSRESOL = 9


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def _options(items: Iterable[tuple[int, bytes]]) -> bytes:
    """An option list closed by opt_endofopt; nothing at all when there is no option."""
    body = b"".join(_option(code, value) for code, value in items)
    return body + _option(_OPT_END, b"") if body else b""


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def section_header(application: str, comment: str | None = None) -> bytes:
    """A section header block (little-endian, version 1.0, section length unknown)."""
    items = [(_OPT_COMMENT, comment.encode())] if comment else []
    items.append((_SHB_USERAPPL, application.encode()))
    return _block(_SHB, struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1) + _options(items))


def interface_block(linktype: int, snaplen: int = 0, name: str | None = None) -> bytes:
    """An interface description block; with ``name``, its name and a microsecond resolution
    (the default resolution is microseconds too)."""
    items = [(_IF_NAME, name.encode()), (_IF_TSRESOL, b"\x06")] if name else []
    return _block(_IDB, struct.pack("<HHI", linktype, 0, snaplen) + _options(items))


def packet_block(
    interface: int, ts: float, data: bytes, orig_len: int, comments: Iterable[str] = ()
) -> bytes:
    """An enhanced packet block, timestamp in microseconds, one opt_comment per comment."""
    micros = min(max(round(ts * 1_000_000), 0), (1 << 64) - 1)
    head = struct.pack(
        "<IIIII", interface, micros >> 32, micros & 0xFFFFFFFF, len(data), max(orig_len, len(data))
    )
    body = head + data + b"\x00" * (-len(data) % 4)
    return _block(_EPB, body + _options((_OPT_COMMENT, c.encode("utf-8")) for c in comments))
