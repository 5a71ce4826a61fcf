"""The verdict policy (docs/verdicts.md) applied: severities, fallbacks, root causes.

Every rule of the policy that changes a verdict has a case here, built through the real
pipeline from tests/factories.py; the last test holds every registered check to the policy's
table in docs/verdicts.md.
"""

from __future__ import annotations

import re
from dataclasses import replace

from factories import (
    GOOD_OPTION120,
    PHONE_IP,
    Capture,
    checkin,
    checkin_response_xml,
    error_page,
    healthy_boot,
    http,
    inform,
    lab_tls_connection,
    lease,
    lookup,
    tls_from,
)
from locations import ROOT

from capinspect.checks import ALL_SPECS
from capinspect.checks.base import Finding, Severity
from capinspect.expectations import Expectations
from capinspect.pipeline import evaluate
from capinspect.report.model import DeviceReport

TARGET_URL = (
    "http://ocs.contoso.com/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/"
    "CPE/CPE.nbt"
)


def _option43(port: bytes = b"443", scheme: bytes = b"https") -> bytes:
    fqdn = b"ocs.contoso.com"
    path = b"/CertProv/CertProvisioningService.svc"
    return (
        b"\x01\x0cMS-UC-Client\x02"
        + bytes([len(scheme)])
        + scheme
        + b"\x03"
        + bytes([len(fqdn)])
        + fqdn
        + b"\x04"
        + bytes([len(port)])
        + port
        + b"\x05"
        + bytes([len(path)])
        + path
    )


def _device(cap: Capture) -> DeviceReport:
    (device,) = evaluate(cap.analysis(), Expectations()).devices
    return device


def _finding(device: DeviceReport, check_id: str) -> Finding:
    return next(f for f in device.findings if f.check_id == check_id)


def test_an_option43_port_the_phone_cannot_read_is_a_fail_with_its_bytes_in_hex() -> None:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, option43=_option43(port=b"\x01\xbb"))
    device = _device(cap)
    finding = _finding(device, "dhcp.option43-unexpected")
    assert finding.severity == Severity.FAIL and device.verdict.verdict == "fail"
    assert "01 BB (hex)" in finding.summary and "\\x" not in finding.summary


def test_an_unusual_but_workable_option43_port_is_a_warn() -> None:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, option43=_option43(port=b"4443"))
    device = _device(cap)
    assert _finding(device, "dhcp.option43-unexpected").severity == Severity.WARN
    assert device.verdict.verdict == "warn"


def test_an_option43_scheme_other_than_https_is_a_fail() -> None:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, option43=_option43(scheme=b"http"))
    assert _finding(_device(cap), "dhcp.option43-unexpected").severity == Severity.FAIL


def test_missing_options_fail_unless_the_dns_fallback_is_seen_completing() -> None:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, option43=None, option120=None)
    device = _device(cap)
    assert device.verdict.verdict == "fail"
    assert device.verdict.root_cause is not None
    assert device.verdict.root_cause.check_id == "dhcp.option43-missing"
    assert _finding(device, "dhcp.option120-missing").severity == Severity.FAIL

    # The fallback: a sign-in SRV lookup answered and an established TLS connection to the pool.
    conn = replace(
        tls_from(lab_tls_connection(), PHONE_IP, None, sni="pool.contoso.com"),
        outcome="established",
    )
    srv = lookup(
        15, 1001.5, qname="_sipinternaltls._tcp.contoso.com", addresses=(conn.flow.server_ip,)
    )
    cap.dns.append(srv)
    analysis = replace(cap.analysis(), tls=(conn,))
    (device,) = evaluate(analysis, Expectations()).devices
    missing = _finding(device, "dhcp.option43-missing")
    assert missing.severity == Severity.WARN and "fallback completed" in missing.summary
    assert conn.frame in missing.frames


def test_an_unanswered_inform_is_a_fail() -> None:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, answered=False)
    device = _device(cap)
    assert _finding(device, "dhcp.inform-unanswered").severity == Severity.FAIL
    assert device.verdict.verdict == "fail"


def test_missing_versions_with_an_offer_never_fetched_is_the_root_cause() -> None:
    cap = healthy_boot()
    body = checkin_response_xml(
        server_version=None, service_version=None, files=[("3.5.6907.0", TARGET_URL)]
    )
    cap.http = [checkin(30, 1003.0, "1.0.522.103", response=body)]
    device = _device(cap)
    assert device.verdict.verdict == "fail"
    root = device.verdict.root_cause
    assert root is not None and root.check_id == "checkin.missing-server-version"
    assert "never fetched" in root.summary and root.severity == Severity.FAIL
    assert "checkin.missing-service-version" in {f.check_id for f in device.verdict.consequences}


def test_missing_versions_without_an_offer_are_a_warn() -> None:
    cap = healthy_boot()
    body = checkin_response_xml(server_version=None, service_version=None)
    cap.http = [checkin(30, 1003.0, "3.5.6907.0", response=body)]
    device = _device(cap)
    assert device.verdict.verdict == "warn"
    assert _finding(device, "checkin.missing-server-version").severity == Severity.WARN


def test_option15_missing_fails_without_a_check_in_and_warns_with_one() -> None:
    # An OCPE phone (no MS-UC-Client INFORM) whose lease carries no option 15.
    without = Capture(dhcp=[lease(1, 1000.0, domain=None), inform(10, 1001.0, answered=False)])
    assert _finding(_device(without), "dhcp.option15-missing").severity == Severity.FAIL
    with_checkin = Capture(
        dhcp=[lease(1, 1000.0, domain=None)],
        http=[checkin(30, 1003.0, "3.5.6907.0")],
    )
    assert _finding(_device(with_checkin), "dhcp.option15-missing").severity == Severity.WARN


def test_the_root_cause_is_the_earliest_stage_and_the_rest_follow() -> None:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, option43=None, option120=GOOD_OPTION120)
    path = TARGET_URL.split("ocs.contoso.com", 1)[1]
    cap.http = [
        checkin(
            30,
            1003.0,
            "1.0.522.103",
            response=checkin_response_xml(files=[("3.5.6907.0", TARGET_URL)]),
        ),
        http(
            40,
            1004.0,
            "GET",
            path,
            status=500,
            reason="Internal Server Error",
            resp_body=error_page(500, "19", "Internal Server Error"),
            content_type="text/html",
        ),
    ]
    device = _device(cap)
    root = device.verdict.root_cause
    assert root is not None and root.check_id == "dhcp.option43-missing"
    assert [f.check_id for f in device.verdict.consequences] == ["download.acl-denied"]
    assert device.verdict.reason.startswith("dhcp.option43-missing: ")


def test_a_phone_whose_offer_is_still_outstanding_at_the_end_is_inconclusive() -> None:
    cap = healthy_boot()
    offer = checkin_response_xml(files=[("3.5.6907.0", TARGET_URL)])
    cap.http = [checkin(30, 1003.0, "1.0.522.103", response=offer)]
    device = _device(cap)
    if not any(f.severity in (Severity.FAIL, Severity.WARN) for f in device.findings):
        assert device.verdict.verdict == "inconclusive"
        assert "ended before the phone fetched" in device.verdict.reason


def test_no_check_in_alone_is_inconclusive_not_warn() -> None:
    cap = healthy_boot()
    cap.http = []
    device = _device(cap)
    assert _finding(device, "checkin.not-observed").severity == Severity.INFO
    assert device.verdict.verdict == "inconclusive"


def test_every_check_is_in_the_policy_table_with_its_severity() -> None:
    text = (ROOT / "docs" / "verdicts.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z0-9.-]+)` \| (fail|warn|info) \|", text, re.M))
    specs = {spec.id: str(spec.severity) for spec in ALL_SPECS}
    assert rows == specs
