"""The default capture filter of ``capinspect live``, compiled once, shipped as data.

Why: ``capinspect live`` must run on a machine with neither libpcap nor tcpdump (a fresh
Linux install has neither). Only a user's own ``--filter`` needs a compiler.

The shipped program is three parts: a short prologue of our own, and two programs generated
with ``tcpdump version 4.99.3`` (libpcap version 1.10.3 (with TPACKET_V3)) as::

    tcpdump -y EN10MB -s 262144 -ddd -- "$(python -c 'from capinspect.sources.live import \
        DEFAULT_FILTER; print(DEFAULT_FILTER)')"          # EN10MB_OUTER (same for INNER_FILTER)

* the prologue recognises the envelopes a remote mirror session sends most — Cisco ERSPAN
  type II (GRE with only its sequence number, protocol 0x88BE, ERSPAN version 1) and VXLAN
  (UDP to 4789 from a port other than 53/67/68, I flag set), both over IPv4 without options or
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
    "udp port 67 or udp port 68 or port 53 or tcp port 80 or tcp port 443 or arp or (ip[6:2] & "
    "0x1fff != 0) or ip proto 47 or ip6 proto 47 or udp dst port 4789 or (vlan and (udp port 67 "
    "or udp port 68 or port 53 or tcp port 80 or tcp port 443 or arp or (ip[6:2] & 0x1fff != 0) "
    "or ip proto 47 or ip6 proto 47 or udp dst port 4789 or (vlan and (udp port 67 or udp port "
    "68 or port 53 or tcp port 80 or tcp port 443 or arp or (ip[6:2] & 0x1fff != 0) or ip proto "
    "47 or ip6 proto 47 or udp dst port 4789))))"
)
"""The filter text of ``EN10MB_OUTER`` (``capinspect.sources.live.DEFAULT_FILTER``)."""
INNER_FILTER = (
    "udp port 67 or udp port 68 or port 53 or tcp port 80 or tcp port 443 or arp or (ip[6:2] & "
    "0x1fff != 0) or (vlan and (udp port 67 or udp port 68 or port 53 or tcp port 80 or tcp "
    "port 443 or arp or (ip[6:2] & 0x1fff != 0) or (vlan and (udp port 67 or udp port 68 or "
    "port 53 or tcp port 80 or tcp port 443 or arp or (ip[6:2] & 0x1fff != 0)))))"
)
"""The filter text of ``EN10MB_INNER`` (``capinspect.sources.live.INNER_FILTER``)."""
SNAPLEN = 262144
"""The snapshot length given to tcpdump (``-s``): the return value of an accepting branch."""
INNER_OFFSET = 14 + 20 + 8 + 8
"""Where the mirrored frame starts behind Ethernet, IPv4 without options and either GRE with a
sequence number and the 8-byte ERSPAN II header, or UDP and the 8-byte VXLAN header."""

EN10MB_OUTER: tuple[Instruction, ...] = (
    (40, 0, 0, 12),
    (21, 0, 24, 34525),
    (48, 0, 0, 20),
    (21, 0, 6, 17),
    (40, 0, 0, 54),
    (21, 218, 0, 67),
    (21, 217, 0, 68),
    (21, 216, 0, 53),
    (40, 0, 0, 56),
    (21, 214, 148, 67),
    (21, 0, 4, 132),
    (40, 0, 0, 54),
    (21, 211, 0, 53),
    (40, 0, 0, 56),
    (21, 209, 210, 53),
    (21, 0, 6, 6),
    (40, 0, 0, 54),
    (21, 206, 0, 53),
    (21, 205, 0, 80),
    (21, 204, 0, 443),
    (40, 0, 0, 56),
    (21, 202, 151, 53),
    (21, 201, 0, 47),
    (21, 0, 201, 44),
    (48, 0, 0, 54),
    (21, 198, 199, 47),
    (21, 0, 43, 2048),
    (48, 0, 0, 23),
    (21, 0, 11, 17),
    (40, 0, 0, 20),
    (69, 29, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 190, 0, 67),
    (21, 189, 0, 68),
    (21, 188, 0, 53),
    (72, 0, 0, 16),
    (21, 186, 0, 67),
    (21, 185, 0, 68),
    (21, 184, 20, 53),
    (21, 0, 7, 132),
    (40, 0, 0, 20),
    (69, 17, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 178, 0, 53),
    (72, 0, 0, 16),
    (21, 176, 12, 53),
    (21, 0, 11, 6),
    (40, 0, 0, 20),
    (69, 9, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 170, 0, 53),
    (21, 169, 0, 80),
    (21, 168, 0, 443),
    (72, 0, 0, 16),
    (21, 166, 0, 53),
    (21, 165, 0, 80),
    (21, 164, 0, 443),
    (40, 0, 0, 20),
    (69, 162, 0, 8191),
    (48, 0, 0, 23),
    (21, 160, 0, 47),
    (21, 0, 160, 17),
    (40, 0, 0, 20),
    (69, 158, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 16),
    (21, 154, 155, 4789),
    (21, 153, 0, 2054),
    (21, 2, 0, 33024),
    (21, 1, 0, 34984),
    (21, 0, 151, 37120),
    (40, 0, 0, 16),
    (21, 0, 24, 34525),
    (48, 0, 0, 24),
    (21, 0, 6, 17),
    (40, 0, 0, 58),
    (21, 144, 0, 67),
    (21, 143, 0, 68),
    (21, 142, 0, 53),
    (40, 0, 0, 60),
    (21, 140, 74, 67),
    (21, 0, 4, 132),
    (40, 0, 0, 58),
    (21, 137, 0, 53),
    (40, 0, 0, 60),
    (21, 135, 136, 53),
    (21, 0, 6, 6),
    (40, 0, 0, 58),
    (21, 132, 0, 53),
    (21, 131, 0, 80),
    (21, 130, 0, 443),
    (40, 0, 0, 60),
    (21, 128, 77, 53),
    (21, 127, 0, 47),
    (21, 0, 127, 44),
    (48, 0, 0, 58),
    (21, 124, 125, 47),
    (21, 0, 43, 2048),
    (48, 0, 0, 27),
    (21, 0, 11, 17),
    (40, 0, 0, 24),
    (69, 29, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 116, 0, 67),
    (21, 115, 0, 68),
    (21, 114, 0, 53),
    (72, 0, 0, 20),
    (21, 112, 0, 67),
    (21, 111, 0, 68),
    (21, 110, 20, 53),
    (21, 0, 7, 132),
    (40, 0, 0, 24),
    (69, 17, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 104, 0, 53),
    (72, 0, 0, 20),
    (21, 102, 12, 53),
    (21, 0, 11, 6),
    (40, 0, 0, 24),
    (69, 9, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 96, 0, 53),
    (21, 95, 0, 80),
    (21, 94, 0, 443),
    (72, 0, 0, 20),
    (21, 92, 0, 53),
    (21, 91, 0, 80),
    (21, 90, 0, 443),
    (40, 0, 0, 24),
    (69, 88, 0, 8191),
    (48, 0, 0, 27),
    (21, 86, 0, 47),
    (21, 0, 86, 17),
    (40, 0, 0, 24),
    (69, 84, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 20),
    (21, 80, 81, 4789),
    (21, 79, 0, 2054),
    (21, 2, 0, 33024),
    (21, 1, 0, 34984),
    (21, 0, 77, 37120),
    (40, 0, 0, 20),
    (21, 0, 29, 34525),
    (48, 0, 0, 28),
    (21, 0, 9, 17),
    (40, 0, 0, 62),
    (21, 70, 0, 67),
    (21, 69, 0, 68),
    (21, 68, 0, 53),
    (40, 0, 0, 64),
    (21, 66, 0, 67),
    (21, 65, 0, 68),
    (21, 64, 0, 53),
    (21, 63, 64, 4789),
    (21, 0, 4, 132),
    (40, 0, 0, 62),
    (21, 60, 0, 53),
    (40, 0, 0, 64),
    (21, 58, 59, 53),
    (21, 0, 8, 6),
    (40, 0, 0, 62),
    (21, 55, 0, 53),
    (21, 54, 0, 80),
    (21, 53, 0, 443),
    (40, 0, 0, 64),
    (21, 51, 0, 53),
    (21, 50, 0, 80),
    (21, 49, 50, 443),
    (21, 48, 0, 47),
    (21, 0, 48, 44),
    (48, 0, 0, 62),
    (21, 45, 46, 47),
    (21, 0, 43, 2048),
    (48, 0, 0, 31),
    (21, 0, 11, 17),
    (40, 0, 0, 28),
    (69, 29, 0, 8191),
    (177, 0, 0, 22),
    (72, 0, 0, 22),
    (21, 37, 0, 67),
    (21, 36, 0, 68),
    (21, 35, 0, 53),
    (72, 0, 0, 24),
    (21, 33, 0, 67),
    (21, 32, 0, 68),
    (21, 31, 20, 53),
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
    (21, 0, 20, 34525),
    (48, 0, 0, 20),
    (21, 0, 6, 17),
    (40, 0, 0, 54),
    (21, 181, 0, 67),
    (21, 180, 0, 68),
    (21, 179, 0, 53),
    (40, 0, 0, 56),
    (21, 177, 124, 67),
    (21, 0, 4, 132),
    (40, 0, 0, 54),
    (21, 174, 0, 53),
    (40, 0, 0, 56),
    (21, 172, 173, 53),
    (21, 0, 172, 6),
    (40, 0, 0, 54),
    (21, 169, 0, 53),
    (21, 168, 0, 80),
    (21, 167, 0, 443),
    (40, 0, 0, 56),
    (21, 165, 126, 53),
    (21, 0, 35, 2048),
    (48, 0, 0, 23),
    (21, 0, 11, 17),
    (40, 0, 0, 20),
    (69, 29, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 157, 0, 67),
    (21, 156, 0, 68),
    (21, 155, 0, 53),
    (72, 0, 0, 16),
    (21, 153, 0, 67),
    (21, 152, 0, 68),
    (21, 151, 20, 53),
    (21, 0, 7, 132),
    (40, 0, 0, 20),
    (69, 17, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 145, 0, 53),
    (72, 0, 0, 16),
    (21, 143, 12, 53),
    (21, 0, 11, 6),
    (40, 0, 0, 20),
    (69, 9, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 137, 0, 53),
    (21, 136, 0, 80),
    (21, 135, 0, 443),
    (72, 0, 0, 16),
    (21, 133, 0, 53),
    (21, 132, 0, 80),
    (21, 131, 0, 443),
    (40, 0, 0, 20),
    (69, 129, 130, 8191),
    (21, 128, 0, 2054),
    (21, 2, 0, 33024),
    (21, 1, 0, 34984),
    (21, 0, 126, 37120),
    (40, 0, 0, 16),
    (21, 0, 20, 34525),
    (48, 0, 0, 24),
    (21, 0, 6, 17),
    (40, 0, 0, 58),
    (21, 119, 0, 67),
    (21, 118, 0, 68),
    (21, 117, 0, 53),
    (40, 0, 0, 60),
    (21, 115, 62, 67),
    (21, 0, 4, 132),
    (40, 0, 0, 58),
    (21, 112, 0, 53),
    (40, 0, 0, 60),
    (21, 110, 111, 53),
    (21, 0, 110, 6),
    (40, 0, 0, 58),
    (21, 107, 0, 53),
    (21, 106, 0, 80),
    (21, 105, 0, 443),
    (40, 0, 0, 60),
    (21, 103, 64, 53),
    (21, 0, 35, 2048),
    (48, 0, 0, 27),
    (21, 0, 11, 17),
    (40, 0, 0, 24),
    (69, 29, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 95, 0, 67),
    (21, 94, 0, 68),
    (21, 93, 0, 53),
    (72, 0, 0, 20),
    (21, 91, 0, 67),
    (21, 90, 0, 68),
    (21, 89, 20, 53),
    (21, 0, 7, 132),
    (40, 0, 0, 24),
    (69, 17, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 83, 0, 53),
    (72, 0, 0, 20),
    (21, 81, 12, 53),
    (21, 0, 11, 6),
    (40, 0, 0, 24),
    (69, 9, 0, 8191),
    (177, 0, 0, 18),
    (72, 0, 0, 18),
    (21, 75, 0, 53),
    (21, 74, 0, 80),
    (21, 73, 0, 443),
    (72, 0, 0, 20),
    (21, 71, 0, 53),
    (21, 70, 0, 80),
    (21, 69, 0, 443),
    (40, 0, 0, 24),
    (69, 67, 68, 8191),
    (21, 66, 0, 2054),
    (21, 2, 0, 33024),
    (21, 1, 0, 34984),
    (21, 0, 64, 37120),
    (40, 0, 0, 20),
    (21, 0, 24, 34525),
    (48, 0, 0, 28),
    (21, 0, 8, 17),
    (40, 0, 0, 62),
    (21, 57, 0, 67),
    (21, 56, 0, 68),
    (21, 55, 0, 53),
    (40, 0, 0, 64),
    (21, 53, 0, 67),
    (21, 52, 0, 68),
    (21, 51, 52, 53),
    (21, 0, 4, 132),
    (40, 0, 0, 62),
    (21, 48, 0, 53),
    (40, 0, 0, 64),
    (21, 46, 47, 53),
    (21, 0, 46, 6),
    (40, 0, 0, 62),
    (21, 43, 0, 53),
    (21, 42, 0, 80),
    (21, 41, 0, 443),
    (40, 0, 0, 64),
    (21, 39, 0, 53),
    (21, 38, 0, 80),
    (21, 37, 38, 443),
    (21, 0, 35, 2048),
    (48, 0, 0, 31),
    (21, 0, 11, 17),
    (40, 0, 0, 28),
    (69, 29, 0, 8191),
    (177, 0, 0, 22),
    (72, 0, 0, 22),
    (21, 29, 0, 67),
    (21, 28, 0, 68),
    (21, 27, 0, 53),
    (72, 0, 0, 24),
    (21, 25, 0, 67),
    (21, 24, 0, 68),
    (21, 23, 20, 53),
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
        ("", (jeq, 53), "outer", ""),  # from DNS's or DHCP's port: the decoder reads UDP
        ("", (jeq, 67), "outer", ""),
        ("", (jeq, 68), "outer", ""),
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
