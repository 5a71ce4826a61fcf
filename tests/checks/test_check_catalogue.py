"""One case per check ID: the capture that must raise it, through the real pipeline.

Each case builds what a phone did (tests/factories.py), runs device grouping, every check and
the verdict, and asserts the ID is raised with its evidence frames. A final test proves the
table covers every registered check, so removing a check (or its function) fails a test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from factories import (
    GOOD_OPTION43,
    PHONE_IP,
    SERVER_IP,
    Capture,
    checkin,
    checkin_response_xml,
    error_page,
    healthy_boot,
    http,
    inform,
    lease,
    lookup,
)

from capinspect.analysis import TcpFlowSeen
from capinspect.checks import ALL_SPECS
from capinspect.checks.base import Severity, Verdict
from capinspect.expectations import Expectations, TargetFirmware
from capinspect.model import Anomaly, CaptureStats, FlowKey
from capinspect.pipeline import evaluate
from capinspect.report.model import Report

IMAGE = bytes(range(256)) * 800
"""A 200 KB stand-in firmware image (the lab's are 150-300 KB): above download.not-firmware's
100 KB floor."""
INTERIM_URL = "http://ocs.contoso.com/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt"
TARGET_URL = (
    "http://ocs.contoso.com/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/"
    "CPE/CPE.nbt"
)


def _report(capture: Capture, expect: Expectations | None = None) -> Report:
    return evaluate(capture.analysis(), expect or Expectations())


def _ids(report: Report) -> set[str]:
    return {f.check_id for f in report.all_findings}


def _offer(version: str, url: str) -> bytes:
    return checkin_response_xml(files=[(version, url)])


def case_no_lease() -> Capture:
    # The phone is known by an earlier check-in; its next boot gets no answer to DISCOVER.
    return Capture(dhcp=[lease(100, 1500.0, acked=False)], http=[checkin(30, 1003.0, "3.5.6907.0")])


def case_inform_unanswered() -> Capture:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, answered=False)
    return cap


def case_option43_missing() -> Capture:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, option43=None)
    return cap


def case_option43_malformed() -> Capture:
    long_fqdn = b"lyncwebint.pool01.contoso.com"  # 29 characters
    full = (
        b"\x01\x0cMS-UC-Client\x02\x05https\x03"
        + bytes([len(long_fqdn)])
        + long_fqdn
        + b"\x04\x03443\x05\x25/CertProv/CertProvisioningService.svc"
    )
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, option43=full[:90])
    return cap


def case_option43_unexpected() -> Capture:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, option43=GOOD_OPTION43.replace(b"https", b"http:"))
    return cap


def case_option120_missing() -> Capture:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, option120=None)
    return cap


def case_option120_malformed() -> Capture:
    cap = healthy_boot()
    cap.dhcp[1] = inform(10, 1001.0, option120=b"\x01\x0a\x00\x00")
    return cap


def case_option120_unexpected() -> Capture:
    return healthy_boot()


def case_option15_missing() -> Capture:
    cap = healthy_boot()
    cap.dhcp[0] = lease(1, 1000.0, domain=None)
    cap.dhcp[1] = inform(10, 1001.0)
    # The INFORM answer carries option 15 in the factory; drop the INFORM to test the lease alone.
    cap.dhcp = [cap.dhcp[0]]
    cap.http = [checkin(30, 1003.0, "3.5.6907.0")]
    return cap


def case_nxdomain() -> Capture:
    cap = healthy_boot()
    cap.dns = [lookup(20, 1002.0, rcode="NXDOMAIN", addresses=())]
    cap.http = []
    return cap


def case_unanswered() -> Capture:
    cap = healthy_boot()
    cap.dns = [lookup(20, 1002.0, rcode=None, addresses=())]
    cap.http = []
    return cap


def case_cname() -> Capture:
    cap = healthy_boot()
    cap.dns = [lookup(20, 1002.0, cname="pool.contoso.com")]
    return cap


def case_wrong_domain() -> Capture:
    cap = healthy_boot()
    cap.dns = [lookup(20, 1002.0, qname="ucupdates-r2.fabrikam.com")]
    return cap


def case_unexpected_address() -> Capture:
    return healthy_boot()


def case_legacy_name() -> Capture:
    cap = healthy_boot()
    cap.dns.append(lookup(25, 1002.5, qname="ucupdates.contoso.com"))
    return cap


def case_not_observed() -> Capture:
    cap = healthy_boot()
    cap.http = []
    return cap


def case_checkin_http_error() -> Capture:
    cap = healthy_boot()
    cap.http = [checkin(30, 1003.0, "3.5.6907.0", status=503)]
    return cap


def case_legacy_path() -> Capture:
    cap = healthy_boot()
    cap.http = [
        checkin(
            30,
            1003.0,
            "1.0.452.0",
            status=404,
            path="/UCDeviceUpdates/ucdevice.upx",
            vendor="Polycom",
            model="CX700",
        )
    ]
    return cap


def case_missing_versions() -> Capture:
    cap = healthy_boot()
    body = checkin_response_xml(server_version=None, service_version=None)
    cap.http = [checkin(30, 1003.0, "3.5.6907.0", response=body)]
    return cap


def case_no_update_offered() -> Capture:
    cap = healthy_boot()
    cap.http = [checkin(30, 1003.0, "1.0.522.101", vendor="Polycom", model="CX700")]
    return cap


def case_interim() -> Capture:
    cap = healthy_boot()
    cap.http = [
        checkin(30, 1003.0, "1.0.522.34", response=_offer("1.0.522.103", INTERIM_URL)),
        http(
            40,
            1004.0,
            "GET",
            "/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt",
            resp_body=IMAGE,
            content_type="application/octet-stream",
            host="ocs.contoso.com",
        ),
    ]
    return cap


def case_unexpected_response() -> Capture:
    return healthy_boot()


def case_offered_url_unusable() -> Capture:
    # An article reader's case: update files of another locale (Dutch) offered to an English phone.
    cap = healthy_boot()
    cap.http = [
        checkin(
            30,
            1003.0,
            "1.0.522.103",
            response=_offer("3.5.6907.0", TARGET_URL.replace("/ENU/", "/NLD/")),
        )
    ]
    return cap


def case_not_firmware() -> Capture:
    # An article reader's IIS log: GET …/OCInterim/ENU/CPE.nbt … 200 0 0 7, a blank page.
    cap = healthy_boot()
    cap.http = [
        checkin(30, 1003.0, "1.0.522.34", response=_offer("1.0.522.103", INTERIM_URL)),
        http(
            40,
            1004.0,
            "GET",
            "/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt",
            resp_body=b"",
            content_type="text/html",
            host="ocs.contoso.com",
        ),
    ]
    return cap


def case_update_not_applied() -> Capture:
    cap = healthy_boot()
    cap.http = [
        checkin(30, 1003.0, "1.0.522.103", response=_offer("3.5.6907.0", TARGET_URL)),
        http(
            40,
            1004.0,
            "GET",
            TARGET_URL.split("ocs.contoso.com", 1)[1],
            resp_body=IMAGE,
            content_type="application/octet-stream",
            host="ocs.contoso.com",
        ),
        checkin(50, 1400.0, "1.0.522.103", response=_offer("3.5.6907.0", TARGET_URL)),
        http(
            60,
            1401.0,
            "GET",
            TARGET_URL.split("ocs.contoso.com", 1)[1],
            resp_body=IMAGE,
            content_type="application/octet-stream",
            host="ocs.contoso.com",
        ),
    ]
    return cap


def case_unreadable_body() -> Capture:
    cap = healthy_boot()
    cap.http = [checkin(30, 1003.0, "3.5.6907.0", response=b"<Response><ServerVersion>3.5")]
    return cap


def _download_case(status: int, sub: str, reason: str) -> Callable[[], Capture]:
    def build() -> Capture:
        cap = healthy_boot()
        path = TARGET_URL.split("ocs.contoso.com", 1)[1]
        cap.http = [
            checkin(30, 1003.0, "1.0.522.103", response=_offer("3.5.6907.0", TARGET_URL)),
            http(
                40,
                1004.0,
                "GET",
                path,
                status=status,
                reason=reason,
                resp_body=error_page(status, sub, reason),
                content_type="text/html",
                host="ocs.contoso.com",
            ),
        ]
        return cap

    return build


def case_download_http_error() -> Capture:
    cap = _download_case(502, "3", "Bad Gateway")()
    return cap


def case_not_attempted() -> Capture:
    cap = healthy_boot()
    cap.http = [checkin(30, 1003.0, "1.0.522.103", response=_offer("3.5.6907.0", TARGET_URL))]
    return cap


def case_incomplete() -> Capture:
    cap = healthy_boot()
    path = TARGET_URL.split("ocs.contoso.com", 1)[1]
    cap.http = [
        checkin(30, 1003.0, "1.0.522.103", response=_offer("3.5.6907.0", TARGET_URL)),
        http(
            40,
            1004.0,
            "GET",
            path,
            resp_body=b"\x00" * 1000,
            expected=300000,
            complete=False,
            cut="rst",
            content_type="application/octet-stream",
            host="ocs.contoso.com",
        ),
    ]
    return cap


def case_download_ok() -> Capture:
    return case_interim()


def case_unsupported() -> Capture:
    cap = healthy_boot()
    cap.http = [checkin(30, 1003.0, "1.0.452.0", vendor="Microsoft", model="DV1")]
    return cap


def case_no_phone() -> Capture:
    return Capture(stats=CaptureStats(frames=500, udp_frames=0, tcp_frames=500, tcp443_frames=500))


def case_damaged() -> Capture:
    cap = healthy_boot()
    cap.anomalies.append(
        Anomaly("capture.truncated-record", "trace.pcap: file ends inside a record", 90, 1010.0)
    )
    return cap


def case_malformed_traffic() -> Capture:
    cap = healthy_boot()
    cap.anomalies.append(Anomaly("dhcp.option-truncated", "option 43 runs past the end", 7))
    return cap


EXPECT_POOL = Expectations(pool_fqdn="sip.contoso.com")
EXPECT_ADDR = Expectations(ucupdates_addresses=("10.9.9.9",))
EXPECT_VERSIONS = Expectations(server_version="4.0.7577.0")

CASES: dict[str, tuple[Callable[[], Capture], Expectations | None]] = {
    "dhcp.no-lease": (case_no_lease, None),
    "dhcp.inform-unanswered": (case_inform_unanswered, None),
    "dhcp.option43-missing": (case_option43_missing, None),
    "dhcp.option43-malformed": (case_option43_malformed, None),
    "dhcp.option43-unexpected": (case_option43_unexpected, None),
    "dhcp.option120-missing": (case_option120_missing, None),
    "dhcp.option120-malformed": (case_option120_malformed, None),
    "dhcp.option120-unexpected": (case_option120_unexpected, EXPECT_POOL),
    "dhcp.option15-missing": (case_option15_missing, None),
    "dns.ucupdates-nxdomain": (case_nxdomain, None),
    "dns.ucupdates-unanswered": (case_unanswered, None),
    "dns.ucupdates-cname": (case_cname, None),
    "dns.ucupdates-wrong-domain": (case_wrong_domain, None),
    "dns.ucupdates-unexpected-address": (case_unexpected_address, EXPECT_ADDR),
    "dns.ucupdates-legacy-name": (case_legacy_name, None),
    "checkin.not-observed": (case_not_observed, None),
    "checkin.http-error": (case_checkin_http_error, None),
    "checkin.legacy-path-missing": (case_legacy_path, None),
    "checkin.missing-server-version": (case_missing_versions, None),
    "checkin.missing-service-version": (case_missing_versions, None),
    "checkin.no-update-offered": (case_no_update_offered, None),
    "checkin.interim-step": (case_interim, None),
    "checkin.unexpected-response": (case_unexpected_response, EXPECT_VERSIONS),
    "checkin.offered-url-unusable": (case_offered_url_unusable, None),
    "checkin.update-not-applied": (case_update_not_applied, None),
    "checkin.unreadable-body": (case_unreadable_body, None),
    "download.acl-denied": (_download_case(500, "19", "Internal Server Error"), None),
    "download.ssl-required": (_download_case(403, "4", "Forbidden"), None),
    "download.not-found": (_download_case(404, "0", "Not Found"), None),
    "download.http-error": (case_download_http_error, None),
    "download.not-attempted": (case_not_attempted, None),
    "download.incomplete": (case_incomplete, None),
    "download.not-firmware": (case_not_firmware, None),
    "download.ok": (case_download_ok, None),
    "device.unsupported": (case_unsupported, None),
    "capture.no-phone-traffic": (case_no_phone, None),
    "capture.damaged": (case_damaged, None),
    "capture.malformed-traffic": (case_malformed_traffic, None),
}

# TLS checks (which need TLS connections, not HTTP factories) are tested in
# tests/checks/test_tls_checks.py; capture.kernel-drops, which needs a live socket's drop
# counter, in tests/test_live.py.
TESTED_ELSEWHERE = {
    "capture.kernel-drops",
    "capture.other-update-clients",  # tests/devices/test_identity.py
    "capture.device-limit",  # tests/devices/test_identity.py
} | {
    spec.id
    for spec in ALL_SPECS
    if spec.id.startswith(("tls.", "logs.", "signin.", "time.", "checkin.encrypted-"))
}
"""tls.* in tests/checks/test_tls_checks.py; logs.* in tests/checks/test_log_checks.py; signin.*
and time.* (scapy captures through the whole pipeline) in tests/checks/test_signin.py and
test_time.py; checkin.encrypted-* (encrypted check-ins judged without keys, built from the lab's
TLS capture) in tests/checks/test_encrypted_checks.py."""


@pytest.mark.parametrize("check_id", sorted(CASES))
def test_case_raises_its_check(check_id: str) -> None:
    build, expect = CASES[check_id]
    report = _report(build(), expect)
    raised = [f for f in report.all_findings if f.check_id == check_id]
    assert raised, f"{check_id} not raised; got {sorted(_ids(report))}"
    finding = raised[0]
    assert finding.summary and finding.explanation and finding.remediation
    if check_id != "capture.no-phone-traffic":
        assert finding.frames, f"{check_id} has no evidence frames"


def test_every_registered_check_has_a_case() -> None:
    registered = {spec.id for spec in ALL_SPECS}
    assert registered == set(CASES) | TESTED_ELSEWHERE


def test_healthy_phone_has_no_fail_or_warn_and_passes() -> None:
    report = _report(healthy_boot())
    assert len(report.devices) == 1
    device = report.devices[0]
    bad = [f for f in device.findings if f.severity in (Severity.FAIL, Severity.WARN)]
    assert bad == []
    assert device.verdict.verdict == Verdict.PASS
    assert device.session.mac == "00:21:63:0f:20:7b"
    assert device.session.identity.model == "IP8540"
    assert not report.has_fail


def test_verdicts_follow_severity() -> None:
    assert _report(case_legacy_path()).devices[0].verdict.verdict == Verdict.FAIL
    assert _report(case_cname()).devices[0].verdict.verdict == Verdict.WARN
    inconclusive = _report(case_not_observed_encrypted()).devices[0].verdict
    assert inconclusive.verdict == Verdict.INCONCLUSIVE
    assert "encrypted" in inconclusive.reason
    assert (
        inconclusive.advice and "'Capturing the check-in (HTTP and HTTPS)'" in inconclusive.advice
    )


def case_not_observed_encrypted() -> Capture:
    cap = case_not_observed()
    cap.flows = [
        TcpFlowSeen(
            FlowKey(PHONE_IP, 50123, SERVER_IP, 443), "tls", 40, 1003.0, None, (), 517, 3000, "fin"
        )
    ]
    return cap


def test_nxdomain_explains_missing_checkin_without_a_second_warning() -> None:
    report = _report(case_nxdomain())
    device = report.devices[0]
    by_id = {f.check_id: f for f in device.findings}
    assert by_id["dns.ucupdates-nxdomain"].severity == Severity.FAIL
    assert by_id["checkin.not-observed"].severity == Severity.INFO


def test_option43_cut_at_90_bytes_names_the_cisco_limit() -> None:
    report = _report(case_option43_malformed())
    finding = next(f for f in report.all_findings if f.check_id == "dhcp.option43-malformed")
    assert "90 bytes" in finding.summary


def test_mismatches_name_both_values() -> None:
    report = _report(healthy_boot(), EXPECT_VERSIONS)
    finding = next(f for f in report.all_findings if f.check_id == "checkin.unexpected-response")
    assert "4.0.7577.0" in finding.summary and "3.5.6907.0" in finding.summary


def test_target_from_expectations_overrides_the_table() -> None:
    expect = Expectations(target_firmware=(TargetFirmware("LG-Nortel", "IP8540", "3.5.6907.207"),))
    report = _report(healthy_boot("3.5.6907.0"), expect)
    finding = next(f for f in report.all_findings if f.check_id == "checkin.no-update-offered")
    assert "3.5.6907.207" in finding.summary


def test_test_device_note_in_no_update_offered() -> None:
    expect = Expectations(test_devices=("00-21-63-0F-20-7B",))
    report = _report(case_no_update_offered(), expect)
    finding = next(f for f in report.all_findings if f.check_id == "checkin.no-update-offered")
    assert "test device" in finding.summary


def test_incomplete_download_cut_by_capture_end_is_only_a_warning() -> None:
    cap = case_incomplete()
    old = cap.http[1]
    assert old.response is not None
    from dataclasses import replace

    body = replace(old.response.body, cut="eof")
    cap.http[1] = replace(old, response=replace(old.response, body=body))
    finding = next(f for f in _report(cap).all_findings if f.check_id == "download.incomplete")
    assert finding.severity == Severity.WARN


def test_phone_found_by_user_agent_without_dhcp() -> None:
    cap = Capture(http=[checkin(30, 1003.0, "3.5.6907.0")])
    report = _report(cap)
    assert [d.session.key for d in report.devices] == ["00:21:63:0f:20:7b"]
    assert report.devices[0].session.ips == (PHONE_IP,)


def test_wrong_domain_against_the_expected_sip_domain_alone() -> None:
    report = _report(healthy_boot(), Expectations(sip_domain="fabrikam.com"))
    finding = next(f for f in report.all_findings if f.check_id == "dns.ucupdates-wrong-domain")
    assert "fabrikam.com" in finding.summary and finding.observed == "ucupdates-r2.contoso.com"
    assert not any(
        f.check_id == "dns.ucupdates-wrong-domain"
        for f in _report(healthy_boot(), Expectations(sip_domain="contoso.com")).all_findings
    )
