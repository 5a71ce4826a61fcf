"""The default capture filter of ``capinspect live``, compiled once, shipped as data.

Why: ``capinspect live`` must run on a machine with neither libpcap nor tcpdump (a fresh
Linux install has neither). Only a user's own ``--filter`` needs a compiler.

The shipped program is three parts: a short prologue of our own, and two programs generated
with ``tcpdump version 4.99.3`` (libpcap version 1.10.3 (with TPACKET_V3)) as::

    tcpdump -y EN10MB -s 262144 -ddd -- "$(python -c 'from capinspect.sources.live import \
        DEFAULT_FILTER; print(DEFAULT_FILTER)')"          # EN10MB_OUTER (same for INNER_FILTER)

* the prologue recognises the envelopes a remote mirror session sends most — Cisco ERSPAN
  type II (GRE with only its sequence number, protocol 0x88BE, ERSPAN version 1) and VXLAN
  (UDP to 4789 from a port other than 53/67/68/123, I flag set), both over IPv4 without options or
  fragmentation — whose frame inside starts at the fixed offset :data:`INNER_OFFSET`, and jumps
  to the inner program;
* ``EN10MB_OUTER`` (``live.DEFAULT_FILTER``) judges every other frame: what may matter to a
  phone, and every other envelope (GRE, VXLAN over IPv6, tagged envelopes), which the decoder
  opens;
* ``EN10MB_INNER`` (``live.INNER_FILTER``, the same rules without the envelopes) with every
  packet offset moved by :data:`INNER_OFFSET` (:func:`relocate`) judges the frame inside.

So on a remote mirror, as on a local one, only what may matter reaches Python; plain traffic
pays the prologue's first compares (about ten instructions) before the filter it had before.

Link types: ``capinspect live`` opens Ethernet (ARPHRD_ETHER) and loopback (ARPHRD_LOOPBACK)
interfaces, and the kernel gives both with a 14-byte Ethernet header, so the one ``EN10MB``
program serves both. tests/sources/test_bpf_programs.py recompiles both filters with tcpdump
and with libpcap where they are installed and requires these very programs; after a change to
a filter it prints the new one to paste here. Until then live compiles the new text
(:func:`precompiled` only answers for the exact text below).
"""

from __future__ import annotations

from capinspect.sources.bpf import DLT_EN10MB, Instruction

FILTER = (
    "udp port 67 or udp port 68 or port 53 or udp port 123 or tcp port 80 or tcp port 443 or arp "
    "or (ip[6:2] & 0x1fff != 0) or ip proto 47 or ip6 proto 47 or udp dst port 4789 or (vlan and "
    "(udp port 67 or udp port 68 or port 53 or udp port 123 or tcp port 80 or tcp port 443 or arp"
    " or (ip[6:2] & 0x1fff != 0) or ip proto 47 or ip6 proto 47 or udp dst port 4789 or (vlan and"
    " (udp port 67 or udp port 68 or port 53 or udp port 123 or tcp port 80 or tcp port 443 or "
    "arp or (ip[6:2] & 0x1fff != 0) or ip proto 47 or ip6 proto 47 or udp dst port 4789))))"
)
"""The filter text of ``EN10MB_OUTER`` (``capinspect.sources.live.DEFAULT_FILTER``)."""
INNER_FILTER = (
    "udp port 67 or udp port 68 or port 53 or udp port 123 or tcp port 80 or tcp port 443 or arp "
    "or (ip[6:2] & 0x1fff != 0) or (vlan and (udp port 67 or udp port 68 or port 53 or udp port "
    "123 or tcp port 80 or tcp port 443 or arp or (ip[6:2] & 0x1fff != 0) or (vlan and (udp port "
    "67 or udp port 68 or port 53 or udp port 123 or tcp port 80 or tcp port 443 or arp or "
    "(ip[6:2] & 0x1fff != 0)))))"
)
"""The filter text of ``EN10MB_INNER`` (``capinspect.sources.live.INNER_FILTER``)."""
SNAPLEN = 262144
"""The snapshot length given to tcpdump (``-s``): the return value of an accepting branch."""
INNER_OFFSET = 14 + 20 + 8 + 8
"""Where the mirrored frame starts behind Ethernet, IPv4 without options and either GRE with a
sequence number and the 8-byte ERSPAN II header, or UDP and the 8-byte VXLAN header."""

EN10MB_OUTER: tuple[Instruction, ...] = (
    (40, 0, 0, 12),
    (21, 0, 25, 34525),
    (48, 0, 0, 20),
    (21, 0, 7, 17),
    (40, 0, 0, 54),
    (21, 228, 0, 67),
    (21, 227, 0, 68),
    (21, 226, 0, 53),
    (21, 225, 0, 123),
    (40, 0, 0, 56),
    (21, 223, 154, 67),
    (21, 0, 4, 132),
    (40, 0, 0, 54),
    (21, 220, 0, 53),
    (40, 0, 0, 56),
    (21, 218, 219, 53),
    (21, 0, 6, 6),
    (40, 0, 0, 54),
    (21, 215, 0, 53),
    (21, 214, 0, 80),
    (21, 213, 0, 443),
    (40, 0, 0, 56),
    (21, 211, 158, 53),
    (21, 210, 0, 47),
    (21, 0, 210, 44),
    (48, 0, 0, 54),
    (21, 207, 208, 47),
    (21, 0, 45, 2048),
    (48, 0, 0, 23),
    (21, 0, 13, 17),
    (40, 0, 0, 20),
    (69, 31, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 199, 0, 67),
    (21, 198, 0, 68),
    (21, 197, 0, 53),
    (21, 196, 0, 123),
    (72, 0, 0, 16),
    (21, 194, 0, 67),
    (21, 193, 0, 68),
    (21, 192, 0, 53),
    (21, 191, 20, 123),
    (21, 0, 7, 132),
    (40, 0, 0, 20),
    (69, 17, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 185, 0, 53),
    (72, 0, 0, 16),
    (21, 183, 12, 53),
    (21, 0, 11, 6),
    (40, 0, 0, 20),
    (69, 9, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 177, 0, 53),
    (21, 176, 0, 80),
    (21, 175, 0, 443),
    (72, 0, 0, 16),
    (21, 173, 0, 53),
    (21, 172, 0, 80),
    (21, 171, 0, 443),
    (40, 0, 0, 20),
    (69, 169, 0, 8191),
    (48, 0, 0, 23),
    (21, 167, 0, 47),
    (21, 0, 167, 17),
    (40, 0, 0, 20),
    (69, 165, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 16),
    (21, 161, 162, 4789),
    (21, 160, 0, 2054),
    (21, 2, 0, 33024),
    (21, 1, 0, 34984),
    (21, 0, 158, 37120),
    (40, 0, 0, 16),
    (21, 0, 25, 34525),
    (48, 0, 0, 24),
    (21, 0, 7, 17),
    (40, 0, 0, 58),
    (21, 151, 0, 67),
    (21, 150, 0, 68),
    (21, 149, 0, 53),
    (21, 148, 0, 123),
    (40, 0, 0, 60),
    (21, 146, 77, 67),
    (21, 0, 4, 132),
    (40, 0, 0, 58),
    (21, 143, 0, 53),
    (40, 0, 0, 60),
    (21, 141, 142, 53),
    (21, 0, 6, 6),
    (40, 0, 0, 58),
    (21, 138, 0, 53),
    (21, 137, 0, 80),
    (21, 136, 0, 443),
    (40, 0, 0, 60),
    (21, 134, 81, 53),
    (21, 133, 0, 47),
    (21, 0, 133, 44),
    (48, 0, 0, 58),
    (21, 130, 131, 47),
    (21, 0, 45, 2048),
    (48, 0, 0, 27),
    (21, 0, 13, 17),
    (40, 0, 0, 24),
    (69, 31, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 122, 0, 67),
    (21, 121, 0, 68),
    (21, 120, 0, 53),
    (21, 119, 0, 123),
    (72, 0, 0, 20),
    (21, 117, 0, 67),
    (21, 116, 0, 68),
    (21, 115, 0, 53),
    (21, 114, 20, 123),
    (21, 0, 7, 132),
    (40, 0, 0, 24),
    (69, 17, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 108, 0, 53),
    (72, 0, 0, 20),
    (21, 106, 12, 53),
    (21, 0, 11, 6),
    (40, 0, 0, 24),
    (69, 9, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 100, 0, 53),
    (21, 99, 0, 80),
    (21, 98, 0, 443),
    (72, 0, 0, 20),
    (21, 96, 0, 53),
    (21, 95, 0, 80),
    (21, 94, 0, 443),
    (40, 0, 0, 24),
    (69, 92, 0, 8191),
    (48, 0, 0, 27),
    (21, 90, 0, 47),
    (21, 0, 90, 17),
    (40, 0, 0, 24),
    (69, 88, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 20),
    (21, 84, 85, 4789),
    (21, 83, 0, 2054),
    (21, 2, 0, 33024),
    (21, 1, 0, 34984),
    (21, 0, 81, 37120),
    (40, 0, 0, 20),
    (21, 0, 31, 34525),
    (48, 0, 0, 28),
    (21, 0, 11, 17),
    (40, 0, 0, 62),
    (21, 74, 0, 67),
    (21, 73, 0, 68),
    (21, 72, 0, 53),
    (21, 71, 0, 123),
    (40, 0, 0, 64),
    (21, 69, 0, 67),
    (21, 68, 0, 68),
    (21, 67, 0, 53),
    (21, 66, 0, 123),
    (21, 65, 66, 4789),
    (21, 0, 4, 132),
    (40, 0, 0, 62),
    (21, 62, 0, 53),
    (40, 0, 0, 64),
    (21, 60, 61, 53),
    (21, 0, 8, 6),
    (40, 0, 0, 62),
    (21, 57, 0, 53),
    (21, 56, 0, 80),
    (21, 55, 0, 443),
    (40, 0, 0, 64),
    (21, 53, 0, 53),
    (21, 52, 0, 80),
    (21, 51, 52, 443),
    (21, 50, 0, 47),
    (21, 0, 50, 44),
    (48, 0, 0, 62),
    (21, 47, 48, 47),
    (21, 0, 45, 2048),
    (48, 0, 0, 31),
    (21, 0, 13, 17),
    (40, 0, 0, 28),
    (69, 31, 0, 8191),
    (177, 0, 0, 22),
    (72, 0, 0, 22),
    (21, 39, 0, 67),
    (21, 38, 0, 68),
    (21, 37, 0, 53),
    (21, 36, 0, 123),
    (72, 0, 0, 24),
    (21, 34, 0, 67),
    (21, 33, 0, 68),
    (21, 32, 0, 53),
    (21, 31, 20, 123),
    (21, 0, 7, 132),
    (40, 0, 0, 28),
    (69, 17, 0, 8191),
    (177, 0, 0, 22),
    (72, 0, 0, 22),
    (21, 25, 0, 53),
    (72, 0, 0, 24),
    (21, 23, 12, 53),
    (21, 0, 11, 6),
    (40, 0, 0, 28),
    (69, 9, 0, 8191),
    (177, 0, 0, 22),
    (72, 0, 0, 22),
    (21, 17, 0, 53),
    (21, 16, 0, 80),
    (21, 15, 0, 443),
    (72, 0, 0, 24),
    (21, 13, 0, 53),
    (21, 12, 0, 80),
    (21, 11, 0, 443),
    (40, 0, 0, 28),
    (69, 9, 0, 8191),
    (48, 0, 0, 31),
    (21, 7, 0, 47),
    (21, 0, 7, 17),
    (40, 0, 0, 28),
    (69, 5, 0, 8191),
    (177, 0, 0, 22),
    (72, 0, 0, 24),
    (21, 1, 2, 4789),
    (21, 0, 1, 2054),
    (6, 0, 0, 262144),
    (6, 0, 0, 0),
)

EN10MB_INNER: tuple[Instruction, ...] = (
    (40, 0, 0, 12),
    (21, 0, 21, 34525),
    (48, 0, 0, 20),
    (21, 0, 7, 17),
    (40, 0, 0, 54),
    (21, 191, 0, 67),
    (21, 190, 0, 68),
    (21, 189, 0, 53),
    (21, 188, 0, 123),
    (40, 0, 0, 56),
    (21, 186, 130, 67),
    (21, 0, 4, 132),
    (40, 0, 0, 54),
    (21, 183, 0, 53),
    (40, 0, 0, 56),
    (21, 181, 182, 53),
    (21, 0, 181, 6),
    (40, 0, 0, 54),
    (21, 178, 0, 53),
    (21, 177, 0, 80),
    (21, 176, 0, 443),
    (40, 0, 0, 56),
    (21, 174, 133, 53),
    (21, 0, 37, 2048),
    (48, 0, 0, 23),
    (21, 0, 13, 17),
    (40, 0, 0, 20),
    (69, 31, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 166, 0, 67),
    (21, 165, 0, 68),
    (21, 164, 0, 53),
    (21, 163, 0, 123),
    (72, 0, 0, 16),
    (21, 161, 0, 67),
    (21, 160, 0, 68),
    (21, 159, 0, 53),
    (21, 158, 20, 123),
    (21, 0, 7, 132),
    (40, 0, 0, 20),
    (69, 17, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 152, 0, 53),
    (72, 0, 0, 16),
    (21, 150, 12, 53),
    (21, 0, 11, 6),
    (40, 0, 0, 20),
    (69, 9, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 144, 0, 53),
    (21, 143, 0, 80),
    (21, 142, 0, 443),
    (72, 0, 0, 16),
    (21, 140, 0, 53),
    (21, 139, 0, 80),
    (21, 138, 0, 443),
    (40, 0, 0, 20),
    (69, 136, 137, 8191),
    (21, 135, 0, 2054),
    (21, 2, 0, 33024),
    (21, 1, 0, 34984),
    (21, 0, 133, 37120),
    (40, 0, 0, 16),
    (21, 0, 21, 34525),
    (48, 0, 0, 24),
    (21, 0, 7, 17),
    (40, 0, 0, 58),
    (21, 126, 0, 67),
    (21, 125, 0, 68),
    (21, 124, 0, 53),
    (21, 123, 0, 123),
    (40, 0, 0, 60),
    (21, 121, 65, 67),
    (21, 0, 4, 132),
    (40, 0, 0, 58),
    (21, 118, 0, 53),
    (40, 0, 0, 60),
    (21, 116, 117, 53),
    (21, 0, 116, 6),
    (40, 0, 0, 58),
    (21, 113, 0, 53),
    (21, 112, 0, 80),
    (21, 111, 0, 443),
    (40, 0, 0, 60),
    (21, 109, 68, 53),
    (21, 0, 37, 2048),
    (48, 0, 0, 27),
    (21, 0, 13, 17),
    (40, 0, 0, 24),
    (69, 31, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 101, 0, 67),
    (21, 100, 0, 68),
    (21, 99, 0, 53),
    (21, 98, 0, 123),
    (72, 0, 0, 20),
    (21, 96, 0, 67),
    (21, 95, 0, 68),
    (21, 94, 0, 53),
    (21, 93, 20, 123),
    (21, 0, 7, 132),
    (40, 0, 0, 24),
    (69, 17, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 87, 0, 53),
    (72, 0, 0, 20),
    (21, 85, 12, 53),
    (21, 0, 11, 6),
    (40, 0, 0, 24),
    (69, 9, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 79, 0, 53),
    (21, 78, 0, 80),
    (21, 77, 0, 443),
    (72, 0, 0, 20),
    (21, 75, 0, 53),
    (21, 74, 0, 80),
    (21, 73, 0, 443),
    (40, 0, 0, 24),
    (69, 71, 72, 8191),
    (21, 70, 0, 2054),
    (21, 2, 0, 33024),
    (21, 1, 0, 34984),
    (21, 0, 68, 37120),
    (40, 0, 0, 20),
    (21, 0, 26, 34525),
    (48, 0, 0, 28),
    (21, 0, 10, 17),
    (40, 0, 0, 62),
    (21, 61, 0, 67),
    (21, 60, 0, 68),
    (21, 59, 0, 53),
    (21, 58, 0, 123),
    (40, 0, 0, 64),
    (21, 56, 0, 67),
    (21, 55, 0, 68),
    (21, 54, 0, 53),
    (21, 53, 54, 123),
    (21, 0, 4, 132),
    (40, 0, 0, 62),
    (21, 50, 0, 53),
    (40, 0, 0, 64),
    (21, 48, 49, 53),
    (21, 0, 48, 6),
    (40, 0, 0, 62),
    (21, 45, 0, 53),
    (21, 44, 0, 80),
    (21, 43, 0, 443),
    (40, 0, 0, 64),
    (21, 41, 0, 53),
    (21, 40, 0, 80),
    (21, 39, 40, 443),
    (21, 0, 37, 2048),
    (48, 0, 0, 31),
    (21, 0, 13, 17),
    (40, 0, 0, 28),
    (69, 31, 0, 8191),
    (177, 0, 0, 22),
    (72, 0, 0, 22),
    (21, 31, 0, 67),
    (21, 30, 0, 68),
    (21, 29, 0, 53),
    (21, 28, 0, 123),
    (72, 0, 0, 24),
    (21, 26, 0, 67),
    (21, 25, 0, 68),
    (21, 24, 0, 53),
    (21, 23, 20, 123),
    (21, 0, 7, 132),
    (40, 0, 0, 28),
    (69, 17, 0, 8191),
    (177, 0, 0, 22),
    (72, 0, 0, 22),
    (21, 17, 0, 53),
    (72, 0, 0, 24),
    (21, 15, 12, 53),
    (21, 0, 11, 6),
    (40, 0, 0, 28),
    (69, 9, 0, 8191),
    (177, 0, 0, 22),
    (72, 0, 0, 22),
    (21, 9, 0, 53),
    (21, 8, 0, 80),
    (21, 7, 0, 443),
    (72, 0, 0, 24),
    (21, 5, 0, 53),
    (21, 4, 0, 80),
    (21, 3, 0, 443),
    (40, 0, 0, 28),
    (69, 1, 2, 8191),
    (21, 0, 1, 2054),
    (6, 0, 0, 262144),
    (6, 0, 0, 0),
)


_BPF_LD, _BPF_LDX, _BPF_ABS, _BPF_IND, _BPF_MSH = 0x00, 0x01, 0x20, 0x40, 0xA0
_SKF_AD_OFF = 0xFFFFF000
"""Loads at or above this offset are the kernel's ancillary data, not packet bytes."""


def relocate(program: tuple[Instruction, ...], offset: int) -> tuple[Instruction, ...]:
    """``program`` judging the packet that starts ``offset`` bytes into the frame: every packet
    load (absolute, indirect, and the IPv4 header length load) moves by ``offset``; jumps are
    relative and stay. A load past the frame's end rejects it, as libpcap's code does."""
    moved: list[Instruction] = []
    for code, jt, jf, k in program:
        kind, mode = code & 0x07, code & 0xE0
        packet_load = (kind == _BPF_LD and mode in (_BPF_ABS, _BPF_IND)) or (
            kind == _BPF_LDX and mode == _BPF_MSH
        )
        if packet_load:
            if k >= _SKF_AD_OFF:
                raise ValueError("an ancillary load cannot be relocated")
            k += offset
        moved.append((code, jt, jf, k))
    return tuple(moved)


def _remote_mirror_prologue(outer_length: int) -> tuple[Instruction, ...]:
    """The frames whose inner frame is at :data:`INNER_OFFSET` jump past the outer program
    (``outer_length`` instructions) to the relocated inner one; all others fall into it."""
    ldh, ldb, jeq, jset, and_, ja = 0x28, 0x30, 0x15, 0x45, 0x54, 0x05
    # (instruction, label of its true target, label of its false target); "" = the next one.
    steps: list[tuple[str, tuple[int, int], str, str]] = [
        ("", (ldh, 12), "", ""),
        ("", (jeq, 0x0800), "", "outer"),
        ("", (ldb, 14), "", ""),
        ("", (jeq, 0x45), "", "outer"),  # IPv4 without options
        ("", (ldh, 20), "", ""),
        ("", (jset, 0x3FFF), "outer", ""),  # not a fragment
        ("", (ldb, 23), "", ""),
        ("", (jeq, 47), "", "udp"),
        ("", (ldh, 34), "", ""),
        ("", (jeq, 0x1000), "", "outer"),  # GRE version 0, only a sequence number
        ("", (ldh, 36), "", ""),
        ("", (jeq, 0x88BE), "", "outer"),  # ERSPAN
        ("", (ldb, 42), "", ""),
        ("", (and_, 0xF0), "", ""),
        ("", (jeq, 0x10), "inner", "outer"),  # version 1: type II
        ("udp", (jeq, 17), "", "outer"),
        ("", (ldh, 36), "", ""),
        ("", (jeq, 4789), "", "outer"),
        ("", (ldh, 34), "", ""),
        ("", (jeq, 53), "outer", ""),  # from DNS's, DHCP's or NTP's port: the decoder reads UDP
        ("", (jeq, 67), "outer", ""),
        ("", (jeq, 68), "outer", ""),
        ("", (jeq, 123), "outer", ""),
        ("", (ldb, 42), "", ""),
        ("", (jset, 0x08), "inner", "outer"),  # the I flag
        ("inner", (ja, outer_length), "", ""),
    ]
    labels = {label: pc for pc, (label, *_rest) in enumerate(steps) if label}
    labels["outer"] = len(steps)
    program: list[Instruction] = []
    for pc, (_label, (code, k), true, false) in enumerate(steps):
        if code & 0x07 == 0x05 and code != ja:
            jt = labels[true] - pc - 1 if true else 0
            jf = labels[false] - pc - 1 if false else 0
            program.append((code, jt, jf, k))
        else:
            program.append((code, 0, 0, k))
    return tuple(program)


def remote_mirror_program(
    outer: tuple[Instruction, ...], inner: tuple[Instruction, ...]
) -> tuple[Instruction, ...]:
    """The prologue, ``outer`` and ``inner`` relocated to :data:`INNER_OFFSET` (see above)."""
    return _remote_mirror_prologue(len(outer)) + outer + relocate(inner, INNER_OFFSET)


EN10MB = remote_mirror_program(EN10MB_OUTER, EN10MB_INNER)
"""The shipped default program."""

PROGRAMS: dict[int, tuple[Instruction, ...]] = {DLT_EN10MB: EN10MB}
"""Compiled ``FILTER`` by libpcap link type."""


def precompiled(expression: str, snaplen: int, dlt: int = DLT_EN10MB) -> list[Instruction] | None:
    """The shipped program for exactly this filter text and snapshot length, else None."""
    if expression != FILTER or snaplen != SNAPLEN or dlt not in PROGRAMS:
        return None
    return list(PROGRAMS[dlt])
