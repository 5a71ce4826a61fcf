"""download.not-attempted (why an offered file was not fetched) and download.not-firmware (a 200
that is not an image), on small synthetic sessions and on the lab's interim-upgrade capture cut
or thinned with scapy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from factories import (
    PHONE_IP,
    SERVER_IP,
    Capture,
    checkin,
    checkin_response_xml,
    healthy_boot,
    http,
    lease,
)
from locations import PCAPS
from scapy.layers.inet import TCP
from scapy.packet import Packet
from scapy.utils import rdpcap, wrpcap

from capinspect.analysis import Analysis
from capinspect.checks.base import Finding, Severity, Verdict
from capinspect.expectations import Expectations
from capinspect.model import CaptureStats, FlowKey
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.protocols.http.messages import HttpExchange
from capinspect.report.model import Report

IMAGE = bytes(range(256)) * 800
HOST = "ocs.contoso.com"
PATH = "/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/CPE.nbt"
URL = f"http://{HOST}{PATH}"


def _offer(server_version: str | None = "3.5.6907.0", service: str | None = "3.5.6907.0") -> bytes:
    return checkin_response_xml(
        files=[("3.5.6907.0", URL)], server_version=server_version, service_version=service
    )


def _offered(end: float = 2000.0, response: bytes | None = None) -> Capture:
    cap = healthy_boot()
    cap.http = [checkin(30, 1003.0, "1.0.522.103", response=response or _offer())]
    cap.stats = CaptureStats(frames=100, first_ts=1000.0, last_ts=end)
    return cap


def _report(cap: Capture | Analysis) -> Report:
    return evaluate(cap.analysis() if isinstance(cap, Capture) else cap, Expectations())


def _found(report: Report, check_id: str) -> list[Finding]:
    return [f for f in report.all_findings if f.check_id == check_id]


def _get(
    frame: int,
    ts: float,
    body: bytes = IMAGE,
    *,
    path: str = PATH,
    content_type: str = "application/octet-stream",
    expected: int | None = None,
    complete: bool = True,
    cut: str | None = None,
) -> HttpExchange:
    return http(
        frame,
        ts,
        "GET",
        path,
        resp_body=body,
        content_type=content_type,
        host=HOST,
        expected=expected,
        complete=complete,
        cut=cut,
    )


# --- download.not-attempted: why --------------------------------------------------------------


def test_no_server_or_service_version_leaves_the_why_to_the_checkin_finding() -> None:
    for body, missing in (
        (_offer(server_version=None), "checkin.missing-server-version"),
        (_offer(service=None), "checkin.missing-service-version"),
    ):
        report = _report(_offered(response=body))
        assert _found(report, "download.not-attempted") == []
        assert _found(report, missing)


def test_an_unusable_url_leaves_the_why_to_offered_url_unusable() -> None:
    cap = _offered(response=checkin_response_xml(files=[("3.5.6907.0", URL.replace("ENU", "NLD"))]))
    report = _report(cap)
    assert _found(report, "download.not-attempted") == []
    assert _found(report, "checkin.offered-url-unusable")


def test_checking_in_again_without_fetching_is_a_fail_naming_the_second_check_in() -> None:
    cap = _offered()
    cap.http.append(checkin(50, 1400.0, "1.0.522.103", response=_offer()))
    (finding,) = _found(_report(cap), "download.not-attempted")
    assert finding.severity == Severity.FAIL
    assert "checked in again 6 min 37 s later (frame 50)" in finding.summary
    assert "ignored it" in finding.summary
    assert "offered again in 1 later check-in(s)" in finding.summary
    assert finding.frames == (30, 50)


def test_a_restart_without_fetching_is_a_fail_but_a_renewal_is_not_a_restart() -> None:
    cap = _offered()
    cap.dhcp.append(lease(60, 1300.0, xid=0x3333))
    (finding,) = _found(_report(cap), "download.not-attempted")
    assert finding.severity == Severity.FAIL
    assert "restarted" in finding.summary and 60 in finding.frames

    renewal = _offered()
    ex = lease(60, 1300.0, xid=0x3333)
    # A renewal: REQUEST from the phone's own address and its ACK, no DISCOVER.
    request = ex.messages[2]
    renewing = replace(request, message=replace(request.message, ciaddr=PHONE_IP))
    renewal.dhcp.append(replace(ex, messages=(renewing, ex.messages[3])))
    (finding,) = _found(_report(renewal), "download.not-attempted")
    assert finding.severity == Severity.WARN


def test_a_capture_that_ends_right_after_the_offer_is_only_info_and_says_how_long_to_capture() -> (
    None
):
    report = _report(_offered(end=1020.0))
    (finding,) = _found(report, "download.not-attempted")
    assert finding.severity == Severity.INFO
    verdict = report.devices[0].verdict
    assert verdict.verdict == Verdict.INCONCLUSIVE and "not fetched" in verdict.reason
    assert "the capture ended 17.0 s after the offer" in finding.summary
    assert "2 min 18 s, 2 min 51 s in the IIS log of the Device Update troubleshooting" in (
        finding.summary
    )
    assert "8 min 51 s" in finding.remediation  # 60 s + 170.7 s + five idle minutes


def test_a_capture_that_went_on_without_a_request_is_a_warning() -> None:
    (finding,) = _found(_report(_offered(end=1500.0)), "download.not-attempted")
    assert finding.severity == Severity.WARN
    assert "8 min 17 s more" in finding.summary


def test_an_https_url_and_a_tls_connection_after_the_offer_may_hide_the_download() -> None:
    cap = _offered(
        response=checkin_response_xml(files=[("3.5.6907.0", URL.replace("http:", "https:"))])
    )
    real = analyze_paths([str(PCAPS / "https-healthy.pcap")]).tls[0]
    # The lab's handshake, moved into this session (its certificates are judged by tls.* checks).
    flow = FlowKey(PHONE_IP, 50999, SERVER_IP, 443)
    tls = replace(real, flow=flow, frame=35, ts=1003.5, certificates=())
    report = _report(replace(cap.analysis(), tls=(tls,)))
    (finding,) = _found(report, "download.not-attempted")
    assert finding.severity == Severity.INFO
    assert 35 in finding.frames and "inside them" in finding.summary
    assert report.devices[0].verdict.verdict == Verdict.INCONCLUSIVE


def test_a_fetch_under_another_spelling_counts_as_acting_on_the_offer() -> None:
    cap = _offered()
    cap.http.append(_get(40, 1004.0, path=PATH.replace("/CPE/CPE.nbt", "/CPE.nbt")))
    assert _found(_report(cap), "download.not-attempted") == []


def _interim_upgrade(tmp_path: Path, keep: Callable[[int, Packet], bool]) -> Report:
    frames = rdpcap(str(PCAPS / "interim-upgrade.pcap"))
    out = tmp_path / "cut.pcap"
    wrpcap(str(out), [p for n, p in enumerate(frames, 1) if keep(n, p)])
    return evaluate(analyze_paths([str(out)]), Expectations())


def test_lab_capture_cut_before_the_get_is_too_soon_to_tell(tmp_path: Path) -> None:
    # interim-upgrade.pcap: the offer in frames 14-18, the GET of the interim image at frame 28.
    report = _interim_upgrade(tmp_path, lambda n, p: n <= 24)
    (finding,) = _found(report, "download.not-attempted")
    assert finding.severity == Severity.INFO and "too soon" in finding.summary
    assert "OCInterim/ENU/CPE.nbt" in finding.summary and finding.frames == (14,)
    assert report.devices[0].verdict.verdict == Verdict.INCONCLUSIVE  # not "pass"


def test_lab_capture_without_the_download_is_an_ignored_offer(tmp_path: Path) -> None:
    # Drop the TCP of the first download (frames 25-58); the phone restarts at frame 59.
    report = _interim_upgrade(tmp_path, lambda n, p: not (25 <= n <= 58 and p.haslayer(TCP)))
    (finding,) = _found(report, "download.not-attempted")
    assert finding.severity == Severity.FAIL and "restarted" in finding.summary
    assert report.devices[0].verdict.verdict == Verdict.FAIL


# --- download.not-firmware --------------------------------------------------------------------


def _downloaded(get: HttpExchange) -> Report:
    cap = _offered()
    cap.http.append(get)
    return _report(cap)


def test_the_readers_blank_page_is_not_firmware_and_not_a_download() -> None:
    report = _downloaded(_get(40, 1004.0, b"", content_type="text/html"))
    (finding,) = _found(report, "download.not-firmware")
    assert finding.severity == Severity.FAIL
    assert "a web page (text/html" in finding.observed
    assert "0 bytes, far smaller than any firmware image (at least 100 KB)" in finding.observed
    assert finding.frames == (40, 41)
    assert _found(report, "download.ok") == []


def test_an_html_body_under_a_binary_or_no_type_is_a_page() -> None:
    page = b"\xef\xbb\xbf\r\n<!DOCTYPE html><html><body></body></html>" + b" " * 200_000
    (finding,) = _found(
        _downloaded(_get(40, 1004.0, page, content_type="")), "download.not-firmware"
    )
    assert "body starts b'<!doctype html>'" in finding.observed
    assert "bytes" not in finding.observed  # big enough: the page is the only reason


def test_a_text_type_is_judged_by_the_bytes_under_it() -> None:
    text = _get(40, 1004.0, b"Under construction\r\n" * 10_000, content_type="text/plain")
    (finding,) = _found(_downloaded(text), "download.not-firmware")
    assert finding.observed == "text (text/plain) where the image belongs"
    # A real image under a wrong text type is binary: only its size could fail it.
    mislabelled = _get(40, 1004.0, IMAGE, content_type="text/plain")
    assert _found(_downloaded(mislabelled), "download.not-firmware") == []
    mislabelled = _get(40, 1004.0, IMAGE, content_type="text/html")
    assert _found(_downloaded(mislabelled), "download.not-firmware") == []


def test_a_tiny_binary_image_is_not_firmware() -> None:
    (finding,) = _found(_downloaded(_get(40, 1004.0, b"\x00" * 7)), "download.not-firmware")
    assert finding.observed.startswith("7 bytes")


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        (PATH, IMAGE, "application/octet-stream"),  # an image of a plausible size
        (PATH.replace(".nbt", ".cat"), b"\x30\x82" * 900, "application/vnd.ms-pki.seccat"),
        (PATH.replace(".nbt", ".xml"), b"<?xml version='1.0'?><Update/>", "text/xml"),
    ],
)
def test_files_that_may_be_what_they_claim_pass(path: str, body: bytes, content_type: str) -> None:
    report = _downloaded(_get(40, 1004.0, body, path=path, content_type=content_type))
    assert _found(report, "download.not-firmware") == []
    assert _found(report, "download.ok")


def test_cut_short_stays_incomplete_unless_the_announced_size_is_already_too_small() -> None:
    cut = _get(40, 1004.0, b"\x00" * 1000, expected=300_000, complete=False, cut="rst")
    report = _downloaded(cut)
    assert _found(report, "download.incomplete") and not _found(report, "download.not-firmware")
    tiny = _get(40, 1004.0, b"\x00" * 3, expected=7, complete=False, cut="rst")
    report = _downloaded(tiny)
    assert _found(report, "download.not-firmware") and not _found(report, "download.incomplete")


def test_a_head_has_no_body_to_judge() -> None:
    head = http(40, 1004.0, "HEAD", PATH, resp_body=b"", content_type="text/html", host=HOST)
    assert _found(_downloaded(head), "download.not-firmware") == []


def test_the_lab_images_pass() -> None:
    # The lab's stand-in images are 208479 and 283532 bytes of PRNG output.
    report = evaluate(analyze_paths([str(PCAPS / "interim-upgrade.pcap")]), Expectations())
    assert _found(report, "download.not-firmware") == []
    assert len(_found(report, "download.ok")) == 2
