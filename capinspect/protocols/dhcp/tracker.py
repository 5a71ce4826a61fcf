"""Groups DHCP messages into exchanges: one client transaction (xid) of one client MAC.

Theory of operation
-------------------

A DHCP client picks a transaction id (xid) for each conversation and every server reply copies
it, together with the client hardware address (chaddr). So ``(xid, chaddr)`` names one
conversation: DISCOVER → OFFER(s) → REQUEST → ACK/NAK, or INFORM → ACK(s), or a lone RELEASE.
The tracker keeps, for every key, the exchange that is still *open*: a message joins it when it
comes within ``Limits.dhcp_exchange_window`` seconds (packet time) of that exchange's last
message, which keeps a client's retransmissions (4, 8, 16… seconds apart) together. A client
message whose *kind* differs from the open exchange (an INFORM after a lease with the same xid)
starts a new exchange.

What kind a message gives its exchange lives in the two tables below and nowhere else:

* :data:`KIND_OF_CLIENT_MESSAGE` — client messages (op 1) decide the kind.
* Server messages (op 2) join the open exchange. When none is open (the capture missed the
  client's broadcast), :func:`_kind_of_orphan_reply` guesses: an ACK with ``yiaddr`` 0.0.0.0 and
  no lease time (option 51) answers an INFORM; OFFER/ACK/NAK otherwise belong to a lease.

Several servers may answer one INFORM (the enterprise DHCP server *and* the Lync Registrar's
responder, protocol.md §1.1): every reply is kept.

Replies rarely carry option 60, yet option 43 only means something for the vendor class the
client asked with (``MS-UC-Client`` sub-options 1–5 vs ``CPE-OCPHONE`` sub-option 10). So each
reply's option 43 is decoded again with the option 60 of the latest client message of its
exchange (:func:`_with_request_vendor_class`).

Background clients. A mirror port carries the DHCP of every PC on the VLAN; kept whole, their
messages would make memory grow with the length of the capture. A client whose messages never
carried a phone's vendor class (``MS-UC-Client``/``CPE-OCPHONE``) is *background*: the
``Limits.max_background_dhcp_clients`` most recently active background clients keep every
exchange (a phone that asks for its lease without option 60 and says who it is in its INFORM a
moment later is still whole), and the least recently active beyond that are summarised into
:class:`DhcpBackground`: counts, vendor classes and the address bindings that changed hands.
A summarised client that later shows a phone's vendor class gets a
``dhcp.history-summarised`` anomaly: its earlier exchanges are not in the report.

Bounds: ``Limits.max_dhcp_exchanges`` exchanges and ``Limits.max_dhcp_messages_per_exchange``
messages each; going over either is an ``limit.*`` anomaly, never silent.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from typing import Final

from capinspect.anomalies import AnomalySink
from capinspect.errors import Malformed
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import Anomaly, IpProto, Packet
from capinspect.protocols.dhcp.messages import (
    ACK,
    DECLINE,
    DISCOVER,
    INFORM,
    NAK,
    OFFER,
    RELEASE,
    REQUEST,
    DhcpBackground,
    DhcpBinding,
    DhcpExchange,
    DhcpMessage,
    DhcpSeen,
    is_phone_vendor_class,
    message_bindings,
)
from capinspect.protocols.dhcp.parser import decode_option43, parse_dhcp

DHCP_PORTS: Final = frozenset({67, 68})
BOOTREQUEST: Final = 1

# Client message type (option 53; None = plain BOOTP) → exchange kind.
KIND_OF_CLIENT_MESSAGE: Final[dict[int | None, str]] = {
    DISCOVER: "lease",
    REQUEST: "lease",
    DECLINE: "lease",
    INFORM: "inform",
    RELEASE: "release",
    None: "bootp",
}
# Client message types not in the table (e.g. RFC 4388 LEASEQUERY) are filed with leases.
DEFAULT_CLIENT_KIND: Final = "lease"


def _kind_of_orphan_reply(message: DhcpMessage) -> str:
    """The kind of an exchange that starts with a server message (its request was not seen)."""
    if message.msg_type is None:
        return "bootp"
    if message.msg_type == ACK and message.yiaddr == "0.0.0.0" and message.option(51) is None:
        return "inform"
    if message.msg_type in (OFFER, ACK, NAK):
        return "lease"
    return DEFAULT_CLIENT_KIND


def _stamp(anomalies: tuple[Anomaly, ...], frame: int, ts: float) -> tuple[Anomaly, ...]:
    """The parser does not know the frame; the tracker does."""
    return tuple(replace(a, frame=frame, ts=ts) for a in anomalies)


@dataclass(slots=True)
class _Exchange:
    """An exchange being built (private and mutable; frozen into DhcpExchange on output)."""

    xid: int
    client_mac: str
    kind: str
    kind_guessed: bool
    messages: list[DhcpSeen] = field(default_factory=list)
    dropped_messages: int = 0
    first_dropped_frame: int | None = None

    @property
    def last_ts(self) -> float:
        return self.messages[-1].ts


def _request_vendor_class(messages: list[DhcpSeen], before: int) -> str | None:
    """Option 60 of the latest client message before index ``before``, else of any client
    message in the exchange (a merged capture may put a reply first)."""
    for seen in reversed(messages[:before]):
        if seen.message.op == BOOTREQUEST and seen.message.vendor_class is not None:
            return seen.message.vendor_class
    for seen in messages[before:]:
        if seen.message.op == BOOTREQUEST and seen.message.vendor_class is not None:
            return seen.message.vendor_class
    return None


def _with_request_vendor_class(messages: list[DhcpSeen], index: int) -> DhcpSeen:
    """The reply at ``index`` with option 43 decoded for its request's vendor class."""
    seen = messages[index]
    message = seen.message
    if message.op == BOOTREQUEST or message.option43 is None:
        return seen
    vendor_class = _request_vendor_class(messages, index)
    if vendor_class is None or vendor_class == message.option43.vendor_class:
        return seen
    option43 = decode_option43(message.option43.raw, vendor_class)
    return replace(seen, message=replace(message, option43=option43))


class DhcpTracker:
    """Feeds on decoded UDP packets, keeps DHCP exchanges; see the module docstring."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, sink: AnomalySink | None = None) -> None:
        self.limits = limits
        self.sink = sink if sink is not None else AnomalySink()
        """Capture-level problems: payloads that are not DHCP at all, limits reached."""
        self._exchanges: dict[int, _Exchange] = {}
        """Kept exchanges by serial number (creation order)."""
        self._serial = 0
        self._open: dict[tuple[int, str], _Exchange] = {}
        self._exchanges_dropped = 0
        self._phones: set[str] = set()
        """Client MACs that sent a phone's vendor class: their exchanges are always kept."""
        self._background: OrderedDict[str, list[int]] = OrderedDict()
        """Other clients, least recently active first, with their exchanges' serials."""
        self._summarised: set[str] = set()
        self._summary_exchanges = 0
        self._summary_messages = 0
        self._summary_classes: Counter[str] = Counter()
        self._bindings: list[DhcpBinding] = []
        self._owner: dict[str, str] = {}
        """Each address's latest MAC by DHCP, to record a background binding only on change."""

    @property
    def anomalies(self) -> list[Anomaly]:
        """The anomalies its sink kept so far."""
        return self.sink.kept

    def feed(self, pkt: Packet) -> DhcpSeen | None:
        """Take one packet; return the DHCP message it carried, or None when it carried none.

        Only UDP with port 67 or 68 on either side is looked at. A payload too short for a
        BOOTP header becomes a ``dhcp.malformed`` anomaly in :attr:`anomalies`.
        """
        if pkt.proto != IpProto.UDP or not ({pkt.sport, pkt.dport} & DHCP_PORTS):
            return None
        try:
            message = parse_dhcp(pkt.payload)
        except Malformed as exc:
            self.sink.add(
                Anomaly(
                    "dhcp.malformed",
                    f"UDP {pkt.src_ip}:{pkt.sport} → {pkt.dst_ip}:{pkt.dport}: {exc}",
                    frame=pkt.frame,
                    ts=pkt.ts,
                )
            )
            return None
        if message.anomalies:
            message = replace(message, anomalies=_stamp(message.anomalies, pkt.frame, pkt.ts))
        seen = DhcpSeen(
            message=message,
            frame=pkt.frame,
            ts=pkt.ts,
            src_mac=pkt.src_mac,
            dst_mac=pkt.dst_mac,
            src_ip=pkt.src_ip,
            dst_ip=pkt.dst_ip,
            vlans=pkt.vlans,
        )
        exchange = self._place(seen)
        self._note_client(seen)
        if exchange is None:
            return seen
        return _with_request_vendor_class(exchange.messages, len(exchange.messages) - 1)

    def _note_client(self, seen: DhcpSeen) -> None:
        """Keep the phone/background bookkeeping and the background clients bounded."""
        message = seen.message
        mac = message.chaddr
        if message.op == BOOTREQUEST and is_phone_vendor_class(message.vendor_class):
            if mac not in self._phones:
                self._phones.add(mac)
                self._background.pop(mac, None)
                if mac in self._summarised:
                    self.sink.add(
                        Anomaly(
                            "dhcp.history-summarised",
                            f"{mac} first showed a phone's vendor class here, after more than"
                            f" {self.limits.max_background_dhcp_clients} other DHCP clients;"
                            " its earlier DHCP exchanges were only counted",
                            frame=seen.frame,
                            ts=seen.ts,
                        )
                    )
        for binding in message_bindings(seen, mac):
            if self._owner.get(binding.ip) != mac:
                self._owner[binding.ip] = mac
                if mac not in self._phones:
                    self._bindings.append(binding)
        if mac in self._phones:
            return
        self._background.move_to_end(mac)
        while len(self._background) > self.limits.max_background_dhcp_clients:
            self._summarise(*self._background.popitem(last=False))

    def _summarise(self, mac: str, serials: list[int]) -> None:
        """Forget a background client's exchanges, keeping counts and vendor classes."""
        self._summarised.add(mac)
        for serial in serials:
            exchange = self._exchanges.pop(serial, None)
            if exchange is None:
                continue
            key = (exchange.xid, exchange.client_mac)
            if self._open.get(key) is exchange:
                del self._open[key]
            self._summary_exchanges += 1
            self._summary_messages += len(exchange.messages)
            for seen in exchange.messages:
                if seen.message.op == BOOTREQUEST:
                    self._summary_classes[seen.message.vendor_class or "(none)"] += 1

    def background(self) -> DhcpBackground:
        """What is left of the summarised background clients (see the module docstring)."""
        return DhcpBackground(
            clients=len(self._summarised),
            exchanges=self._summary_exchanges,
            messages=self._summary_messages,
            vendor_classes=tuple(self._summary_classes.most_common()),
            bindings=tuple(self._bindings),
        )

    def _place(self, seen: DhcpSeen) -> _Exchange | None:
        """Put the message into its open exchange or a new one; None when a limit refused it."""
        message = seen.message
        key = (message.xid, message.chaddr)
        is_client = message.op == BOOTREQUEST
        kind = (
            KIND_OF_CLIENT_MESSAGE.get(message.msg_type, DEFAULT_CLIENT_KIND) if is_client else None
        )
        exchange = self._open.get(key)
        joins = (
            exchange is not None
            and abs(seen.ts - exchange.last_ts) <= self.limits.dhcp_exchange_window
            and (kind is None or kind == exchange.kind or exchange.kind_guessed)
        )
        if exchange is not None and joins:
            if kind is not None and exchange.kind_guessed:
                exchange.kind, exchange.kind_guessed = kind, False
            if len(exchange.messages) >= self.limits.max_dhcp_messages_per_exchange:
                exchange.dropped_messages += 1
                if exchange.first_dropped_frame is None:
                    exchange.first_dropped_frame = seen.frame
                return None
            exchange.messages.append(seen)
            return exchange

        if len(self._exchanges) >= self.limits.max_dhcp_exchanges:
            if self._exchanges_dropped == 0:
                self.sink.add(
                    Anomaly(
                        "limit.max_dhcp_exchanges",
                        f"{self.limits.max_dhcp_exchanges} DHCP exchanges kept; exchanges "
                        "starting from this frame on are not tracked",
                        frame=seen.frame,
                        ts=seen.ts,
                    )
                )
            self._exchanges_dropped += 1
            return None
        exchange = _Exchange(
            xid=message.xid,
            client_mac=message.chaddr,
            kind=kind if kind is not None else _kind_of_orphan_reply(message),
            kind_guessed=kind is None,
            messages=[seen],
        )
        self._serial += 1
        self._exchanges[self._serial] = exchange
        self._open[key] = exchange
        if message.chaddr not in self._phones:
            self._background.setdefault(message.chaddr, []).append(self._serial)
        return exchange

    @staticmethod
    def _freeze(exchange: _Exchange) -> DhcpExchange:
        messages = tuple(
            _with_request_vendor_class(exchange.messages, i) for i in range(len(exchange.messages))
        )
        anomalies: list[Anomaly] = []
        if exchange.dropped_messages:
            anomalies.append(
                Anomaly(
                    "limit.max_dhcp_messages_per_exchange",
                    f"{exchange.dropped_messages} further messages with xid "
                    f"0x{exchange.xid:08x} from {exchange.client_mac} were not kept",
                    frame=exchange.first_dropped_frame,
                )
            )
        if not any(seen.message.op == BOOTREQUEST for seen in messages):
            first = messages[0]
            anomalies.append(
                Anomaly(
                    "dhcp.reply-without-request",
                    f"no client message with xid 0x{exchange.xid:08x} was captured; the "
                    "vendor class of option 43 is a guess",
                    frame=first.frame,
                    ts=first.ts,
                )
            )
        return DhcpExchange(
            xid=exchange.xid,
            client_mac=exchange.client_mac,
            kind=exchange.kind,
            messages=messages,
            anomalies=tuple(anomalies),
        )

    def exchanges_so_far(self) -> tuple[DhcpExchange, ...]:
        """Every exchange seen until now, frozen (for live display); sorted by first frame."""
        frozen = (self._freeze(exchange) for exchange in self._exchanges.values())
        return tuple(sorted(frozen, key=lambda ex: min(ex.frames)))

    def finish(self) -> tuple[DhcpExchange, ...]:
        """Every exchange of the capture, sorted by first frame."""
        return self.exchanges_so_far()
