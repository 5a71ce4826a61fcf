"""Sans-IO TLS parsing: stream bytes → records → handshake messages → values.

Three layers, each fed bytes and returning what completed, so the TCP segmentation of a
capture never shows through:

* :class:`RecordReader` cuts one direction's byte stream into records (RFC 5246 6.2: type,
  version, 16-bit length), whatever the segment boundaries. Each record carries the frames
  its first and last byte arrived in. A gap inside a record whose header was read costs that
  record only (the next header's position is known); a gap anywhere else loses the record
  boundary, and the reader stops rather than guess.
* :class:`HandshakeReader` joins plaintext handshake records into handshake messages
  (type, 24-bit length), which may span records or share one.
* ``parse_*`` functions turn one message body into a value; certificates are decoded by
  ``cryptography`` (:func:`certificate_info`).

Malformed bytes raise :class:`~capinspect.errors.Malformed` inside this module; the tracker
catches it at its boundary and records an anomaly.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from capinspect.errors import Malformed, Truncated
from capinspect.model import hot_value
from capinspect.protocols.tls.messages import (
    CONTENT_TYPES,
    EXT_ALPN,
    EXT_ENCRYPT_THEN_MAC,
    EXT_EXTENDED_MASTER_SECRET,
    EXT_PRE_SHARED_KEY,
    EXT_SERVER_NAME,
    EXT_SESSION_TICKET,
    EXT_SUPPORTED_VERSIONS,
    HELLO_RETRY_RANDOM,
    CertificateInfo,
    ClientHello,
    ServerHello,
    is_grease,
)

MAX_RECORD = (1 << 14) + 2048
"""Largest TLSCiphertext fragment RFC 5246 allows; anything longer is not TLS."""
MAX_HANDSHAKE_MESSAGE = 256 * 1024
"""A handshake message longer than this (certificate chains are a few KB) is not followed."""


class Reader:
    """Bounds-checked big-endian reads over one message body."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def left(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise Truncated(f"needs {n} bytes, {self.end - self.pos} left", self.pos)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u24(self) -> int:
        return int.from_bytes(self.take(3), "big")

    def vec8(self) -> bytes:
        return self.take(self.u8())

    def vec16(self) -> bytes:
        return self.take(self.u16())

    def vec24(self) -> bytes:
        return self.take(self.u24())


# -- records ------------------------------------------------------------------------------------


@hot_value
class TlsRecord:
    """One record. ``lost`` records were hit by a capture gap: only their type and size are
    known (the next record is still found, and decryption counts the lost record)."""

    content_type: int
    version: int
    fragment: bytes
    first_frame: int
    frame: int
    ts: float
    lost: bool = False


class RecordReader:
    """One direction's stream bytes → :class:`TlsRecord` values (see the module docstring)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._start = 0
        """Offset in ``_buf`` of the first byte not yet consumed."""
        self._pos = 0
        """Stream position of ``_buf[0]``."""
        self._spans: list[tuple[int, int, int, int, float]] = []
        """Per fed chunk: (stream start, stream end, first frame, last frame, ts)."""
        self._lost_in_record = False
        self._skip = 0
        self.broken: str | None = None
        """Why the reader stopped (``gap``, ``malformed: …``); it then returns nothing."""

    def feed(
        self, data: bytes, frame: int, ts: float, first_frame: int | None = None
    ) -> list[TlsRecord]:
        if self.broken is not None or not data:
            return []
        if self._skip:
            cut = min(self._skip, len(data))
            self._skip -= cut
            self._pos += cut
            data = data[cut:]
            if not data:
                return []
        start = self._pos + len(self._buf)
        first = first_frame if first_frame is not None else frame
        self._spans.append((start, start + len(data), first, frame, ts))
        self._buf += data
        return self._drain()

    def gap(self, size: int) -> list[TlsRecord]:
        """``size`` bytes the capture does not hold came next."""
        if self.broken is not None:
            return []
        if self._skip:
            if size <= self._skip:
                self._skip -= size
                self._pos += size
                return []
            self.broken = "gap"
            return []
        pending = len(self._buf) - self._start
        if pending >= 5:
            total = 5 + int.from_bytes(self._buf[self._start + 3 : self._start + 5], "big")
            if pending + size <= total:
                # The hole lies inside this record: it is lost, the next header is not.
                ctype = self._buf[self._start]
                version = int.from_bytes(self._buf[self._start + 1 : self._start + 3], "big")
                frame, first, ts = self._frames(self._pos + self._start, self._end_pos())
                self._skip = total - pending - size
                self._consume(pending)
                self._pos += size
                return [TlsRecord(ctype, version, b"", first, frame, ts, lost=True)]
        self.broken = "gap"
        return []

    def _end_pos(self) -> int:
        return self._pos + len(self._buf)

    def _frames(self, start: int, end: int) -> tuple[int, int, float]:
        """(last frame, first frame, ts of the last frame) of stream bytes [start, end)."""
        first = last = 0
        ts = 0.0
        for span_start, span_end, span_first, span_last, span_ts in self._spans:
            if not first and span_end > start:
                first = span_first if start <= span_start else span_last
            if span_end >= end:
                last, ts = span_last, span_ts
                break
        if not last and self._spans:
            last, ts = self._spans[-1][3], self._spans[-1][4]
        return last, first or last, ts

    def _consume(self, n: int) -> None:
        self._start += n
        consumed_to = self._pos + self._start
        while self._spans and self._spans[0][1] <= consumed_to:
            self._spans.pop(0)
        if self._start > 65536 or self._start == len(self._buf):
            del self._buf[: self._start]
            self._pos += self._start
            self._start = 0

    def _drain(self) -> list[TlsRecord]:
        out: list[TlsRecord] = []
        buf = self._buf
        while len(buf) - self._start >= 5:
            s = self._start
            ctype = buf[s]
            major = buf[s + 1]
            length = (buf[s + 3] << 8) | buf[s + 4]
            if ctype not in CONTENT_TYPES or major != 3 or buf[s + 2] > 4:
                self.broken = f"malformed: bytes {bytes(buf[s : s + 5]).hex()} are no record header"
                return out
            if length > MAX_RECORD:
                self.broken = f"malformed: record length {length} is over {MAX_RECORD}"
                return out
            if len(buf) - s < 5 + length:
                break
            start_pos = self._pos + s
            frame, first, ts = self._frames(start_pos, start_pos + 5 + length)
            version = (buf[s + 1] << 8) | buf[s + 2]
            out.append(
                TlsRecord(ctype, version, bytes(buf[s + 5 : s + 5 + length]), first, frame, ts)
            )
            self._consume(5 + length)
            buf = self._buf
        return out


class HandshakeReader:
    """Plaintext handshake record fragments → (type, body, whole message bytes)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, fragment: bytes) -> list[tuple[int, bytes, bytes]]:
        self._buf += fragment
        out: list[tuple[int, bytes, bytes]] = []
        while len(self._buf) >= 4:
            length = int.from_bytes(self._buf[1:4], "big")
            if length > MAX_HANDSHAKE_MESSAGE:
                self._buf.clear()
                raise Malformed(f"handshake message of {length} bytes")
            if len(self._buf) < 4 + length:
                break
            raw = bytes(self._buf[: 4 + length])
            del self._buf[: 4 + length]
            out.append((raw[0], raw[4:], raw))
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)


# -- handshake messages -------------------------------------------------------------------------


def _extensions(r: Reader) -> list[tuple[int, bytes]]:
    if r.left() == 0:
        return []
    block = Reader(r.vec16())
    out: list[tuple[int, bytes]] = []
    while block.left():
        ext_type = block.u16()
        out.append((ext_type, block.vec16()))
    return out


def _sni(data: bytes) -> str | None:
    r = Reader(data)
    names = Reader(r.vec16())
    while names.left():
        kind = names.u8()
        name = names.vec16()
        if kind == 0:
            return name.decode("ascii", "replace")
    return None


def _alpn(data: bytes) -> tuple[str, ...]:
    r = Reader(data)
    protos = Reader(r.vec16())
    out: list[str] = []
    while protos.left():
        out.append(protos.vec8().decode("ascii", "replace"))
    return tuple(out)


def parse_client_hello(body: bytes, frame: int, ts: float) -> ClientHello:
    r = Reader(body)
    version = r.u16()
    random = r.take(32)
    session_id = r.vec8()
    suites_raw = r.vec16()
    if len(suites_raw) % 2:
        raise Malformed("odd cipher suite list length")
    suites = tuple(
        int.from_bytes(suites_raw[i : i + 2], "big") for i in range(0, len(suites_raw), 2)
    )
    compression = tuple(r.vec8())
    exts = _extensions(r)
    sni = None
    versions: tuple[int, ...] = ()
    alpn: tuple[str, ...] = ()
    ticket = None
    for ext_type, data in exts:
        if ext_type == EXT_SERVER_NAME and data:
            sni = _sni(data)
        elif ext_type == EXT_SUPPORTED_VERSIONS:
            vr = Reader(Reader(data).vec8())
            found = []
            while vr.left():
                v = vr.u16()
                if not is_grease(v):
                    found.append(v)
            versions = tuple(found)
        elif ext_type == EXT_ALPN:
            alpn = _alpn(data)
        elif ext_type == EXT_SESSION_TICKET:
            ticket = data
    kinds = tuple(t for t, _ in exts)
    return ClientHello(
        frame=frame,
        ts=ts,
        legacy_version=version,
        random=random,
        session_id=session_id,
        cipher_suites=suites,
        compression_methods=compression,
        extensions=kinds,
        sni=sni,
        supported_versions=versions,
        alpn=alpn,
        session_ticket=ticket,
        extended_master_secret=EXT_EXTENDED_MASTER_SECRET in kinds,
        encrypt_then_mac=EXT_ENCRYPT_THEN_MAC in kinds,
        pre_shared_key=EXT_PRE_SHARED_KEY in kinds,
    )


def parse_server_hello(body: bytes, frame: int, ts: float) -> ServerHello:
    r = Reader(body)
    version = r.u16()
    random = r.take(32)
    session_id = r.vec8()
    suite = r.u16()
    compression = r.u8()
    exts = _extensions(r)
    selected = version
    alpn = None
    for ext_type, data in exts:
        if ext_type == EXT_SUPPORTED_VERSIONS and len(data) == 2:
            selected = int.from_bytes(data, "big")
        elif ext_type == EXT_ALPN:
            names = _alpn(data)
            alpn = names[0] if names else None
    kinds = tuple(t for t, _ in exts)
    return ServerHello(
        frame=frame,
        ts=ts,
        legacy_version=version,
        random=random,
        session_id=session_id,
        cipher_suite=suite,
        compression_method=compression,
        extensions=kinds,
        selected_version=selected,
        alpn=alpn,
        extended_master_secret=EXT_EXTENDED_MASTER_SECRET in kinds,
        encrypt_then_mac=EXT_ENCRYPT_THEN_MAC in kinds,
        hello_retry=random == HELLO_RETRY_RANDOM,
    )


def parse_certificate_list(body: bytes, tls13: bool) -> list[bytes]:
    """The DER certificates of a Certificate message (RFC 5246 7.4.2 / RFC 8446 4.4.2)."""
    r = Reader(body)
    if tls13:
        r.vec8()  # certificate_request_context
    chain = Reader(r.vec24())
    out: list[bytes] = []
    while chain.left():
        out.append(chain.vec24())
        if tls13:
            chain.vec16()  # per-certificate extensions
    return out


def parse_new_session_ticket(body: bytes, tls13: bool) -> bytes:
    r = Reader(body)
    r.take(4)  # lifetime hint
    if tls13:
        r.take(4)  # age add
        r.vec8()  # nonce
    return r.vec16()


def parse_rsa_client_key_exchange(body: bytes, version: int) -> bytes:
    """The RSA-encrypted pre-master secret (SSL 3.0 sends it without the length prefix)."""
    if version == 0x0300:
        return body
    r = Reader(body)
    data = r.vec16()
    if r.left():
        raise Malformed("bytes after the encrypted pre-master secret")
    return data


def parse_alerts(fragment: bytes) -> list[tuple[int, int]]:
    """(level, description) pairs; a record may carry more than one alert."""
    if len(fragment) % 2 or not fragment:
        raise Malformed(f"alert record of {len(fragment)} bytes")
    return [(fragment[i], fragment[i + 1]) for i in range(0, len(fragment), 2)]


# -- certificates -------------------------------------------------------------------------------


def certificate_info(der: bytes) -> CertificateInfo:
    """Decode one certificate with ``cryptography``; a cached call per distinct DER."""
    return _certificate_info(bytes(der))


@lru_cache(maxsize=512)
def _certificate_info(der: bytes) -> CertificateInfo:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
    from cryptography.x509.oid import NameOID

    fingerprint = hashlib.sha256(der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        cn_value = cns[0].value if cns else None
        common_name = cn_value if isinstance(cn_value, str) else None
        dns_names: tuple[str, ...] = ()
        ips: tuple[str, ...] = ()
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names = tuple(san.get_values_for_type(x509.DNSName))
            ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        except x509.ExtensionNotFound:
            pass
        is_ca: bool | None = None
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            pass
        key_type, key_bits = "unknown", None
        try:
            key = cert.public_key()
            if isinstance(key, rsa.RSAPublicKey):
                key_type, key_bits = "RSA", key.key_size
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key_type, key_bits = "EC", key.key_size
            elif isinstance(key, dsa.DSAPublicKey):
                key_type, key_bits = "DSA", key.key_size
            elif isinstance(key, ed25519.Ed25519PublicKey):
                key_type, key_bits = "Ed25519", 256
            elif isinstance(key, ed448.Ed448PublicKey):
                key_type, key_bits = "Ed448", 456
        except (ValueError, TypeError, UnsupportedAlgorithm):  # a key type it cannot load
            pass
        oid = cert.signature_algorithm_oid
        sig_name = getattr(oid, "_name", None)
        signature = (
            sig_name
            if isinstance(sig_name, str) and sig_name != "Unknown OID"
            else (oid.dotted_string)
        )
        return CertificateInfo(
            subject=subject,
            issuer=issuer,
            common_name=common_name,
            dns_names=dns_names,
            ip_addresses=ips,
            serial=f"{cert.serial_number:x}",
            not_before=cert.not_valid_before_utc.timestamp(),
            not_after=cert.not_valid_after_utc.timestamp(),
            key_type=key_type,
            key_bits=key_bits,
            signature_algorithm=signature,
            sha256=fingerprint,
            self_signed=cert.subject == cert.issuer,
            is_ca=is_ca,
        )
    except Exception as exc:  # noqa: BLE001
        # Certificates are attacker-controlled bytes and cryptography raises many types for
        # them (ValueError, InvalidVersion, UnsupportedAlgorithm, DuplicateExtension, …),
        # some only when a field is read: whatever it raises means "does not parse".
        return CertificateInfo(
            subject="",
            issuer="",
            common_name=None,
            dns_names=(),
            ip_addresses=(),
            serial="",
            not_before=0.0,
            not_after=0.0,
            key_type="unknown",
            key_bits=None,
            signature_algorithm="",
            sha256=fingerprint,
            self_signed=False,
            is_ca=None,
            problem=f"certificate does not parse: {exc}",
        )


def certificate_public_key_der(der: bytes) -> bytes | None:
    """SubjectPublicKeyInfo DER of a certificate, to match it with a private key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = x509.load_der_x509_certificate(der).public_key()
        return key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except Exception:  # noqa: BLE001 - as in certificate_info: any failure means "no key"
        return None
