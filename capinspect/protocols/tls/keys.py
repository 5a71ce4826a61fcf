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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capinspect.errors import ConfigError

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
