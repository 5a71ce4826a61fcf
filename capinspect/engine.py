"""The engine: the one module that knows every stage and wires them together.

Frames come in (from files or a live interface, the engine cannot tell which), protocol
transactions come out. The per-frame hot path is ``Decoder.decode``: it looks at a few header
bytes and returns ``None`` for everything that cannot matter (not UDP 53/67/68/123, not TCP), so a
mirror-port capture full of unrelated traffic costs little. TCP segments go to the reassembler,
which follows only flows whose first payload looks like HTTP, TLS or DNS.

The clock is packet time: idle TCP flows are expired against the timestamp of the frame being
fed, never against the wall clock, so analysing a file and watching the same traffic live give
the same transactions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from capinspect.analysis import Analysis, ArpBinding, TcpFlowSeen
from capinspect.anomalies import AnomalySink
from capinspect.decode.decoder import Decoder
from capinspect.flows.connects import ConnectTracker
from capinspect.flows.tcp import TcpReassembler
from capinspect.knowledge.phone import (
    PHONE_USER_AGENT_MARKERS,
    SIGN_IN_NAME_PREFIXES,
    UPDATE_NAME_PREFIXES,
    is_phone_user_agent,
)
from capinspect.limits import DEFAULT_LIMITS, MAX_ARP_ADDRESSES, MAX_ARP_PER_IP, Limits
from capinspect.model import (
    TCP_RST,
    TCP_SYN,
    Anomaly,
    ArpPacket,
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
from capinspect.protocols.checkins import CheckinTracker
from capinspect.protocols.dhcp.messages import DhcpSeen, is_phone_vendor_class
from capinspect.protocols.dhcp.tracker import DhcpTracker
from capinspect.protocols.dns.tracker import DnsTracker
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.http.tracker import HttpTracker
from capinspect.protocols.ntp.tracker import NtpTracker
from capinspect.protocols.tls.keys import NO_KEYS, TlsKeys
from capinspect.protocols.tls.tracker import TlsTracker

# Names whose lookups always matter (protocol.md §2): the Device Update service and SIP
# discovery, whoever asks.
NAMES_OF_INTEREST = UPDATE_NAME_PREFIXES + SIGN_IN_NAME_PREFIXES
"""DNS names worth parsing wherever they come from (knowledge/phone.py)."""
_PHONE_AGENTS = tuple(marker.encode() for marker in PHONE_USER_AGENT_MARKERS)
_PHONE_PATHS = (b".upx", b"deviceupdate", b"requesthandler", b".nbt", b".cat", b".cab")
_HEAD_PEEK = 4096
_URL_HOST = re.compile(rb"https?://([A-Za-z0-9.-]+)")
_REQUEST_LINE_START = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]+\S+[ \t]+HTTP/", re.MULTILINE)

# How often (in frames) idle TCP flows are looked for; a cheap modulo on the hot path.
_EXPIRE_EVERY = 4096


@dataclass(slots=True)
class _FlowState:
    opened: FlowOpened
    to_server: int = 0
    to_client: int = 0
    ended: set[Direction] = field(default_factory=set)
    end_reason: str | None = None
    judged: bool = False
    """For HTTP flows: whether the first request was looked at (see Engine._judge_http)."""
    head: bytes = b""


@dataclass(slots=True)
class _Interest:
    """What the engine has learnt, as frames go by, about which traffic concerns a phone.

    Built from DHCP (vendor classes MS-UC-Client / CPE-OCPHONE, the names in options 43 and
    120), check-ins (their client addresses, the hosts of the URLs they offer) and the names of
    protocol.md §2. Used only to decide what to spend effort on; the per-phone grouping is done
    afterwards, on everything kept, by devices.py.
    """

    macs: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    servers: set[str] = field(default_factory=set)
    """Addresses (and CNAME targets) that names of interest resolved to: the update server."""

    def note_answer(self, qname: str, values: tuple[str, ...]) -> None:
        if qname in self.names or qname.startswith(NAMES_OF_INTEREST):
            self.servers.update(values)
            self.names.update(v.lower() for v in values if not v[:1].isdigit() and ":" not in v)

    def tls_wanted(self, hello: bytes, client_ip: str, server_ip: str) -> bool:
        """From a ClientHello: a phone's, to the update server, or naming a host of interest."""
        if client_ip in self.ips or server_ip in self.servers:
            return True
        lowered = hello.lower()
        if b"ucupdates" in lowered:
            return True
        return any(name.encode("ascii", "ignore") in lowered for name in self.names)

    def note_dhcp(self, seen: DhcpSeen) -> None:
        msg = seen.message
        if msg.op == 1 and is_phone_vendor_class(msg.vendor_class):
            self.macs.add(msg.chaddr)
        if msg.chaddr in self.macs:
            for address in (msg.ciaddr, msg.yiaddr):
                if address != "0.0.0.0":
                    self.ips.add(address)
        if msg.option43 is not None and msg.option43.web_server_fqdn:
            self.names.add(msg.option43.web_server_fqdn.lower())
        if msg.option120 is not None:
            self.names.update(name.lower() for name in msg.option120.names)

    def note_http(self, exchange: HttpExchange) -> None:
        request = exchange.request
        agent = (request.header("user-agent") or "").lower()
        if request.path.lower().endswith(".upx") or is_phone_user_agent(agent):
            self.ips.add(exchange.flow.client_ip)
            if exchange.response is not None:
                for host in _URL_HOST.findall(exchange.response.body.data[:65536]):
                    self.names.add(host.decode("ascii").lower())

    def phone_packet(self, pkt: Packet) -> bool:
        """Whether a phone (by DHCP or check-in) sent or receives this packet (NTP, SYN/RST)."""
        ips = self.ips
        return (
            pkt.src_ip in ips
            or pkt.dst_ip in ips
            or pkt.src_mac in self.macs
            or pkt.dst_mac in self.macs
        )

    def dns_wanted(self, qname: str, client_ip: str) -> bool:
        return client_ip in self.ips or qname in self.names or qname.startswith(NAMES_OF_INTEREST)

    def http_wanted(self, head: bytes, client_ip: str) -> bool:
        """From the first bytes of a connection: could this request be a phone's?"""
        if client_ip in self.ips:
            return True
        # The request line, past any CR/LF or lines the client sent before it.
        found = _REQUEST_LINE_START.search(head)
        line_start = found.start() if found is not None else 0
        line_end = head.find(b"\n", line_start)
        lowered = head.lower()
        line = lowered[line_start : line_end if line_end >= 0 else len(head)]
        if any(path in line for path in _PHONE_PATHS):
            return True
        return any(agent in lowered for agent in _PHONE_AGENTS)


class Engine:
    """Feed frames in packet-time order; read transactions as they complete or at the end.

    ``feed`` returns the transactions that completed with this frame (a DHCP message, an HTTP
    exchange), which is what ``capinspect live`` prints as it goes; ``finish`` returns the
    whole :class:`Analysis`.
    """

    def __init__(
        self,
        limits: Limits = DEFAULT_LIMITS,
        *,
        follow_all: bool = False,
        tls_keys: TlsKeys = NO_KEYS,
    ) -> None:
        """``follow_all`` keeps every HTTP exchange and DNS lookup, not only those that can
        concern a phone (cross-checks against tshark use it; analysis does not need it).
        ``tls_keys`` (server keys, key log) let the TLS tracker decrypt HTTPS check-ins."""
        self.limits = limits
        self.follow_all = follow_all
        self.interest = _Interest()
        self.sink = AnomalySink()
        """Where every stage wired here records its anomalies (bounded, counted per code)."""
        self.tcp = TcpReassembler(limits, sink=self.sink)
        # The decoder drops segments of flows the reassembler has judged not to matter.
        self.decoder = Decoder(limits, self.tcp.ignored_raw, self.sink)
        self.dhcp = DhcpTracker(limits, self.sink)
        self.dns = DnsTracker(limits, self.sink)
        if not follow_all:
            self.dns.wanted = self.interest.dns_wanted
        self.dns.on_answer = self.interest.note_answer
        self.http = HttpTracker(limits, self.sink)
        self.tls = TlsTracker(limits, tls_keys, self.sink)
        self.ntp = NtpTracker(limits, self.sink)
        self.connects = ConnectTracker(limits, self.sink)
        self._flows: dict[FlowKey, _FlowState] = {}
        self._other_flows: list[TcpFlowSeen] = []
        self._arp: dict[str, list[ArpBinding]] = {}
        self._http_done: list[HttpExchange] = []
        self.checkins = CheckinTracker()
        self._arp_flapping: set[str] = set()
        self._frames = 0
        self._last_ts = 0.0

    # -- hot path ---------------------------------------------------------------------------

    def feed(self, frame: RawFrame) -> list[DhcpSeen | HttpExchange]:
        return self.feed_record(
            frame.index, frame.ts, frame.linktype, frame.data, frame.orig_len, frame.source
        )

    def feed_record(
        self, index: int, ts: float, linktype: int, data: bytes, orig_len: int, source: int = 0
    ) -> list[DhcpSeen | HttpExchange]:
        """:meth:`feed` for a record given as plain values (file readers' hot path)."""
        self._frames += 1
        self._last_ts = ts
        if self._frames % _EXPIRE_EVERY == 0:
            self._route_stream(self.tcp.expire(ts))
        pkt = self.decoder.decode_record(index, ts, linktype, data, orig_len, source)
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
                if seen is None:
                    return []
                self.interest.note_dhcp(seen)
                return [seen]
            if pkt.sport == 53 or pkt.dport == 53:
                self.dns.feed_udp(pkt)
            elif (pkt.sport == 123 or pkt.dport == 123) and (
                self.follow_all or self.interest.phone_packet(pkt)
            ):
                self.ntp.feed(pkt)
            return []
        if pkt.proto == IpProto.TCP:
            if pkt.tcp_flags & (TCP_SYN | TCP_RST) and (
                self.follow_all or self.interest.phone_packet(pkt)
            ):
                self.connects.feed(pkt)
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
            if state is not None and not state.judged and kind in ("http", "tls"):
                if not self._judge(event, state):
                    continue
            if kind == "http":
                done.extend(self.http.feed(event))
            elif kind == "dns":
                self._feed_dns_stream(event, state)
            elif kind == "tls":
                # TLS: handshake facts; decrypted application data comes back as a plaintext
                # flow (same FlowKey) for the HTTP tracker. The only TLS routing in the engine.
                for plain in self.tls.feed(event):
                    done.extend(self.http.feed(plain))
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
        for exchange in done:
            self.interest.note_http(exchange)
        self._http_done.extend(done)
        self.checkins.feed(done)
        return done

    def _judge(self, event: StreamEvent, state: _FlowState) -> bool:
        """Look at an HTTP or TLS flow's first client bytes; release it when it concerns no
        phone (issue: a mirror port's browsing and TLS must not be reassembled).

        Returns False when the flow was released (the event is then dropped). HTTP waits until
        the request line and headers (up to 4 KiB) are in, TLS until the ClientHello record's
        bytes are. A flow seen from the middle (the server speaks first) is kept: its first
        request is not in the capture.
        """
        if self.follow_all:
            state.judged = True
            return True
        if not isinstance(event, StreamData):
            return True
        if event.direction == Direction.TO_CLIENT and not state.head:
            state.judged = True
            return True
        if event.direction != Direction.TO_SERVER:
            return True
        state.head += event.data[: _HEAD_PEEK - len(state.head)]
        flow = event.flow
        if state.opened.kind == "http":
            head = state.head.lstrip(b"\r\n")  # CR/LF before a request line are allowed
            complete = b"\r\n\r\n" in head or b"\n\n" in head
            if not complete and len(state.head) < _HEAD_PEEK:
                return True
            wanted = self.interest.http_wanted(state.head, flow.client_ip)
        else:
            record_end = 5 + ((state.head[3] << 8) | state.head[4]) if len(state.head) >= 5 else 0
            if (not record_end or len(state.head) < record_end) and len(state.head) < _HEAD_PEEK:
                return True
            wanted = self.interest.tls_wanted(state.head, flow.client_ip, flow.server_ip)
        state.judged = True
        state.head = b""
        if wanted:
            return True
        self.tcp.release(flow)
        self.http.forget(flow)
        self.tls.forget(flow)
        del self._flows[flow]
        return False

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
            if len(self._arp) >= MAX_ARP_ADDRESSES:
                self.sink.note(
                    "limit.arp-addresses",
                    f"{pkt.sender_ip} is at {pkt.sender_mac}: more than {MAX_ARP_ADDRESSES} "
                    "addresses already have ARP bindings; not kept",
                    pkt.frame,
                    pkt.ts,
                )
                return
            bindings = self._arp[pkt.sender_ip] = []
        if bindings and bindings[-1].mac == pkt.sender_mac:
            return
        if len(bindings) >= MAX_ARP_PER_IP:
            # Once per address: it keeps changing MAC (two hosts claiming it, a failover pair,
            # spoofing); the bindings kept are the first ones.
            if pkt.sender_ip not in self._arp_flapping:
                self._arp_flapping.add(pkt.sender_ip)
                macs = ", ".join(dict.fromkeys(b.mac for b in bindings))
                self.sink.note(
                    "arp.flapping",
                    f"{pkt.sender_ip} changed MAC more than {MAX_ARP_PER_IP} times ({macs}, now "
                    f"{pkt.sender_mac}); later bindings of it are not kept",
                    pkt.frame,
                    pkt.ts,
                )
            return
        bindings.append(ArpBinding(pkt.sender_ip, pkt.sender_mac, pkt.frame, pkt.ts, pkt.vlans))

    # -- reading the state ------------------------------------------------------------------

    def snapshot(self) -> Analysis:
        """What has completed so far, without ending anything: open flows stay open and waiting
        fragments keep waiting (``capinspect live`` judges phones from this as it goes)."""
        return Analysis(
            inputs=(),
            stats=self.decoder.capture_stats(flush=False),
            dhcp=self.dhcp.exchanges_so_far(),
            dns=self.dns.lookups_so_far(),
            http=tuple(sorted(self._http_done, key=lambda ex: (ex.request.frame, ex.index))),
            other_flows=tuple(sorted(self._other_flows, key=lambda f: f.frame)),
            arp=tuple(b for bindings in self._arp.values() for b in bindings),
            anomalies=(),
            tls=tuple(sorted(self.tls.connections, key=lambda c: c.frame)),
            dhcp_background=self.dhcp.background(),
            checkins=self.checkins.checkins(),
            ntp=self.ntp.exchanges_so_far(),
            connects=self.connects.connects_so_far(),
        )

    # -- end of input -----------------------------------------------------------------------

    def finish(
        self,
        inputs: tuple[InputFile, ...] = (),
        source_anomalies: Iterable[Anomaly] = (),
    ) -> Analysis:
        """Flush every stage (open flows end as ``eof``) and return what was reconstructed."""
        self._route_stream(self.tcp.finish(self._last_ts))
        tls = self.tls.finish()
        last = self.http.finish()
        self._http_done.extend(last)
        self.checkins.feed(last)
        for state in list(self._flows.values()):
            if state.opened.kind not in ("http", "dns"):
                self._other_flows.append(self._flow_seen(state))
        self._flows.clear()
        # The stats first: ending the decoder adds its last anomalies (fragments never
        # completed, anomalies dropped over the limit), which must be in the list below.
        stats = self.decoder.capture_stats()
        # The source's anomalies come bounded by their own reader's sink.
        anomalies = [*source_anomalies, *self.sink.anomalies()]
        http = sorted(self._http_done, key=lambda ex: (ex.request.frame, ex.index))
        return Analysis(
            inputs=inputs,
            stats=stats,
            dhcp=self.dhcp.finish(),
            dns=self.dns.finish(),
            http=tuple(http),
            other_flows=tuple(sorted(self._other_flows, key=lambda f: f.frame)),
            arp=tuple(b for bindings in self._arp.values() for b in bindings),
            anomalies=tuple(anomalies),
            tls=tls,
            dhcp_background=self.dhcp.background(),
            checkins=self.checkins.checkins(),
            ntp=self.ntp.finish(),
            connects=self.connects.finish(),
        )
