"""Matches DNS queries with their responses and turns them into :class:`DnsLookup` values.

Theory of operation
-------------------

A lookup is one question (name, type) sent by one client socket to one server socket under one
DNS id, over one transport. The match key is therefore::

    (id, client ip, client port, server ip, server port, qname, qtype, transport)

with names lower-cased (resolvers using 0x20 case randomisation still match).

* A query whose key is open and **unanswered** is a retransmission: its frame joins
  ``query_frames``. Once answered, the same key starts a new lookup.
* The first response to an open key answers it (rcode, answers, CNAME chain). A later response
  to an answered key is kept out of the answer but recorded: its frame joins
  ``response_frames`` and a ``dns.duplicate-response`` anomaly names both frames (an on-path
  injector, or a resolver answering twice: see the corpus trace dns-two-responses.pcap).
* A response with no open query still becomes a lookup, with empty ``query_frames`` and a
  ``dns.response-without-query`` anomaly (the capture started late or missed the query).
* A response with an empty question section (some servers answer FORMERR that way) answers the
  only open lookup with the same id and sockets, if there is exactly one.

Open keys are forgotten ``Limits.dns_timeout`` seconds (packet time) after their last query or
response; an unanswered lookup then stays unanswered (``rcode`` None). At most
``Limits.max_dns_pending`` unanswered lookups are open at once and ``Limits.max_dns_lookups``
lookups kept in all; past either, new queries are dropped with a ``limit.*`` anomaly.

DNS over TCP arrives as stream bytes (``feed_tcp``); a :class:`DnsTcpFramer` per flow direction
cuts it into messages.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Final

from capinspect.anomalies import AnomalySink
from capinspect.errors import Malformed
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import Anomaly, Direction, FlowKey, IpProto, Packet, hot_value
from capinspect.protocols.dns.messages import DnsLookup, DnsRecord
from capinspect.protocols.dns.parser import HEADER_LEN, DnsTcpFramer, ParsedDns, parse_dns
from capinspect.wire import plain_name, read_name

DNS_PORT: Final = 53

# id, client ip, client port, server ip, server port, qname, qtype, transport
_Key = tuple[int, str, int, str, int, str, str, str]


@dataclass(slots=True)
class _Lookup:
    """A lookup being built (private, mutable; frozen into DnsLookup on output)."""

    key: _Key
    first_ts: float
    last_ts: float
    client_mac: str | None
    vlans: tuple[int, ...]
    query_frames: list[int] = field(default_factory=list)
    response_frames: list[int] = field(default_factory=list)
    response_ts: float | None = None
    rcode: str | None = None
    answers: tuple[DnsRecord, ...] = ()
    anomalies: list[Anomaly] = field(default_factory=list)

    @property
    def first_frame(self) -> int:
        return min(self.query_frames or self.response_frames)


def _first_question_name(payload: bytes) -> str | None:
    """The first question's name in a DNS message, lower-cased, read without parsing the
    message (the tracker decides from it whether the message matters); None when it cannot be
    read, for the full parser to say why.

    A plain name (labels up to the root label, as phones and PCs send their questions) is read
    from the bytes up to the first zero byte after the header, and remembered
    (:func:`_plain_question`); any other is read with :func:`~capinspect.wire.read_name`."""
    root = payload.find(0, HEADER_LEN)
    if root > 0:
        name = _plain_question(payload[HEADER_LEN : root + 1])
        if name is not None:
            return name
    try:
        return read_name(payload, HEADER_LEN)[0].lower()
    except Malformed:
        return None


@lru_cache(maxsize=4096)
def _plain_question(name: bytes) -> str | None:
    """The lower-cased name of a plain name's wire bytes up to its root label (see
    :func:`~capinspect.wire.plain_name`), remembered: a mirror port's PCs ask the same few
    names thousands of times, and every question is read to decide whether it matters.

    The bytes end at the first zero byte after the header, which is the root label of a
    plain name; a name that is not plain (a zero inside a label, a compression pointer) is
    ``None`` here as it is for ``plain_name`` on the whole message."""
    text = plain_name(name, 0)
    return None if text is None else text.lower()


@hot_value
class _Seen:
    """One DNS message with the packet facts the tracker needs."""

    parsed: ParsedDns
    frame: int
    ts: float
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    transport: str
    client_mac: str | None
    vlans: tuple[int, ...]


def follow_cnames(
    qname: str, answers: tuple[DnsRecord, ...]
) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(cname chain from qname, final A/AAAA addresses, chain loops).

    The chain is empty when the answer has no CNAME for ``qname``; addresses are the A/AAAA
    values owned by the last name of the chain (by ``qname`` when there is no chain).
    """
    targets: dict[str, str] = {}
    for record in answers:
        if record.rtype == "CNAME":
            targets.setdefault(record.name, record.value)
    chain = [qname]
    loops = False
    while chain[-1] in targets:
        following = targets[chain[-1]]
        if following in chain:
            loops = True
            break
        chain.append(following)
    final = chain[-1]
    addresses = tuple(r.value for r in answers if r.rtype in ("A", "AAAA") and r.name == final)
    return (tuple(chain) if len(chain) > 1 else ()), addresses, loops


def _stamp(anomalies: tuple[Anomaly, ...], frame: int, ts: float) -> list[Anomaly]:
    return [replace(a, frame=frame, ts=ts) for a in anomalies]


class DnsTracker:
    """Feeds on DNS packets and stream bytes; see the module docstring."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, sink: AnomalySink | None = None) -> None:
        self.limits = limits
        self.sink = sink if sink is not None else AnomalySink()
        """Capture-level problems: undecodable messages, messages without a question, limits."""
        self._lookups: list[_Lookup] = []
        self._open: OrderedDict[_Key, _Lookup] = OrderedDict()
        self._pending = 0
        self._framers: OrderedDict[tuple[FlowKey, Direction], DnsTcpFramer] = OrderedDict()
        self.wanted: Callable[[str, str], bool] | None = None
        """When set, ``wanted(qname, client_ip)`` decides from the question alone whether a
        UDP message is worth a full parse (a mirror port carries thousands of lookups that
        concern no phone; dnspython costs a quarter of a millisecond a message)."""
        self.on_answer: Callable[[str, tuple[str, ...]], None] | None = None
        """When set, called with (qname, answer values) as each lookup is first answered."""
        self.skipped = 0
        """UDP DNS messages not parsed because ``wanted`` said no."""
        self._limit_reported: set[str] = set()

    # -- input ------------------------------------------------------------------------------

    @property
    def anomalies(self) -> list[Anomaly]:
        """The anomalies its sink kept so far."""
        return self.sink.kept

    def feed_udp(self, pkt: Packet) -> None:
        """Take one UDP packet; anything not to or from port 53 is ignored."""
        if pkt.proto != IpProto.UDP or DNS_PORT not in (pkt.sport, pkt.dport):
            return
        payload = pkt.payload
        if self.wanted is not None and len(payload) > HEADER_LEN and payload[5] | payload[4]:
            client_ip = pkt.dst_ip if payload[2] & 0x80 else pkt.src_ip
            qname = _first_question_name(payload)
            if qname is not None and not self.wanted(qname, client_ip):
                self.skipped += 1
                return
        parsed = self._parse(payload, pkt.frame, pkt.ts)
        if parsed is None:
            return
        if parsed.is_response:
            client_ip, client_port, server_ip, server_port = (
                pkt.dst_ip,
                pkt.dport,
                pkt.src_ip,
                pkt.sport,
            )
            client_mac = pkt.dst_mac
        else:
            client_ip, client_port, server_ip, server_port = (
                pkt.src_ip,
                pkt.sport,
                pkt.dst_ip,
                pkt.dport,
            )
            client_mac = pkt.src_mac
        self._handle(
            _Seen(
                parsed,
                pkt.frame,
                pkt.ts,
                client_ip,
                client_port,
                server_ip,
                server_port,
                "udp",
                client_mac,
                pkt.vlans,
            )
        )

    def feed_tcp(
        self,
        flow: FlowKey,
        direction: Direction,
        data: bytes,
        frame: int,
        ts: float,
        client_mac: str | None = None,
        vlans: tuple[int, ...] = (),
    ) -> None:
        """Take in-order stream bytes of one direction of a DNS-over-TCP flow."""
        framer = self._framer(flow, direction, frame, ts)
        for payload in framer.feed(data):
            parsed = self._parse(payload, frame, ts)
            if parsed is None:
                continue
            self._handle(
                _Seen(
                    parsed,
                    frame,
                    ts,
                    flow.client_ip,
                    flow.client_port,
                    flow.server_ip,
                    flow.server_port,
                    "tcp",
                    client_mac,
                    vlans,
                )
            )

    def gap_tcp(self, flow: FlowKey, direction: Direction) -> None:
        """Bytes of this direction were never captured: drop the partial message."""
        framer = self._framers.get((flow, direction))
        if framer is not None:
            framer.gap()

    def end_tcp(self, flow: FlowKey, direction: Direction) -> None:
        """This direction ended: free its framer (a partial message left in it is reported)."""
        framer = self._framers.pop((flow, direction), None)
        if framer is not None and framer.pending:
            self.sink.add(
                Anomaly(
                    "dns.tcp-partial-message",
                    f"{framer.pending} bytes of an unfinished DNS message when "
                    f"{flow.client_ip}:{flow.client_port} ↔ {flow.server_ip}:{flow.server_port} "
                    "ended",
                )
            )

    def _framer(self, flow: FlowKey, direction: Direction, frame: int, ts: float) -> DnsTcpFramer:
        key = (flow, direction)
        framer = self._framers.get(key)
        if framer is None:
            if len(self._framers) >= self.limits.max_flows:
                self._framers.popitem(last=False)
                self._report_limit(
                    "max_flows",
                    f"more than {self.limits.max_flows} DNS-over-TCP directions open; the "
                    "oldest was dropped",
                    frame,
                    ts,
                )
            framer = self._framers[key] = DnsTcpFramer()
        return framer

    def _parse(self, payload: bytes, frame: int, ts: float) -> ParsedDns | None:
        try:
            return parse_dns(payload)
        except Malformed as exc:
            self.sink.add(Anomaly("dns.malformed", str(exc), frame=frame, ts=ts))
            return None

    def _report_limit(self, name: str, detail: str, frame: int, ts: float) -> None:
        """One anomaly per limit: the first time it bites, with the frame where it did."""
        if name not in self._limit_reported:
            self._limit_reported.add(name)
            self.sink.add(Anomaly(f"limit.{name}", detail, frame=frame, ts=ts))

    # -- matching ---------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        """Forget open keys idle for longer than ``dns_timeout`` (packet time)."""
        horizon = now - self.limits.dns_timeout
        while self._open:
            key, lookup = next(iter(self._open.items()))
            if lookup.last_ts >= horizon:
                break
            del self._open[key]
            if lookup.rcode is None:
                self._pending -= 1

    def _handle(self, seen: _Seen) -> None:
        self._expire(seen.ts)
        parsed = seen.parsed
        anomalies = _stamp(parsed.anomalies, seen.frame, seen.ts)
        if not parsed.questions:
            if parsed.is_response and self._answer_by_socket(seen, anomalies):
                return
            side = "response" if parsed.is_response else "query"
            self.sink.add(
                Anomaly(
                    "dns.no-question",
                    f"{side} id {parsed.dns_id} between {seen.client_ip}:{seen.client_port} "
                    f"and {seen.server_ip}:{seen.server_port} has no usable question",
                    frame=seen.frame,
                    ts=seen.ts,
                )
            )
            self.sink.extend(anomalies)
            return
        for question in parsed.questions:
            key: _Key = (
                parsed.dns_id,
                seen.client_ip,
                seen.client_port,
                seen.server_ip,
                seen.server_port,
                question.name,
                question.rtype,
                seen.transport,
            )
            if parsed.is_response:
                self._response(key, seen, anomalies)
            else:
                self._query(key, seen, anomalies)

    def _query(self, key: _Key, seen: _Seen, anomalies: list[Anomaly]) -> None:
        lookup = self._open.get(key)
        if lookup is not None and lookup.rcode is None:
            lookup.query_frames.append(seen.frame)
            lookup.last_ts = seen.ts
            lookup.anomalies.extend(anomalies)
            self._open.move_to_end(key)
            return
        if self._pending >= self.limits.max_dns_pending:
            self._report_limit(
                "max_dns_pending",
                f"{self.limits.max_dns_pending} DNS queries already wait for an answer; "
                "new queries are not tracked until some are answered or time out",
                seen.frame,
                seen.ts,
            )
            return
        lookup = self._new_lookup(key, seen, anomalies)
        if lookup is not None:
            lookup.query_frames.append(seen.frame)
            self._pending += 1

    def _response(self, key: _Key, seen: _Seen, anomalies: list[Anomaly]) -> None:
        lookup = self._open.get(key)
        if lookup is None:
            lookup = self._new_lookup(key, seen, anomalies)
            if lookup is None:
                return
            self._pending += 1  # _answer() takes it back
            lookup.anomalies.append(
                Anomaly(
                    "dns.response-without-query",
                    f"response id {seen.parsed.dns_id} for {key[5]} {key[6]} from "
                    f"{seen.server_ip} matches no captured query",
                    frame=seen.frame,
                    ts=seen.ts,
                )
            )
            anomalies = []
        self._answer(key, lookup, seen, anomalies)

    def _answer(self, key: _Key, lookup: _Lookup, seen: _Seen, anomalies: list[Anomaly]) -> None:
        parsed = seen.parsed
        lookup.anomalies.extend(anomalies)
        lookup.last_ts = seen.ts
        self._open.move_to_end(key)
        if lookup.rcode is None:
            lookup.rcode = parsed.rcode
            lookup.answers = parsed.answers
            lookup.response_ts = seen.ts
            lookup.response_frames.append(seen.frame)
            self._pending -= 1
            if self.on_answer is not None and parsed.answers:
                self.on_answer(key[5], tuple(r.value for r in parsed.answers))
            return
        same = parsed.rcode == lookup.rcode and parsed.answers == lookup.answers
        lookup.anomalies.append(
            Anomaly(
                "dns.duplicate-response",
                f"second response (frame {seen.frame}) to the query answered in frame "
                f"{lookup.response_frames[0]}; "
                + (
                    "it is identical"
                    if same
                    else f"it differs ({parsed.rcode}, {len(parsed.answers)} answers); "
                    "the first is kept"
                ),
                frame=seen.frame,
                ts=seen.ts,
            )
        )
        lookup.response_frames.append(seen.frame)

    def _answer_by_socket(self, seen: _Seen, anomalies: list[Anomaly]) -> bool:
        """Answer the single open lookup with this id and these sockets (no question given)."""
        socket_key = (
            seen.parsed.dns_id,
            seen.client_ip,
            seen.client_port,
            seen.server_ip,
            seen.server_port,
        )
        candidates = [
            (key, lookup)
            for key, lookup in self._open.items()
            if key[:5] == socket_key and key[7] == seen.transport
        ]
        if len(candidates) != 1:
            return False
        key, lookup = candidates[0]
        self._answer(key, lookup, seen, anomalies)
        return True

    def _new_lookup(self, key: _Key, seen: _Seen, anomalies: list[Anomaly]) -> _Lookup | None:
        if len(self._lookups) >= self.limits.max_dns_lookups:
            self._report_limit(
                "max_dns_lookups",
                f"{self.limits.max_dns_lookups} DNS lookups kept; later ones are not tracked",
                seen.frame,
                seen.ts,
            )
            return None
        previous = self._open.pop(key, None)
        if previous is not None and previous.rcode is None:
            self._pending -= 1
        lookup = _Lookup(
            key=key,
            first_ts=seen.ts,
            last_ts=seen.ts,
            client_mac=seen.client_mac,
            vlans=seen.vlans,
            anomalies=list(anomalies),
        )
        self._lookups.append(lookup)
        self._open[key] = lookup
        return lookup

    # -- output -----------------------------------------------------------------------------

    @staticmethod
    def _freeze(lookup: _Lookup) -> DnsLookup:
        dns_id, client_ip, client_port, server_ip, server_port, qname, qtype, transport = lookup.key
        chain, addresses, loops = follow_cnames(qname, lookup.answers)
        anomalies = list(lookup.anomalies)
        if loops:
            anomalies.append(
                Anomaly(
                    "dns.cname-loop",
                    f"the CNAME chain from {qname} loops: {' → '.join(chain)}",
                    frame=lookup.response_frames[0] if lookup.response_frames else None,
                    ts=lookup.response_ts,
                )
            )
        return DnsLookup(
            qname=qname,
            qtype=qtype,
            dns_id=dns_id,
            client_ip=client_ip,
            client_port=client_port,
            server_ip=server_ip,
            server_port=server_port,
            transport=transport,
            query_frames=tuple(lookup.query_frames),
            first_ts=lookup.first_ts,
            response_frames=tuple(lookup.response_frames),
            response_ts=lookup.response_ts,
            rcode=lookup.rcode,
            answers=lookup.answers,
            cname_chain=chain,
            addresses=addresses,
            client_mac=lookup.client_mac,
            vlans=lookup.vlans,
            anomalies=tuple(anomalies),
        )

    def lookups_so_far(self) -> tuple[DnsLookup, ...]:
        """Every lookup until now, frozen (for live display); sorted by first frame."""
        ordered = sorted(self._lookups, key=lambda lookup: lookup.first_frame)
        return tuple(self._freeze(lookup) for lookup in ordered)

    def finish(self) -> tuple[DnsLookup, ...]:
        """Every lookup of the capture, sorted by first frame."""
        return self.lookups_so_far()
