"""TLS values the tracker produces, and the registries needed to name what is on the wire.

A support engineer reads these as facts about one connection of a phone: what it offered, what
the server chose, which certificate it showed, who gave up and with which alert. Names follow
the IANA registries (``TLS_RSA_WITH_AES_128_CBC_SHA``, ``unknown_ca``), which is also what
Wireshark shows, so a finding can be checked against a capture opened there.
"""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.model import Anomaly, Direction, FlowKey

CHANGE_CIPHER_SPEC = 20
ALERT = 21
HANDSHAKE = 22
APPLICATION_DATA = 23
HEARTBEAT = 24
CONTENT_TYPES = (CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, HEARTBEAT)

HELLO_REQUEST = 0
CLIENT_HELLO = 1
SERVER_HELLO = 2
NEW_SESSION_TICKET = 4
ENCRYPTED_EXTENSIONS = 8
CERTIFICATE = 11
SERVER_KEY_EXCHANGE = 12
CERTIFICATE_REQUEST = 13
SERVER_HELLO_DONE = 14
CERTIFICATE_VERIFY = 15
CLIENT_KEY_EXCHANGE = 16
FINISHED = 20
KEY_UPDATE = 24

HANDSHAKE_NAMES = {
    0: "hello_request",
    1: "client_hello",
    2: "server_hello",
    4: "new_session_ticket",
    5: "end_of_early_data",
    8: "encrypted_extensions",
    11: "certificate",
    12: "server_key_exchange",
    13: "certificate_request",
    14: "server_hello_done",
    15: "certificate_verify",
    16: "client_key_exchange",
    20: "finished",
    22: "certificate_status",
    24: "key_update",
}

VERSION_NAMES = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}

ALERT_NAMES = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}

# Extension types the parser reads (RFC 6066, 7301, 7366, 7627, 8446, 5746).
EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_ENCRYPT_THEN_MAC = 22
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SESSION_TICKET = 35
EXT_PRE_SHARED_KEY = 41
EXT_SUPPORTED_VERSIONS = 43
EXT_KEY_SHARE = 51

HELLO_RETRY_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
)
"""A ServerHello with this random is a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3)."""


def is_grease(value: int) -> bool:
    """RFC 8701 GREASE values (0x0a0a, 0x1a1a, …) are noise a client adds on purpose."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def version_name(version: int | None) -> str:
    if version is None:
        return "unknown"
    return VERSION_NAMES.get(version, f"0x{version:04x}")


def alert_name(description: int | None) -> str:
    if description is None:
        return "encrypted alert"
    return ALERT_NAMES.get(description, f"alert {description}")


@dataclass(frozen=True, slots=True)
class CipherSuite:
    """One IANA cipher suite, split into what decryption needs to know.

    ``kx`` is ``RSA`` (the pre-master secret travels encrypted with the server's RSA key, so
    the server key decrypts it), ``ECDHE``/``DHE`` (ephemeral: only a key log helps), ``TLS13``
    (always ephemeral), or another name. ``cipher`` is an OpenSSL-style name; ``mac`` is the
    record MAC hash for CBC/stream suites and the PRF hash for AEAD ones (TLS 1.2).
    """

    code: int
    name: str
    kx: str
    cipher: str
    mac: str

    @property
    def aead(self) -> bool:
        return self.cipher.endswith(("GCM", "POLY1305", "CCM", "CCM8"))

    @property
    def forward_secret(self) -> bool:
        return self.kx in ("ECDHE", "DHE", "TLS13")


def _suites() -> dict[int, CipherSuite]:
    table: dict[int, CipherSuite] = {}

    def add(code: int, kx: str, auth: str, cipher: str, mac: str) -> None:
        bulk = {
            "AES-128-CBC": "AES_128_CBC",
            "AES-256-CBC": "AES_256_CBC",
            "AES-128-GCM": "AES_128_GCM",
            "AES-256-GCM": "AES_256_GCM",
            "CHACHA20-POLY1305": "CHACHA20_POLY1305",
            "3DES-CBC": "3DES_EDE_CBC",
            "DES-CBC": "DES_CBC",
            "RC4-128": "RC4_128",
            "NULL": "NULL",
            "CAMELLIA-128-CBC": "CAMELLIA_128_CBC",
            "CAMELLIA-256-CBC": "CAMELLIA_256_CBC",
            "AES-128-CCM": "AES_128_CCM",
            "AES-128-CCM8": "AES_128_CCM_8",
        }[cipher]
        mac_part = {"SHA1": "SHA", "SHA256": "SHA256", "SHA384": "SHA384", "MD5": "MD5"}[mac]
        if kx == "TLS13":
            name = f"TLS_{bulk}_{mac_part}"
        else:
            pair = kx if kx == auth else f"{kx}_{auth}"
            name = f"TLS_{pair}_WITH_{bulk}_{mac_part}"
        table[code] = CipherSuite(code, name, kx, cipher, mac)

    for code, cipher, mac in (
        (0x0001, "NULL", "MD5"),
        (0x0002, "NULL", "SHA1"),
        (0x0004, "RC4-128", "MD5"),
        (0x0005, "RC4-128", "SHA1"),
        (0x0009, "DES-CBC", "SHA1"),
        (0x000A, "3DES-CBC", "SHA1"),
        (0x002F, "AES-128-CBC", "SHA1"),
        (0x0035, "AES-256-CBC", "SHA1"),
        (0x003B, "NULL", "SHA256"),
        (0x003C, "AES-128-CBC", "SHA256"),
        (0x003D, "AES-256-CBC", "SHA256"),
        (0x0041, "CAMELLIA-128-CBC", "SHA1"),
        (0x0084, "CAMELLIA-256-CBC", "SHA1"),
        (0x009C, "AES-128-GCM", "SHA256"),
        (0x009D, "AES-256-GCM", "SHA384"),
    ):
        add(code, "RSA", "RSA", cipher, mac)
    for code, auth, cipher, mac in (
        (0x0013, "DSS", "3DES-CBC", "SHA1"),
        (0x0016, "RSA", "3DES-CBC", "SHA1"),
        (0x0032, "DSS", "AES-128-CBC", "SHA1"),
        (0x0033, "RSA", "AES-128-CBC", "SHA1"),
        (0x0038, "DSS", "AES-256-CBC", "SHA1"),
        (0x0039, "RSA", "AES-256-CBC", "SHA1"),
        (0x0040, "DSS", "AES-128-CBC", "SHA256"),
        (0x0067, "RSA", "AES-128-CBC", "SHA256"),
        (0x006A, "DSS", "AES-256-CBC", "SHA256"),
        (0x006B, "RSA", "AES-256-CBC", "SHA256"),
        (0x009E, "RSA", "AES-128-GCM", "SHA256"),
        (0x009F, "RSA", "AES-256-GCM", "SHA384"),
        (0x00A2, "DSS", "AES-128-GCM", "SHA256"),
        (0x00A3, "DSS", "AES-256-GCM", "SHA384"),
        (0xCCAA, "RSA", "CHACHA20-POLY1305", "SHA256"),
    ):
        add(code, "DHE", auth, cipher, mac)
    for code, auth, cipher, mac in (
        (0xC007, "ECDSA", "RC4-128", "SHA1"),
        (0xC008, "ECDSA", "3DES-CBC", "SHA1"),
        (0xC009, "ECDSA", "AES-128-CBC", "SHA1"),
        (0xC00A, "ECDSA", "AES-256-CBC", "SHA1"),
        (0xC011, "RSA", "RC4-128", "SHA1"),
        (0xC012, "RSA", "3DES-CBC", "SHA1"),
        (0xC013, "RSA", "AES-128-CBC", "SHA1"),
        (0xC014, "RSA", "AES-256-CBC", "SHA1"),
        (0xC023, "ECDSA", "AES-128-CBC", "SHA256"),
        (0xC024, "ECDSA", "AES-256-CBC", "SHA384"),
        (0xC027, "RSA", "AES-128-CBC", "SHA256"),
        (0xC028, "RSA", "AES-256-CBC", "SHA384"),
        (0xC02B, "ECDSA", "AES-128-GCM", "SHA256"),
        (0xC02C, "ECDSA", "AES-256-GCM", "SHA384"),
        (0xC02F, "RSA", "AES-128-GCM", "SHA256"),
        (0xC030, "RSA", "AES-256-GCM", "SHA384"),
        (0xCCA8, "RSA", "CHACHA20-POLY1305", "SHA256"),
        (0xCCA9, "ECDSA", "CHACHA20-POLY1305", "SHA256"),
    ):
        add(code, "ECDHE", auth, cipher, mac)
    for code, cipher, mac in (
        (0x1301, "AES-128-GCM", "SHA256"),
        (0x1302, "AES-256-GCM", "SHA384"),
        (0x1303, "CHACHA20-POLY1305", "SHA256"),
        (0x1304, "AES-128-CCM", "SHA256"),
        (0x1305, "AES-128-CCM8", "SHA256"),
    ):
        add(code, "TLS13", "TLS13", cipher, mac)
    return table


CIPHER_SUITES: dict[int, CipherSuite] = _suites()
SIGNALLING_SUITES = {0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", 0x5600: "TLS_FALLBACK_SCSV"}


def suite_name(code: int | None) -> str:
    if code is None:
        return "none"
    suite = CIPHER_SUITES.get(code)
    if suite is not None:
        return suite.name
    if code in SIGNALLING_SUITES:
        return SIGNALLING_SUITES[code]
    if is_grease(code):
        return f"GREASE 0x{code:04x}"
    return f"0x{code:04x}"


@dataclass(frozen=True, slots=True)
class ClientHello:
    """What the client offered (RFC 5246 7.4.1.2, RFC 8446 4.1.2)."""

    frame: int
    ts: float
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: tuple[int, ...]
    extensions: tuple[int, ...]
    sni: str | None = None
    supported_versions: tuple[int, ...] = ()
    """From the supported_versions extension (GREASE removed); empty when absent."""
    alpn: tuple[str, ...] = ()
    session_ticket: bytes | None = None
    """The session_ticket extension's data (``b""`` asks for a new ticket); None if absent."""
    extended_master_secret: bool = False
    encrypt_then_mac: bool = False
    pre_shared_key: bool = False

    @property
    def versions_offered(self) -> tuple[int, ...]:
        """The versions the client offered, newest first.

        Without supported_versions the hello only says the *highest* version (``legacy_version``
        was the maximum before TLS 1.3); the lowest one it accepts is not on the wire, so that
        is the one value given (``max_version_only``).
        """
        if self.supported_versions:
            return tuple(sorted(set(self.supported_versions), reverse=True))
        return (self.legacy_version,)

    @property
    def max_version_only(self) -> bool:
        return not self.supported_versions

    def describe_versions(self) -> str:
        names = ", ".join(version_name(v) for v in self.versions_offered)
        return f"up to {names}" if self.max_version_only else names


@dataclass(frozen=True, slots=True)
class ServerHello:
    """What the server chose (for TLS 1.3 the version comes from supported_versions)."""

    frame: int
    ts: float
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[int, ...]
    selected_version: int
    alpn: str | None = None
    extended_master_secret: bool = False
    encrypt_then_mac: bool = False
    hello_retry: bool = False


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """One X.509 certificate of the chain the server sent, as a support engineer reads it."""

    subject: str
    issuer: str
    common_name: str | None
    dns_names: tuple[str, ...]
    """subjectAltName dNSName entries, in certificate order."""
    ip_addresses: tuple[str, ...]
    serial: str
    """Serial number in lower-case hex."""
    not_before: float
    """POSIX seconds (UTC)."""
    not_after: float
    key_type: str
    """``RSA``, ``EC``, ``DSA``, ``Ed25519``, ``Ed448`` or ``unknown``."""
    key_bits: int | None
    signature_algorithm: str
    """``sha256WithRSAEncryption`` and the like (the OID's name, or its dotted form)."""
    sha256: str
    """Fingerprint of the DER bytes, lower-case hex."""
    self_signed: bool
    is_ca: bool | None
    problem: str | None = None
    """Why the certificate could not be read (the other fields are then mostly empty)."""

    @property
    def names(self) -> tuple[str, ...]:
        """The host names a client checks: SANs, or the CN when there are none (RFC 6125)."""
        if self.dns_names:
            return self.dns_names
        return (self.common_name,) if self.common_name else ()


@dataclass(frozen=True, slots=True)
class TlsAlert:
    frame: int
    ts: float
    direction: Direction
    level: int | None
    """1 warning, 2 fatal; None when the alert was encrypted and not decrypted."""
    description: int | None

    @property
    def name(self) -> str:
        return alert_name(self.description)

    @property
    def sender(self) -> str:
        return "client" if self.direction == Direction.TO_SERVER else "server"

    @property
    def fatal(self) -> bool:
        return self.level == 2


@dataclass(frozen=True, slots=True)
class AppRecord:
    """One application data record as the wire shows it (its protected size, not the
    plaintext's): what the sizes of an encrypted check-in are read from."""

    frame: int
    ts: float
    direction: Direction
    size: int
    """The record's fragment length (ciphertext: IV, MAC/tag and padding included)."""


@dataclass(frozen=True, slots=True)
class TcpEnd:
    """One direction of the connection ended: ``fin``, ``rst``, ``idle`` or ``eof`` (the
    capture ended first). A reset ends both directions in the same frame."""

    direction: Direction
    reason: str
    frame: int | None
    ts: float


MAX_APP_RECORDS = 64
"""Application data records kept per connection (their count goes on)."""


# Outcome of a TLS handshake as the capture shows it.
ESTABLISHED = "established"
FAILED = "failed"
INCOMPLETE = "incomplete"
UNKNOWN = "unknown"

# Decryption status of a connection.
DECRYPTED = "decrypted"
NO_KEYS_GIVEN = "no-keys"
NOTHING_TO_DECRYPT = "nothing-to-decrypt"


@dataclass(frozen=True, slots=True)
class TlsConnection:
    """One TLS connection: handshake facts, outcome, and whether its content was decrypted.

    ``outcome`` is ``established`` (both sides finished the handshake), ``failed`` (an alert
    or a close during the handshake), ``incomplete`` (the capture lost or ended the
    handshake) or ``unknown`` (the capture began after the hellos, or TLS 1.3 without keys
    ended before either side sent application data). ``decryption`` is ``decrypted``,
    ``no-keys``, ``nothing-to-decrypt`` or a reason code (docs/tls.md) with
    ``decryption_detail`` in words.
    """

    flow: FlowKey
    frame: int
    ts: float
    client_mac: str | None
    vlans: tuple[int, ...]
    client_hello: ClientHello | None
    server_hello: ServerHello | None
    certificates: tuple[CertificateInfo, ...]
    certificate_frame: int | None
    certificate_encrypted: bool
    """TLS 1.3: the certificate travelled encrypted and no key log entry opened it."""
    alerts: tuple[TlsAlert, ...]
    outcome: str
    outcome_detail: str
    resumed: bool
    handshake_frames: tuple[int, ...]
    """Frames of the hellos, the certificate and the first alert (the evidence)."""
    app_bytes_to_server: int
    app_bytes_to_client: int
    decryption: str
    decryption_detail: str
    decrypted_with: str | None = None
    """``server key`` or ``key log`` when ``decryption`` is ``decrypted``."""
    end_reason: str | None = None
    last_ts: float = 0.0
    anomalies: tuple[Anomaly, ...] = ()
    app_records: tuple[AppRecord, ...] = ()
    """The first ``MAX_APP_RECORDS`` application data records, both directions, in order."""
    app_record_counts: tuple[int, int] = (0, 0)
    """Application data records to the server and to the client (all of them)."""
    ends: tuple[TcpEnd, ...] = ()
    """How each direction ended, in order."""

    @property
    def version(self) -> int | None:
        return self.server_hello.selected_version if self.server_hello else None

    @property
    def cipher_suite(self) -> int | None:
        return self.server_hello.cipher_suite if self.server_hello else None

    @property
    def sni(self) -> str | None:
        return self.client_hello.sni if self.client_hello else None

    @property
    def server_certificate(self) -> CertificateInfo | None:
        return self.certificates[0] if self.certificates else None

    @property
    def first_fatal_alert(self) -> TlsAlert | None:
        for alert in self.alerts:
            if alert.fatal:
                return alert
        return None
