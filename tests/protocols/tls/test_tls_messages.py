"""TLS values: names of versions, alerts and suites, what a suite implies, hello and alert views.

The suite table is checked against IANA names that scapy carries independently."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from scapy.layers.tls.crypto.suites import _tls_cipher_suites

from capinspect.model import Direction
from capinspect.protocols.tls.messages import (
    CIPHER_SUITES,
    HELLO_RETRY_RANDOM,
    CertificateInfo,
    ClientHello,
    TlsAlert,
    alert_name,
    is_grease,
    suite_name,
    version_name,
)


def test_names_and_their_fallbacks() -> None:
    assert version_name(0x0303) == "TLS 1.2" and version_name(0x7F1C) == "0x7f1c"
    assert version_name(None) == "unknown"
    assert alert_name(48) == "unknown_ca" and alert_name(None) == "encrypted alert"
    assert alert_name(200) == "alert 200"
    assert suite_name(None) == "none"
    assert suite_name(0x00FF) == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    assert suite_name(0x2A2A) == "GREASE 0x2a2a"


def test_grease_values_are_the_sixteen_of_rfc8701() -> None:
    grease = [v for v in range(0x10000) if is_grease(v)]
    assert grease == [0x0A0A + 0x1010 * i for i in range(16)]


def test_suite_names_are_ianas() -> None:
    for code, suite in CIPHER_SUITES.items():
        assert suite.code == code
        assert _tls_cipher_suites.get(code, suite.name) == suite.name, hex(code)


def test_what_a_suite_implies_for_decryption() -> None:
    rsa_cbc = CIPHER_SUITES[0x002F]
    assert (rsa_cbc.kx, rsa_cbc.aead, rsa_cbc.forward_secret) == ("RSA", False, False)
    ecdhe_gcm = CIPHER_SUITES[0xC02F]
    assert ecdhe_gcm.aead and ecdhe_gcm.forward_secret
    tls13 = CIPHER_SUITES[0x1303]
    assert tls13.kx == "TLS13" and tls13.aead and tls13.forward_secret
    assert tls13.name == "TLS_CHACHA20_POLY1305_SHA256"


def _hello(**changes: object) -> ClientHello:
    base = ClientHello(1, 1.0, 0x0303, b"\x00" * 32, b"", (0x002F,), (0,), ())
    return replace(base, **changes)  # type: ignore[arg-type]


def test_versions_offered_without_and_with_supported_versions() -> None:
    old = _hello(legacy_version=0x0301)
    assert old.versions_offered == (0x0301,) and old.max_version_only
    assert old.describe_versions() == "up to TLS 1.0"
    new = _hello(supported_versions=(0x0303, 0x0304, 0x0303))
    assert new.versions_offered == (0x0304, 0x0303) and not new.max_version_only
    assert new.describe_versions() == "TLS 1.3, TLS 1.2"


def test_alert_sender_and_severity() -> None:
    alert = TlsAlert(9, 2.0, Direction.TO_CLIENT, 2, 42)
    assert (alert.name, alert.sender, alert.fatal) == ("bad_certificate", "server", True)
    hidden = TlsAlert(9, 2.0, Direction.TO_SERVER, None, None)
    assert (hidden.name, hidden.sender, hidden.fatal) == ("encrypted alert", "client", False)


def test_certificate_names_are_the_sans_else_the_cn() -> None:
    cert = CertificateInfo(
        "CN=ocs", "CN=ca", "ocs.contoso.com", (), (), "01", 0.0, 1.0, "RSA", 2048,
        "sha256WithRSAEncryption", "00", False, False,
    )  # fmt: skip
    assert cert.names == ("ocs.contoso.com",)
    sans = replace(cert, dns_names=("pool.contoso.com", "ucupdates-r2.contoso.com"))
    assert sans.names == ("pool.contoso.com", "ucupdates-r2.contoso.com")
    assert replace(cert, common_name=None).names == ()


def test_hello_retry_random_is_rfc8446s() -> None:
    # SHA-256 of "HelloRetryRequest" (RFC 8446 4.1.3).
    assert HELLO_RETRY_RANDOM == hashlib.sha256(b"HelloRetryRequest").digest()
