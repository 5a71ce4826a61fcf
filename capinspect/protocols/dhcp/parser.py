"""Sans-IO DHCP/BOOTP dissector: one UDP payload in, one :class:`DhcpMessage` out.

Contract (in the manner of h11's ``_readers.py``): :func:`parse_dhcp` takes the bytes of one UDP
datagram and returns a message. It raises :class:`~capinspect.errors.Malformed` only when the
fixed 236-byte BOOTP header is missing, because without it there is no xid or client MAC to hang
anything on. Everything after the header is decoded tolerantly: a damaged option becomes an
:class:`~capinspect.model.Anomaly` on the message and the options before it are kept, since a
support engineer wants to see how far a cut option 43 got, not a parse error.

Option handling follows the RFCs a phone's DHCP conversation depends on:

* RFC 2131/2132: magic cookie, PAD (0) skipped, END (255) stops the scan, bytes after END
  ignored (many clients pad the message to 300 bytes).
* RFC 3396: an option code that appears several times is one long option; its pieces are
  concatenated in order options field → ``file`` → ``sname``.
* RFC 2132 §9.3: option 52 (overload) moves more options into ``file`` and/or ``sname``.
* Options 43 and 120 get their own decoders (:func:`decode_option43`, :func:`decode_option120`)
  because they are what a Lync Phone Edition device needs to find Certificate Provisioning and
  its SIP pool (protocol.md §1.2–1.4).

Every variable-length read goes through :class:`~capinspect.wire.WireReader`, never raw
indexing; the fixed 236-byte BOOTP header is one ``struct`` unpack after its length is checked.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from functools import lru_cache

from capinspect.errors import Malformed, Truncated
from capinspect.model import Anomaly
from capinspect.protocols.dhcp.messages import (
    OPTION43_FIELDS,
    DhcpMessage,
    DhcpOption,
    Option43,
    Option120,
    VendorSubOption,
    shown,
    value_text,
)
from capinspect.protocols.dhcp.options import (
    END,
    OVERLOAD,
    PAD,
    RELAY_AGENT_SUBOPTIONS,
    VENDOR_CPE_OCPHONE,
    VENDOR_MS_UC_CLIENT,
    option_kind,
    option_name,
    vendor_suboption_name,
)
from capinspect.wire import WireReader, read_name

BOOTP_HEADER_LEN = 236
"""op … file: everything before the magic cookie (RFC 951 / RFC 2131 §2)."""
MAGIC_COOKIE = b"\x63\x82\x53\x63"
_BOOTP_HEADER = struct.Struct("!BBBxIHH4s4s4s4s16s64s128s")
"""op, htype, hlen, (hops), xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname,
file: the 236-byte header read in one call (it was a third of a message's decoding)."""


# ---------------------------------------------------------------------------------------------
# Small value helpers
# ---------------------------------------------------------------------------------------------


_ADDRESS_TEXT: dict[bytes, str] = {}
"""Dotted-quad text by the 4 bytes (most DHCP addresses repeat: 0.0.0.0, the server, the
client's own); bounded so a capture of random addresses cannot grow it without end."""
_MAX_ADDRESS_TEXT = 4096


def _ipv4(raw: bytes) -> str:
    text = _ADDRESS_TEXT.get(raw)
    if text is None:
        if len(raw) != 4:
            return str(ipaddress.IPv4Address(raw))  # raises AddressValueError as before
        if len(_ADDRESS_TEXT) >= _MAX_ADDRESS_TEXT:
            _ADDRESS_TEXT.clear()
        text = _ADDRESS_TEXT[bytes(raw)] = f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"
    return text


def _text(raw: bytes) -> str:
    """Option text as sent (trailing NULs dropped), or ``01 BB (hex)`` when it is not text:
    never a mix of characters and escapes (:func:`~capinspect.protocols.dhcp.messages.shown`)."""
    return shown(raw)


def _format_chaddr(htype: int, hlen: int, raw: bytes) -> str:
    """``aa:bb:…`` for Ethernet (htype 1, hlen 6); else the first ``hlen`` bytes in hex."""
    if htype == 1 and hlen == 6:
        return raw[:6].hex(":")
    used = raw[: min(hlen, len(raw))] if hlen else raw
    return used.hex(":")


def _field_text(raw: bytes) -> str:
    """``sname``/``file``: NUL-terminated text in a fixed-size field."""
    return shown(raw.split(b"\x00", 1)[0])


# ---------------------------------------------------------------------------------------------
# RFC 1035 names (option 119, 120, 81)
# ---------------------------------------------------------------------------------------------


def _decode_name_list(data: bytes) -> tuple[list[str], list[str]]:
    """A concatenation of RFC 1035 names (RFC 3397 / RFC 3361 encoding 0); pointers are
    relative to the start of ``data``. Returns (names, problems); stops at the first bad name."""
    names: list[str] = []
    problems: list[str] = []
    offset = 0
    while offset < len(data):
        try:
            name, offset, terminated = read_name(data, offset)
        except Malformed as exc:
            problems.append(f"name at offset {exc.offset}: {exc}")
            break
        if not name:
            problems.append("empty (root) name in the list")
            continue
        names.append(name)
        if not terminated:
            problems.append(f"name {name!r} is not terminated by a root label")
    return names, problems


# ---------------------------------------------------------------------------------------------
# Option 43 and option 120
# ---------------------------------------------------------------------------------------------


def _guess_vendor_class(suboptions: list[tuple[int, bytes]]) -> str | None:
    """Best guess when the vendor class is not known: sub-option 1 ``MS-UC-Client`` means the
    MS-UC-Client layout; a lone sub-option 10 is the CPE-OCPHONE VLAN answer."""
    for code, raw in suboptions:
        if code == 1 and (value_text(raw) or "").lower() == VENDOR_MS_UC_CLIENT.lower():
            return VENDOR_MS_UC_CLIENT
    if suboptions and {code for code, _ in suboptions} == {10}:
        return VENDOR_CPE_OCPHONE
    return None


def _is_tlv_vendor(vendor_class: str | None) -> bool:
    """Vendor classes whose option 43 is known to be TLVs (or unknown, so assumed TLVs)."""
    return vendor_class is None or vendor_class.lower() in (
        VENDOR_MS_UC_CLIENT.lower(),
        VENDOR_CPE_OCPHONE.lower(),
    )


def decode_option43(raw: bytes, vendor_class: str | None) -> Option43:
    """Decode option 43 as flat ``code(1) len(1) value`` TLVs (protocol.md §1.2).

    Sub-options may come in any order; 0x00 pads and one trailing 0xFF end byte (dnsmasq writes
    both) are accepted. When a length runs past the end the option is ``complete=False`` and a
    problem names the sub-option, e.g. ``sub-option 5 announces 37 bytes but only 19 remain:
    option 43 looks cut (90 bytes)`` — the signature of a Cisco IOS router that truncates
    ``option 43 hex`` at 90 bytes. ``vendor_class`` is option 60 of the request; when ``None`` the
    class is guessed from the sub-options.
    """
    found: list[tuple[int, bytes]] = []
    problems: list[str] = []
    complete = True
    reader = WireReader(raw)
    while not reader.at_end():
        code = reader.u8()
        if code == PAD:
            continue
        if code == END:
            rest = reader.read_rest()
            if rest.strip(b"\x00\xff"):
                complete = False
                problems.append(f"{len(rest)} bytes follow the end marker (0xFF)")
            break
        if reader.at_end():
            complete = False
            problems.append(
                f"sub-option {code} has no length byte: option 43 looks cut ({len(raw)} bytes)"
            )
            break
        length = reader.u8()
        try:
            value = reader.read(length)
        except Truncated:
            complete = False
            problems.append(
                f"sub-option {code} announces {length} bytes but only {reader.remaining()} "
                f"remain: option 43 looks cut ({len(raw)} bytes)"
            )
            break
        found.append((code, value))
    if not raw:
        problems.append("option 43 is empty")

    vendor = vendor_class if vendor_class is not None else _guess_vendor_class(found)
    suboptions = tuple(
        VendorSubOption(
            code=code, name=vendor_suboption_name(vendor, code), raw=value, text=value_text(value)
        )
        for code, value in found
    )
    seen_codes: set[int] = set()
    for sub in suboptions:
        if sub.code in seen_codes:
            problems.append(f"sub-option {sub.code} appears more than once; the first is used")
        seen_codes.add(sub.code)

    family = (vendor or "").lower()
    names: tuple[str, ...] = ()
    if family == VENDOR_MS_UC_CLIENT.lower():
        names = ("uc_identifier", "url_scheme", "web_server_fqdn", "web_server_port")
        names += ("cert_prov_path",)
    elif family == VENDOR_CPE_OCPHONE.lower():
        # Sub-option 10's encoding is not published (protocol.md §1.3): shown as sent.
        names = ("vlan_id",)
    fields: dict[str, str] = {}
    binary: list[str] = []
    for name in names:
        chosen = next((s for s in suboptions if s.code == OPTION43_FIELDS[name]), None)
        if chosen is not None:
            fields[name] = chosen.text if chosen.text is not None else shown(chosen.raw)
            if chosen.text is None:
                binary.append(name)
    return Option43(
        raw=raw,
        vendor_class=vendor,
        suboptions=suboptions,
        complete=complete,
        problems=tuple(problems),
        binary=tuple(binary),
        **fields,
    )


def decode_option120(raw: bytes) -> Option120:
    """Decode option 120 (SIP servers) per RFC 3361.

    Encoding 0 is a list of RFC 1035 names (compression pointers relative to the start of the
    list; loops and out-of-range pointers are problems, never a hang); encoding 1 is a list of
    IPv4 addresses. Anything else, or an empty option, is a problem.
    """
    if not raw:
        return Option120(raw=raw, encoding=None, problems=("option 120 is empty",))
    encoding = raw[0]
    body = raw[1:]
    if encoding == 0:
        names, problems = _decode_name_list(body)
        if not names and not problems:
            problems.append("encoding 0 but no name follows")
        return Option120(raw=raw, encoding=0, names=tuple(names), problems=tuple(problems))
    if encoding == 1:
        problems = []
        if not body:
            problems.append("encoding 1 but no address follows")
        elif len(body) % 4:
            problems.append(f"encoding 1 but {len(body)} address bytes is not a multiple of 4")
        whole = len(body) - len(body) % 4
        addresses = tuple(_ipv4(body[i : i + 4]) for i in range(0, whole, 4))
        return Option120(raw=raw, encoding=1, addresses=addresses, problems=tuple(problems))
    return Option120(
        raw=raw,
        encoding=encoding,
        problems=(f"unknown encoding {encoding} (RFC 3361 defines 0 = names, 1 = IPv4)",),
    )


# ---------------------------------------------------------------------------------------------
# Option values by kind
# ---------------------------------------------------------------------------------------------


def _fixed(raw: bytes, size: int) -> bool:
    return len(raw) == size


def _decode_classless_routes(raw: bytes) -> list[str]:
    """RFC 3442: width, the significant octets of the destination, then the router."""
    routes = []
    reader = WireReader(raw)
    while not reader.at_end():
        width = reader.u8()
        if width > 32:
            raise Malformed(f"prefix length {width} exceeds 32", reader.offset - 1)
        significant = reader.read((width + 7) // 8)
        destination = _ipv4(significant + b"\x00" * (4 - len(significant)))
        router = _ipv4(reader.read(4))
        routes.append(f"{destination}/{width} via {router}")
    return routes


def _decode_relay_agent(raw: bytes) -> list[str]:
    """RFC 3046 sub-options as ``Name: hex`` strings."""
    out = []
    reader = WireReader(raw)
    while not reader.at_end():
        code = reader.u8()
        value = reader.read(reader.u8())
        name = RELAY_AGENT_SUBOPTIONS.get(code, f"Sub-option {code}")
        out.append(f"{name}: {value.hex()}")
    return out


def _decode_client_fqdn(raw: bytes) -> str:
    """RFC 4702: flags, rcode1, rcode2, then the name (wire form when the E flag is set)."""
    reader = WireReader(raw)
    flags = reader.u8()
    reader.skip(2)
    rest = reader.read_rest()
    if flags & 0x04:
        names, problems = _decode_name_list(rest)
        if problems and not names:
            raise Malformed(problems[0])
        return names[0] if names else ""
    return _text(rest)


def _decode_value(code: int, kind: str, raw: bytes) -> tuple[object, str | None]:
    """(decoded value, problem) for one option; value ``None`` when undecodable."""
    try:
        if kind == "ipv4":
            if not _fixed(raw, 4):
                return None, f"has {len(raw)} bytes, expected 4"
            return _ipv4(raw), None
        if kind == "ipv4-list":
            if not raw or len(raw) % 4:
                return None, f"has {len(raw)} bytes, expected a non-empty multiple of 4"
            return [_ipv4(raw[i : i + 4]) for i in range(0, len(raw), 4)], None
        if kind == "text":
            return _text(raw), None
        if kind in ("u8", "u16", "u32", "s32"):
            size = {"u8": 1, "u16": 2, "u32": 4, "s32": 4}[kind]
            if not _fixed(raw, size):
                return None, f"has {len(raw)} bytes, expected {size}"
            return int.from_bytes(raw, "big", signed=kind == "s32"), None
        if kind == "overload":
            if not _fixed(raw, 1) or raw[0] not in (1, 2, 3):
                return None, f"value {raw.hex()} is not 1, 2 or 3"
            return raw[0], None
        if kind == "u8-list":
            return list(raw), None
        if kind == "client-id":
            return ":".join(f"{b:02x}" for b in raw), None
        if kind == "domain-list":
            names, problems = _decode_name_list(raw)
            return names, "; ".join(problems) or None
        if kind == "classless-routes":
            return _decode_classless_routes(raw), None
        if kind == "relay-agent":
            return _decode_relay_agent(raw), None
        if kind == "client-fqdn":
            return _decode_client_fqdn(raw), None
    except Malformed as exc:
        return None, str(exc)
    return raw.hex(), None


# ---------------------------------------------------------------------------------------------
# The message
# ---------------------------------------------------------------------------------------------


class _OptionArea:
    """Collects option pieces from the options field, ``file`` and ``sname`` (RFC 3396 order)."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.pieces: dict[int, list[bytes]] = {}
        self.anomalies: list[Anomaly] = []

    def scan(self, data: bytes, area: str) -> None:
        reader = WireReader(data)
        while not reader.at_end():
            code = reader.u8()
            if code == PAD:
                continue
            if code == END:
                return  # whatever follows END is padding
            if reader.at_end():
                self._truncated(f"option {code} ({option_name(code)}) in the {area} has no length")
                return
            length = reader.u8()
            try:
                value = reader.read(length)
            except Truncated:
                self._truncated(
                    f"option {code} ({option_name(code)}) in the {area} announces {length} "
                    f"bytes but only {reader.remaining()} remain"
                )
                return
            if code not in self.pieces:
                self.order.append(code)
                self.pieces[code] = []
            self.pieces[code].append(value)
        self.anomalies.append(
            Anomaly("dhcp.option-end-missing", f"the {area} ends without an END option (255)")
        )

    def _truncated(self, detail: str) -> None:
        self.anomalies.append(Anomaly("dhcp.option-truncated", detail))


def parse_dhcp(payload: bytes) -> DhcpMessage:
    """Decode one BOOTP/DHCP UDP payload.

    Raises ``Malformed`` only when the 236-byte BOOTP header is not there. A bad or missing magic
    cookie yields a message with an anomaly and no options; option damage yields anomalies and
    keeps every option read before it.
    """
    if len(payload) < BOOTP_HEADER_LEN:
        raise Malformed(
            f"{len(payload)} bytes is shorter than the {BOOTP_HEADER_LEN}-byte BOOTP header"
        )
    (op, htype, hlen, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr_raw, sname_raw,
     file_raw) = _BOOTP_HEADER.unpack_from(payload)  # fmt: skip
    chaddr = _format_chaddr(htype, hlen, chaddr_raw)

    cookie = payload[BOOTP_HEADER_LEN : BOOTP_HEADER_LEN + 4]
    if cookie != MAGIC_COOKIE:
        detail = (
            f"magic cookie is {cookie.hex() or 'missing'}, expected 63825363: options not decoded"
        )
        decoded = _DecodedOptions(anomalies=[Anomaly("dhcp.bad-cookie", detail)])
    else:
        decoded = _decode_options_memo(payload[BOOTP_HEADER_LEN + 4 :], sname_raw, file_raw)

    return DhcpMessage(
        op=op,
        xid=xid,
        chaddr=chaddr,
        ciaddr=_ipv4(ciaddr),
        yiaddr=_ipv4(yiaddr),
        siaddr=_ipv4(siaddr),
        giaddr=_ipv4(giaddr),
        flags=flags,
        msg_type=decoded.msg_type,
        options=tuple(decoded.options),
        option43=decoded.option43,
        option120=decoded.option120,
        anomalies=tuple(decoded.anomalies),
        htype=htype,
        hlen=hlen,
        secs=secs,
        sname="" if decoded.overload & 2 else _field_text(sname_raw),
        file="" if decoded.overload & 1 else _field_text(file_raw),
    )


OPTIONS_MEMO_ENTRIES = 1024
"""Distinct option areas :func:`_decode_options_memo` remembers (≤ 1,500 bytes of key each)."""


@dataclass(slots=True)
class _DecodedOptions:
    """What the option area yielded (a private, mutable working value)."""

    options: list[DhcpOption] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    msg_type: int | None = None
    overload: int = 0
    option43: Option43 | None = None
    option120: Option120 | None = None


@lru_cache(maxsize=OPTIONS_MEMO_ENTRIES)
def _decode_options_memo(
    options_field: bytes, sname_raw: bytes, file_raw: bytes
) -> _DecodedOptions:
    """:func:`_decode_options`, remembered: a client repeats its options in every REQUEST,
    INFORM and renewal (only the header's xid, secs and addresses change), and decoding them
    is most of the cost of a message. The result is only read (:func:`parse_dhcp` copies it
    into tuples), never changed, so sharing it between messages is safe."""
    return _decode_options(options_field, sname_raw, file_raw)


def _decode_options(options_field: bytes, sname_raw: bytes, file_raw: bytes) -> _DecodedOptions:
    """Scan the options field (and the fields option 52 overloads), then decode each option."""
    area = _OptionArea()
    area.scan(options_field, "options field")
    result = _DecodedOptions(anomalies=area.anomalies)
    anomalies = result.anomalies
    if OVERLOAD in area.pieces:
        value, problem = _decode_value(OVERLOAD, "overload", b"".join(area.pieces[OVERLOAD]))
        if problem is not None or not isinstance(value, int):
            anomalies.append(
                Anomaly("dhcp.option-bad-value", f"option 52 (Option Overload) {problem}")
            )
        else:
            result.overload = value
    # RFC 3396 §7: pieces are concatenated options field, then file, then sname.
    if result.overload & 1:
        area.scan(file_raw, "file field")
    if result.overload & 2:
        area.scan(sname_raw, "sname field")

    for code in area.order:
        raw = b"".join(area.pieces[code])
        value, problem = _decode_value(code, option_kind(code), raw)
        if problem is not None:
            code_name = "dhcp.option-bad-value" if value is not None else "dhcp.option-bad-length"
            anomalies.append(Anomaly(code_name, f"option {code} ({option_name(code)}) {problem}"))
        result.options.append(DhcpOption(code=code, name=option_name(code), raw=raw, value=value))

    by_code = {opt.code: opt for opt in reversed(result.options)}
    msg_type_opt = by_code.get(53)
    if msg_type_opt is not None and isinstance(msg_type_opt.value, int):
        result.msg_type = msg_type_opt.value
    vendor_opt = by_code.get(60)
    vendor_class = vendor_opt.value if vendor_opt and isinstance(vendor_opt.value, str) else None

    if 43 in by_code:
        result.option43 = decode_option43(by_code[43].raw, vendor_class)
        # Only TLV-encoded vendor classes can be "cut"; ArubaAP and others send plain text.
        if not result.option43.complete and _is_tlv_vendor(result.option43.vendor_class):
            anomalies.append(
                Anomaly("dhcp.option43-truncated", "; ".join(result.option43.problems))
            )
    if 120 in by_code:
        result.option120 = decode_option120(by_code[120].raw)
        if result.option120.problems:
            anomalies.append(
                Anomaly("dhcp.option120-invalid", "; ".join(result.option120.problems))
            )
    return result
