"""tls.* checks on the lab's HTTPS captures and on connections varied from them."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from locations import PCAPS

from capinspect.checks.base import CheckContext, Finding
from capinspect.checks.tls import (
    check_cannot_decrypt,
    check_cert_expired,
    check_cert_name_mismatch,
    check_encrypted_checkin,
    check_handshake_failed,
    check_no_common_cipher,
)
from capinspect.cli import main
from capinspect.devices import DeviceSession
from capinspect.expectations import Expectations
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.protocols.tls.keys import NO_KEYS, TlsKeys, load_tls_keys
from capinspect.protocols.tls.messages import TlsAlert
from capinspect.report.model import DeviceReport, Report


@cache
def _report(name: str, key: str | None = None, keylog: str | None = None) -> Report:
    keys: TlsKeys = NO_KEYS
    if key or keylog:
        keys = load_tls_keys(
            [str(PCAPS / key)] if key else [], None, keylog and str(PCAPS / keylog)
        )
    capture = PCAPS / f"{name}.pcap"
    return evaluate(analyze_paths([str(capture)], tls_keys=keys), Expectations())


def _device(report: Report) -> DeviceReport:
    (device,) = report.devices
    return device


def _ids(device: DeviceReport) -> set[str]:
    return {f.check_id for f in device.findings}


def _ctx(report: Report) -> CheckContext:
    return CheckContext(Expectations(), report.analysis, report.analysis.stats.last_ts)


def _one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_https_healthy_with_the_key_or_key_log_is_its_plain_http_twin() -> None:
    twin = _device(_report("interim-upgrade"))
    for report in (
        _report("https-healthy", key="https-healthy.key.pem"),
        _report("https-healthy", keylog="https-healthy.keylog"),
    ):
        device = _device(report)
        assert _ids(device) == _ids(twin)
        assert device.verdict.verdict == twin.verdict.verdict == "pass"
        assert [c.firmware for c in device.session.checkins] == [
            c.firmware for c in twin.session.checkins
        ]
        assert all(c.exchange.flow.server_port == 443 for c in device.session.checkins)
        assert {c.decryption for c in device.session.tls} == {"decrypted"}


def test_https_healthy_without_a_key_says_which_key_would_reveal_it() -> None:
    # Judged without the key the check-ins pass, inferred (tests/checks/test_encrypted_checks.py);
    # one the capture cannot judge keeps tls.encrypted-checkin and its advice.
    device = _device(_report("https-healthy"))
    assert device.verdict.verdict == "pass" and device.verdict.inferred
    session = replace(
        device.session,
        encrypted_checkins=tuple(
            replace(e, outcome="undecided") for e in device.session.encrypted_checkins
        ),
    )
    findings = list(check_encrypted_checkin(session, _ctx(_report("https-healthy"))))
    finding = _one(findings)
    assert "TLS_RSA_WITH_AES_128_CBC_SHA uses RSA key exchange" in finding.summary
    assert "--tls-key" in finding.summary and "CN=ocs.contoso.com" in finding.summary
    assert not any(
        f.check_id.startswith("checkin.") and f.severity == "fail" for f in device.findings
    )
    conn = device.session.tls[0]
    cert = conn.server_certificate
    assert cert is not None and cert.names == ("ocs.contoso.com", "ucupdates-r2.contoso.com")
    assert cert.key_type == "RSA" and cert.key_bits == 2048
    assert cert.signature_algorithm == "sha256WithRSAEncryption"
    assert conn.certificates[1].subject == "CN=Contoso Lab Root CA,O=Contoso Lab"


def test_untrusted_ca_is_a_failed_handshake_with_unknown_ca_from_the_phone() -> None:
    device = _device(_report("https-untrusted"))
    assert device.verdict.verdict == "fail"
    finding = next(f for f in device.findings if f.check_id == "tls.handshake-failed")
    assert "client sent a fatal unknown_ca alert" in finding.summary
    assert "does not trust" in finding.summary
    assert finding.observed == "client alert unknown_ca"
    assert device.session.tls[0].alerts[0].frame in finding.frames
    assert "tls.cert-name-mismatch" not in _ids(device)
    not_observed = next(f for f in device.findings if f.check_id == "checkin.not-observed")
    assert "failed their handshake" in not_observed.summary


def test_certificate_without_the_ucupdates_name_is_a_mismatch() -> None:
    device = _device(_report("https-cert-mismatch"))
    finding = next(f for f in device.findings if f.check_id == "tls.cert-name-mismatch")
    assert finding.expected == "ucupdates-r2.contoso.com"
    assert finding.observed == "ocs.contoso.com"
    assert "bad_certificate" in next(
        f.summary for f in device.findings if f.check_id == "tls.handshake-failed"
    )


def test_name_matching_without_sni_uses_dhcp_and_dns_names() -> None:
    report = _report("https-cert-mismatch")
    device = _device(report).session
    conn = device.tls[0]
    assert conn.client_hello is not None
    no_sni = replace(conn, client_hello=replace(conn.client_hello, sni=None))
    # Without SNI the web FQDN from DHCP option 43/120 counts: ocs.contoso.com is in the cert.
    assert list(check_cert_name_mismatch(replace(device, tls=(no_sni,)), _ctx(report))) == []
    cert = conn.certificates[0]
    wild = replace(conn, certificates=(replace(cert, dns_names=("*.contoso.com",)),))
    assert list(check_cert_name_mismatch(replace(device, tls=(wild,)), _ctx(report))) == []
    deep = replace(conn, certificates=(replace(cert, dns_names=("*.com",)),))
    assert len(list(check_cert_name_mismatch(replace(device, tls=(deep,)), _ctx(report)))) == 1


def _healthy_session() -> tuple[DeviceSession, Report]:
    report = _report("https-healthy")
    return _device(report).session, report


def test_expired_and_not_yet_valid_certificates() -> None:
    device, report = _healthy_session()
    conn = device.tls[0]
    cert = conn.certificates[0]
    expired = replace(conn, certificates=(replace(cert, not_after=conn.ts - 86400),))
    finding = _one(list(check_cert_expired(replace(device, tls=(expired,)), _ctx(report))))
    assert "expired" in finding.summary and cert.serial in finding.summary
    early = replace(conn, certificates=(replace(cert, not_before=conn.ts + 86400),))
    finding = _one(list(check_cert_expired(replace(device, tls=(early,)), _ctx(report))))
    assert "not valid before" in finding.summary
    assert list(check_cert_expired(device, _ctx(report))) == []


def test_no_common_cipher_replaces_handshake_failed() -> None:
    device, report = _healthy_session()
    conn = device.tls[0]
    alert = TlsAlert(conn.frame + 1, conn.ts, conn.alerts[0].direction, 2, 40)
    refused = replace(conn, server_hello=None, certificates=(), alerts=(alert,), outcome="failed")
    session = replace(device, tls=(refused,))
    finding = _one(list(check_no_common_cipher(session, _ctx(report))))
    assert "handshake_failure" in finding.summary
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in finding.summary and "TLS 1.2" in finding.summary
    assert list(check_handshake_failed(session, _ctx(report))) == []


def test_wrong_key_gives_cannot_decrypt_with_the_reason() -> None:
    report = _report("https-healthy", key="https-untrusted.key.pem")
    device = _device(report)
    # A key that does not fit leaves the check-ins to be judged without it (inferred).
    assert device.verdict.verdict == "pass" and device.verdict.inferred
    finding = next(f for f in device.findings if f.check_id == "tls.cannot-decrypt")
    assert finding.observed == "key-mismatch" and "serial" in finding.summary
    assert "tls.encrypted-checkin" not in _ids(device)
    session = device.session
    ephemeral = replace(session.tls[0], decryption="needs-key-log", decryption_detail="ECDHE")
    finding = _one(list(check_cannot_decrypt(replace(session, tls=(ephemeral,)), _ctx(report))))
    assert finding.observed == "needs-key-log"


def test_cli_takes_keys_and_refuses_bad_ones(tmp_path: Path) -> None:
    runner = CliRunner()
    capture = str(PCAPS / "https-healthy.pcap")
    ok = runner.invoke(
        main, ["analyze", capture, "--tls-key", str(PCAPS / "https-healthy.key.pem")]
    )
    assert ok.exit_code == 0 and "PASS" in ok.output
    ok = runner.invoke(main, ["analyze", capture, "--keylog", str(PCAPS / "https-healthy.keylog")])
    assert ok.exit_code == 0 and "PASS" in ok.output
    for args in (
        ["--tls-key", str(tmp_path / "missing.pem")],
        ["--tls-key", str(PCAPS / "https-healthy.crt.pem")],
        ["--keylog", str(PCAPS / "https-healthy.crt.pem")],
    ):
        bad = runner.invoke(main, ["analyze", capture, *args])
        assert bad.exit_code == 2, (args, bad.output)
        assert bad.output.count("\n") == 1 and "capinspect: error:" in bad.output


@pytest.mark.parametrize("password", ["s3cret", "wrong"])
def test_pfx_key_with_password(tmp_path: Path, password: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12

    key = serialization.load_pem_private_key((PCAPS / "https-healthy.key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    pfx = tmp_path / "server.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"lab", key, None, None, serialization.BestAvailableEncryption(b"s3cret")
        )
    )
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "analyze",
            str(PCAPS / "https-healthy.pcap"),
            "--tls-key",
            str(pfx),
            "--tls-key-password",
            password,
        ],
    )
    if password == "s3cret":
        assert result.exit_code == 0 and "PASS" in result.output
    else:
        assert result.exit_code == 2 and "password" in result.output
