"""Values passed between capinspect's pipeline stages.

The pipeline is::

    source ─RawFrame→ decode ─Packet/ArpPacket→ UDP: DHCP, DNS dissectors
                                              TCP: reassembly ─StreamEvent→ HTTP, DNS
           ─message→ trackers ─transaction→ devices ─DeviceSession→ checks ─Finding→ report
           → renderers

Every value here is frozen and slotted: a stage never edits what an earlier stage produced (the
few built once per frame or per message are :func:`hot_value`: frozen to the type checker,
plain slotted dataclasses at run time, where a frozen ``__init__`` costs seven times as much).
Times are packet time (float seconds since the epoch, as written in the capture); frame numbers are
1-based positions in the (merged) input, the numbers Wireshark shows, so a support engineer can
jump from a finding to the packet.

Anything malformed becomes an :class:`Anomaly` attached to the value it damaged (or to the
capture): a stage never raises on bad input. ``Malformed`` (errors.py) is only used *inside* a
parser and caught at its boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeVar, dataclass_transform

import numpy as np
from numpy.typing import NDArray

_Value = TypeVar("_Value")


@dataclass_transform(frozen_default=True)
def hot_value(cls: type[_Value]) -> type[_Value]:
    """Make ``cls`` a value built once per frame or per message on the hot path
    (:class:`Packet`, :class:`ArpPacket`, :class:`StreamData`, the DHCP, DNS and TLS
    dissectors' messages).

    To the type checker it is frozen like every other value here (mypy refuses an assignment
    to a field), and it compares and hashes by value as a frozen one does. At run time it is a
    plain slotted dataclass, because a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``: a Packet cost 1.7 µs to build that way and costs 0.23 µs now,
    about a tenth of a second on a million-frame mirror capture, and the messages of a mirror
    port's PCs (DHCP, DNS, TLS records) as much again.
    """
    return dataclass(slots=True, unsafe_hash=True)(cls)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something malformed, truncated, over a limit or otherwise odd that a stage met.

    ``code`` is a stable dotted identifier (``dhcp.option43-truncated``, ``tcp.gap``,
    ``capture.truncated-record``…) documented in docs/anomalies.md; ``detail`` says in plain
    words what was seen, quoting the offending values.
    """

    code: str
    detail: str
    frame: int | None = None
    ts: float | None = None
    count: int = 1
    """How many anomalies this one stands for: 1, or for the "N more like this" anomaly an
    :class:`~capinspect.anomalies.AnomalySink` ends with, the N it counted but did not keep."""


# ---------------------------------------------------------------------------------------------
# Capture source → decode
# ---------------------------------------------------------------------------------------------


class LinkType(IntEnum):
    """The LINKTYPE_* values capinspect decodes (tcpdump.org/linktypes.html)."""

    NULL = 0
    ETHERNET = 1
    RAW = 101
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One record as read from a capture file or a live interface, before any decoding.

    ``orig_len`` is the length on the wire; when it exceeds ``len(data)`` the capture's snap
    length cut the frame (decode marks the packet truncated).
    """

    index: int
    """1-based frame number in the merged input."""
    ts: float
    linktype: int
    data: bytes
    orig_len: int
    source: int = 0
    """Index of the input file (in the order the user gave) this frame came from."""


Record = tuple[int, float, int, bytes, int, int]
"""A :class:`RawFrame` as a plain tuple ``(index, ts, linktype, data, orig_len, source)``: what
file readers hand the engine's hot path, where building a frozen dataclass per record would
cost more than deciding the record does not matter."""


@dataclass(slots=True)
class RecordBatch:
    """The records of one read buffer of a classic pcap file, as columns over that buffer.

    Why columns: on a mirror port most records cannot matter, and deciding that for a whole
    buffer at once with numpy (:mod:`capinspect.decode.sieve`) costs a few nanoseconds a record
    where a Python call per record costs a microsecond. Record *i* is frame ``first_index + i``; its
    bytes are ``buf[starts[i]:ends[i]]``.
    """

    buf: bytes
    linktype: int
    first_index: int
    starts: NDArray[np.int64]
    ends: NDArray[np.int64]
    orig_lens: NDArray[np.int64]
    ts: NDArray[np.float64]
    source: int = 0

    def __len__(self) -> int:
        return len(self.ts)

    def part(self, start: int, stop: int, first_index: int) -> RecordBatch:
        """Records ``start:stop`` of this batch, the first of them numbered ``first_index``
        (merging several files renumbers what each file read)."""
        return RecordBatch(
            self.buf,
            self.linktype,
            first_index,
            self.starts[start:stop],
            self.ends[start:stop],
            self.orig_lens[start:stop],
            self.ts[start:stop],
            self.source,
        )

    def records(self, positions: NDArray[np.intp] | None = None) -> Iterator[Record]:
        """The records at ``positions`` (all when None) as :data:`Record` tuples, in order."""
        if positions is None:
            starts, ends = self.starts.tolist(), self.ends.tolist()
            orig_lens, stamps = self.orig_lens.tolist(), self.ts.tolist()
            numbers: Iterable[int] = range(self.first_index, self.first_index + len(starts))
        else:
            starts, ends = self.starts[positions].tolist(), self.ends[positions].tolist()
            orig_lens, stamps = self.orig_lens[positions].tolist(), self.ts[positions].tolist()
            numbers = (positions + self.first_index).tolist()
        buf, linktype, source = self.buf, self.linktype, self.source
        for index, start, end, orig_len, ts in zip(
            numbers, starts, ends, orig_lens, stamps, strict=True
        ):
            yield (index, ts, linktype, buf[start:end], orig_len, source)


class IpProto(IntEnum):
    TCP = 6
    UDP = 17


# TCP flag bits as in the header's 13th byte.
TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10


@dataclass(frozen=True, slots=True)
class Tunnel:
    """The envelope a packet was found in: a remote mirror (ERSPAN, VXLAN, GRE) or IP in IP.

    Kept on the decoded packet so that what is reported from inside a tunnel can say where it
    came from; the packet itself is analysed as if it had been captured locally.
    """

    kind: str
    """``gre``, ``erspan-i``, ``erspan-ii``, ``erspan-iii``, ``vxlan`` or ``ip-in-ip``."""
    outer_src: str
    outer_dst: str
    ident: int | None = None
    """The VXLAN VNI, the ERSPAN session ID or the GRE key; ``None`` when the header has none."""
    outer: Tunnel | None = None
    """The envelope this one was itself found in (a tunnel inside a tunnel)."""


@hot_value
class Packet:
    """A decoded IPv4/IPv6 UDP or TCP packet (after IPv4 fragment reassembly).

    MACs are lower-case ``aa:bb:cc:dd:ee:ff`` strings (``None`` on raw-IP link types); IPs are
    the canonical text form (``ipaddress`` str()). ``vlans`` lists the 802.1Q/802.1ad tags,
    outermost first (empty when untagged).
    """

    frame: int
    ts: float
    src_mac: str | None
    dst_mac: str | None
    vlans: tuple[int, ...]
    src_ip: str
    dst_ip: str
    proto: int
    sport: int
    dport: int
    payload: bytes
    tcp_seq: int = 0
    tcp_ack: int = 0
    tcp_flags: int = 0
    truncated: bool = False
    """The capture holds fewer bytes than the packet had on the wire (snap length)."""
    frames: tuple[int, ...] = ()
    """For a reassembled IPv4 datagram, every fragment's frame number; else empty."""
    tunnel: Tunnel | None = None
    """The envelope the packet was decapsulated from; ``None`` for a packet captured as is."""


@hot_value
class ArpPacket:
    """An ARP request or reply: evidence that ``sender_mac`` owns ``sender_ip``."""

    frame: int
    ts: float
    vlans: tuple[int, ...]
    op: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str


# ---------------------------------------------------------------------------------------------
# TCP reassembly → stream events
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowKey:
    """A TCP connection, oriented client → server.

    The client is the side that sent the SYN; when the capture starts mid-connection, the side
    that sent the first payload that looks like a request (HTTP method, TLS ClientHello), else the
    higher port.
    """

    client_ip: str
    client_port: int
    server_ip: str
    server_port: int


class Direction(IntEnum):
    TO_SERVER = 0
    TO_CLIENT = 1


@hot_value
class StreamData:
    """In-order bytes of one direction of a flow, as far as they are contiguous."""

    flow: FlowKey
    direction: Direction
    data: bytes
    frame: int
    """Frame number of the segment that delivered the last of these bytes."""
    ts: float
    first_frame: int
    """Frame number of the segment that carried the first of these bytes."""


@dataclass(frozen=True, slots=True)
class StreamGap:
    """Bytes that were never captured: the stream continues ``size`` bytes later."""

    flow: FlowKey
    direction: Direction
    size: int
    frame: int
    ts: float


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """One direction of a flow ended: ``reason`` is ``fin``, ``rst``, ``idle`` or ``eof``
    (the capture ended first)."""

    flow: FlowKey
    direction: Direction
    reason: str
    frame: int | None
    ts: float


@dataclass(frozen=True, slots=True)
class FlowOpened:
    """The reassembler started following a flow (it looked like HTTP or TLS).

    Carries the link-layer facts of the client side, so devices can join the flow to a MAC.
    """

    flow: FlowKey
    frame: int
    ts: float
    client_mac: str | None
    vlans: tuple[int, ...]
    kind: str
    """``http`` or ``tls``: what the first payload looked like."""
    syn_seen: bool


StreamEvent = StreamData | StreamGap | StreamEnd | FlowOpened


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """What the source and decode stages counted over the whole input."""

    frames: int = 0
    bytes: int = 0
    frames_kept: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    linktypes: tuple[int, ...] = ()
    vlans: tuple[int, ...] = ()
    udp_frames: int = 0
    tcp_frames: int = 0
    tcp443_frames: int = 0
    tcp80_frames: int = 0
    dhcp_frames: int = 0
    dns_frames: int = 0
    other_frames: int = 0
    tunnels: tuple[tuple[str, int], ...] = ()
    """Frames decapsulated, per tunnel kind (``Tunnel.kind``), by kind; a frame inside two
    tunnels counts for both."""
    tunnels_not_decoded: tuple[tuple[str, int], ...] = ()
    """Frames of an encapsulation capinspect does not open (Geneve, GRE of another protocol…),
    per kind: counted, not analysed."""


@dataclass(frozen=True, slots=True)
class InputFile:
    """Identity of one input capture, as a ticket needs it."""

    path: str
    size: int
    sha256: str
    format: str
    """``pcap``, ``pcap-ns``, ``pcapng``, plus ``+gzip`` / ``+zstd`` when compressed."""
    frames: int = 0
    anomalies: tuple[Anomaly, ...] = field(default_factory=tuple)
