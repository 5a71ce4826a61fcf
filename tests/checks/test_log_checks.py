"""Findings from the server's logs alone, with the seed's and readers' lines as evidence."""

from __future__ import annotations

from locations import ROOT

from capinspect.checks import ALL_SPECS, LOG_SPECS, SPECS_BY_ID
from capinspect.checks.logs import LogPhoneReport, evaluate_logs
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.logs.audit import parse_audit_text, read_audit_log
from capinspect.logs.iis import parse_iis_text, read_iis_log
from capinspect.logs.timeline import build_evidence

FIXTURES = ROOT / "tests" / "logs" / "fixtures"
HEADER = (FIXTURES / "seed-audit.log").read_text().splitlines()[0]


def _run(iis: list[str], audit: list[str]) -> tuple[LogPhoneReport, ...]:
    evidence = build_evidence(
        [read_iis_log(str(FIXTURES / f)) for f in iis],
        [read_audit_log(str(FIXTURES / f)) for f in audit],
    )
    return evaluate_logs(evidence, DEFAULT_EXPECTATIONS)


def _texts(iis: str, audit: str) -> tuple[LogPhoneReport, ...]:
    evidence = build_evidence([parse_iis_text(iis, "u_ex.log")], [parse_audit_text(audit, "a.log")])
    return evaluate_logs(evidence, DEFAULT_EXPECTATIONS)


def _ids(report: LogPhoneReport) -> list[str]:
    return [f.check_id for f in report.findings]


def test_seed_story_interim_then_target_and_the_acl_line() -> None:
    (phone,) = _run(["seed-iis.log", "seed-acl-denied.txt"], ["seed-audit.log"])
    assert phone.phone.key == "00:21:63:0f:20:7b"
    ids = _ids(phone)
    assert ids.count("download.acl-denied") == 1 and "checkin.interim-step" in ids
    assert ids.count("download.ok") == 2
    interim = next(f for f in phone.findings if f.check_id == "checkin.interim-step")
    assert "reported no version" in interim.summary
    assert "offered the interim 1.0.522.103" in interim.summary
    assert "then reported 1.0.522.103 and was offered 3.5.6907.0" in interim.summary
    acl = next(f for f in phone.findings if f.check_id == "download.acl-denied")
    assert acl.lines == ("seed-acl-denied.txt:1",) and "500.19" in acl.summary
    oks = [f.summary for f in phone.findings if f.check_id == "download.ok"]
    assert "137810 ms" in oks[0] and "170679 ms" in oks[1]
    # the first row's empty response is not a failure: later rows were offered updates
    assert "checkin.no-update-offered" not in ids and str(phone.verdict) == "fail"


def test_brents_404_is_download_not_found() -> None:
    (phone,) = _run(["comment19-iis.txt"], [])
    (finding,) = [f for f in phone.findings if f.severity == "fail"]
    assert finding.check_id == "download.not-found"
    assert finding.lines == ("comment19-iis.txt:3",)


def test_comment_1_offer_without_url() -> None:
    reports = _run(["comment1.txt"], ["comment1.txt"])
    phone = next(r for r in reports if r.phone.key == "00:1b:9e:f3:bc:18")
    assert "logs.checkin-without-download" in _ids(phone)


def _row(
    time: str, version: str, offer: str, locale: str = "ENU", mac: str = "0021630F207B"
) -> str:
    return (
        f'{time},u@x,10.0.0.9,UCPhone,{time},"{mac}","S1","Polycom","CX700","A","{locale}",'
        f"cpe.nbt;{version};01-01-1601 00:00:00,{offer}"
    )


TARGET = "http://h/DeviceUpdateFiles_Int/UCPhone/Polycom/CX700/A/ENU/3.5.6907.0/CPE/CPE.nbt"
IIS_HEAD = "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-substatus sc-win32-status time-taken cs(User-Agent)\n"  # noqa: E501


def test_checkin_without_download_and_same_version_repeated() -> None:
    audit = "\n".join(
        [
            HEADER,
            _row("01-13-2011 10:00:00", "1.0.522.103", f"{TARGET};3.5.6907.0;ts"),
            _row("01-13-2011 11:00:00", "1.0.522.103", f"{TARGET};3.5.6907.0;ts"),
        ]
    )
    iis = IIS_HEAD + "\n".join(
        [
            "2011-01-13 10:00:00 10.0.0.9 POST /RequestHandler/ucdevice.upx 200 0 0 100 ua",
            "2011-01-13 11:00:00 10.0.0.9 POST /RequestHandler/ucdevice.upx 200 0 0 100 ua",
            "2011-01-13 12:00:00 10.0.0.9 POST /RequestHandler/ucdevice.upx 200 0 0 100 ua",
        ]
    )
    (phone,) = _texts(iis, audit)
    ids = _ids(phone)
    assert "logs.checkin-without-download" in ids and "logs.same-version-repeated" in ids


def test_update_downloaded_but_not_applied() -> None:
    audit = "\n".join(
        [
            HEADER,
            _row("01-13-2011 10:00:00", "1.0.522.103", f"{TARGET};3.5.6907.0;ts"),
            _row("01-13-2011 11:00:00", "1.0.522.103", f"{TARGET};3.5.6907.0;ts"),
        ]
    )
    iis = IIS_HEAD + "\n".join(
        [
            "2011-01-13 10:00:00 10.0.0.9 POST /RequestHandler/ucdevice.upx 200 0 0 100 ua",
            "2011-01-13 10:02:00 10.0.0.9 GET /DeviceUpdateFiles_Int/UCPhone/Polycom/CX700/A/ENU/"
            "3.5.6907.0/CPE/CPE.nbt 200 0 0 110000 ua",
            "2011-01-13 11:00:00 10.0.0.9 POST /RequestHandler/ucdevice.upx 200 0 0 100 ua",
        ]
    )
    (phone,) = _texts(iis, audit)
    ids = _ids(phone)
    assert "checkin.update-not-applied" in ids and "logs.same-version-repeated" not in ids


def test_no_update_offered_and_locale_mismatch_like_comment_5() -> None:
    dutch = TARGET.replace("/ENU/", "/NLD/")
    audit = "\n".join(
        [
            HEADER,
            _row("01-13-2011 10:00:00", "1.0.522.103", "", mac="0021630F0001"),
            _row(
                "01-13-2011 10:05:00",
                "1.0.522.103",
                f"{dutch};3.5.6907.0;ts",
                "NLD",
                "0021630F0002",
            ),
        ]
    )
    reports = _texts("", audit)
    english = next(r for r in reports if r.phone.key == "00:21:63:0f:00:01")
    ids = _ids(english)
    assert "checkin.no-update-offered" in ids and "logs.locale-mismatch" in ids
    mismatch = next(f for f in english.findings if f.check_id == "logs.locale-mismatch")
    assert "NLD" in mismatch.summary
    dutch_phone = next(r for r in reports if r.phone.key == "00:21:63:0f:00:02")
    assert "logs.locale-mismatch" not in _ids(dutch_phone)


def test_legacy_path_ssl_required_and_checkin_errors_from_iis() -> None:
    iis = IIS_HEAD + "\n".join(
        [
            "2011-01-13 10:00:00 10.0.0.7 POST /UCDeviceUpdates/ucdevice.upx 404 0 2 5 ua",
            "2011-01-13 10:00:01 10.0.0.7 POST /UCDeviceUpdates/ucdevice.upx 404 0 2 5 ua",
            "2011-01-13 10:00:02 10.0.0.8 GET /DeviceUpdateFiles_Int/x/CPE.nbt 403 4 5 5 "
            "Microsoft+UCPhone+Device",
            "2011-01-13 10:00:03 10.0.0.8 POST /RequestHandler/ucdevice.upx 503 0 0 5 ua",
        ]
    )
    reports = _texts(iis, HEADER)
    by_key = {r.phone.key: _ids(r) for r in reports}
    assert by_key["ip:10.0.0.7"] == ["checkin.legacy-path-missing"]
    assert sorted(by_key["ip:10.0.0.8"]) == ["checkin.http-error", "download.ssl-required"]
    legacy = reports[0].findings[0]
    assert "2 times" in legacy.summary and len(legacy.lines) == 2


def test_log_specs_are_registered_and_documented() -> None:
    ids = {s.id for s in LOG_SPECS}
    assert ids == {
        "logs.checkin-without-download",
        "logs.same-version-repeated",
        "logs.locale-mismatch",
    }
    assert ids <= {s.id for s in ALL_SPECS} and ids <= set(SPECS_BY_ID)
    docs = (ROOT / "docs" / "checks.md").read_text()
    assert all(f"`{i}`" in docs for i in ids)
