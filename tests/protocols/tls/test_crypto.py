"""TLS record decryption primitives against published vectors and an independent encryptor.

Known answers: the TLS 1.2 PRF test vector posted to the IETF TLS list (SHA-256, "test label")
and RFC 8448 section 3 (the server handshake key and IV of the simple 1-RTT trace). Records
are encrypted here with ``cryptography`` as RFC 5246 / RFC 8446 lay them out, and scapy's PRF
gives the TLS 1.0 and key-expansion values, so no value is checked against itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.layers.tls.crypto.prf import PRF

from capinspect.protocols.tls.crypto import (
    CbcCipher,
    DecryptError,
    Tls12AeadCipher,
    Tls13Cipher,
    hkdf_expand_label,
    prf,
    prf_hash,
    tls12_ciphers,
)
from capinspect.protocols.tls.messages import CIPHER_SUITES

SECRET = bytes.fromhex("9bbe436ba940f017b17652849a71db35")
SEED = bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c")
PRF_SHA256_100 = bytes.fromhex(
    "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14"
    "baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e"
    "5a5110fff70187347b66"
)
RFC8448_SERVER_HS_SECRET = bytes.fromhex(
    "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
)

RSA_AES128_SHA = CIPHER_SUITES[0x002F]  # TLS_RSA_WITH_AES_128_CBC_SHA
RSA_AES128_GCM = CIPHER_SUITES[0x009C]  # TLS_RSA_WITH_AES_128_GCM_SHA256
TLS13_AES128_GCM = CIPHER_SUITES[0x1301]


def test_tls12_prf_known_answer() -> None:
    assert prf("SHA256", SECRET, b"test label", SEED, 100) == PRF_SHA256_100


def test_tls10_prf_agrees_with_scapy() -> None:
    expected = PRF("SHA1", 0x0301).prf(SECRET, b"test label", SEED, 64)
    assert prf("MD5+SHA1", SECRET, b"test label", SEED, 64) == expected


def test_prf_hash_by_version_and_suite() -> None:
    assert prf_hash(0x0301, RSA_AES128_SHA) == "MD5+SHA1"
    assert prf_hash(0x0302, RSA_AES128_SHA) == "MD5+SHA1"
    assert prf_hash(0x0303, RSA_AES128_SHA) == "SHA256"
    assert prf_hash(0x0303, CIPHER_SUITES[0x009D]) == "SHA384"  # *_GCM_SHA384


def test_hkdf_expand_label_rfc8448() -> None:
    key = hkdf_expand_label("SHA256", RFC8448_SERVER_HS_SECRET, b"key", 16)
    iv = hkdf_expand_label("SHA256", RFC8448_SERVER_HS_SECRET, b"iv", 12)
    assert key.hex() == "3fce516009c21727d0f2e4e86ee403bc"
    assert iv.hex() == "5d313eb2671276ee13000b30"


def _tls13_record(secret: bytes, seq: int, inner_type: int, plain: bytes) -> bytes:
    key = hkdf_expand_label("SHA256", secret, b"key", 16)
    iv = hkdf_expand_label("SHA256", secret, b"iv", 12)
    nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big"), strict=True))
    inner = plain + bytes([inner_type]) + b"\x00" * 3  # padding zeros after the type
    aad = b"\x17\x03\x03" + (len(inner) + 16).to_bytes(2, "big")
    return AESGCM(key).encrypt(nonce, inner, aad)


def test_tls13_records_decrypt_in_sequence_and_a_lost_one_is_skipped() -> None:
    cipher = Tls13Cipher(TLS13_AES128_GCM, RFC8448_SERVER_HS_SECRET)
    first = _tls13_record(RFC8448_SERVER_HS_SECRET, 0, 22, b"EncryptedExtensions")
    assert cipher.decrypt(23, 0x0303, first) == (22, b"EncryptedExtensions")
    cipher.lost()  # record 1 was not captured
    third = _tls13_record(RFC8448_SERVER_HS_SECRET, 2, 23, b"GET / HTTP/1.1")
    assert cipher.decrypt(23, 0x0303, third) == (23, b"GET / HTTP/1.1")
    tampered = bytearray(_tls13_record(RFC8448_SERVER_HS_SECRET, 3, 23, b"x"))
    tampered[-1] ^= 1
    with pytest.raises(DecryptError):
        cipher.decrypt(23, 0x0303, bytes(tampered))


def test_tls13_key_update_derives_the_next_secret() -> None:
    cipher = Tls13Cipher(TLS13_AES128_GCM, RFC8448_SERVER_HS_SECRET)
    following = cipher.next_secret()
    assert following == hkdf_expand_label("SHA256", RFC8448_SERVER_HS_SECRET, b"traffic upd", 32)
    cipher.rekey(following)
    record = _tls13_record(following, 0, 23, b"after the update")
    assert cipher.decrypt(23, 0x0303, record) == (23, b"after the update")


def test_tls12_gcm_record_with_explicit_nonce() -> None:
    key, salt = os.urandom(16), os.urandom(4)
    cipher = Tls12AeadCipher("AES-128-GCM", key, salt)
    for seq, plain in enumerate([b"first", b"second record"]):
        explicit = seq.to_bytes(8, "big")
        aad = seq.to_bytes(8, "big") + b"\x17\x03\x03" + len(plain).to_bytes(2, "big")
        sealed = explicit + AESGCM(key).encrypt(salt + explicit, plain, aad)
        assert cipher.decrypt(23, 0x0303, sealed) == (23, plain)
    with pytest.raises(DecryptError, match="shorter"):
        cipher.decrypt(23, 0x0303, b"\x00" * 10)


def _cbc_record(key: bytes, mac_key: bytes, seq: int, plain: bytes) -> bytes:
    header = seq.to_bytes(8, "big") + b"\x17\x03\x03" + len(plain).to_bytes(2, "big")
    mac = hmac.new(mac_key, header + plain, hashlib.sha1).digest()
    data = plain + mac
    pad = 15 - len(data) % 16
    data += bytes([pad]) * (pad + 1)
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + encryptor.update(data) + encryptor.finalize()


def test_tls12_cbc_mac_then_encrypt() -> None:
    key, mac_key = os.urandom(16), os.urandom(20)
    cipher = CbcCipher("AES-128-CBC", key, "SHA1", mac_key, None, encrypt_then_mac=False)
    assert cipher.decrypt(23, 0x0303, _cbc_record(key, mac_key, 0, b"hello")) == (23, b"hello")
    # A record from another sequence number carries another MAC.
    with pytest.raises(DecryptError, match="MAC"):
        cipher.decrypt(23, 0x0303, _cbc_record(key, mac_key, 5, b"hello"))
    with pytest.raises(DecryptError, match="blocks"):
        cipher.decrypt(23, 0x0303, os.urandom(16 + 7))


def test_bad_cbc_padding_is_a_decrypt_error() -> None:
    key = os.urandom(16)
    cipher = CbcCipher("AES-128-CBC", key, "SHA1", os.urandom(20), None, encrypt_then_mac=False)
    padder = padding.PKCS7(128).padder()  # PKCS#7 is not TLS padding: the last byte lies
    data = padder.update(b"x" * 30) + padder.finalize()
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    with pytest.raises(DecryptError):
        cipher.decrypt(23, 0x0303, iv + encryptor.update(data) + encryptor.finalize())


def test_key_block_is_cut_as_rfc5246_says() -> None:
    master, client_random, server_random = os.urandom(48), os.urandom(32), os.urandom(32)
    block = PRF("SHA256", 0x0303).prf(
        master, b"key expansion", server_random + client_random, 2 * (20 + 16)
    )
    client_mac, client_key = block[:20], block[40:56]
    to_server, _ = tls12_ciphers(
        0x0303, RSA_AES128_SHA, master, client_random, server_random, encrypt_then_mac=False
    )
    record = _cbc_record(client_key, client_mac, 0, b"POST /RequestHandler/ucdevice.upx")
    assert to_server.decrypt(23, 0x0303, record)[1] == b"POST /RequestHandler/ucdevice.upx"
    gcm_server, gcm_client = tls12_ciphers(
        0x0303, RSA_AES128_GCM, master, client_random, server_random, encrypt_then_mac=False
    )
    assert isinstance(gcm_server, Tls12AeadCipher) and isinstance(gcm_client, Tls12AeadCipher)
