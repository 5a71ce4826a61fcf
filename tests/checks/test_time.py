"""time.* checks: no NTP answer (warn, raised to fail and root cause when the phone then rejects
a certificate) and certificates judged at the phone's time, on scapy-made captures."""

from __future__ import annotations

from pathlib import Path

from lpe_signin import NTP_IP
from signin_reports import findings, phone_report

from capinspect.checks.base import Severity, Verdict

DAY = 86_400.0
CERT_NOT_BEFORE = 1_795_930_746.0
"""pcaps/https-healthy.crt.pem's notBefore (2026-11-29 05:39:06 UTC)."""


def test_an_answered_ntp_raises_nothing_and_the_phone_learns_the_time(tmp_path: Path) -> None:
    device = phone_report(tmp_path)
    assert not [f for f in device.findings if f.check_id.startswith("time.")]
    clock = device.session.time
    assert clock is not None and clock.ntp_servers == (NTP_IP,) and clock.option42_frame == 2
    (exchange,) = clock.answered
    assert exchange.server_offset is not None and abs(exchange.server_offset) < 0.1
    learnt = clock.clock_at(device.session.last_ts)
    assert learnt is not None and learnt.source == "ntp"


def test_no_answer_alone_is_a_warn(tmp_path: Path) -> None:
    device = phone_report(tmp_path, ntp_answer=False, ntp_retries=2, phone_clock=0.0)
    # phone_clock 0: the phone's requests carry no transmit timestamp, so its clock is unknown
    (finding,) = findings(device, "time.no-answer")
    assert finding.severity == Severity.WARN
    assert "3 NTP request(s) to 10.30.0.3 never answered" in finding.summary
    assert finding.frames == (3, 4, 5)
    assert device.verdict.verdict != Verdict.FAIL


def test_no_answer_then_a_rejected_certificate_is_raised_to_fail_and_is_the_root_cause(
    tmp_path: Path,
) -> None:
    """The rule (docs/verdicts.md): time.no-answer is a warn alone; the phone rejecting a
    certificate after it makes it a fail, and the time stage makes it the root cause ahead of
    the sign-in and TLS findings on that connection."""
    device = phone_report(tmp_path, trusted=False, ntp_answer=False, phone_clock=0.0)
    (finding,) = findings(device, "time.no-answer")
    assert finding.severity == Severity.FAIL
    assert "rejected the certificate" in finding.summary and "unknown_ca" in finding.summary
    assert device.verdict.root_cause is not None
    assert device.verdict.root_cause.check_id == "time.no-answer"
    following = {f.check_id for f in device.verdict.consequences}
    assert {"signin.root-not-trusted", "tls.handshake-failed"} <= following


def test_a_capture_ending_right_after_the_request_says_nothing(tmp_path: Path) -> None:
    cut = phone_report(tmp_path, ntp_answer=False, ntp_tail=False, phone_clock=0.0)
    assert cut.session.time is not None and cut.session.time.unanswered
    assert not findings(cut, "time.no-answer")


def test_a_certificate_before_the_time_ntp_taught_the_phone_is_not_valid_at_phone_time(
    tmp_path: Path,
) -> None:
    device = phone_report(tmp_path, server_offset=-30 * DAY)
    (finding,) = findings(device, "time.certificate-not-valid-at-phone-time")
    assert finding.severity == Severity.FAIL
    assert "learnt from the NTP answer in frame 4" in finding.summary
    assert "not valid before 2026-11-29" in finding.summary
    assert finding.frames[0] == 4  # the answer that taught the phone its time
    assert device.verdict.root_cause is not None
    assert device.verdict.root_cause.check_id == "time.certificate-not-valid-at-phone-time"
    assert not findings(device, "tls.cert-expired")  # valid by the capture's clock


def test_without_an_answer_the_phones_own_clock_judges(tmp_path: Path) -> None:
    device = phone_report(tmp_path, ntp_answer=False, phone_clock=CERT_NOT_BEFORE - 400 * DAY)
    (finding,) = findings(device, "time.certificate-not-valid-at-phone-time")
    assert "its own clock as its NTP request in frame 3 carries it" in finding.summary


def test_a_phone_clock_close_to_the_capture_leaves_dates_to_tls_checks(tmp_path: Path) -> None:
    device = phone_report(tmp_path, server_offset=60.0)
    assert not findings(device, "time.certificate-not-valid-at-phone-time")
