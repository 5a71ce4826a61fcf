"""Sans-IO DNS dissector over dnspython, plus the TCP length-prefix framer.

:func:`parse_dns` takes one DNS message (a UDP payload, or one message cut out of a TCP stream by
:class:`DnsTcpFramer`) and returns a :class:`ParsedDns`. It raises
:class:`~capinspect.errors.Malformed` only when the 12-byte header is missing: without the id
there is nothing to match. dnspython does the decoding with ``continue_on_error=True``, so a bad
record is skipped and reported, not fatal; when dnspython gives up before the question section
(a corrupt name, an exception we did not foresee), a small header-and-question reader built on
:class:`~capinspect.wire.WireReader` still recovers the question, because "which name did the
phone ask for" is what the device-update checks need most (protocol.md §2.1).

Presentation rules (shared with :class:`~capinspect.protocols.dns.messages.DnsRecord`): names are
lower-case without the final dot (the root is ``.``); record values are dnspython's
``to_text()``, with the final dot removed from name-valued records (CNAME, SRV, NS, PTR…).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from capinspect.errors import Malformed
from capinspect.model import Anomaly, hot_value
from capinspect.protocols.dns.messages import DnsRecord
from capinspect.wire import WireReader, read_name

HEADER_LEN = 12
QR_BIT = 0x8000
TC_BIT = 0x0200
MAX_TCP_MESSAGE = 0xFFFF
"""The 2-byte TCP length prefix caps a message at 65535 bytes (RFC 1035 §4.2.2)."""

MEMO_MAX_MESSAGE = 512
"""Messages up to this size (every classic UDP message) are remembered by :func:`parse_dns`."""
MEMO_ENTRIES = 2048
"""How many distinct messages :func:`parse_dns` remembers (at most ~1 MB of keys)."""

# Record types whose rdata ends with a domain name that dnspython prints with a final dot.
_NAME_VALUED_TYPES = frozenset({"CNAME", "DNAME", "NS", "PTR", "MX", "SRV", "KX", "AFSDB", "RT"})


@dataclass(frozen=True, slots=True)
class DnsQuestion:
    """One entry of the question section."""

    name: str
    """Lower-case, no final dot."""
    rtype: str
    """Mnemonic (``A``, ``AAAA``, ``SRV``; ``TYPE65534`` for unknown types)."""
    rclass: str


@hot_value
class ParsedDns:
    """One DNS message, reduced to what lookups and checks use."""

    dns_id: int
    is_response: bool
    opcode: str
    """``QUERY``, ``NOTIFY``, ``UPDATE``… (mnemonic)."""
    rcode: str
    """``NOERROR``, ``NXDOMAIN``, ``SERVFAIL``… (EDNS extended rcode included when present)."""
    truncated: bool
    """The TC bit: the server cut the answer and the client should retry over TCP."""
    questions: tuple[DnsQuestion, ...]
    answers: tuple[DnsRecord, ...]
    anomalies: tuple[Anomaly, ...] = ()


def name_text(name: dns.name.Name) -> str:
    """Lower-case presentation without the final dot; the root name is ``.``."""
    if name == dns.name.root:
        return "."
    return name.to_text(omit_final_dot=True).lower()


def record_value(rtype: str, text: str) -> str:
    """dnspython's rdata text; a name-valued record loses its final dot and is lower-cased."""
    if rtype in _NAME_VALUED_TYPES and text.endswith(".") and not text.endswith("\\."):
        text = text[:-1]
    return text.lower() if rtype in _NAME_VALUED_TYPES else text


def _fallback_questions(payload: bytes, count: int) -> tuple[list[DnsQuestion], str | None]:
    """Header-and-question reader for when dnspython gave up: as many questions as parse."""
    questions: list[DnsQuestion] = []
    offset = HEADER_LEN
    for _ in range(count):
        try:
            name, offset, terminated = read_name(payload, offset)
            if not terminated:
                return questions, "question name runs past the end of the message"
            reader = WireReader(payload, offset)
            rtype, rclass = reader.u16(), reader.u16()
            offset = reader.offset
        except Malformed as exc:
            return questions, f"question at offset {exc.offset}: {exc}"
        questions.append(
            DnsQuestion(
                name=name.lower() if name else ".",
                rtype=dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rtype)),
                rclass=dns.rdataclass.to_text(dns.rdataclass.RdataClass.make(rclass)),
            )
        )
    return questions, None


def _error_anomaly(exc: Exception, offset: int | None) -> Anomaly:
    where = f" at offset {offset}" if offset is not None else ""
    if isinstance(exc, dns.message.TrailingJunk):
        return Anomaly("dns.trailing-bytes", f"bytes after the last record{where}")
    text = str(exc) or type(exc).__name__
    return Anomaly("dns.malformed", f"{type(exc).__name__}{where}: {text}")


def parse_dns(payload: bytes) -> ParsedDns:
    """Decode one DNS message; raises ``Malformed`` only when the 12-byte header is missing.

    Why a memo: on a mirror port the same question is asked by hundreds of PCs and answered
    the same way, and dnspython costs ~100 µs a message. Everything but the 2-byte ID is a
    function of the other bytes, so messages that differ only in their ID are decoded once
    and the remembered result is handed back with the ID swapped in (results are immutable).
    """
    if len(payload) < HEADER_LEN:
        raise Malformed(f"{len(payload)} bytes is shorter than the 12-byte DNS header")
    if len(payload) > MEMO_MAX_MESSAGE:
        return _parse_dns(payload)
    parsed = _parse_dns_sans_id(bytes(payload[2:]))
    dns_id = int.from_bytes(payload[:2], "big")
    return parsed if parsed.dns_id == dns_id else replace(parsed, dns_id=dns_id)


@lru_cache(maxsize=MEMO_ENTRIES)
def _parse_dns_sans_id(rest: bytes) -> ParsedDns:
    """:func:`_parse_dns` of a message whose ID is 0 (the caller swaps the real one in)."""
    return _parse_dns(b"\0\0" + rest)


def _parse_dns(payload: bytes) -> ParsedDns:
    """The decoding itself (``payload`` is at least a header long)."""
    header = WireReader(payload)
    dns_id, flags, qdcount = header.u16(), header.u16(), header.u16()
    anomalies: list[Anomaly] = []
    questions: list[DnsQuestion] = []
    answers: list[DnsRecord] = []
    rcode_value = flags & 0x000F
    try:
        # keyring=False: keep TSIG records without trying to validate them (no keys here).
        msg = dns.message.from_wire(
            payload, keyring=False, one_rr_per_rrset=True, continue_on_error=True
        )
    except Exception as exc:  # dnspython raises many types on hostile input; all mean "bad"
        anomalies.append(_error_anomaly(exc, None))
        msg = None
    if msg is not None:
        for error in msg.errors:
            anomalies.append(_error_anomaly(error.exception, error.offset))
        rcode_value = int(msg.rcode())
        questions = [
            DnsQuestion(
                name=name_text(rrset.name),
                rtype=dns.rdatatype.to_text(rrset.rdtype),
                rclass=dns.rdataclass.to_text(rrset.rdclass),
            )
            for rrset in msg.question
        ]
        for rrset in msg.answer:
            rtype = dns.rdatatype.to_text(rrset.rdtype)
            for rdata in rrset:
                answers.append(
                    DnsRecord(
                        name=name_text(rrset.name),
                        rtype=rtype,
                        ttl=int(rrset.ttl),
                        value=record_value(rtype, rdata.to_text()),
                    )
                )
    if len(questions) < qdcount:
        recovered, problem = _fallback_questions(payload, qdcount)
        if len(recovered) > len(questions):
            questions = recovered
        if problem is not None and not any(a.code == "dns.malformed" for a in anomalies):
            anomalies.append(Anomaly("dns.malformed", problem))
    return ParsedDns(
        dns_id=dns_id,
        is_response=bool(flags & QR_BIT),
        opcode=dns.opcode.to_text(dns.opcode.from_flags(flags)),
        rcode=dns.rcode.to_text(dns.rcode.Rcode.make(rcode_value)),
        truncated=bool(flags & TC_BIT),
        questions=tuple(questions),
        answers=tuple(answers),
        anomalies=tuple(anomalies),
    )


class DnsTcpFramer:
    """Splits one direction of a DNS-over-TCP stream into messages (RFC 1035 §4.2.2).

    Sans-IO: :meth:`feed` takes whatever stream bytes arrived and returns the complete messages
    they finish; a partial message waits for more. At most one partial message (≤ 65 537 bytes)
    is ever held. After :meth:`gap` (bytes were never captured) the framer assumes the next
    byte starts a new length prefix; when that guess is wrong the messages it cuts fail to
    parse and become anomalies, never exceptions.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages: list[bytes] = []
        while len(self._buffer) >= 2:
            length = int.from_bytes(self._buffer[:2], "big")
            if len(self._buffer) < 2 + length:
                break
            messages.append(bytes(self._buffer[2 : 2 + length]))
            del self._buffer[: 2 + length]
        return messages

    def gap(self) -> None:
        """Forget the partial message: its missing bytes will never come."""
        self._buffer.clear()

    @property
    def pending(self) -> int:
        """Bytes held for a message that has not ended yet."""
        return len(self._buffer)
