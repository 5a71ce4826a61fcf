"""checkin.offered-url-unusable: each reason an offered URL cannot serve this phone, and what
is not a reason (a name never looked up, an older build offered for roll-back, case)."""

from __future__ import annotations

from factories import Capture, checkin, checkin_response_xml, healthy_boot, http, lookup

from capinspect.checks.base import Finding, Severity
from capinspect.expectations import Expectations
from capinspect.model import CaptureStats
from capinspect.pipeline import evaluate

IMAGE = bytes(range(256)) * 800
HOST = "ocs.contoso.com"
PATH = "/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/CPE.nbt"
URL = f"http://{HOST}{PATH}"
INTERIM = f"http://{HOST}/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt"


def _offered(url: str, version: str = "3.5.6907.0", installed: str = "1.0.522.103") -> Capture:
    cap = healthy_boot()
    body = checkin_response_xml(files=[(version, url)])
    cap.http = [checkin(30, 1003.0, installed, response=body)]
    return cap


def _findings(cap: Capture, check_id: str = "checkin.offered-url-unusable") -> list[Finding]:
    report = evaluate(cap.analysis(), Expectations())
    return [f for f in report.all_findings if f.check_id == check_id]


def _fetch(cap: Capture, path: str = PATH, frame: int = 40, ts: float = 1004.0) -> None:
    cap.http.append(
        http(
            frame,
            ts,
            "GET",
            path,
            resp_body=IMAGE,
            content_type="application/octet-stream",
            host=HOST,
        )
    )


def test_a_locale_not_the_phones_fails_with_both_values_and_the_offer_frames() -> None:
    (finding,) = _findings(_offered(URL.replace("/ENU/", "/NLD/")))
    assert finding.severity == Severity.FAIL
    assert "locale NLD (phone: ENU)" in finding.summary
    assert finding.expected == "ENU" and finding.observed == "NLD"
    assert finding.frames == (30, 31)  # the check-in and the response that offered the file
    assert "locale" in finding.remediation


def test_model_and_revision_are_compared_too_and_case_does_not_matter() -> None:
    assert (
        _findings(_offered(URL.replace("LG-Nortel/IP8540/A/ENU", "lg-nortel/ip8540/a/enu"))) == []
    )
    (finding,) = _findings(_offered(URL.replace("IP8540/A/", "CX700/B/")))
    assert "model CX700 (phone: IP8540)" in finding.summary
    assert "revision B (phone: A)" in finding.summary


def test_the_interim_builds_locale_is_only_a_warning() -> None:
    (finding,) = _findings(
        _offered(INTERIM.replace("/ENU/", "/DEU/"), "1.0.522.103", installed="1.0.522.34")
    )
    assert finding.severity == Severity.WARN
    assert "not documented" in finding.summary


def test_a_scheme_the_phone_cannot_follow() -> None:
    (finding,) = _findings(_offered(URL.replace("http://", "ftp://")))
    assert finding.observed == "ftp://" and "http or https" in finding.summary
    # The phone asks for nothing, and download.not-attempted leaves the explaining to this check.
    assert _findings(_offered(URL.replace("http://", "ftp://")), "download.not-attempted") == []


def test_a_url_that_does_not_parse() -> None:
    (finding,) = _findings(_offered("http://[ocs.contoso.com/x/CPE.nbt"))
    assert "does not parse" in finding.summary


def test_a_host_whose_lookups_failed_names_them() -> None:
    cap = _offered(URL)
    cap.dns.append(lookup(35, 1003.2, qname=HOST, rcode="NXDOMAIN", addresses=()))
    (finding,) = _findings(cap)
    assert finding.observed == "NXDOMAIN"
    assert finding.frames == (30, 31, 35, 36)
    assert "DNS record" in finding.remediation


def test_a_host_that_resolved_once_or_was_never_looked_up_is_not_a_reason() -> None:
    never = _offered(URL)
    assert _findings(never) == []
    once = _offered(URL)
    once.dns += [
        lookup(35, 1003.2, qname=HOST, rcode="NXDOMAIN", addresses=()),
        lookup(37, 1003.4, qname=HOST),
    ]
    assert _findings(once) == []


def test_an_unanswered_lookup_counts_only_when_the_capture_went_on() -> None:
    cut = _offered(URL)
    cut.dns.append(lookup(35, 1003.2, qname=HOST, rcode=None, addresses=()))
    cut.stats = CaptureStats(frames=40, first_ts=1000.0, last_ts=1004.0)
    assert _findings(cut) == []
    cut.stats = CaptureStats(frames=40, first_ts=1000.0, last_ts=1060.0)
    (finding,) = _findings(cut)
    assert finding.observed == "no answer"


def test_a_fetched_url_is_not_unreachable_whatever_dns_said() -> None:
    cap = _offered(URL)
    cap.dns.append(lookup(35, 1003.2, qname=HOST, rcode="NXDOMAIN", addresses=()))
    _fetch(cap)
    assert _findings(cap) == []


def test_a_file_for_another_locale_stays_wrong_even_when_fetched() -> None:
    cap = _offered(URL.replace("/ENU/", "/NLD/"))
    _fetch(cap, PATH.replace("/ENU/", "/NLD/"))
    assert [f.observed for f in _findings(cap)] == ["NLD"]


def test_the_version_the_phone_runs_is_nothing_to_install() -> None:
    (finding,) = _findings(_offered(URL, installed="3.5.6907.0"))
    assert "already runs" in finding.summary and finding.observed == "3.5.6907.0"


def test_an_older_build_is_a_roll_back_not_a_fault() -> None:
    older = URL.replace("3.5.6907.0", "1.0.522.103")
    assert _findings(_offered(older, "1.0.522.103", installed="3.5.6907.0")) == []


def test_the_version_comes_from_the_path_when_the_record_has_none() -> None:
    cap = healthy_boot()
    body = (
        f"<Response><ServerVersion>3.5.6907.0</ServerVersion><ServiceVersion>3.5.6907.0"
        f'</ServiceVersion><Downloads Count="1"><File Name="CPE.nbt" InternalUrl="{URL}"/>'
        "</Downloads></Response>"
    ).encode()
    cap.http = [checkin(30, 1003.0, "3.5.6907.0", response=body)]
    (finding,) = _findings(cap)
    assert finding.observed == "3.5.6907.0"


def test_the_same_fault_offered_at_every_check_in_is_reported_once() -> None:
    cap = _offered(URL.replace("/ENU/", "/NLD/"))
    body = checkin_response_xml(files=[("3.5.6907.0", URL.replace("/ENU/", "/NLD/"))])
    cap.http.append(checkin(50, 1400.0, "1.0.522.103", response=body))
    assert len(_findings(cap)) == 1


def test_a_healthy_offer_has_no_finding() -> None:
    cap = _offered(URL)
    cap.dns.append(lookup(35, 1003.2, qname=HOST))
    _fetch(cap)
    assert _findings(cap) == []
