"""The decoder's header walk as offsets: where a frame's link, IP and transport headers are.

:class:`~capinspect.decode.decoder.Decoder` walks headers to build packets and keeps no
offsets; the tools that rewrite frames in place or pick them by connection (``analyze
--evidence``, ``report/evidence.py``) need the offsets instead. They walk with these two
functions, which follow the decoder's rules for the link layers (Ethernet with any depth of
VLAN tags, Linux cooked v1/v2, raw IP, BSD loopback) and IPv4/IPv6.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from capinspect.decode.decoder import VLAN_TPIDS


@dataclass(frozen=True, slots=True)
class LinkHeaders:
    link_macs: tuple[int, ...]
    """Offsets of the 6-byte MAC addresses of the link header."""
    l3: int
    ethertype: int


def link_headers(linktype: int, data: bytes) -> LinkHeaders | None:
    size = len(data)
    if linktype == 1:
        if size < 14:
            return None
        offset = 12
        ethertype = int.from_bytes(data[12:14], "big")
        while ethertype in VLAN_TPIDS and size >= offset + 6:
            offset += 4
            ethertype = int.from_bytes(data[offset : offset + 2], "big")
        return LinkHeaders((0, 6), offset + 2, ethertype)
    if linktype == 113 and size >= 16:
        macs = (6,) if int.from_bytes(data[4:6], "big") == 6 else ()
        return LinkHeaders(macs, 16, int.from_bytes(data[14:16], "big"))
    if linktype == 276 and size >= 20:
        macs = (12,) if data[11] == 6 else ()
        return LinkHeaders(macs, 20, int.from_bytes(data[0:2], "big"))
    if linktype in (101, 228, 229) and size >= 1:
        return LinkHeaders((), 0, 0x0800 if data[0] >> 4 == 4 else 0x86DD)
    if linktype == 0 and size >= 4:
        family = int.from_bytes(data[0:4], "little")
        if family > 0xFFFF:
            family = int.from_bytes(data[0:4], "big")
        return LinkHeaders((), 4, 0x0800 if family == 2 else 0x86DD)
    return None


@dataclass(frozen=True, slots=True)
class IpHeaders:
    src: bytes
    dst: bytes
    proto: int
    sport: int
    dport: int
    l4: int
    """Offset of the UDP/TCP header, or -1 for a later fragment (no ports)."""


def ip_headers(data: bytes, head: LinkHeaders) -> IpHeaders | None:
    l3 = head.l3
    if head.ethertype == 0x0800 and len(data) >= l3 + 20 and data[l3] >> 4 == 4:
        ihl = (data[l3] & 0x0F) * 4
        proto = data[l3 + 9]
        fragment_offset = int.from_bytes(data[l3 + 6 : l3 + 8], "big") & 0x1FFF
        src, dst = data[l3 + 12 : l3 + 16], data[l3 + 16 : l3 + 20]
        l4 = l3 + ihl
    elif head.ethertype == 0x86DD and len(data) >= l3 + 40 and data[l3] >> 4 == 6:
        proto = data[l3 + 6]
        fragment_offset = 0
        src, dst = data[l3 + 8 : l3 + 24], data[l3 + 24 : l3 + 40]
        l4 = l3 + 40
    else:
        return None
    if proto not in (6, 17) or fragment_offset or len(data) < l4 + 4:
        return IpHeaders(src, dst, proto, 0, 0, -1)
    sport, dport = struct.unpack_from("!HH", data, l4)
    return IpHeaders(src, dst, proto, sport, dport, l4)
