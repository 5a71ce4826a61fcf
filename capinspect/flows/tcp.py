"""TCP reassembly: segments → in-order stream events, for the few flows that matter.

Theory of operation
===================

Which flows are followed. A mirror port carries thousands of TCP flows; only HTTP (check-in
and firmware downloads), TLS (the check-in on 443) and DNS over TCP matter. A flow is judged
once, on its first payload in either direction:

* ``GET ``/``POST ``/… or ``HTTP/1.`` → ``http``; a TLS handshake record (0x16 0x03 0x00–0x04)
  → ``tls``; either port 53 → ``dns``. The flow is *followed*: :class:`FlowOpened` is emitted,
  then its bytes.
* bytes that may still become an HTTP start line (a request line cut into small segments,
  ``QUERY`` or any other RFC 9110 method token, CR/LF or lines of text before the request line)
  → *undecided*: the sender's in-order bytes are gathered, with the segments that carried them,
  until :func:`classify_head` can tell — at most ``Limits.max_classify_bytes`` bytes and
  ``Limits.max_classify_segments`` segments, or until the other side speaks, a FIN or RST,
  ``flow_idle_timeout``, the end of the capture, or more than ``Limits.max_undecided_flows``
  flows gathering at once (the oldest is judged then). Followed, the flow is replayed from its
  first held segment, so its stream is what it would have been had it been followed from the
  start.
* anything else → *ignored*: remembered in a bounded dict so its later segments cost one
  lookup. When that dict is full its oldest entry goes; an evicted flow's next payload is
  simply judged again.

Only the first segment of a flow pays for :func:`classify_head` (one bytes scan of at most
``max_classify_bytes``), and only undecided flows pay for gathering: followed and ignored flows
never look at it again.

A SYN is remembered (bounded the same way) before any payload, because the SYN is the only
reliable evidence of who is the client. While it is remembered, only a segment starting right
after its sender's SYN is judged: a later segment that overtook it would be misjudged (it is not
held, so a flow whose first segment arrives late loses the bytes that overtook it).

Orientation (FlowKey is client → server). The SYN sender is the client. Without a SYN (the
capture began mid-connection): the sender of a request-looking first payload (an HTTP
request, a TLS ClientHello, a DNS query to port 53) is the client; an HTTP response's or a
ServerHello's receiver is the client; otherwise the side with the higher port.

Per direction. Sequence numbers are turned into 64-bit stream positions relative to the
direction's first sequence number (from the SYN, else the first segment seen), unwrapping
modulo 2**32 around the next expected position, so wraparound and streams above 4 GiB need
nothing special. Then:

=====================================  =============================================================
segment relative to ``next``           action
=====================================  =============================================================
ends at or before ``next``             retransmission: compared with the last delivered bytes
starts before, ends after              the new tail is delivered (head compared as above)
starts at ``next``                     delivered, then every held segment that now fits
starts after ``next``                  held (first copy of each byte wins; differing overlaps
                                       become ``tcp.overlap-conflict``); when the segment that
                                       reached ``next`` was cut by the snap length the hole can
                                       never fill, so it is passed at once
=====================================  =============================================================

Passing a hole emits :class:`StreamGap` with its size, then the data after it. Holes are passed
when the held segments exceed ``max_pending_segments`` or ``max_stream_buffer`` bytes, on RST,
on idle expiry, at the end of the capture, and when a direction's FIN is held behind a hole and
the other direction has ended too. A FIN alone does not pass a hole: a retransmission
commonly follows the FIN.

Ends. FIN → ``StreamEnd("fin")`` once every byte before it was delivered. RST →
``StreamEnd("rst")`` for both directions. ``expire`` closes flows idle longer than
``flow_idle_timeout`` (``idle``); ``finish`` closes the rest (``eof``). More than
``max_flows`` followed flows → the least recently active is closed as ``idle`` with anomaly
``limit.max_flows``. Time is packet time only.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import insort
from typing import Final, TypeVar

from capinspect.anomalies import AnomalySink
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import (
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    Anomaly,
    Direction,
    FlowKey,
    FlowOpened,
    Packet,
    StreamData,
    StreamEnd,
    StreamEvent,
    StreamGap,
)

_HTTP_REQUEST_STARTS = (
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"OPTIONS ",
    b"DELETE ",
    b"CONNECT ",
    b"PATCH ",
    b"TRACE ",
)
_HTTP_RESPONSE_START = b"HTTP/1."
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(_TOKEN + rb"[ \t]+\S+[ \t]+HTTP/1\.[0-9][ \t]*\r?")
"""A whole request line (RFC 9112 §3: any RFC 9110 token as the method), without its LF."""
_TEXT = bytes(b for b in range(256) if b >= 0x20 and b != 0x7F or b in b"\t\r")
"""Bytes a line of text may hold (UTF-8 and Latin-1 included): ``line.translate(None, _TEXT)``
leaves the control bytes that say a line is binary."""
MORE: Final = "more"
""":func:`classify_head`'s answer when the bytes so far may still become an HTTP start line."""
_TLS_HANDSHAKE = 0x16
_TLS_CLIENT_HELLO = 1
_TLS_SERVER_HELLO = 2
_DNS_PORT = 53
_SEQ_MOD = 1 << 32
_SEQ_HALF = 1 << 31

_V = TypeVar("_V")
Endpoint = tuple[str, int]
FourTuple = tuple[str, int, str, int]
"""(source ip, source port, destination ip, destination port) as a segment travels."""


def classify_payload(payload: bytes, sport: int, dport: int) -> tuple[str, bool | None] | None:
    """What a flow's first payload looks like: (kind, sender-is-client), or None to ignore it.

    The second item is None when the bytes say nothing about orientation.
    """
    if payload.startswith(_HTTP_REQUEST_STARTS):
        return "http", True
    if payload.startswith(_HTTP_RESPONSE_START):
        return "http", False
    if len(payload) >= 3 and payload[0] == _TLS_HANDSHAKE and payload[1] == 3 and payload[2] <= 4:
        hello = payload[5] if len(payload) > 5 else None
        if hello == _TLS_CLIENT_HELLO:
            return "tls", True
        if hello == _TLS_SERVER_HELLO:
            return "tls", False
        return "tls", None
    if dport == _DNS_PORT or sport == _DNS_PORT:
        return "dns", dport == _DNS_PORT if sport != dport else None
    return None


def classify_head(head: bytes, final: bool) -> bool | None | str:
    """Whether the first bytes a side sent start HTTP, for the flows :func:`classify_payload`
    cannot place (a request line cut into tiny segments, an unknown method, bytes before the
    request line).

    Returns True when ``head`` is an HTTP request (its sender is the client), False when it is
    an HTTP response, None when it cannot be HTTP, and :data:`MORE` when more bytes may tell
    (never when ``final``: no more bytes will come). Leading CR/LF are allowed (RFC 9112 §2.2);
    whole lines of text before a request line are skipped (the HTTP reader reports them).
    """
    start = len(head) - len(head.lstrip(b"\r\n"))
    pos = start
    while pos < len(head):
        newline = head.find(b"\n", pos)
        line = head[pos:] if newline < 0 else head[pos:newline]
        if line.startswith(_HTTP_REQUEST_STARTS):
            return True
        if pos == start and line.startswith(_HTTP_RESPONSE_START):
            return False
        if newline < 0:
            if final:
                return _REQUEST_LINE.fullmatch(line) is not None or None
            # An unfinished line of text may still become a request line (or a status line,
            # or a line before the request line); anything else cannot.
            return None if line.translate(None, _TEXT) else MORE
        if _REQUEST_LINE.fullmatch(line):
            return True
        if line.translate(None, _TEXT):
            return None  # not a line of text: not bytes before a request line either
        pos = newline + 1
    return None if final else MORE


class _Half:
    """One direction of a followed flow."""

    __slots__ = (
        "base",
        "next_pos",
        "pending",
        "order",
        "pending_bytes",
        "fin_pos",
        "ended",
        "tail",
        "last_truncated",
    )

    def __init__(self) -> None:
        self.base: int | None = None
        """Absolute sequence number of stream position 0 (None until the first segment)."""
        self.next_pos = 0
        self.pending: dict[int, tuple[bytes, int, float]] = {}
        """Held segments by stream position: (bytes, frame, ts)."""
        self.order: list[int] = []
        self.pending_bytes = 0
        self.fin_pos: int | None = None
        self.ended = False
        self.tail = b""
        """The bytes delivered last (ending at ``next_pos``), to compare retransmissions."""
        self.last_truncated = False

    def position(self, seq: int) -> int:
        """Stream position of sequence number ``seq``, unwrapped around ``next_pos``."""
        assert self.base is not None
        expected = (self.base + self.next_pos) % _SEQ_MOD
        delta = (seq - expected + _SEQ_HALF) % _SEQ_MOD - _SEQ_HALF
        return self.next_pos + delta


class _Flow:
    __slots__ = ("key", "halves", "last_ts", "client")

    def __init__(self, key: FlowKey, client: Endpoint, ts: float) -> None:
        self.key = key
        self.client = client
        self.halves = (_Half(), _Half())
        self.last_ts = ts


class _Undecided:
    """A flow whose first bytes may still become HTTP: its sender's segments, held."""

    __slots__ = ("sender", "syn", "next_seq", "head", "packets", "early", "held")

    def __init__(self, first: Packet, syn: _Syn | None) -> None:
        self.sender: Endpoint = (first.src_ip, first.sport)
        self.syn = syn
        self.next_seq = first.tcp_seq
        self.head = b""
        """The sender's bytes in stream order from its first segment."""
        self.packets: list[Packet] = []
        """Every segment held, in arrival order, to replay if the flow is followed."""
        self.early: list[Packet] = []
        """Held segments beyond a hole in ``head``."""
        self.held = 0
        """Payload bytes held (retransmissions count too)."""

    def add(self, pkt: Packet) -> None:
        self.packets.append(pkt)
        self.held += len(pkt.payload)
        if pkt.payload:
            self.early.append(pkt)
        progress = True
        while progress and self.early:
            progress = False
            for waiting in self.early:
                offset = (waiting.tcp_seq - self.next_seq + _SEQ_HALF) % _SEQ_MOD - _SEQ_HALF
                if offset > 0:
                    continue
                self.early.remove(waiting)
                fresh = waiting.payload[-offset:]
                self.head += fresh
                self.next_seq = (self.next_seq + len(fresh)) % _SEQ_MOD
                progress = True
                break


class _Syn:
    """What a SYN (and SYN-ACK) said before the flow's first payload."""

    __slots__ = ("client", "client_isn", "server_isn")

    def __init__(self, client: Endpoint, client_isn: int) -> None:
        self.client = client
        self.client_isn = client_isn
        self.server_isn: int | None = None


def _canonical(four: FourTuple) -> FourTuple:
    src_ip, sport, dst_ip, dport = four
    if (src_ip, sport) <= (dst_ip, dport):
        return four
    return (dst_ip, dport, src_ip, sport)


def _raw_keys(four: FourTuple) -> tuple[bytes, bytes]:
    """The flow's key as the decoder sees it on the wire, in both directions."""
    src_ip, sport, dst_ip, dport = four
    src = ipaddress.ip_address(src_ip).packed
    dst = ipaddress.ip_address(dst_ip).packed
    return (
        src + dst + sport.to_bytes(2, "big") + dport.to_bytes(2, "big"),
        dst + src + dport.to_bytes(2, "big") + sport.to_bytes(2, "big"),
    )


class TcpReassembler:
    """Feed every TCP :class:`Packet`; get :data:`StreamEvent` values for followed flows."""

    def __init__(
        self,
        limits: Limits = DEFAULT_LIMITS,
        *,
        follow_all: bool = False,
        sink: AnomalySink | None = None,
    ) -> None:
        """``follow_all`` follows every flow with payload (kind ``tcp`` when it looks like
        nothing known): for diagnostics and for cross-checking reassembly against tshark.
        Anomalies go to ``sink``."""
        self.limits = limits
        self.follow_all = follow_all
        self.sink = sink if sink is not None else AnomalySink()
        # Both orientations of a followed flow's 4-tuple map to it: one lookup per segment.
        self._by_tuple: dict[FourTuple, _Flow] = {}
        # Followed flows, least recently active first (re-inserted on every segment).
        self._active: dict[FlowKey, _Flow] = {}
        self._ignored: dict[FourTuple, None] = {}
        self.ignored_raw: set[bytes] = set()
        """Raw keys (source address, destination address and the two ports as on the wire, in
        both orientations) of the flows in the ignore table. The decoder consults it so that a
        segment of an ignored flow is dropped before any object is built for it."""
        self._syns: dict[FourTuple, _Syn] = {}
        self._undecided: dict[FourTuple, _Undecided] = {}

    # -- bookkeeping ----------------------------------------------------------------------

    @property
    def anomalies(self) -> list[Anomaly]:
        """The anomalies its sink kept so far."""
        return self.sink.kept

    def _note(self, code: str, detail: str, frame: int | None, ts: float) -> None:
        self.sink.add(Anomaly(code, detail, frame, ts))

    def _remember(self, table: dict[FourTuple, _V], key: FourTuple, value: _V) -> None:
        """Insert into a bounded table, dropping its oldest entry when full."""
        if key not in table and len(table) >= self.limits.max_flows:
            oldest = next(iter(table))
            del table[oldest]
            if table is self._ignored:
                self.ignored_raw.difference_update(_raw_keys(oldest))
        table[key] = value
        if table is self._ignored:
            self.ignored_raw.update(_raw_keys(key))

    def _unignore(self, canonical: FourTuple) -> None:
        if self._ignored.pop(canonical, False) is None:
            self.ignored_raw.difference_update(_raw_keys(canonical))

    @property
    def followed(self) -> int:
        """Flows currently followed."""
        return len(self._active)

    # -- feeding --------------------------------------------------------------------------

    def feed(self, pkt: Packet) -> list[StreamEvent]:
        """Account for one TCP segment; returns the events it caused (often none)."""
        four = (pkt.src_ip, pkt.sport, pkt.dst_ip, pkt.dport)
        flow = self._by_tuple.get(four)
        flags = pkt.tcp_flags
        if flow is not None:
            if flags & TCP_SYN and self._is_new_connection(flow, pkt):
                events = self._close(flow, "idle", None, pkt.ts)
                return events + self._judge(pkt, four, flags)
            return self._segment(flow, pkt, flags)
        if not pkt.payload and not flags & TCP_SYN:
            if self._undecided and flags & (TCP_FIN | TCP_RST):
                undecided = self._undecided.get(_canonical(four))
                if undecided is not None:
                    return self._gather(undecided, _canonical(four), pkt)
            return []
        return self._judge(pkt, four, flags)

    def _judge(self, pkt: Packet, four: FourTuple, flags: int) -> list[StreamEvent]:
        """A segment of a flow not (yet) followed: remember SYNs, classify a first payload."""
        canonical = _canonical(four)
        if flags & TCP_SYN:
            self._unignore(canonical)
            self._undecided.pop(canonical, None)
            syn = self._syns.get(canonical)
            if not flags & TCP_ACK:  # SYN without ACK: a client opening
                if syn is None or syn.client_isn != pkt.tcp_seq:
                    syn = _Syn((pkt.src_ip, pkt.sport), pkt.tcp_seq)
                    self._remember(self._syns, canonical, syn)
            elif syn is None:
                # SYN-ACK without the SYN: its receiver is the client, whose ISN it acknowledges.
                syn = _Syn((pkt.dst_ip, pkt.dport), (pkt.tcp_ack - 1) % _SEQ_MOD)
                syn.server_isn = pkt.tcp_seq
                self._remember(self._syns, canonical, syn)
            elif syn.client != (pkt.src_ip, pkt.sport):
                syn.server_isn = pkt.tcp_seq
            if not pkt.payload:
                return []
        elif canonical in self._ignored:
            return []
        elif self._undecided:
            undecided = self._undecided.get(canonical)
            if undecided is not None:
                return self._gather(undecided, canonical, pkt)
        syn = self._syns.get(canonical)
        if syn is not None and not self._starts_stream(syn, pkt):
            # A later segment overtook the first one: judging it would misjudge the flow.
            return []
        kind_side = classify_payload(pkt.payload, pkt.sport, pkt.dport)
        self._syns.pop(canonical, None)
        if kind_side is None:
            limit = self.limits.max_classify_bytes
            verdict = classify_head(pkt.payload[:limit], final=len(pkt.payload) >= limit)
            if verdict == MORE:
                events: list[StreamEvent] = []
                if len(self._undecided) >= self.limits.max_undecided_flows:
                    events = self._decide_oldest()
                undecided = _Undecided(pkt, syn)
                self._undecided[canonical] = undecided
                return events + self._gather(undecided, canonical, pkt)
            if isinstance(verdict, bool):
                kind_side = ("http", verdict)
        if kind_side is None:
            if not self.follow_all:
                self._remember(self._ignored, canonical, None)
                return []
            kind_side = ("tcp", None)
        return self._open(pkt, four, syn, kind_side, replay=[pkt])

    def _gather(
        self, undecided: _Undecided, canonical: FourTuple, pkt: Packet
    ) -> list[StreamEvent]:
        """Hold one more segment of an undecided flow and decide when its bytes allow."""
        limits = self.limits
        if (pkt.src_ip, pkt.sport) == undecided.sender:
            undecided.add(pkt)
            final = bool(
                pkt.tcp_flags & (TCP_FIN | TCP_RST)
                or undecided.held >= limits.max_classify_bytes
                or len(undecided.packets) >= limits.max_classify_segments
            )
        else:
            # The other side spoke (or ended) first: the sender's bytes must be decisive now.
            final = True
        verdict = classify_head(undecided.head[: limits.max_classify_bytes], final)
        if verdict == MORE:
            return []
        return self._decide(undecided, canonical, verdict, pkt)

    def _decide_oldest(self) -> list[StreamEvent]:
        """Judge the undecided flow gathering longest on what it sent so far (final)."""
        canonical, undecided = next(iter(self._undecided.items()))
        head = undecided.head[: self.limits.max_classify_bytes]
        return self._decide(undecided, canonical, classify_head(head, True), None)

    def _decide(
        self,
        undecided: _Undecided,
        canonical: FourTuple,
        verdict: bool | None | str,
        pkt: Packet | None,
    ) -> list[StreamEvent]:
        """Follow an undecided flow from its first held segment, or ignore it."""
        del self._undecided[canonical]
        if not isinstance(verdict, bool):
            if not self.follow_all:
                self._remember(self._ignored, canonical, None)
                return []
            kind_side: tuple[str, bool | None] = ("tcp", None)
        else:
            kind_side = ("http", verdict)
        first = undecided.packets[0]
        four = (first.src_ip, first.sport, first.dst_ip, first.dport)
        replay = list(undecided.packets)
        if pkt is not None and replay[-1] is not pkt:
            replay.append(pkt)  # the other side's segment that made the decision final
        return self._open(first, four, undecided.syn, kind_side, replay=replay)

    def _open(
        self,
        pkt: Packet,
        four: FourTuple,
        syn: _Syn | None,
        kind_side: tuple[str, bool | None],
        replay: list[Packet],
    ) -> list[StreamEvent]:
        """Follow a flow whose first payload is ``pkt``, then apply the ``replay`` segments."""
        kind, sender_is_client = kind_side
        sender = (pkt.src_ip, pkt.sport)
        receiver = (pkt.dst_ip, pkt.dport)
        if syn is not None:
            client = syn.client
        elif sender_is_client is not None:
            client = sender if sender_is_client else receiver
        else:
            client = sender if pkt.sport > pkt.dport else receiver
        server = receiver if client == sender else sender
        key = FlowKey(client[0], client[1], server[0], server[1])
        events: list[StreamEvent] = []
        if len(self._active) >= self.limits.max_flows:
            oldest = next(iter(self._active.values()))
            self._note(
                "limit.max_flows",
                f"{len(self._active)} TCP flows followed at once; closed the least recently"
                f" active ({_describe(oldest.key)})",
                pkt.frame,
                pkt.ts,
            )
            events.extend(self._close(oldest, "idle", None, pkt.ts))
        flow = _Flow(key, client, pkt.ts)
        if syn is not None:
            to_server, to_client = flow.halves
            to_server.base = (syn.client_isn + 1) % _SEQ_MOD
            if syn.server_isn is not None:
                to_client.base = (syn.server_isn + 1) % _SEQ_MOD
        self._active[key] = flow
        self._by_tuple[four] = flow
        self._by_tuple[(four[2], four[3], four[0], four[1])] = flow
        client_mac = pkt.src_mac if client == sender else pkt.dst_mac
        events.append(
            FlowOpened(key, pkt.frame, pkt.ts, client_mac, pkt.vlans, kind, syn is not None)
        )
        for segment in replay:
            if self._active.get(key) is not flow:
                break  # ended (a FIN both ways, an RST) by a segment replayed before
            events.extend(self._segment(flow, segment, segment.tcp_flags))
        return events

    @staticmethod
    def _starts_stream(syn: _Syn, pkt: Packet) -> bool:
        """Whether ``pkt`` carries the first byte after its sender's SYN (when that is known)."""
        if syn.client == (pkt.src_ip, pkt.sport):
            return pkt.tcp_seq == (syn.client_isn + 1) % _SEQ_MOD
        if syn.server_isn is not None:
            return pkt.tcp_seq == (syn.server_isn + 1) % _SEQ_MOD
        return True

    def _is_new_connection(self, flow: _Flow, pkt: Packet) -> bool:
        """A SYN on a followed flow whose sequence number does not fit: the port was reused."""
        half = flow.halves[self._direction(flow, pkt)]
        if half.base is None:
            return False
        return (pkt.tcp_seq + 1) % _SEQ_MOD != half.base

    @staticmethod
    def _direction(flow: _Flow, pkt: Packet) -> Direction:
        if pkt.src_ip == flow.client[0] and pkt.sport == flow.client[1]:
            return Direction.TO_SERVER
        return Direction.TO_CLIENT

    def _segment(self, flow: _Flow, pkt: Packet, flags: int) -> list[StreamEvent]:
        """Apply one segment to its followed flow (see the table in the module docstring)."""
        direction = self._direction(flow, pkt)
        half = flow.halves[direction]
        flow.last_ts = pkt.ts
        # Keep _active ordered by activity: move this flow to the end.
        key = flow.key
        if next(reversed(self._active)) is not key:
            del self._active[key]
            self._active[key] = flow
        if flags & TCP_RST:
            return self._close(flow, "rst", pkt.frame, pkt.ts)
        if half.ended:
            return []
        seq = pkt.tcp_seq
        if flags & TCP_SYN:
            seq = (seq + 1) % _SEQ_MOD
            if half.base is None:
                half.base = seq
        elif half.base is None:
            half.base = seq
        events: list[StreamEvent] = []
        payload = pkt.payload
        if payload:
            self._data(flow, direction, half, half.position(seq), payload, pkt, events)
        if flags & TCP_FIN and half.fin_pos is None:
            half.fin_pos = half.position((seq + len(payload)) % _SEQ_MOD)
            if half.fin_pos < half.next_pos:
                half.fin_pos = half.next_pos
        if half.fin_pos is not None and not half.ended:
            if half.next_pos >= half.fin_pos:
                self._end(flow, direction, half, "fin", pkt.frame, pkt.ts, events)
            elif flow.halves[1 - direction].ended:
                self._pass_holes(flow, direction, half, events)
                self._end(flow, direction, half, "fin", pkt.frame, pkt.ts, events)
        other = flow.halves[1 - direction]
        if half.ended and other.fin_pos is not None and not other.ended:
            # The peer's FIN waits behind a hole that nothing will fill any more.
            self._pass_holes(flow, Direction(1 - direction), other, events)
            self._end(flow, Direction(1 - direction), other, "fin", pkt.frame, pkt.ts, events)
        if half.ended and other.ended:
            self._forget(flow)
        return events

    def _data(
        self,
        flow: _Flow,
        direction: Direction,
        half: _Half,
        position: int,
        payload: bytes,
        pkt: Packet,
        events: list[StreamEvent],
    ) -> None:
        end = position + len(payload)
        if end <= half.next_pos:
            self._compare_delivered(half, position, payload, pkt)
            return
        if position < half.next_pos:
            self._compare_delivered(half, position, payload[: half.next_pos - position], pkt)
            payload = payload[half.next_pos - position :]
            position = half.next_pos
        if position > half.next_pos:
            if half.last_truncated and not half.pending:
                # The bytes the snap length cut are gone for good.
                self._gap(
                    flow, direction, half, position - half.next_pos, pkt.frame, pkt.ts, events
                )
            else:
                self._hold(flow, direction, half, position, payload, pkt, events)
                return
        half.last_truncated = pkt.truncated
        self._deliver(flow, direction, half, payload, pkt.frame, pkt.ts, pkt.frame, events)

    def _compare_delivered(self, half: _Half, position: int, data: bytes, pkt: Packet) -> None:
        """Record ``tcp.overlap-conflict`` when re-sent bytes differ from what was delivered."""
        tail = half.tail
        tail_start = half.next_pos - len(tail)
        lo = max(position, tail_start)
        hi = min(position + len(data), half.next_pos)
        if lo >= hi or pkt.truncated:
            return
        if data[lo - position : hi - position] != tail[lo - tail_start : hi - tail_start]:
            self._conflict(half, lo, hi, pkt.frame, pkt.ts)

    def _conflict(self, half: _Half, lo: int, hi: int, frame: int, ts: float) -> None:
        self._note(
            "tcp.overlap-conflict",
            f"bytes {lo}..{hi} of the stream were sent twice with different content;"
            " keeping the first copy",
            frame,
            ts,
        )

    def _hold(
        self,
        flow: _Flow,
        direction: Direction,
        half: _Half,
        position: int,
        payload: bytes,
        pkt: Packet,
        events: list[StreamEvent],
    ) -> None:
        existing = half.pending.get(position)
        if existing is not None:
            old = existing[0]
            common = min(len(old), len(payload))
            if old[:common] != payload[:common]:
                self._conflict(half, position, position + common, pkt.frame, pkt.ts)
            if len(payload) <= len(old):
                return
            half.pending[position] = (old + payload[len(old) :], existing[1], existing[2])
            half.pending_bytes += len(payload) - len(old)
        else:
            half.pending[position] = (payload, pkt.frame, pkt.ts)
            insort(half.order, position)
            half.pending_bytes += len(payload)
        limits = self.limits
        if (
            len(half.pending) > limits.max_pending_segments
            or half.pending_bytes > limits.max_stream_buffer
        ):
            self._note(
                "limit.max_pending_segments",
                f"{len(half.pending)} out-of-order segments ({half.pending_bytes} bytes) held in"
                f" {_describe(flow.key)} {direction.name}; passing the hole",
                pkt.frame,
                pkt.ts,
            )
            self._pass_holes(flow, direction, half, events, until_empty=False)

    def _deliver(
        self,
        flow: _Flow,
        direction: Direction,
        half: _Half,
        data: bytes,
        first_frame: int,
        first_ts: float,
        frame: int,
        events: list[StreamEvent],
    ) -> None:
        """Deliver ``data`` at ``next_pos`` plus every held segment that then fits."""
        parts = [data]
        half.next_pos += len(data)
        ts = first_ts
        while half.order and half.order[0] <= half.next_pos:
            position = half.order.pop(0)
            held, held_frame, held_ts = half.pending.pop(position)
            half.pending_bytes -= len(held)
            end = position + len(held)
            if end <= half.next_pos:
                self._compare_with(parts, half, position, held, held_frame, held_ts)
                continue
            if position < half.next_pos:
                self._compare_with(
                    parts, half, position, held[: half.next_pos - position], held_frame, held_ts
                )
                held = held[half.next_pos - position :]
            parts.append(held)
            half.next_pos = end
            frame, ts = held_frame, held_ts
            half.last_truncated = False
        joined = parts[0] if len(parts) == 1 else b"".join(parts)
        half.tail = joined
        events.append(StreamData(flow.key, direction, joined, frame, ts, first_frame))

    def _compare_with(
        self,
        parts: list[bytes],
        half: _Half,
        position: int,
        data: bytes,
        frame: int,
        ts: float,
    ) -> None:
        """Compare held bytes against the bytes being delivered right now."""
        delivered = b"".join(parts)
        start = half.next_pos - len(delivered)
        lo, hi = max(position, start), min(position + len(data), half.next_pos)
        if lo < hi and data[lo - position : hi - position] != delivered[lo - start : hi - start]:
            self._conflict(half, lo, hi, frame, ts)

    def _gap(
        self,
        flow: _Flow,
        direction: Direction,
        half: _Half,
        size: int,
        frame: int,
        ts: float,
        events: list[StreamEvent],
    ) -> None:
        events.append(StreamGap(flow.key, direction, size, frame, ts))
        half.next_pos += size
        half.tail = b""
        half.last_truncated = False

    def _pass_holes(
        self,
        flow: _Flow,
        direction: Direction,
        half: _Half,
        events: list[StreamEvent],
        *,
        until_empty: bool = True,
    ) -> None:
        """Skip the hole before the first held segment (every hole if ``until_empty``)."""
        while half.order:
            position = half.order[0]
            held, held_frame, held_ts = half.pending.pop(position)
            half.order.pop(0)
            half.pending_bytes -= len(held)
            if position > half.next_pos:
                self._gap(
                    flow, direction, half, position - half.next_pos, held_frame, held_ts, events
                )
            elif position < half.next_pos:
                held = held[half.next_pos - position :]
                if not held:
                    continue
            self._deliver(flow, direction, half, held, held_frame, held_ts, held_frame, events)
            if not until_empty:
                return

    def _end(
        self,
        flow: _Flow,
        direction: Direction,
        half: _Half,
        reason: str,
        frame: int | None,
        ts: float,
        events: list[StreamEvent],
    ) -> None:
        half.ended = True
        half.pending.clear()
        half.order.clear()
        half.pending_bytes = 0
        half.tail = b""
        events.append(StreamEnd(flow.key, direction, reason, frame, ts))

    def _close(self, flow: _Flow, reason: str, frame: int | None, ts: float) -> list[StreamEvent]:
        """End both directions (passing any hole first) and stop following the flow."""
        events: list[StreamEvent] = []
        for direction in (Direction.TO_SERVER, Direction.TO_CLIENT):
            half = flow.halves[direction]
            if half.ended:
                continue
            self._pass_holes(flow, direction, half, events)
            self._end(flow, direction, half, reason, frame, ts, events)
        self._forget(flow)
        return events

    def release(self, key: FlowKey) -> None:
        """Stop following a flow that turned out not to matter (its first request says so).

        Its later segments are dropped as ignored, by the decoder already (``ignored_raw``)."""
        flow = self._active.get(key)
        if flow is not None:
            self._forget(flow)

    def _forget(self, flow: _Flow) -> None:
        """Stop following ``flow``; its stray late segments then cost one lookup as ignored."""
        self._active.pop(flow.key, None)
        key = flow.key
        four = (key.client_ip, key.client_port, key.server_ip, key.server_port)
        for oriented in (four, (four[2], four[3], four[0], four[1])):
            if self._by_tuple.get(oriented) is flow:
                del self._by_tuple[oriented]
        self._remember(self._ignored, _canonical(four), None)

    # -- time and end of input ------------------------------------------------------------

    def expire(self, now: float) -> list[StreamEvent]:
        """Close flows without a segment for ``flow_idle_timeout`` seconds of packet time."""
        events: list[StreamEvent] = []
        deadline = now - self.limits.flow_idle_timeout
        # Undecided flows, oldest first: one idle since its last segment is judged on what it
        # sent (a later one still gathering stops the walk; the table is bounded anyway).
        while self._undecided and next(iter(self._undecided.values())).packets[-1].ts < deadline:
            events.extend(self._decide_oldest())
        while self._active:
            oldest = next(iter(self._active.values()))
            if oldest.last_ts >= deadline:
                break
            events.extend(self._close(oldest, "idle", None, now))
        return events

    def finish(self, now: float) -> list[StreamEvent]:
        """End of capture: every open direction ends as ``eof`` after its held data."""
        events: list[StreamEvent] = []
        while self._undecided:
            events.extend(self._decide_oldest())
        for flow in list(self._active.values()):
            events.extend(self._close(flow, "eof", None, now))
        return events


def _describe(key: FlowKey) -> str:
    return f"{key.client_ip}:{key.client_port} → {key.server_ip}:{key.server_port}"
