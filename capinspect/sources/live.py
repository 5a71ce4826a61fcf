"""A live interface as a frame source: an AF_PACKET socket with a kernel BPF filter.

Why this and not scapy or pyshark: /work/shared/reference/performance.md measured scapy's
AsyncSniffer near 5k pkt/s and pyshark's LiveCapture near 0.6k pkt/s, while an AF_PACKET socket
whose filter runs in the kernel kept up with 200k pkt/s. The default filter's program ships
compiled; a ``--filter`` is compiled by libpcap (in process through ctypes, or ``tcpdump -ddd``),
so it takes the expressions people already know, and no Python dependency is added.

The source hands out the same :class:`~capinspect.model.RawFrame` values as the file readers
(link type Ethernet, frame numbers from 1, the kernel's receive timestamp), so every stage after
it is the one ``capinspect analyze`` runs. Two kernel habits are undone here so the decoder sees
the frames as a file would show them:

* the kernel moves the outer 802.1Q/802.1ad tag out of the frame into ancillary data
  (``PACKET_AUXDATA``: ``tp_vlan_tci``/``tp_vlan_tpid``); the tag is put back in the bytes;
* the timestamp comes from ``SO_TIMESTAMPNS`` (set when the frame was received), never from
  the clock when Python got round to reading it; it is cut to microseconds, the value tcpdump
  writes into a pcap, so a live run and a file taken alongside it give identical reports.

Kernel drops (the socket buffer was full) are read with ``PACKET_STATISTICS``; the live mode
reports them, since a dropped DHCP ACK or check-in changes the verdict.
"""

from __future__ import annotations

import ctypes
import errno
import select
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from capinspect.errors import LiveCaptureError
from capinspect.model import LinkType, RawFrame
from capinspect.sources import bpf
from capinspect.sources.bpf import Instruction, pack_filter, sock_fprog
from capinspect.sources.bpf_programs import precompiled

_WANTED = (
    "udp port 67 or udp port 68 or port 53 or udp port 123 or tcp port 80 or tcp port 443 or arp"
    " or (ip[6:2] & 0x1fff != 0)"
)
_TUNNELS = "ip proto 47 or ip6 proto 47 or udp dst port 4789"
INNER_FILTER = f"{_WANTED} or (vlan and ({_WANTED} or (vlan and ({_WANTED}))))"
"""What can matter to a phone's update: DHCP, DNS, NTP (the phone's time), HTTP and HTTPS,
ARP (it binds a phone's address to its MAC when a router's MAC is on the frames) and IPv4
fragments after the first
(a port test cannot see them; a big DNS answer or DHCP message may be split). The same again
behind one or two VLAN tags: each ``vlan`` keyword moves libpcap's offsets by 4 bytes for the
rest of the expression, hence the nesting. The kernel has usually taken the outer tag out of
the frame before the filter runs, so a singly tagged frame matches the untagged part; the
``vlan`` parts catch QinQ's inner tag and tags the kernel left in place. The shipped program
applies it to the frame inside a remote mirror's envelope too (:mod:`bpf_programs`)."""
DEFAULT_FILTER = (
    f"{_WANTED} or {_TUNNELS} or (vlan and ({_WANTED} or {_TUNNELS} or (vlan and ({_WANTED}"
    f" or {_TUNNELS}))))"
)
""":data:`INNER_FILTER`, and remote mirrors' envelopes (GRE, which carries ERSPAN, and VXLAN):
the decoder opens them. Its shipped program (:mod:`capinspect.sources.bpf_programs`) first
looks inside the two envelopes a mirror session sends most (ERSPAN type II and VXLAN over IPv4
without options, the frame inside at a fixed offset) and keeps the frame only when the frame
inside passes :data:`INNER_FILTER`; other envelopes all reach the decoder."""

SNAPLEN = 262_144
"""Bytes kept per frame: all of it (tcpdump's default), so firmware bodies can be counted."""
DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024
"""Kernel socket buffer: room for about a second of a busy mirror port's matching frames
while Python works through a burst (a check-in's download) before drops start."""
BATCH = 512
"""Frames read per :meth:`LiveSource.read` call at most, so callers stay responsive."""

# Linux constants (linux/if_packet.h, asm-generic/socket.h); the socket module lacks most.
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_STATISTICS = 6
PACKET_AUXDATA = 8
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772

_AUX = struct.Struct("=IIIHHHH")  # struct tpacket_auxdata
_TIMESPEC = struct.Struct("=qq")
_STATS = struct.Struct("=II")  # struct tpacket_stats
# CMSG_SPACE is POSIX-only: without it (Windows) this module still imports, for the CLI's
# sake, and :func:`require_live_capture` says why nothing can be captured.
_ANC_SIZE = (
    socket.CMSG_SPACE(_AUX.size) + socket.CMSG_SPACE(_TIMESPEC.size)
    if hasattr(socket, "CMSG_SPACE")
    else 0
)

PRIVILEGE_FIX = (
    "run it as root (sudo capinspect live ...) or give the interpreter CAP_NET_RAW: "
    "sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f $(command -v python3))"
)

NOT_LINUX = (
    "live capture needs Linux (an AF_PACKET socket); on Windows capture with Wireshark/dumpcap "
    "or `pktmon start --capture` and run `capinspect analyze` on the file "
    "(docs/capturing.md)"
)


def require_live_capture() -> None:
    """Refuse, in one line, where there is no AF_PACKET socket (Windows, macOS, BSD).

    Checked before anything else the live mode does (tcpdump, the interface, privilege), so the
    person on Windows learns at once what to do instead rather than a socket error."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "AF_PACKET"):
        raise LiveCaptureError(NOT_LINUX)


def compile_filter(expression: str) -> list[Instruction]:
    """The classic BPF program of a capture filter, at live's snapshot length.

    The default filter's program ships compiled (:mod:`capinspect.sources.bpf_programs`), so
    it needs neither libpcap nor tcpdump; any other expression is compiled by libpcap
    (:func:`capinspect.sources.bpf.compile_filter`), and without it is a one-line error.
    """
    return precompiled(expression, SNAPLEN) or bpf.compile_filter(expression, SNAPLEN)


@dataclass(frozen=True, slots=True)
class KernelStats:
    """The kernel's counters for this socket since it was opened.

    ``received`` counts frames that passed the filter (delivered or dropped), ``dropped`` those
    the kernel threw away because the socket buffer was full.
    """

    received: int = 0
    dropped: int = 0


def _link_type(interface: str) -> int:
    try:
        return int(Path(f"/sys/class/net/{interface}/type").read_text().strip())
    except (OSError, ValueError):
        return ARPHRD_ETHER  # sysfs of another namespace or none: the bind decides


class LiveSource:
    """Frames from one interface, filtered in the kernel, with kernel timestamps.

    Use as a context manager; :meth:`read` returns a batch (possibly empty after ``timeout``),
    :meth:`frames` iterates until a stop condition. Opening needs root or CAP_NET_RAW.
    """

    def __init__(
        self,
        interface: str,
        bpf_filter: str | None = DEFAULT_FILTER,
        *,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        promiscuous: bool = True,
    ) -> None:
        self.interface = interface
        self.bpf_filter = bpf_filter or ""
        self.buffer_bytes = buffer_bytes
        self.promiscuous = promiscuous
        require_live_capture()
        self._sock: socket.socket | None = None
        self._poll = select.poll()
        self._buf = bytearray(SNAPLEN + 4)
        self._view = memoryview(self._buf)
        self._index = 0
        self._last_ts = 0.0
        self._received = 0
        self._dropped = 0

    # -- opening and closing ------------------------------------------------------------------

    def open(self) -> LiveSource:
        """Open the socket: filter attached before the bind, so no unfiltered frame slips in."""
        program = compile_filter(self.bpf_filter) if self.bpf_filter.strip() else None
        try:
            ifindex = socket.if_nametoindex(self.interface)
        except OSError:
            raise LiveCaptureError(
                f"no network interface named {self.interface!r} here (`ip link` lists them)"
            ) from None
        hatype = _link_type(self.interface)
        if hatype not in (ARPHRD_ETHER, ARPHRD_LOOPBACK):
            raise LiveCaptureError(
                f"{self.interface} is not an Ethernet interface (ARPHRD {hatype}); capture on "
                "the switch mirror port's Ethernet interface"
            )
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise LiveCaptureError(
                f"capturing on {self.interface} needs privilege: {PRIVILEGE_FIX}"
            ) from None
        try:
            if program is not None:
                # sock_fprog holds a pointer: it points into a buffer alive until the call
                # returns (the kernel copies the program).
                code = ctypes.create_string_buffer(pack_filter(program))
                fprog = sock_fprog(code, len(program))
                sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.buffer_bytes)
            except PermissionError:  # CAP_NET_RAW without CAP_NET_ADMIN: capped by rmem_max
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.buffer_bytes)
            sock.bind((self.interface, ETH_P_ALL))
            if self.promiscuous:
                # A mirror port's frames are addressed to other hosts: without promiscuous mode
                # the NIC would discard them. The membership ends when the socket closes.
                mreq = struct.pack("=iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.ENODEV:
                raise LiveCaptureError(
                    f"no network interface named {self.interface!r} here (`ip link` lists them)"
                ) from None
            if exc.errno == errno.ENETDOWN:
                raise LiveCaptureError(
                    f"{self.interface} is down: ip link set {self.interface} up"
                ) from None
            if isinstance(exc, PermissionError):
                raise LiveCaptureError(
                    f"capturing on {self.interface} needs privilege: {PRIVILEGE_FIX}"
                ) from None
            raise LiveCaptureError(f"cannot capture on {self.interface}: {exc}") from None
        sock.setblocking(False)
        self._sock = sock
        self._poll.register(sock.fileno(), select.POLLIN)
        return self

    def close(self) -> None:
        if self._sock is not None:
            self.stats()  # keep the final counters
            self._poll.unregister(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def __enter__(self) -> LiveSource:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------

    @staticmethod
    def now() -> float:
        """The clock the kernel stamps frames with (CLOCK_REALTIME), for telling the live
        monitor how far packet time has gone when the interface is quiet."""
        return time.time()

    @property
    def frames_read(self) -> int:
        return self._index

    def read(self, timeout: float = 0.5) -> list[RawFrame]:
        """Up to :data:`BATCH` frames; waits at most ``timeout`` seconds when none is queued."""
        sock = self._sock
        if sock is None:
            raise LiveCaptureError("the live source is not open")
        out: list[RawFrame] = []
        waited = False
        recv = sock.recvmsg_into
        buffers = [self._buf]
        while len(out) < BATCH:
            try:
                size, ancdata, _flags, _addr = recv(buffers, _ANC_SIZE)
            except BlockingIOError:
                if out or waited:
                    break
                waited = True
                try:
                    self._poll.poll(max(0, int(timeout * 1000)))
                except InterruptedError:  # pragma: no cover - PEP 475 retries
                    break
                continue
            except OSError as exc:
                if exc.errno == errno.ENETDOWN:
                    raise LiveCaptureError(f"{self.interface} went down") from None
                raise LiveCaptureError(f"reading {self.interface} failed: {exc}") from None
            out.append(self._frame(size, ancdata))
        return out

    def _frame(self, size: int, ancdata: list[tuple[int, int, bytes]]) -> RawFrame:
        data = bytes(self._view[:size])
        orig_len = size
        ts = self._last_ts
        for level, kind, payload in ancdata:
            if level == SOL_PACKET and kind == PACKET_AUXDATA and len(payload) >= _AUX.size:
                status, tp_len, _snap, _mac, _net, tci, tpid = _AUX.unpack_from(payload)
                orig_len = max(tp_len, size)
                if status & TP_STATUS_VLAN_VALID or tci:
                    if not status & TP_STATUS_VLAN_TPID_VALID or not tpid:
                        tpid = 0x8100
                    data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
                    orig_len += 4
            elif level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
                sec, nsec = _TIMESPEC.unpack_from(payload)
                ts = sec + (nsec // 1000) / 1e6
        self._last_ts = ts
        self._index += 1
        return RawFrame(self._index, ts, LinkType.ETHERNET, data, orig_len)

    def frames(self, stop: Callable[[], bool] = lambda: False) -> Iterator[RawFrame]:
        """Every frame until ``stop()`` is true (checked at least twice a second)."""
        while not stop():
            yield from self.read(0.5)

    def stats(self) -> KernelStats:
        """Cumulative kernel counters (the kernel resets its own on every read)."""
        if self._sock is not None:
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
            packets, drops = _STATS.unpack(raw)
            self._received += packets
            self._dropped += drops
        return KernelStats(self._received, self._dropped)


class LiveSources:
    """Several interfaces as one source (``live -i eth1 -i eth2``): one engine sees them all.

    Each frame's ``source`` is its interface's position in ``interfaces`` and frames are
    numbered across all of them from 1; a read takes what every interface has queued (one
    ``poll`` over all the sockets) and hands it on in time order. The kernel counters are
    summed (:meth:`stats`) and kept per interface (:meth:`stats_by_interface`).
    """

    def __init__(self, interfaces: Sequence[str], bpf_filter: str | None = DEFAULT_FILTER) -> None:
        self.interfaces = tuple(interfaces)
        self.sources = [LiveSource(name, bpf_filter) for name in self.interfaces]
        self._poll = select.poll()
        self._index = 0

    def open(self) -> LiveSources:
        try:
            for source in self.sources:
                source.open()
                assert source._sock is not None
                self._poll.register(source._sock.fileno(), select.POLLIN)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for source in self.sources:
            if source._sock is not None:
                self._poll.unregister(source._sock.fileno())
            source.close()

    def __enter__(self) -> LiveSources:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    now = staticmethod(LiveSource.now)

    @property
    def frames_read(self) -> int:
        return self._index

    def read(self, timeout: float = 0.5) -> list[RawFrame]:
        """What every interface has queued (up to :data:`BATCH` each), in time order; waits
        at most ``timeout`` seconds when none has anything."""
        try:
            self._poll.poll(max(0, int(timeout * 1000)))
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            pass
        batch: list[RawFrame] = []
        for position, source in enumerate(self.sources):
            for frame in source.read(0):
                batch.append(
                    RawFrame(0, frame.ts, frame.linktype, frame.data, frame.orig_len, position)
                )
        batch.sort(key=lambda frame: frame.ts)
        out = []
        for frame in batch:
            self._index += 1
            out.append(
                RawFrame(
                    self._index, frame.ts, frame.linktype, frame.data, frame.orig_len, frame.source
                )
            )
        return out

    def stats(self) -> KernelStats:
        every = [source.stats() for source in self.sources]
        return KernelStats(sum(s.received for s in every), sum(s.dropped for s in every))

    def stats_by_interface(self) -> dict[str, KernelStats]:
        return {source.interface: source.stats() for source in self.sources}
