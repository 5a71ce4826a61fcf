"""DHCP values: one decoded message, and an exchange of messages with one xid and client MAC.

Option 43 and option 120 are decoded into their own values because they are what the phone
needs to find the Certificate Provisioning service and its SIP pool (protocol.md §1.2–1.4);
every other option keeps its raw bytes and a decoded ``value`` for display.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from capinspect.knowledge.phone import PHONE_VENDOR_CLASSES, is_phone_vendor_class
from capinspect.model import Anomaly, hot_value

# Message types (RFC 2132 §9.6).
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = 1, 2, 3, 4, 5, 6, 7, 8
__all__ = ["PHONE_VENDOR_CLASSES", "is_phone_vendor_class"]


MESSAGE_TYPE_NAMES: dict[int, str] = {
    1: "DHCPDISCOVER",
    2: "DHCPOFFER",
    3: "DHCPREQUEST",
    4: "DHCPDECLINE",
    5: "DHCPACK",
    6: "DHCPNAK",
    7: "DHCPRELEASE",
    8: "DHCPINFORM",
}


def value_text(raw: bytes) -> str | None:
    """A value's bytes as text when they are text (UTF-8, every character printable; trailing
    NULs dropped because many stacks NUL-terminate strings), else ``None``.

    Why not a lenient decode: ``\\x01\\xbb`` decoded with escapes becomes a mix of real control
    characters and backslash sequences that reads like text and cannot be told from it.
    """
    try:
        text = raw.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def hex_shown(raw: bytes) -> str:
    """Bytes that are not text, as a person reads them: ``01 BB (hex)``."""
    return f"{raw.hex(' ').upper()} (hex)"


def shown(raw: bytes) -> str:
    """A value for display and comparison: its text (:func:`value_text`), else
    :func:`hex_shown`. Exact either way: a value is hex only when it is not text."""
    text = value_text(raw)
    return text if text is not None else hex_shown(raw)


@dataclass(frozen=True, slots=True)
class DhcpOption:
    """One option as it appeared in the message.

    ``value`` is the decoded form for display and checks: ``str`` for text options (15, 60,
    12…; :func:`shown`: the text, or ``01 BB (hex)`` when the bytes are not text),
    ``list[str]`` for address lists (3, 6, 42, 4), ``int`` for numbers (51, 53, 2),
    ``list[int]`` for option 55, ``list[str]`` of names for 119; ``None`` when undecodable (the
    message's anomalies say why). Options 43 and 120 are in ``DhcpMessage.option43/option120``.
    """

    code: int
    name: str
    raw: bytes
    value: object = None


@dataclass(frozen=True, slots=True)
class VendorSubOption:
    """One TLV inside option 43. ``text`` is the value when it is text (:func:`value_text`),
    else ``None``; ``raw`` is always the bytes as sent."""

    code: int
    name: str
    raw: bytes
    text: str | None

    @property
    def hex(self) -> str:
        return self.raw.hex()


OPTION43_FIELDS = {
    "uc_identifier": 1,
    "url_scheme": 2,
    "web_server_fqdn": 3,
    "web_server_port": 4,
    "cert_prov_path": 5,
    "vlan_id": 10,
}
"""Option43's named fields and the sub-option codes they come from (MS-UC-Client 1-5,
CPE-OCPHONE 10)."""
URL_FIELDS = ("url_scheme", "web_server_fqdn", "web_server_port", "cert_prov_path")


@dataclass(frozen=True, slots=True)
class Option43:
    """Option 43 (vendor-specific information), decoded for the vendor class in option 60.

    ``vendor_class`` is the option-60 string of the *request* the reply answers when known
    (``MS-UC-Client``, ``CPE-OCPHONE``), else the best guess from the sub-options (sub-option 1
    ``MS-UC-Client`` means MS-UC-Client). ``complete`` is True only when the TLV lengths add up
    exactly to the option length (an optional trailing 0xFF end byte or 0x00 pads allowed, as
    dnsmasq writes them); a Cisco router that cuts the option at 90 bytes makes it False.
    """

    raw: bytes
    vendor_class: str | None
    suboptions: tuple[VendorSubOption, ...]
    complete: bool
    problems: tuple[str, ...] = ()
    uc_identifier: str | None = None
    """Sub-option 1 (MS-UC-Client)."""
    url_scheme: str | None = None
    """Sub-option 2."""
    web_server_fqdn: str | None = None
    """Sub-option 3."""
    web_server_port: str | None = None
    """Sub-option 4, ASCII digits as sent (e.g. ``"443"``)."""
    cert_prov_path: str | None = None
    """Sub-option 5 (e.g. ``/CertProv/CertProvisioningService.svc``)."""
    vlan_id: str | None = None
    """CPE-OCPHONE sub-option 10, shown as sent (its encoding is not published)."""
    binary: tuple[str, ...] = ()
    """The fields above whose sub-option is not text: they hold :func:`hex_shown` (``01 BB
    (hex)``), and :meth:`field_raw` gives their bytes."""

    def field_raw(self, name: str) -> bytes | None:
        """The bytes of the sub-option behind field ``name`` (the first with its code)."""
        code = OPTION43_FIELDS.get(name)
        for sub in self.suboptions:
            if sub.code == code:
                return sub.raw
        return None

    @property
    def url(self) -> str | None:
        """The Certificate Provisioning URL the phone composes: ``<2>://<3>:<4><5>``."""
        if self.url_scheme is None or self.web_server_fqdn is None:
            return None
        port = f":{self.web_server_port}" if self.web_server_port else ""
        return f"{self.url_scheme}://{self.web_server_fqdn}{port}{self.cert_prov_path or ''}"


@dataclass(frozen=True, slots=True)
class Option120:
    """Option 120, SIP servers (RFC 3361): encoding 0 = domain names, 1 = IPv4 addresses."""

    raw: bytes
    encoding: int | None
    names: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@hot_value
class DhcpMessage:
    """One BOOTP/DHCP message as decoded from a UDP payload.

    ``msg_type`` is option 53 (``None`` for plain BOOTP). ``chaddr`` is the client hardware
    address as ``aa:bb:…`` (first ``hlen`` bytes, when htype is Ethernet and hlen 6; else hex).
    Addresses are dotted quads. ``options`` keeps every option in wire order.
    """

    op: int
    xid: int
    chaddr: str
    ciaddr: str
    yiaddr: str
    siaddr: str
    giaddr: str
    flags: int
    msg_type: int | None
    options: tuple[DhcpOption, ...]
    option43: Option43 | None = None
    option120: Option120 | None = None
    anomalies: tuple[Anomaly, ...] = ()
    htype: int = 1
    hlen: int = 6
    secs: int = 0
    sname: str = ""
    file: str = ""

    @property
    def type_name(self) -> str:
        if self.msg_type is None:
            return "BOOTREQUEST" if self.op == 1 else "BOOTREPLY"
        return MESSAGE_TYPE_NAMES.get(self.msg_type, f"DHCP type {self.msg_type}")

    def option(self, code: int) -> DhcpOption | None:
        """The first option with this code, or None."""
        for opt in self.options:
            if opt.code == code:
                return opt
        return None

    @property
    def vendor_class(self) -> str | None:
        opt = self.option(60)
        return opt.value if opt is not None and isinstance(opt.value, str) else None

    @property
    def server_id(self) -> str | None:
        opt = self.option(54)
        return opt.value if opt is not None and isinstance(opt.value, str) else None

    @property
    def domain_name(self) -> str | None:
        opt = self.option(15)
        return opt.value if opt is not None and isinstance(opt.value, str) else None

    @property
    def requested_options(self) -> tuple[int, ...]:
        opt = self.option(55)
        if opt is not None and isinstance(opt.value, list):
            return tuple(int(v) for v in opt.value)
        return ()


@hot_value
class DhcpSeen:
    """A DHCP message with the packet facts around it (who sent it, where, when)."""

    message: DhcpMessage
    frame: int
    ts: float
    src_mac: str | None
    dst_mac: str | None
    src_ip: str
    dst_ip: str
    vlans: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DhcpExchange:
    """Messages with one xid and client MAC within ``Limits.dhcp_exchange_window``.

    ``kind`` is ``lease`` (DISCOVER/OFFER/REQUEST/ACK/NAK/DECLINE), ``inform`` (INFORM and its
    ACKs), ``release`` or ``bootp``. Several servers may answer one INFORM or DISCOVER: every
    reply is kept in ``messages``.
    """

    xid: int
    client_mac: str
    kind: str
    messages: tuple[DhcpSeen, ...]
    anomalies: tuple[Anomaly, ...] = field(default_factory=tuple)

    @property
    def first_ts(self) -> float:
        return self.messages[0].ts

    @property
    def last_ts(self) -> float:
        return self.messages[-1].ts

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(m.frame for m in self.messages)

    def of_type(self, msg_type: int) -> tuple[DhcpSeen, ...]:
        return tuple(m for m in self.messages if m.message.msg_type == msg_type)

    @property
    def assigned_ip(self) -> str | None:
        """yiaddr of the last ACK, if the exchange ended in one (lease exchanges)."""
        for seen in reversed(self.messages):
            msg = seen.message
            if msg.msg_type == ACK and msg.yiaddr != "0.0.0.0":
                return msg.yiaddr
        return None


@dataclass(frozen=True, slots=True)
class DhcpBinding:
    """An address a DHCP server gave a MAC (ACK ``yiaddr``) or a client said it holds (INFORM
    ``ciaddr``), from ``ts`` on: the evidence that maps a phone's IP to its MAC."""

    ip: str
    mac: str
    ts: float
    how: str
    """``dhcp-ack`` or ``dhcp-inform``."""


def message_bindings(seen: DhcpSeen, mac: str) -> list[DhcpBinding]:
    """The address bindings one message of ``mac``'s exchange proves."""
    message = seen.message
    found = []
    if message.msg_type == ACK and message.yiaddr != "0.0.0.0":
        found.append(DhcpBinding(message.yiaddr, mac, seen.ts, "dhcp-ack"))
    if message.msg_type == INFORM and message.ciaddr != "0.0.0.0":
        found.append(DhcpBinding(message.ciaddr, mac, seen.ts, "dhcp-inform"))
    return found


@dataclass(frozen=True, slots=True)
class DhcpBackground:
    """What is kept of DHCP clients that never looked like a phone, once more than
    ``Limits.max_background_dhcp_clients`` of them were seen (see dhcp/tracker.py).

    A mirror port carries the DHCP of every PC on the VLAN, and keeping each of their messages
    would make memory grow with the length of the capture. Their address bindings (the last
    one per address) and the vendor classes they asked with are all the checks use of them.
    """

    clients: int = 0
    exchanges: int = 0
    messages: int = 0
    vendor_classes: tuple[tuple[str, int], ...] = ()
    """(option 60 or ``(none)``, client messages) for the summarised clients, most common first."""
    bindings: tuple[DhcpBinding, ...] = ()
    """The bindings of every client not (yet) known as a phone when its message was seen, each
    only when it gave its address to another MAC than the binding before (renewals add
    nothing): bounded by the addresses in use, not by the length of the capture."""
