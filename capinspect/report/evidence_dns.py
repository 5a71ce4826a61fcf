"""DNS messages inside evidence payloads: their addresses and names rewritten in place.

For ``--evidence --redact`` (evidence_redact.py): a DNS message's A/AAAA record data and the
labels of every name it holds (question, owner names, and the names inside NS, CNAME, PTR, MX
and SRV data) are replaced where they stand, at the same length, so no length in the message
moves. Compression pointers are not followed: the name they point to is rewritten where it is.
Walks are bounded (128 labels a name, 64 questions, 256 records) and stop at the first thing
that does not fit.
"""

from __future__ import annotations

import struct
from collections.abc import Callable


def _skip_name(data: bytes | bytearray, at: int, end: int) -> int:
    for _ in range(128):
        if at >= end:
            return -1
        size = data[at]
        if size == 0:
            return at + 1
        if size & 0xC0 == 0xC0:
            return at + 2
        at += 1 + size
    return -1


def dns_addresses(buf: bytearray, start: int, end: int, rewrite: Callable[[bytes], bytes]) -> None:
    """Rewrite the A/AAAA record data of the DNS message at ``buf[start:end]`` in place."""
    if end - start < 12:
        return
    qd, an, ns, ar = struct.unpack_from("!HHHH", buf, start + 4)
    at = start + 12
    for _ in range(min(qd, 64)):
        at = _skip_name(buf, at, end)
        if at < 0 or at + 4 > end:
            return
        at += 4
    for _ in range(min(an + ns + ar, 256)):
        at = _skip_name(buf, at, end)
        if at < 0 or at + 10 > end:
            return
        rtype, _cls, _ttl, size = struct.unpack_from("!HHIH", buf, at)
        at += 10
        if at + size > end:
            return
        if (rtype == 1 and size == 4) or (rtype == 28 and size == 16):
            buf[at : at + size] = rewrite(bytes(buf[at : at + size]))
        at += size


def _labels(buf: bytearray, at: int, end: int, replace: Callable[[bytes], bytes | None]) -> int:
    """Rewrite the labels of the name at ``at`` in place (pointers are not followed: the name
    they point to is rewritten where it stands); the offset after the name, or -1."""
    for _ in range(128):
        if at >= end:
            return -1
        size = buf[at]
        if size == 0:
            return at + 1
        if size & 0xC0 == 0xC0:
            return at + 2
        if size & 0xC0 or at + 1 + size > end:
            return -1
        new = replace(bytes(buf[at + 1 : at + 1 + size]))
        if new is not None and len(new) == size:
            buf[at + 1 : at + 1 + size] = new
        at += 1 + size
    return -1


_NAME_RDATA = {2: 0, 5: 0, 12: 0, 15: 2, 33: 6}
"""Record types whose data holds a name, and its offset (NS, CNAME, PTR, MX, SRV)."""


def dns_short_labels(
    buf: bytearray, start: int, end: int, replace: Callable[[bytes], bytes | None]
) -> None:
    """Rewrite the labels of every name in the DNS message at ``buf[start:end]`` in place."""
    if end - start < 12:
        return
    qd, an, ns, ar = struct.unpack_from("!HHHH", buf, start + 4)
    at = start + 12
    for _ in range(min(qd, 64)):
        at = _labels(buf, at, end, replace)
        if at < 0 or at + 4 > end:
            return
        at += 4
    for _ in range(min(an + ns + ar, 256)):
        at = _labels(buf, at, end, replace)
        if at < 0 or at + 10 > end:
            return
        rtype, _cls, _ttl, size = struct.unpack_from("!HHIH", buf, at)
        at += 10
        if at + size > end:
            return
        if rtype in _NAME_RDATA and size > _NAME_RDATA[rtype]:
            _labels(buf, at + _NAME_RDATA[rtype], at + size, replace)
        at += size
