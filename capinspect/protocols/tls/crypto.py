"""TLS record decryption from a master secret or traffic secrets, on ``cryptography``'s primitives.

Nothing here implements a cipher: HMAC, AES (CBC, GCM, CCM), Camellia, ChaCha20-Poly1305, RSA
PKCS#1 v1.5 and HKDF all come from ``cryptography``. What is written out is only the TLS glue,
each step after its RFC:

* the PRF (RFC 5246 5: P_SHA256/P_SHA384; RFC 2246 5: P_MD5 XOR P_SHA1 for TLS 1.0/1.1), the
  master secret (RFC 5246 8.1) or extended master secret over the session hash (RFC 7627), the
  key block (RFC 5246 6.3);
* record protection: MAC-then-encrypt CBC with the implicit IV chain of TLS 1.0 or the explicit
  IV of 1.1+ (RFC 5246 6.2.3.2), encrypt-then-MAC (RFC 7366), AES-GCM with its 4-byte salt and
  explicit nonce (RFC 5288), ChaCha20-Poly1305 (RFC 7905), and TLS 1.3's AEAD with the inner
  content type (RFC 8446 5.2, 7.1-7.3).

A record that does not authenticate raises :class:`DecryptError`: that is how a wrong key, a
wrong key log line or a mismatched pre-master secret shows itself.
"""

from __future__ import annotations

import hmac as std_hmac
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from capinspect.protocols.tls.messages import CipherSuite

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "MD5": hashes.MD5,
    "SHA1": hashes.SHA1,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
}
_MAC_LEN = {"MD5": 16, "SHA1": 20, "SHA256": 32, "SHA384": 48}

SUPPORTED_CIPHERS = {
    "AES-128-CBC": (16, 16),
    "AES-256-CBC": (32, 16),
    "CAMELLIA-128-CBC": (16, 16),
    "CAMELLIA-256-CBC": (32, 16),
    "AES-128-GCM": (16, 4),
    "AES-256-GCM": (32, 4),
    "CHACHA20-POLY1305": (32, 12),
    "AES-128-CCM": (16, 12),
    "AES-128-CCM8": (16, 12),
}
"""Bulk ciphers this module decrypts: (key length, fixed IV length in the TLS 1.2 key block)."""


class DecryptError(Exception):
    """A record did not authenticate (wrong keys) or is too short for its cipher."""


def _hmac(algorithm: str, key: bytes, data: bytes) -> bytes:
    mac = crypto_hmac.HMAC(key, _HASHES[algorithm]())
    mac.update(data)
    return mac.finalize()


def _p_hash(algorithm: str, secret: bytes, seed: bytes, length: int) -> bytes:
    out = bytearray()
    a = seed
    while len(out) < length:
        a = _hmac(algorithm, secret, a)
        out += _hmac(algorithm, secret, a + seed)
    return bytes(out[:length])


def prf_hash(version: int, suite: CipherSuite) -> str:
    """The PRF hash of a TLS 1.2 suite (SHA-384 for *_SHA384 suites, else SHA-256)."""
    if version < 0x0303:
        return "MD5+SHA1"
    return "SHA384" if suite.mac == "SHA384" else "SHA256"


def prf(prf_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    if prf_name == "MD5+SHA1":
        half = (len(secret) + 1) // 2
        md5 = _p_hash("MD5", secret[:half], label + seed, length)
        sha = _p_hash("SHA1", secret[len(secret) - half :], label + seed, length)
        return bytes(x ^ y for x, y in zip(md5, sha, strict=True))
    return _p_hash(prf_name, secret, label + seed, length)


def session_hash(prf_name: str, transcript: bytes) -> bytes:
    """RFC 7627 4: the hash of the handshake messages up to the ClientKeyExchange."""
    if prf_name == "MD5+SHA1":
        md5 = hashes.Hash(hashes.MD5())
        md5.update(transcript)
        sha = hashes.Hash(hashes.SHA1())
        sha.update(transcript)
        return md5.finalize() + sha.finalize()
    digest = hashes.Hash(_HASHES[prf_name]())
    digest.update(transcript)
    return digest.finalize()


def master_secret(
    prf_name: str,
    pre_master: bytes,
    client_random: bytes,
    server_random: bytes,
    extended_hash: bytes | None,
) -> bytes:
    if extended_hash is not None:
        return prf(prf_name, pre_master, b"extended master secret", extended_hash, 48)
    return prf(prf_name, pre_master, b"master secret", client_random + server_random, 48)


class RecordCipher(Protocol):
    def decrypt(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        """(inner content type, plaintext) of the next record in this direction."""
        ...

    def lost(self) -> None:
        """A record of this direction was lost in a capture gap: keep the sequence in step."""
        ...


def _seq_header(seq: int, content_type: int, version: int, length: int) -> bytes:
    return (
        seq.to_bytes(8, "big") + bytes([content_type]) + version.to_bytes(2, "big")
    ) + length.to_bytes(2, "big")


class CbcCipher:
    """MAC-then-encrypt (or RFC 7366 encrypt-then-MAC) block cipher records."""

    def __init__(
        self,
        cipher: str,
        key: bytes,
        mac_name: str,
        mac_key: bytes,
        iv: bytes | None,
        encrypt_then_mac: bool,
    ) -> None:
        self._algorithm = (
            algorithms.Camellia(key) if cipher.startswith("CAMELLIA") else algorithms.AES(key)
        )
        self._mac_name = mac_name
        self._mac_key = mac_key
        self._mac_len = _MAC_LEN[mac_name]
        self._iv = iv
        """The TLS 1.0 implicit IV chain; None for explicit per-record IVs (TLS 1.1+)."""
        self._etm = encrypt_then_mac
        self._seq = 0

    def lost(self) -> None:
        self._seq += 1
        if self._iv is not None:
            self._iv = b""  # the chain is broken: the next record's first block is unreadable

    def decrypt(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        seq = self._seq
        self._seq += 1
        block = 16
        if self._etm:
            if len(fragment) < self._mac_len + block:
                raise DecryptError("record shorter than its MAC")
            body, tag = fragment[: -self._mac_len], fragment[-self._mac_len :]
            expected = _hmac(
                self._mac_name,
                self._mac_key,
                _seq_header(seq, content_type, version, len(body)) + body,
            )
            if not std_hmac.compare_digest(tag, expected):
                raise DecryptError("record MAC does not match")
        else:
            body = fragment
        if self._iv is None:
            iv, data = body[:block], body[block:]
        else:
            iv, data = self._iv, body
            if len(iv) != block:
                iv = bytes(block)  # after a lost record: only the first block comes out wrong
        if not data or len(data) % block:
            raise DecryptError("ciphertext is not a whole number of blocks")
        decryptor = Cipher(self._algorithm, modes.CBC(iv)).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        if self._iv is not None:
            self._iv = data[-block:]
        pad = plain[-1]
        if pad + 1 > len(plain) or plain[-pad - 1 :] != bytes([pad]) * (pad + 1):
            raise DecryptError("bad CBC padding")
        plain = plain[: -pad - 1]
        if self._etm:
            return content_type, plain
        if len(plain) < self._mac_len:
            raise DecryptError("record shorter than its MAC")
        content, tag = plain[: -self._mac_len], plain[-self._mac_len :]
        expected = _hmac(
            self._mac_name,
            self._mac_key,
            _seq_header(seq, content_type, version, len(content)) + content,
        )
        if not std_hmac.compare_digest(tag, expected):
            raise DecryptError("record MAC does not match")
        return content_type, content


def _aead(cipher: str, key: bytes) -> AESGCM | AESCCM | ChaCha20Poly1305:
    if cipher.endswith("GCM"):
        return AESGCM(key)
    if cipher == "AES-128-CCM8":
        return AESCCM(key, tag_length=8)
    if cipher.endswith("CCM"):
        return AESCCM(key)
    return ChaCha20Poly1305(key)


class Tls12AeadCipher:
    """TLS 1.2 AEAD: GCM/CCM with salt + 8-byte explicit nonce, ChaCha20 with an XORed IV."""

    def __init__(self, cipher: str, key: bytes, iv: bytes) -> None:
        self._aead = _aead(cipher, key)
        self._tag = 8 if cipher == "AES-128-CCM8" else 16
        self._explicit = not cipher.startswith("CHACHA")
        self._iv = iv
        self._seq = 0

    def lost(self) -> None:
        self._seq += 1

    def decrypt(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        seq = self._seq
        self._seq += 1
        if self._explicit:
            if len(fragment) < 8 + self._tag:
                raise DecryptError("record shorter than nonce and tag")
            nonce, data = self._iv + fragment[:8], fragment[8:]
        else:
            nonce = _xor_nonce(self._iv, seq)
            data = fragment
            if len(data) < self._tag:
                raise DecryptError("record shorter than its tag")
        aad = _seq_header(seq, content_type, version, len(data) - self._tag)
        try:
            return content_type, self._aead.decrypt(nonce, data, aad)
        except InvalidTag as exc:
            raise DecryptError("record tag does not authenticate") from exc


def _xor_nonce(iv: bytes, seq: int) -> bytes:
    padded = seq.to_bytes(len(iv), "big")
    return bytes(a ^ b for a, b in zip(iv, padded, strict=True))


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes, length: int) -> bytes:
    """RFC 8446 7.1 HKDF-Expand-Label with an empty context."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(_HASHES[hash_name](), length, info).derive(secret)


class Tls13Cipher:
    """One direction's TLS 1.3 traffic keys from a traffic secret (key log line)."""

    def __init__(self, suite: CipherSuite, secret: bytes) -> None:
        self._suite = suite
        self._hash = "SHA384" if suite.mac == "SHA384" else "SHA256"
        self._tag = 8 if suite.cipher == "AES-128-CCM8" else 16
        self.rekey(secret)

    def rekey(self, secret: bytes) -> None:
        """Switch to ``secret`` (handshake → application, or a KeyUpdate)."""
        key_len = SUPPORTED_CIPHERS[self._suite.cipher][0]
        self.secret = secret
        self._aead = _aead(
            self._suite.cipher, hkdf_expand_label(self._hash, secret, b"key", key_len)
        )
        self._iv = hkdf_expand_label(self._hash, secret, b"iv", 12)
        self._seq = 0

    def next_secret(self) -> bytes:
        """RFC 8446 7.2: the secret after a KeyUpdate."""
        return hkdf_expand_label(self._hash, self.secret, b"traffic upd", len(self.secret))

    def lost(self) -> None:
        self._seq += 1

    def decrypt(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        seq = self._seq
        self._seq += 1
        aad = bytes([content_type]) + version.to_bytes(2, "big") + len(fragment).to_bytes(2, "big")
        try:
            inner = self._aead.decrypt(_xor_nonce(self._iv, seq), fragment, aad)
        except InvalidTag as exc:
            raise DecryptError("record tag does not authenticate") from exc
        stripped = inner.rstrip(b"\x00")
        if not stripped:
            raise DecryptError("TLS 1.3 record without an inner content type")
        return stripped[-1], stripped[:-1]


def tls12_ciphers(
    version: int,
    suite: CipherSuite,
    master: bytes,
    client_random: bytes,
    server_random: bytes,
    encrypt_then_mac: bool,
) -> tuple[RecordCipher, RecordCipher]:
    """(client → server, server → client) record ciphers from the master secret."""
    key_len, iv_len = SUPPORTED_CIPHERS[suite.cipher]
    mac_len = 0 if suite.aead else _MAC_LEN[suite.mac]
    if not suite.aead and version >= 0x0302:
        iv_len = 0  # explicit per-record IVs
    prf_name = prf_hash(version, suite)
    block = prf(
        prf_name,
        master,
        b"key expansion",
        server_random + client_random,
        2 * (mac_len + key_len + iv_len),
    )
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        out = block[pos : pos + n]
        pos += n
        return out

    client_mac, server_mac = take(mac_len), take(mac_len)
    client_key, server_key = take(key_len), take(key_len)
    client_iv, server_iv = take(iv_len), take(iv_len)
    if suite.aead:
        return (
            Tls12AeadCipher(suite.cipher, client_key, client_iv),
            Tls12AeadCipher(suite.cipher, server_key, server_iv),
        )
    return (
        CbcCipher(
            suite.cipher,
            client_key,
            suite.mac,
            client_mac,
            client_iv or None,
            encrypt_then_mac,
        ),
        CbcCipher(
            suite.cipher,
            server_key,
            suite.mac,
            server_mac,
            server_iv or None,
            encrypt_then_mac,
        ),
    )
