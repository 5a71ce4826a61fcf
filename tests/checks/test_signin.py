"""signin.* checks on scapy-made captures of a phone's PIN sign-in path (real TLS bytes)."""

from __future__ import annotations

from pathlib import Path

from lpe_signin import OTHER_HOST, POOL, PROV_HOST
from signin_reports import findings, phone_report

from capinspect.checks.base import Severity, Verdict

SIGNIN_IDS = (
    "signin.provisioning-unreachable",
    "signin.provisioning-name-mismatch",
    "signin.root-not-trusted",
    "signin.pool-not-resolved",
)


def _signin_ids(device: object) -> set[str]:
    return {f.check_id for f in device.findings if f.check_id.startswith("signin.")}  # type: ignore[attr-defined]


def test_a_healthy_sign_in_path_raises_nothing(tmp_path: Path) -> None:
    device = phone_report(tmp_path)
    assert _signin_ids(device) == set()
    assert not [f for f in device.findings if f.severity == Severity.FAIL]
    path = device.session.signin
    assert path is not None and path.host == PROV_HOST and path.port == 443
    assert path.provisioning_dns is not None and path.provisioning_dns.status == "resolved"
    (attempt,) = path.connections
    assert attempt.connect == "accepted" and attempt.tls is not None
    assert attempt.tls.outcome == "established" and attempt.phone_alert is None
    assert [(n.name, n.status) for n in path.pool] == [(POOL, "resolved")]


def test_a_certificate_without_option_43s_host_is_a_name_mismatch_and_the_root_cause(
    tmp_path: Path,
) -> None:
    device = phone_report(tmp_path, host=OTHER_HOST)
    (finding,) = findings(device, "signin.provisioning-name-mismatch")
    assert finding.severity == Severity.FAIL
    assert OTHER_HOST in finding.summary and "ucupdates-r2.contoso.com" in finding.summary
    assert finding.expected == OTHER_HOST and 2 in finding.frames  # the DHCP ACK
    assert device.verdict.root_cause is not None
    assert device.verdict.root_cause.check_id == "signin.provisioning-name-mismatch"
    # the generic TLS findings on the same connection follow from it
    assert "tls.cert-name-mismatch" in {f.check_id for f in device.verdict.consequences}


def test_unknown_ca_from_the_phone_is_root_not_trusted_with_the_fix(tmp_path: Path) -> None:
    device = phone_report(tmp_path, trusted=False)
    (finding,) = findings(device, "signin.root-not-trusted")
    assert "unknown_ca" in finding.summary and "Contoso Lab Root CA" in finding.summary
    assert "certutil -f -dspublish" in finding.remediation
    assert "Certificates for Lync Phone Edition" in finding.remediation
    alert_frame = device.session.signin.connections[0].tls.alerts[0].frame  # type: ignore[union-attr]
    assert alert_frame in finding.frames
    assert device.verdict.verdict == Verdict.FAIL
    assert device.verdict.root_cause is not None
    assert device.verdict.root_cause.check_id == "signin.root-not-trusted"


def test_a_refused_connection_is_unreachable(tmp_path: Path) -> None:
    device = phone_report(tmp_path, connect_outcome="refused")
    (finding,) = findings(device, "signin.provisioning-unreachable")
    assert "refused with a reset" in finding.summary and finding.observed == "TCP refused"
    assert device.session.signin.connections[0].frames == tuple(finding.frames[1:])  # type: ignore[union-attr]


def test_an_unanswered_connection_is_unreachable_once_the_capture_went_on(tmp_path: Path) -> None:
    device = phone_report(tmp_path, connect_outcome="no-answer")
    (finding,) = findings(device, "signin.provisioning-unreachable")
    assert "never answered (3 SYN(s))" in finding.summary


def test_an_unanswered_connection_at_the_end_of_the_capture_says_nothing(tmp_path: Path) -> None:
    device = phone_report(tmp_path, connect_outcome="no-answer", pool=None)
    assert "signin.provisioning-unreachable" not in _signin_ids(device)


def test_a_provisioning_host_without_an_address_is_unreachable(tmp_path: Path) -> None:
    device = phone_report(tmp_path, resolves=False)
    (finding,) = findings(device, "signin.provisioning-unreachable")
    assert "NXDOMAIN" in finding.summary and finding.observed == "DNS nxdomain"


def test_a_pool_without_an_address_is_not_resolved(tmp_path: Path) -> None:
    device = phone_report(tmp_path, pool_resolves=False)
    assert _signin_ids(device) == {"signin.pool-not-resolved"}
    (finding,) = findings(device, "signin.pool-not-resolved")
    assert POOL in finding.summary and "NXDOMAIN" in finding.summary


def test_a_phone_without_option_43_has_no_sign_in_path(tmp_path: Path) -> None:
    """Checks need the path; none means no finding (the dhcp.* checks say what is missing)."""
    device = phone_report(tmp_path, with_option43=False)
    assert device.session.signin is None and _signin_ids(device) == set()


def test_a_port_the_phone_cannot_read_is_noted_and_443_assumed(tmp_path: Path) -> None:
    device = phone_report(tmp_path, port=b"\x01\xbb")
    path = device.session.signin
    assert path is not None and path.port == 443
    assert path.problems and "not a port in ASCII digits" in path.problems[0]
