"""checks/checkin.py: which offered file a phone never fetched, and what the check-in checks
say about a missing, failed or legacy-path check-in."""

from __future__ import annotations

from factories import Capture, checkin, checkin_response_xml, healthy_boot, http, lookup

from capinspect.checks.base import Severity
from capinspect.checks.checkin import offered_not_fetched
from capinspect.devices import build_population
from capinspect.devices.model import DeviceSession
from capinspect.expectations import Expectations
from capinspect.pipeline import evaluate

HOST = "ocs.contoso.com"
PATH = "/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/CPE.nbt"


def _phone(capture: Capture) -> DeviceSession:
    (phone,) = build_population(capture.analysis(), Expectations()).phones
    return phone


def _offering(*downloads_at: float) -> Capture:
    capture = healthy_boot()
    offer = checkin_response_xml(files=[("3.5.6907.0", f"http://{HOST}{PATH}")])
    capture.http = [checkin(30, 1003.0, "1.0.522.103", response=offer)]
    for n, ts in enumerate(downloads_at):
        capture.http.append(
            http(40 + n, ts, "GET", PATH, host=HOST, resp_body=b"\x00" * 64,
                 content_type="application/octet-stream")
        )  # fmt: skip
    return capture


def test_an_offered_file_never_fetched_is_named() -> None:
    phone = _phone(_offering())
    assert offered_not_fetched(phone, phone.checkins[0]) == "CPE.nbt 3.5.6907.0"


def test_a_file_fetched_after_the_offer_is_not() -> None:
    phone = _phone(_offering(1004.0))
    assert offered_not_fetched(phone, phone.checkins[0]) is None


def test_a_fetch_before_the_offer_does_not_count() -> None:
    phone = _phone(_offering(1002.5))
    assert offered_not_fetched(phone, phone.checkins[0]) == "CPE.nbt 3.5.6907.0"


def test_nothing_offered_nothing_missing() -> None:
    phone = _phone(healthy_boot())
    assert offered_not_fetched(phone, phone.checkins[0]) is None


def _checkin_findings(capture: Capture) -> dict[str, tuple[Severity, str]]:
    report = evaluate(capture.analysis(), Expectations())
    return {
        f.check_id: (f.severity, f.summary)
        for f in report.all_findings
        if f.check_id.startswith("checkin.")
    }


def test_no_check_in_after_a_failed_lookup_is_information() -> None:
    capture = healthy_boot()
    capture.http = []
    capture.dns = [lookup(20, 1002.0, rcode="NXDOMAIN", addresses=())]
    severity, summary = _checkin_findings(capture)["checkin.not-observed"]
    assert severity == Severity.INFO and "lookup failed" in summary


def test_a_failed_check_in_is_an_http_error_with_its_status() -> None:
    capture = healthy_boot()
    capture.http = [checkin(30, 1003.0, "3.5.6907.0", status=404)]
    found = _checkin_findings(capture)
    assert found["checkin.http-error"][1] == "POST /RequestHandler/ucdevice.upx → 404 Not Found"


def test_the_legacy_path_404_is_said_once_by_its_own_check() -> None:
    capture = healthy_boot()
    capture.http = [
        checkin(30, 1003.0, "3.5.6907.0", status=404, path="/UCDeviceUpdates/ucdevice.upx")
    ]
    found = _checkin_findings(capture)
    assert "checkin.legacy-path-missing" in found and "checkin.http-error" not in found
