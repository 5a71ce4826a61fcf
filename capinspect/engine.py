"""The engine: the one module that knows every stage and wires them together.

Frames come in (from files or a live interface, the engine cannot tell which), protocol
transactions come out. The per-frame hot path is ``Decoder.decode``: it looks at a few header
bytes and returns ``None`` for everything that cannot matter (not UDP 53/67/68, not TCP), so a
mirror-port capture full of unrelated traffic costs little. TCP segments go to the reassembler,
which follows only flows whose first payload looks like HTTP, TLS or DNS.

The clock is packet time: idle TCP flows are expired against the timestamp of the frame being
fed, never against the wall clock, so analysing a file and watching the same traffic live give
the same transactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from capinspect.decode import Decoder
from capinspect.flows.tcp import TcpReassembler
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import (
    Anomaly,
    ArpPacket,
    CaptureStats,
    Direction,
    FlowKey,
    FlowOpened,
    InputFile,
    IpProto,
    Packet,
    RawFrame,
    StreamData,
    StreamEnd,
    StreamEvent,
    StreamGap,
)
from capinspect.protocols.dhcp.messages import DhcpExchange, DhcpSeen
from capinspect.protocols.dhcp.tracker import DhcpTracker
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.dns.tracker import DnsTracker
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.http.tracker import HttpTracker

# How often (in frames) idle TCP flows are looked for; a cheap modulo on the hot path.
_EXPIRE_EVERY = 4096
# ARP bindings kept per IP address; a flapping address is an anomaly, not a memory leak.
_MAX_ARP_PER_IP = 8
_MAX_ARP_IPS = 50_000


@dataclass(frozen=True, slots=True)
class ArpBinding:
    """``mac`` answered for or announced ``ip`` at ``ts`` (frame ``frame``)."""

    ip: str
    mac: str
    frame: int
    ts: float
    vlans: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TcpFlowSeen:
    """A followed TCP flow that was not HTTP or DNS (TLS on 443, typically).

    Kept so that a phone whose check-in is encrypted is still seen talking to the update server,
    and so that "only encrypted 443" can be said when nothing else is visible.
    """

    flow: FlowKey
    kind: str
    frame: int
    ts: float
    client_mac: str | None
    vlans: tuple[int, ...]
    bytes_to_server: int = 0
    bytes_to_client: int = 0
    end_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the protocol stages reconstructed from the input, before any judgement."""

    inputs: tuple[InputFile, ...]
    stats: CaptureStats
    dhcp: tuple[DhcpExchange, ...]
    dns: tuple[DnsLookup, ...]
    http: tuple[HttpExchange, ...]
    other_flows: tuple[TcpFlowSeen, ...]
    arp: tuple[ArpBinding, ...]
    anomalies: tuple[Anomaly, ...]


@dataclass(slots=True)
class _FlowState:
    opened: FlowOpened
    to_server: int = 0
    to_client: int = 0
    ended: set[Direction] = field(default_factory=set)
    end_reason: str | None = None


class Engine:
    """Feed frames in packet-time order; read transactions as they complete or at the end.

    ``feed`` returns the transactions that completed with this frame (a DHCP message, an HTTP
    exchange), which is what ``capinspect live`` prints as it goes; ``finish`` returns the
    whole :class:`Analysis`.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.decoder = Decoder(limits)
        self.tcp = TcpReassembler(limits)
        self.dhcp = DhcpTracker(limits)
        self.dns = DnsTracker(limits)
        self.http = HttpTracker(limits)
        self._flows: dict[FlowKey, _FlowState] = {}
        self._other_flows: list[TcpFlowSeen] = []
        self._arp: dict[str, list[ArpBinding]] = {}
        self._http_done: list[HttpExchange] = []
        self._anomalies: list[Anomaly] = []
        self._frames = 0
        self._last_ts = 0.0

    # -- hot path ---------------------------------------------------------------------------

    def feed(self, frame: RawFrame) -> list[DhcpSeen | HttpExchange]:
        self._frames += 1
        self._last_ts = frame.ts
        if self._frames % _EXPIRE_EVERY == 0:
            self._route_stream(self.tcp.expire(frame.ts))
        pkt = self.decoder.decode(frame)
        if pkt is None:
            return []
        if isinstance(pkt, ArpPacket):
            self._note_arp(pkt)
            return []
        return self._route_packet(pkt)

    def _route_packet(self, pkt: Packet) -> list[DhcpSeen | HttpExchange]:
        if pkt.proto == IpProto.UDP:
            if pkt.sport in (67, 68) or pkt.dport in (67, 68):
                seen = self.dhcp.feed(pkt)
                return [seen] if seen is not None else []
            if pkt.sport == 53 or pkt.dport == 53:
                self.dns.feed_udp(pkt)
            return []
        if pkt.proto == IpProto.TCP:
            events = self.tcp.feed(pkt)
            if events:
                return list(self._route_stream(events))
        return []

    def _route_stream(self, events: Iterable[StreamEvent]) -> list[HttpExchange]:
        done: list[HttpExchange] = []
        for event in events:
            if isinstance(event, FlowOpened):
                self._flows[event.flow] = _FlowState(event)
            state = self._flows.get(event.flow)
            kind = state.opened.kind if state is not None else None
            if kind == "http":
                done.extend(self.http.feed(event))
            elif kind == "dns":
                self._feed_dns_stream(event, state)
            if state is None:
                continue
            if isinstance(event, StreamData):
                if event.direction == Direction.TO_SERVER:
                    state.to_server += len(event.data)
                else:
                    state.to_client += len(event.data)
            elif isinstance(event, StreamEnd):
                state.ended.add(event.direction)
                state.end_reason = state.end_reason or event.reason
                if len(state.ended) == 2:
                    self._close_flow(event.flow, state)
        self._http_done.extend(done)
        return done

    def _feed_dns_stream(self, event: StreamEvent, state: _FlowState | None) -> None:
        if isinstance(event, StreamData):
            mac = state.opened.client_mac if state is not None else None
            vlans = state.opened.vlans if state is not None else ()
            self.dns.feed_tcp(
                event.flow, event.direction, event.data, event.frame, event.ts, mac, vlans
            )
        elif isinstance(event, StreamGap):
            self.dns.gap_tcp(event.flow, event.direction)
        elif isinstance(event, StreamEnd):
            self.dns.end_tcp(event.flow, event.direction)

    def _close_flow(self, flow: FlowKey, state: _FlowState) -> None:
        del self._flows[flow]
        if state.opened.kind not in ("http", "dns"):
            self._other_flows.append(self._flow_seen(state))

    @staticmethod
    def _flow_seen(state: _FlowState) -> TcpFlowSeen:
        opened = state.opened
        return TcpFlowSeen(
            flow=opened.flow,
            kind=opened.kind,
            frame=opened.frame,
            ts=opened.ts,
            client_mac=opened.client_mac,
            vlans=opened.vlans,
            bytes_to_server=state.to_server,
            bytes_to_client=state.to_client,
            end_reason=state.end_reason,
        )

    def _note_arp(self, pkt: ArpPacket) -> None:
        if pkt.sender_ip in ("0.0.0.0", "") or pkt.sender_mac == "00:00:00:00:00:00":
            return
        bindings = self._arp.get(pkt.sender_ip)
        if bindings is None:
            if len(self._arp) >= _MAX_ARP_IPS:
                return
            bindings = self._arp[pkt.sender_ip] = []
        if bindings and bindings[-1].mac == pkt.sender_mac:
            return
        if len(bindings) >= _MAX_ARP_PER_IP:
            return
        bindings.append(ArpBinding(pkt.sender_ip, pkt.sender_mac, pkt.frame, pkt.ts, pkt.vlans))

    # -- end of input -----------------------------------------------------------------------

    def finish(
        self,
        inputs: tuple[InputFile, ...] = (),
        source_anomalies: Iterable[Anomaly] = (),
    ) -> Analysis:
        """Flush every stage (open flows end as ``eof``) and return what was reconstructed."""
        self._route_stream(self.tcp.finish(self._last_ts))
        self._http_done.extend(self.http.finish())
        for state in list(self._flows.values()):
            if state.opened.kind not in ("http", "dns"):
                self._other_flows.append(self._flow_seen(state))
        self._flows.clear()
        anomalies = [
            *source_anomalies,
            *self.decoder.anomalies,
            *self.tcp.anomalies,
            *self.dhcp.anomalies,
            *self.dns.anomalies,
            *self.http.anomalies,
            *self._anomalies,
        ]
        http = sorted(self._http_done, key=lambda ex: (ex.request.frame, ex.index))
        return Analysis(
            inputs=inputs,
            stats=self.decoder.capture_stats(),
            dhcp=self.dhcp.finish(),
            dns=self.dns.finish(),
            http=tuple(http),
            other_flows=tuple(sorted(self._other_flows, key=lambda f: f.frame)),
            arp=tuple(b for bindings in self._arp.values() for b in bindings),
            anomalies=tuple(anomalies),
        )
