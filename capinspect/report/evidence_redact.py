"""Identifiers inside payloads, rewritten at the same length, for ``--evidence --redact``.

Headers are the easy part (``evidence.redact_frame``): a MAC is 6 bytes and an address 4 or 16
whatever its pseudonym. Payloads are not: ``ocs.contoso.com`` in a DNS name, a Host header, a
check-in's XML or a certificate has a length that the bytes around it depend on (DNS label
lengths, DHCP option lengths, Content-Length, DER lengths, TCP sequence numbers of every later
segment). So every identifier is replaced by a pseudonym **of the same length**, and nothing
else in the frame moves; only checksums change. The same-length pseudonym is built from the
report's one, so a reader can match them:

* a MAC keeps the report's pseudonym in the original's spelling (``0021630F207B`` →
  ``002163000001``);
* a host label ``ocs`` (report: ``host3``) → ``ho3``; a domain label ``contoso`` (report:
  ``domain1.example``) → ``domain1``, ``demo`` → ``dom1``; the top-level label (``com``,
  ``local``) is kept, as are the protocol labels the report keeps (``ucupdates-r2``…);
* a serial (report ``SERIAL-1``) → ``SERIAL-0001``; a user (report ``user1``) → ``us1`` or
  ``user0001`` before its ``@``;
* an address written as text keeps the report's pseudonym when it has the same length.

When no same-length pseudonym exists (a one-letter label, an address whose pseudonym is longer)
the identifier becomes ``x`` characters and the frame says so in a comment. A TCP stream is
rewritten as a stream (a name split over two segments is still found); a TLS stream only in
its clear-text handshake records (ClientHello SNI, certificates), never in encrypted records; a
compressed HTTP body is replaced by ``x`` filler, since it cannot be searched.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from capinspect.report.evidence_dns import dns_addresses, dns_short_labels
from capinspect.report.redact import Pseudonyms

__all__ = [
    "FILLER",
    "PayloadRewriter",
    "StreamResult",
    "StreamRewriter",
    "dns_addresses",
    "dns_short_labels",
    "filler_note",
    "fit",
]
"""What evidence.py uses; the DNS walkers are evidence_dns.py's, named here for it."""

FILLER = b"x"
MAX_CHUNK = 8 * 1024 * 1024
"""A TCP stream is rewritten in contiguous chunks of at most this many bytes (memory bound)."""
COLLECT_BYTES = 65536
"""Bytes at the start of a clear-text stream chunk scanned for identifiers the report missed."""

_WORD = rb"A-Za-z0-9_-"
_COMPRESSED = re.compile(
    rb"^content-encoding:[ \t]*(?:x-)?(?:gzip|deflate|br|compress|zstd)", re.I | re.M
)
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d{1,12})", re.I | re.M)
_START_LINE = re.compile(rb"(?:HTTP/1\.[01] \d{3}|[A-Z]{3,12} \S+ HTTP/1\.[01])")


_SPARE = {"host": "q", "domain": "k", "user": "v", "SERIAL-": "Z"}
"""The letter that starts a pseudonym whose number only fits in base 36 (never the first letter
of the word, so it cannot equal a decimal pseudonym of the same word)."""
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def fit(word: str, number: int, length: int) -> str | None:
    """``word`` and ``number`` in exactly ``length`` characters (zeros between), or None.

    When the decimal number leaves no room for a letter of the word (``ocs`` for host 205), the
    number is written in base 36 after a letter of its own (``q5p``)."""
    digits = str(number)
    room = length - len(digits)
    if room >= 1:
        if room <= len(word):
            return word[:room] + digits
        return word + "0" * (room - len(word)) + digits
    spare = _SPARE.get(word)
    compact = ""
    while number:
        number, rest = divmod(number, 36)
        compact = _B36[rest] + compact
    if spare is None or not compact or len(compact) > length - 1:
        return None
    return spare + compact.rjust(length - 1, "0")


def _trie_pattern(keys: list[bytes]) -> bytes:
    """One regex alternative for ``keys``, factored by common prefix (longest match first).

    Hundreds of MACs, addresses and serials share their first bytes (an OUI, a subnet, a
    serial prefix); a factored pattern tests each shared prefix once per position instead of
    once per identifier, which makes the scan of a payload several times faster."""
    trie: dict[int, Any] = {}
    for key in keys:
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = {}

    def emit(node: dict[int, Any]) -> bytes:
        branches = [
            re.escape(bytes([byte])) + emit(child)
            for byte, child in sorted(node.items())
            if byte >= 0
        ]
        ends = -1 in node
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        if ends:  # the key ends here, but a longer one may continue: prefer the longer
            return b"(?:" + body + b")?"
        return body

    return emit(trie)


def _reverse(address: str, wire: bool) -> bytes:
    """An IPv4 address's reverse-lookup name, as text or as DNS wire labels."""
    labels = [*reversed(address.split(".")), "in-addr", "arpa"]
    if not wire:
        return ".".join(labels).encode()
    return b"".join(bytes([len(label)]) + label.encode() for label in labels)


def _fill_labels(wire: bytes) -> bytes:
    """A reverse name's four octet labels written as ``x`` (the label lengths kept)."""
    out = bytearray(wire)
    at = 0
    for _ in range(4):  # the four octets; "in-addr" and "arpa" stay
        size = out[at]
        out[at + 1 : at + 1 + size] = FILLER * len(out[at + 1 : at + 1 + size])
        at += 1 + size
    return bytes(out)


def _number(pseudo: str) -> int:
    found = re.search(r"(\d+)(?:\.example)?$", pseudo)
    return int(found.group(1)) if found else 0


def _cased(original: bytes, pseudo: bytes) -> bytes:
    if original.isupper():
        return pseudo.upper()
    if original[:1].isupper():
        return pseudo[:1].upper() + pseudo[1:]
    return pseudo


@dataclass(slots=True)
class Rewritten:
    """A payload after rewriting, with where identifiers became filler and why."""

    data: bytes
    fillers: list[tuple[int, int, str]] = field(default_factory=list)
    """(start, end, why) of every span written as ``x`` filler."""


class PayloadRewriter:
    """Same-length replacement of every identifier ``names`` knows, in payload bytes.

    The tables are rebuilt when ``names`` learns a new identifier (a frame's header rewrite
    registers MACs and addresses the report never named)."""

    def __init__(self, names: Pseudonyms) -> None:
        self.names = names
        self._state: tuple[int, ...] = ()
        self._pattern: re.Pattern[bytes] | None = None
        self._text: dict[bytes, bytes | None] = {}
        self._users: dict[bytes, bytes | None] = {}
        self._raw: dict[bytes, bytes] = {}
        self._short: dict[bytes, bytes | None] = {}
        self._raw_pattern: re.Pattern[bytes] | None = None

    # -- tables --------------------------------------------------------------------------------

    def _fresh(self) -> None:
        n = self.names
        state = tuple(
            len(t) for t in (n.macs, n.ips, n.serials, n.users, n.names, n.domains, n.labels)
        )
        if state == self._state:
            return
        self._state = state
        text: dict[bytes, bytes | None] = {}
        words: dict[bytes, bytes | None] = {}
        ips: dict[bytes, bytes | None] = {}
        rev: dict[bytes, bytes | None] = {}
        raw: dict[bytes, bytes] = {}
        for mac, pseudo in n.macs.items():
            if mac == pseudo:
                continue
            a, b = mac.replace(":", ""), pseudo.replace(":", "")
            raw[bytes.fromhex(a)] = bytes.fromhex(b)
            for fmt in (
                lambda h: ":".join(h[i : i + 2] for i in range(0, 12, 2)),
                lambda h: "-".join(h[i : i + 2] for i in range(0, 12, 2)),
                lambda h: h,
                lambda h: ".".join(h[i : i + 4] for i in (0, 4, 8)),
            ):
                text[fmt(a).encode()] = fmt(b).encode()
        for address, pseudo in n.ips.items():
            if address == pseudo:
                continue
            raw[ipaddress.ip_address(address).packed] = ipaddress.ip_address(pseudo).packed
            ips[address.encode()] = pseudo.encode() if len(pseudo) == len(address) else None
            if "." in address and "." in pseudo:  # reverse lookups: 102.0.77.10.in-addr.arpa
                for wire in (False, True):
                    key, value = _reverse(address, wire), _reverse(pseudo, wire)
                    rev[key] = value if len(value) == len(key) else None
        for serial, pseudo in n.serials.items():
            made = fit("SERIAL-", _number(pseudo), len(serial))
            words[serial.encode()] = made.encode() if made else None
        for dom, pseudo in n.domains.items():
            labels = dom.split(".")
            for label in labels[:-1]:
                made = fit("domain", _number(pseudo), len(label))
                words.setdefault(label.encode(), made.encode() if made else None)
        for label, pseudo in n.labels.items():
            made = fit("host", _number(pseudo), len(label))
            words.setdefault(label.encode(), made.encode() if made else None)
        users: dict[bytes, bytes | None] = {}
        for local, pseudo in n.users.items():
            made = fit("user", _number(pseudo), len(local))
            users[local.encode()] = made.encode() if made else None
        words = {
            k: (None if v is not None and v.lower().decode() in n.originals else v)
            for k, v in words.items()
            if k and not n.kept(k.decode())
        }
        # One- and two-letter labels are too short to tell from other bytes in a payload: they
        # are replaced only where a DNS message delimits them (:meth:`short_label`).
        self._short = {k: v for k, v in words.items() if len(k) < 3}
        words = {k: v for k, v in words.items() if len(k) >= 3}
        self._text = {**text, **ips, **rev, **words}
        self._users = users
        self._raw = raw

        def alternation(keys: list[bytes], lower: bool = True) -> bytes:
            return _trie_pattern(sorted({k.lower() if lower else k for k in keys}))

        parts = []
        if text:
            parts.append(b"(?P<mac>" + alternation(list(text)) + b")(?![:-]?[0-9A-Fa-f])")
        if ips:
            parts.append(rb"(?<![\d.])(?P<ip>" + alternation(list(ips)) + rb")(?!\d|\.\d)")
        if rev:
            parts.append(b"(?P<rev>" + alternation(list(rev)) + b")")
        if users:
            parts.append(rb"(?<![\w.%+-])(?P<user>" + alternation(list(users)) + rb")(?=@|<|\")")
        if words:
            parts.append(
                b"(?<!["
                + _WORD
                + b"])(?P<word>"
                + alternation(list(words))
                + b")(?!["
                + _WORD
                + b"])"
            )
        if raw:  # exact bytes: a MAC's bytes may spell letters, whose case matters
            parts.append(b"(?P<raw>(?-i:" + alternation(list(raw), lower=False) + b"))")
        self._pattern = re.compile(b"|".join(parts), re.I) if parts else None
        self._raw_pattern = re.compile(alternation(list(raw), lower=False)) if raw else None

    # -- rewriting -----------------------------------------------------------------------------

    def text(self, data: bytes) -> Rewritten:
        """``data`` with every identifier replaced at the same length, in one pass.

        Identifiers written as text, and MACs and addresses as raw bytes: one scan over the
        original bytes, so what one replacement writes is never matched again."""
        self._fresh()
        if self._pattern is None or not data:
            return Rewritten(data)
        fillers: list[tuple[int, int, str]] = []

        def replace(match: re.Match[bytes]) -> bytes:
            found = match.group(0)
            if match.lastgroup == "raw":
                return self._raw[found]
            table = self._users if match.lastgroup == "user" else self._text
            pseudo = table.get(found.lower())
            if pseudo is None:
                fillers.append((match.start(), match.end(), match.lastgroup or "identifier"))
                if match.lastgroup == "rev" and not found[:1].isdigit():  # wire labels
                    return _fill_labels(found)
                return FILLER * len(found)
            return _cased(found, pseudo)

        return Rewritten(self._pattern.sub(replace, data), fillers)

    def raw(self, data: bytes) -> bytes:
        """``data`` with every MAC (6 bytes) and address (4/16 bytes) replaced by its pseudonym."""
        self._fresh()
        if self._raw_pattern is None or not data:
            return data
        return self._raw_pattern.sub(lambda m: self._raw[m.group(0)], data)

    def short_label(self, label: bytes) -> bytes | None:
        """The replacement of a one- or two-letter DNS label that is an identifier, else None."""
        self._fresh()
        key = label.lower()
        if key not in self._short:
            return None
        pseudo = self._short[key]
        return FILLER * len(label) if pseudo is None else pseudo

    def collect(self, data: bytes) -> None:
        """Register what clear text reveals (URL hosts, ``user@domain``, MACs, addresses)."""
        self.names.collect_text(data[:COLLECT_BYTES].decode("latin-1"))


# ---------------------------------------------------------------------------------------------
# TCP streams: TLS records, HTTP compressed bodies (DNS messages: evidence_dns.py)
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Direction:
    """One direction of a TCP connection: the chosen segments' payloads."""

    segments: list[tuple[int, int, bytes]] = field(default_factory=list)
    """(frame number, sequence number, payload)."""


@dataclass(slots=True)
class StreamResult:
    """The rewritten TCP payloads, and each frame's comments on what became filler."""

    payloads: dict[int, bytes] = field(default_factory=dict)
    """Frame number → its rewritten TCP payload (same length), for changed frames only."""
    notes: dict[int, list[str]] = field(default_factory=dict)


class StreamRewriter:
    """Collects the chosen TCP segments, then rewrites each direction as one byte stream."""

    def __init__(self, rewriter: PayloadRewriter) -> None:
        self.rewriter = rewriter
        self.directions: dict[tuple[bytes, int, bytes, int], _Direction] = {}

    def add(
        self, key: tuple[bytes, int, bytes, int], number: int, seq: int, payload: bytes
    ) -> None:
        if payload:
            self.directions.setdefault(key, _Direction()).segments.append((number, seq, payload))

    def run(self) -> StreamResult:
        out = StreamResult()
        for direction in self.directions.values():
            for _placed, chunk, _start in _chunks(direction.segments):
                if not _is_tls_record(chunk, 0):
                    self.rewriter.collect(bytes(chunk))
        for direction in self.directions.values():
            pieces = _chunks(direction.segments)
            tls = any(_is_tls_record(chunk, 0) for _p, chunk, _s in pieces)
            state = _TlsState()
            for placed, chunk, start in pieces:
                if tls:
                    rewritten, fillers = self._tls(chunk, start, state)
                else:
                    rewritten, fillers = self._clear(chunk)
                for number, offset, payload in placed:
                    piece = rewritten[offset : offset + len(payload)]
                    if piece != payload:
                        out.payloads[number] = piece
                    for start, end, why in fillers:
                        if start < offset + len(payload) and end > offset:
                            notes = out.notes.setdefault(number, [])
                            if why not in notes:
                                notes.append(why)
        return out

    def _clear(self, chunk: bytearray) -> tuple[bytes, list[tuple[int, int, str]]]:
        done = self.rewriter.text(bytes(chunk))
        data = bytearray(done.data)
        fillers = [(s, e, filler_note(why)) for s, e, why in done.fillers]
        for start, end in _compressed_bodies(data):
            data[start:end] = FILLER * (end - start)
            fillers.append(
                (start, end, "capinspect --redact: compressed HTTP body replaced by x filler")
            )
        return bytes(data), fillers

    def _tls(
        self, chunk: bytearray, start: int, state: _TlsState
    ) -> tuple[bytes, list[tuple[int, int, str]]]:
        """Rewrite clear-text handshake records; fill application data; keep record headers.

        ``start`` is the chunk's offset in the stream and ``state`` carries, from one chunk to
        the next, where the next record header is and whether ChangeCipherSpec was seen."""
        data = bytearray(chunk)
        fillers: list[tuple[int, int, str]] = []
        size = len(data)
        lost = False
        if state.next is not None and state.next >= start:
            at, lead = state.next - start, state.kind
        elif _is_tls_record(data, 0):
            at, lead = 0, -1
        else:  # lost after a gap: the chunk is inside a record of unknown type
            at, lead, lost = size, (23 if state.encrypted else -1), True
            state.next = None
        head = min(at, size)
        if head:
            if lead == 23 or state.encrypted:
                data[:head] = FILLER * head
                fillers.append((0, head, _TLS_DATA_NOTE))
            else:
                done = self.rewriter.text(bytes(data[:head]))
                data[:head] = done.data
                fillers += [(s, e, filler_note(w)) for s, e, w in done.fillers]
        while at + 5 <= size and _is_tls_record(data, at):
            kind = data[at]
            length = int.from_bytes(data[at + 3 : at + 5], "big")
            body_at, end = at + 5, min(at + 5 + length, size)
            if kind == 20:
                state.encrypted = True
            elif kind == 22 and not state.encrypted:
                before = bytes(data[body_at:end])
                done = self.rewriter.text(before)
                data[body_at:end] = done.data
                fillers += [(body_at + s, body_at + e, filler_note(w)) for s, e, w in done.fillers]
                if done.data != before:
                    fillers.append((body_at, end, _TLS_NOTE))
            elif kind == 23 and end > body_at:
                data[body_at:end] = FILLER * (end - body_at)
                fillers.append((body_at, end, _TLS_DATA_NOTE))
            state.kind = kind
            at = body_at + length
        if lost:
            return bytes(data), fillers
        if at + 5 <= size:  # not a record header: lost from here on
            state.next = None
            if state.encrypted:
                data[at:] = FILLER * (size - at)
                fillers.append((at, size, _TLS_DATA_NOTE))
        else:
            state.next = start + at
        return bytes(data), fillers


@dataclass(slots=True)
class _TlsState:
    next: int | None = None
    """Stream offset of the next record header, when known."""
    kind: int = -1
    """Content type of the last record seen (the one a chunk may start inside)."""
    encrypted: bool = False


_TLS_DATA_NOTE = (
    "capinspect --redact: TLS application data replaced by x filler (record headers kept): "
    "decrypted, it holds the site's identifiers, and it cannot be rewritten without the keys"
)
_TLS_NOTE = (
    "capinspect --redact: names in this TLS handshake rewritten at the same length "
    "(a certificate's signature no longer verifies)"
)


def filler_note(why: str) -> str:
    return (
        f"capinspect --redact: an identifier ({why}) has no same-length pseudonym and is "
        "written as x characters"
    )


def _is_tls_record(data: bytes | bytearray, at: int) -> bool:
    return (
        len(data) >= at + 5
        and data[at] in (20, 21, 22, 23)
        and data[at + 1] == 3
        and data[at + 2] <= 4
    )


def _chunks(
    segments: list[tuple[int, int, bytes]],
) -> list[tuple[list[tuple[int, int, bytes]], bytearray, int]]:
    """Segments placed by sequence number into contiguous chunks.

    Each chunk: its segments as (frame, offset in the chunk, payload), its bytes, and its
    offset in the stream."""
    if not segments:
        return []
    base = segments[0][1]
    ordered = sorted(((seq - base) % 2**32, number, payload) for number, seq, payload in segments)
    out: list[tuple[list[tuple[int, int, bytes]], bytearray, int]] = []
    placed: list[tuple[int, int, bytes]] = []
    chunk = bytearray()
    start = 0
    for rel, number, payload in ordered:
        offset = rel - start
        if placed and (offset > len(chunk) or offset + len(payload) > MAX_CHUNK or rel >= 2**31):
            out.append((placed, chunk, start))
            placed, chunk, start, offset = [], bytearray(), rel, 0
        if not placed:
            start, offset = rel, 0
        end = offset + len(payload)
        if end > len(chunk):
            chunk.extend(b"\x00" * (end - len(chunk)))
        chunk[offset:end] = payload
        placed.append((number, offset, payload))
    out.append((placed, chunk, start))
    return out


def _compressed_bodies(data: bytearray) -> list[tuple[int, int]]:
    """Spans of HTTP bodies sent with a Content-Encoding (they cannot be searched)."""
    spans = []
    at = 0
    for _ in range(10_000):
        head_end = data.find(b"\r\n\r\n", at)
        if head_end < 0:
            break
        line = _START_LINE.search(bytes(data[at:head_end]))
        head = bytes(data[at + line.start() : head_end]) if line else b""
        body = head_end + 4
        length_match = _CONTENT_LENGTH.search(head)
        length = int(length_match.group(1)) if length_match else None
        if line and _COMPRESSED.search(head):
            end = len(data) if length is None else min(len(data), body + length)
            spans.append((body, end))
            at = end
        else:
            at = body + (length or 0) if line else head_end + 4
    return spans
