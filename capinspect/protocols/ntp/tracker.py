"""Pairs a client's NTP requests with the server's answers.

Theory of operation
-------------------

The engine feeds only the NTP of phones (``engine._Interest``: their MACs and addresses), so
what is kept follows the phones, not the mirror port's other clocks. An exchange is one
client address asking one server address:

* a client request (mode 3, or symmetric active mode 1) joins the open, unanswered exchange of
  the same client and server when it comes within ``Limits.ntp_retry_window`` seconds of that
  exchange's last request — a retry (SNTP clients may change source port between tries) — and
  starts a new exchange otherwise;
* a server answer (mode 4, or 2) closes the open exchange of its client and server: it answers
  the request whose transmit timestamp its origin timestamp copies (RFC 5905 §8), else the last
  request sent. An answer to no captured request is kept as an exchange without requests.

Broadcast (mode 5) and control/private messages (6, 7) are counted, not paired. A payload that
cannot be NTP is an ``ntp.malformed`` anomaly. Bounds: ``Limits.max_ntp_exchanges`` exchanges
(``limit.max_ntp_exchanges`` once), at most :data:`MAX_REQUESTS_KEPT` requests each (the rest
counted). Time is packet time only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from capinspect.anomalies import AnomalySink
from capinspect.errors import Malformed
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import FlowKey, Packet
from capinspect.protocols.ntp.messages import NtpExchange, NtpSeen
from capinspect.protocols.ntp.parser import NTP_PORT, parse_ntp

MAX_REQUESTS_KEPT = 16
"""Requests kept per exchange (a client retrying for minutes keeps its first ones)."""
_REQUEST_MODES = frozenset((1, 3))
_ANSWER_MODES = frozenset((2, 4))


@dataclass(slots=True)
class _Open:
    flow: FlowKey
    client_mac: str | None
    vlans: tuple[int, ...]
    requests: list[NtpSeen] = field(default_factory=list)
    dropped: int = 0


class NtpTracker:
    """Feed UDP packets to or from port 123; read :attr:`exchanges` at the end."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, sink: AnomalySink | None = None) -> None:
        self.limits = limits
        self.sink = sink if sink is not None else AnomalySink()
        self.other_messages = 0
        """Broadcast, control and private messages seen (not paired)."""
        self._open: dict[tuple[str, str], _Open] = {}
        self._done: list[NtpExchange] = []
        self._full = False

    def feed(self, pkt: Packet) -> NtpExchange | None:
        """Take one packet; returns the exchange an answer completed, if any."""
        try:
            message = parse_ntp(pkt.payload)
        except Malformed as exc:
            self.sink.note(
                "ntp.malformed",
                f"UDP {pkt.src_ip}:{pkt.sport} → {pkt.dst_ip}:{pkt.dport}: {exc}",
                pkt.frame,
                pkt.ts,
            )
            return None
        if message is None or message.mode not in _REQUEST_MODES | _ANSWER_MODES:
            self.other_messages += 1
            return None
        seen = NtpSeen(message, pkt.frame, pkt.ts)
        if message.mode in _REQUEST_MODES and pkt.dport == NTP_PORT:
            self._request(pkt, seen)
            return None
        if message.mode in _ANSWER_MODES and pkt.sport == NTP_PORT:
            return self._answer(pkt, seen)
        self.other_messages += 1
        return None

    def _room(self, pkt: Packet) -> bool:
        if len(self._done) + len(self._open) < self.limits.max_ntp_exchanges:
            return True
        if not self._full:
            self._full = True
            self.sink.note(
                "limit.max_ntp_exchanges",
                f"{self.limits.max_ntp_exchanges} NTP exchanges kept; later ones are not tracked",
                pkt.frame,
                pkt.ts,
            )
        return False

    def _request(self, pkt: Packet, seen: NtpSeen) -> None:
        key = (pkt.src_ip, pkt.dst_ip)
        current = self._open.get(key)
        if current is not None and current.requests:
            if seen.ts - current.requests[-1].ts <= self.limits.ntp_retry_window:
                if len(current.requests) < MAX_REQUESTS_KEPT:
                    current.requests.append(seen)
                else:
                    current.dropped += 1
                return
            self._close(key, None)
        if not self._room(pkt):
            return
        flow = FlowKey(pkt.src_ip, pkt.sport, pkt.dst_ip, pkt.dport)
        self._open[key] = _Open(flow, pkt.src_mac, pkt.vlans, [seen])

    def _answer(self, pkt: Packet, seen: NtpSeen) -> NtpExchange | None:
        key = (pkt.dst_ip, pkt.src_ip)
        if key not in self._open:
            if not self._room(pkt):
                return None
            flow = FlowKey(pkt.dst_ip, pkt.dport, pkt.src_ip, pkt.sport)
            self._open[key] = _Open(flow, pkt.dst_mac, pkt.vlans)
        return self._close(key, seen)

    def _close(self, key: tuple[str, str], answer: NtpSeen | None) -> NtpExchange:
        current = self._open.pop(key)
        answered: int | None = None
        if answer is not None and current.requests:
            answered = len(current.requests) - 1
            for index, request in enumerate(current.requests):
                if request.message.transmit_raw == answer.message.origin_raw:
                    answered = index
        exchange = NtpExchange(
            flow=current.flow,
            client_mac=current.client_mac,
            vlans=current.vlans,
            requests=tuple(current.requests),
            answer=answer,
            answered_request=answered,
            retries_dropped=current.dropped,
        )
        self._done.append(exchange)
        return exchange

    def exchanges_so_far(self) -> tuple[NtpExchange, ...]:
        """Closed exchanges and the open (unanswered) ones, without closing anything."""
        pending = [
            NtpExchange(o.flow, o.client_mac, o.vlans, tuple(o.requests), None, None, o.dropped)
            for o in self._open.values()
        ]
        return tuple(sorted((*self._done, *pending), key=lambda ex: ex.frame))

    def finish(self) -> tuple[NtpExchange, ...]:
        """End of input: open exchanges stay unanswered."""
        for key in list(self._open):
            self._close(key, None)
        return tuple(sorted(self._done, key=lambda ex: ex.frame))
