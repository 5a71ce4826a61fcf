"""Keys the user gives to decrypt TLS: server private keys and NSS key logs, loaded up front.

Loading everything before the capture is read means a wrong path, a wrong password or a file
that holds no usable key is one ``ConfigError`` line (exit 2) instead of an analysis that
silently decrypts nothing.

* ``--tls-key FILE`` (PEM, or PKCS#12/PFX as exported from the Windows certificate store),
  ``--tls-key-password``: an RSA private key. It decrypts connections that used RSA key
  exchange (TLS 1.0-1.2 ``TLS_RSA_WITH_*``), the only kind a server key can decrypt.
* ``--keylog FILE``: the NSS key log format (``SSLKEYLOGFILE``): ``CLIENT_RANDOM`` (TLS 1.0-1.2
  master secrets, any key exchange), ``RSA`` (pre-master secrets by the first 8 bytes of their
  encryption), and the TLS 1.3 traffic secrets.

:class:`KeyDeriver` turns that material into record keys for one connection, from the facts of
its handshake: the master secret (from a resumed session's earlier full handshake in the
capture, the key log's ``CLIENT_RANDOM``, its ``RSA`` line, or the server key matching the
certificate) and then the record ciphers of both directions (TLS 1.0-1.2), or the key log's
traffic secrets (TLS 1.3). When none applies it says why (:class:`KeyFailure`, a reason code of
docs/tls.md); the TLS tracker only applies what it returns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capinspect.errors import ConfigError
from capinspect.model import Direction
from capinspect.protocols.tls import crypto
from capinspect.protocols.tls.messages import (
    CIPHER_SUITES,
    CertificateInfo,
    CipherSuite,
    ClientHello,
    ServerHello,
    suite_name,
    version_name,
)
from capinspect.protocols.tls.parser import certificate_public_key_der

TLS13_LABELS = (
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
)
_PEM_KEY = re.compile(
    rb"-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----.*?-----END \1-----", re.DOTALL
)
_MAX_KEYLOG_BYTES = 256 * 1024 * 1024
MAX_SESSIONS = 10_000
"""Master secrets remembered by session ID / ticket, for resumed connections."""


@dataclass(frozen=True, slots=True)
class KeyLog:
    """Secrets from an NSS key log, by client random (or encrypted pre-master prefix)."""

    path: str
    master_secrets: dict[bytes, bytes] = field(default_factory=dict)
    rsa_pre_masters: dict[bytes, bytes] = field(default_factory=dict)
    tls13_secrets: dict[tuple[str, bytes], bytes] = field(default_factory=dict)
    skipped_lines: int = 0

    def __len__(self) -> int:
        return len(self.master_secrets) + len(self.rsa_pre_masters) + len(self.tls13_secrets)


@dataclass(frozen=True, slots=True)
class ServerKey:
    """One RSA private key, with its public key in SubjectPublicKeyInfo DER for matching."""

    path: str
    public_der: bytes
    _key: object = field(repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as unencrypted PKCS#8 DER (``analyze --jobs`` hands keys to worker
        processes, and the cryptography library's key objects do not pickle)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        if not isinstance(self._key, rsa.RSAPrivateKey):
            return (ServerKey, (self.path, self.public_der, self._key))
        der = self._key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return (_server_key_from_der, (self.path, self.public_der, der))

    def decrypt_pre_master(self, encrypted: bytes) -> bytes | None:
        """PKCS#1 v1.5 decryption of a ClientKeyExchange; None when it does not decrypt."""
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        key = self._key
        if not isinstance(key, rsa.RSAPrivateKey):
            return None
        try:
            return key.decrypt(encrypted, padding.PKCS1v15())
        except ValueError:
            return None


def _server_key_from_der(path: str, public_der: bytes, der: bytes) -> ServerKey:
    from cryptography.hazmat.primitives import serialization

    return ServerKey(path, public_der, serialization.load_der_private_key(der, password=None))


@dataclass(frozen=True, slots=True)
class TlsKeys:
    """Everything the user gave to decrypt TLS; the empty value means "no keys"."""

    server_keys: tuple[ServerKey, ...] = ()
    keylog: KeyLog | None = None

    @property
    def empty(self) -> bool:
        return not self.server_keys and self.keylog is None

    def describe(self) -> str:
        parts = [f"server key {k.path}" for k in self.server_keys]
        if self.keylog is not None:
            parts.append(f"key log {self.keylog.path} ({len(self.keylog)} secrets)")
        return ", ".join(parts) or "no keys"


NO_KEYS = TlsKeys()


def parse_keylog(text: str, path: str = "<key log>") -> KeyLog:
    """Read NSS key log lines; comments, unknown labels and bad hex are skipped (counted)."""
    masters: dict[bytes, bytes] = {}
    rsa: dict[bytes, bytes] = {}
    tls13: dict[tuple[str, bytes], bytes] = {}
    skipped = 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        try:
            if len(parts) != 3:
                raise ValueError(line)
            label, first, secret = parts[0], bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            skipped += 1
            continue
        if label == "CLIENT_RANDOM" and len(first) == 32 and len(secret) == 48:
            masters[first] = secret
        elif label == "RSA" and len(first) == 8 and len(secret) == 48:
            rsa[first] = secret
        elif label in TLS13_LABELS and len(first) == 32 and len(secret) in (32, 48):
            tls13[(label, first)] = secret
        else:
            skipped += 1
    return KeyLog(path, masters, rsa, tls13, skipped)


def _read(path: str, what: str, limit: int = 16 * 1024 * 1024) -> bytes:
    try:
        file = Path(path)
        if file.stat().st_size > limit:
            raise ConfigError(f"{what} {path} is larger than {limit} bytes")
        return file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def load_server_key(path: str, password: str | None = None) -> ServerKey:
    """An RSA private key from PEM (key or key+certificates) or PKCS#12/PFX."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12

    data = _read(path, "TLS key file")
    secret = password.encode() if password is not None else None
    key: object
    try:
        match = _PEM_KEY.search(data)
        if match is not None:
            key = serialization.load_pem_private_key(match.group(0), secret)
        elif b"-----BEGIN" in data:
            raise ConfigError(f"TLS key file {path} holds no PEM private key")
        else:
            loaded, _, _ = pkcs12.load_key_and_certificates(data, secret)
            if loaded is None:
                raise ConfigError(f"TLS key file {path} (PKCS#12) holds no private key")
            key = loaded
    except TypeError as exc:
        # cryptography: a password for an unencrypted key, or none for an encrypted one.
        raise ConfigError(f"TLS key file {path}: {exc}") from None
    except ValueError as exc:
        wrong = "password" in str(exc).lower() or "decrypt" in str(exc).lower()
        reason = "wrong password" if wrong or password is not None else "not a key"
        raise ConfigError(f"TLS key file {path}: {reason} ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(
            f"TLS key file {path} holds a {type(key).__name__.removeprefix('_')}, not an RSA "
            "key: only RSA key exchange can be decrypted with a server key (use --keylog)"
        )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ServerKey(path, public, key)


def load_keylog(path: str) -> KeyLog:
    data = _read(path, "key log", _MAX_KEYLOG_BYTES)
    keylog = parse_keylog(data.decode("utf-8", "replace"), path)
    if len(keylog) == 0 and data.strip():
        raise ConfigError(f"key log {path} has no NSS key log line (CLIENT_RANDOM, RSA, TLS 1.3)")
    return keylog


def load_tls_keys(
    key_paths: Sequence[str] = (),
    password: str | None = None,
    keylog_path: str | None = None,
) -> TlsKeys:
    """Load every key up front; raises ConfigError (one line) when one cannot be used."""
    keys = tuple(load_server_key(path, password) for path in key_paths)
    keylog = load_keylog(keylog_path) if keylog_path else None
    return TlsKeys(keys, keylog)


# -- deriving record keys ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyFailure:
    """Why a connection is not decrypted: a reason code (docs/tls.md) and its plain words."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class RecordKeys:
    """The record ciphers of both directions, and where their secret came from."""

    to_server: crypto.RecordCipher
    to_client: crypto.RecordCipher
    source: str
    """``key log``, ``server key`` or ``earlier handshake in the capture``."""
    master: bytes | None = None
    """The TLS 1.0-1.2 master secret (remembered for the sessions it can resume)."""


@dataclass(frozen=True, slots=True)
class Handshake:
    """What a TLS 1.0-1.2 key derivation reads of a connection's handshake."""

    client_hello: ClientHello
    server_hello: ServerHello
    resumed: bool
    transcript: bytes
    """The handshake messages up to ClientKeyExchange (the extended master secret's hash)."""
    encrypted_pre_master: bytes | None
    certificate_der: bytes | None
    certificate: CertificateInfo | None


Derived = RecordKeys | KeyFailure | None
"""Keys, or why not, or ``None`` when there was nothing to try."""


class KeyDeriver:
    """The user's key material and the sessions seen so far, turned into record keys."""

    def __init__(self, keys: TlsKeys) -> None:
        self.keys = keys
        self._sessions: dict[bytes, bytes] = {}
        """Session IDs and tickets → master secret, for abbreviated handshakes."""

    @property
    def can_try(self) -> bool:
        """Whether a TLS 1.0-1.2 connection could be decrypted at all: keys given, or a master
        secret learnt from an earlier connection."""
        return not self.keys.empty or bool(self._sessions)

    def remember(self, master: bytes | None, session_id: bytes, tickets: list[bytes]) -> None:
        """Keep ``master`` for the session ID and tickets that may resume it (bounded)."""
        if master is None or len(self._sessions) >= MAX_SESSIONS:
            return
        if session_id:
            self._sessions[session_id] = master
        for ticket in tickets:
            self._sessions[ticket] = master

    def tls12(self, hs: Handshake) -> Derived:
        """At the first ChangeCipherSpec: the master secret, then both directions' ciphers."""
        sh = hs.server_hello
        suite = CIPHER_SUITES.get(sh.cipher_suite)
        name = suite_name(sh.cipher_suite)
        if suite is None or suite.cipher not in crypto.SUPPORTED_CIPHERS:
            return KeyFailure("unsupported-cipher", f"{name} is not one capinspect decrypts")
        if sh.selected_version < 0x0301:
            return KeyFailure("unsupported-version", f"{version_name(sh.selected_version)}")
        found = self._master_secret(hs, suite)
        if found is None or isinstance(found, KeyFailure):
            return found
        master, source = found
        to_server, to_client = crypto.tls12_ciphers(
            sh.selected_version,
            suite,
            master,
            hs.client_hello.random,
            sh.random,
            sh.encrypt_then_mac and not suite.aead,
        )
        return RecordKeys(to_server, to_client, source, master)

    def _master_secret(
        self, hs: Handshake, suite: CipherSuite
    ) -> tuple[bytes, str] | KeyFailure | None:
        ch, sh = hs.client_hello, hs.server_hello
        keylog = self.keys.keylog
        if keylog is not None and ch.random in keylog.master_secrets:
            return keylog.master_secrets[ch.random], "key log"
        if hs.resumed:
            for handle in (sh.session_id, ch.session_ticket):
                if handle and handle in self._sessions:
                    return self._sessions[handle], "earlier handshake in the capture"
            return KeyFailure(
                "resumed-no-master",
                "the session was resumed (abbreviated handshake) and its master secret is "
                "neither in the capture (the full handshake that made it) nor in the key log",
            )
        prf_name = crypto.prf_hash(sh.selected_version, suite)
        ext_hash = (
            crypto.session_hash(prf_name, hs.transcript) if sh.extended_master_secret else None
        )
        epms = hs.encrypted_pre_master
        if keylog is not None and epms is not None and epms[:8] in keylog.rsa_pre_masters:
            logged = keylog.rsa_pre_masters[epms[:8]]
            return crypto.master_secret(prf_name, logged, ch.random, sh.random, ext_hash), (
                "key log"
            )
        if suite.kx != "RSA":
            if self.keys.server_keys and keylog is None:
                return KeyFailure(
                    "needs-key-log",
                    f"{suite_name(sh.cipher_suite)} uses ephemeral ({suite.kx}) key exchange: the "
                    "server's private key cannot decrypt it, only a key log (SSLKEYLOGFILE) can",
                )
            if keylog is not None:
                return KeyFailure(
                    "keylog-no-entry",
                    "the key log has no CLIENT_RANDOM line for "
                    f"client random {ch.random.hex()[:16]}…",
                )
            return None
        if epms is None:
            return KeyFailure("missing-handshake", "no ClientKeyExchange in the capture")
        if not self.keys.server_keys:
            if keylog is not None:
                return KeyFailure(
                    "keylog-no-entry",
                    "the key log has no CLIENT_RANDOM or RSA "
                    f"line for client random {ch.random.hex()[:16]}…",
                )
            return None
        public = certificate_public_key_der(hs.certificate_der) if hs.certificate_der else None
        for server_key in self.keys.server_keys:
            if public is not None and server_key.public_der != public:
                continue
            pms = server_key.decrypt_pre_master(epms)
            if pms is None or len(pms) != 48:
                continue
            return crypto.master_secret(prf_name, pms, ch.random, sh.random, ext_hash), (
                "server key"
            )
        cert = hs.certificate
        subject = cert.subject if cert is not None else "the server certificate"
        return KeyFailure(
            "key-mismatch",
            f"no key given matches {subject}"
            + (f" (serial {cert.serial})" if cert is not None else "")
            + ": "
            + ", ".join(k.path for k in self.keys.server_keys),
        )

    def tls13_handshake(self, ch: ClientHello | None, sh: ServerHello) -> Derived:
        """At the ServerHello of TLS 1.3: the handshake traffic secrets from the key log."""
        keylog = self.keys.keylog
        if self.keys.empty:
            return None
        suite = CIPHER_SUITES.get(sh.cipher_suite)
        if suite is None or suite.cipher not in crypto.SUPPORTED_CIPHERS:
            return KeyFailure("unsupported-cipher", f"{suite_name(sh.cipher_suite)}")
        if keylog is None:
            return KeyFailure(
                "needs-key-log",
                "TLS 1.3 always uses ephemeral key exchange: "
                "the server's private key cannot decrypt it, only a key log can",
            )
        if ch is None:
            return KeyFailure("missing-handshake", "no ClientHello in the capture")
        client = keylog.tls13_secrets.get(("CLIENT_HANDSHAKE_TRAFFIC_SECRET", ch.random))
        server = keylog.tls13_secrets.get(("SERVER_HANDSHAKE_TRAFFIC_SECRET", ch.random))
        if client is None or server is None:
            return KeyFailure(
                "keylog-no-entry",
                "the key log has no TLS 1.3 handshake secrets "
                f"for client random {ch.random.hex()[:16]}…",
            )
        return RecordKeys(
            crypto.Tls13Cipher(suite, client), crypto.Tls13Cipher(suite, server), "key log"
        )

    def tls13_traffic_secret(
        self, ch: ClientHello | None, direction: Direction
    ) -> bytes | KeyFailure | None:
        """After a direction's Finished in TLS 1.3: its first application traffic secret."""
        keylog = self.keys.keylog
        if keylog is None or ch is None:
            return None
        label = (
            "CLIENT_TRAFFIC_SECRET_0"
            if direction == Direction.TO_SERVER
            else "SERVER_TRAFFIC_SECRET_0"
        )
        secret = keylog.tls13_secrets.get((label, ch.random))
        if secret is None:
            return KeyFailure("keylog-no-entry", f"the key log has no {label} for this connection")
        return secret
