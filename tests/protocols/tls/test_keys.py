"""TLS keys the user gives: key log lines, RSA keys in PEM and PKCS#12, one-line errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from capinspect.errors import ConfigError
from capinspect.protocols.tls.keys import (
    NO_KEYS,
    TlsKeys,
    load_keylog,
    load_server_key,
    load_tls_keys,
    parse_keylog,
)

RANDOM = "ab" * 32
MASTER = "cd" * 48


def test_keylog_lines_by_label_and_what_is_skipped() -> None:
    text = "\n".join(
        [
            "# SSL/TLS secrets log file",
            f"CLIENT_RANDOM {RANDOM} {MASTER}",
            f"RSA {'01' * 8} {'02' * 48}",
            f"CLIENT_TRAFFIC_SECRET_0 {RANDOM} {'03' * 32}",
            f"SERVER_HANDSHAKE_TRAFFIC_SECRET {RANDOM} {'04' * 48}",
            f"CLIENT_RANDOM {RANDOM[:-2]} {MASTER}",  # a 31-byte random
            f"EXPORTER_SECRET {RANDOM} {'05' * 32}",  # a label we do not use
            "CLIENT_RANDOM zz zz",
            "",
        ]
    )
    log = parse_keylog(text, "keys.log")
    assert log.master_secrets == {bytes.fromhex(RANDOM): bytes.fromhex(MASTER)}
    assert log.rsa_pre_masters == {bytes.fromhex("01" * 8): bytes.fromhex("02" * 48)}
    assert set(log.tls13_secrets) == {
        ("CLIENT_TRAFFIC_SECRET_0", bytes.fromhex(RANDOM)),
        ("SERVER_HANDSHAKE_TRAFFIC_SECRET", bytes.fromhex(RANDOM)),
    }
    assert len(log) == 4 and log.skipped_lines == 3


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_pem_key_with_certificates_around_it(tmp_path: Path) -> None:
    key = _rsa()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    path = tmp_path / "server.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n" + pem)
    loaded = load_server_key(str(path))
    assert loaded.public_der == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # It decrypts what was encrypted to its public key (an RSA ClientKeyExchange).
    secret = b"\x03\x03" + b"\x11" * 46
    encrypted = key.public_key().encrypt(secret, padding.PKCS1v15())
    assert loaded.decrypt_pre_master(encrypted) == secret
    # Keys travel to --jobs workers by pickling.
    again = pickle.loads(pickle.dumps(loaded))
    assert again == loaded and again.decrypt_pre_master(encrypted) == secret


def test_pkcs12_with_password(tmp_path: Path) -> None:
    key = _rsa()
    path = tmp_path / "server.pfx"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"ocs", key, None, None, serialization.BestAvailableEncryption(b"secret")
        )
    )
    assert load_server_key(str(path), "secret").path == str(path)
    with pytest.raises(ConfigError, match="wrong password"):
        load_server_key(str(path), "guess")


def test_unusable_key_files_are_one_line_errors(tmp_path: Path) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cases = {
        "ec.pem": (ec_key, "not an RSA key"),
        "cert.pem": (b"-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n", "no PEM"),
        "junk.bin": (b"not a key at all", "not a key"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ConfigError, match=message) as caught:
            load_server_key(str(tmp_path / name))
        assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_server_key(str(tmp_path / "missing.pem"))


def test_key_log_without_a_key_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_text("# nothing here\nhello world\n")
    with pytest.raises(ConfigError, match="no NSS key log line"):
        load_keylog(str(path))
    path.write_text("")
    assert len(load_keylog(str(path))) == 0  # an empty file is merely empty


def test_tls_keys_describe_what_was_given(tmp_path: Path) -> None:
    assert NO_KEYS.empty and NO_KEYS.describe() == "no keys"
    log = tmp_path / "keys.log"
    log.write_text(f"CLIENT_RANDOM {RANDOM} {MASTER}\n")
    keys = load_tls_keys((), None, str(log))
    assert isinstance(keys, TlsKeys) and not keys.empty
    assert keys.describe() == f"key log {log} (1 secrets)"
    assert load_tls_keys() == NO_KEYS
