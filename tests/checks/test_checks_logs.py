"""capinspect/checks/logs.py on the lab's server logs: the log checks' specs, and their functions
over a CheckContext holding logs only, or a capture and its logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capinspect.checks.base import CheckContext, Severity, Verdict
from capinspect.checks.logs import LOG_CHECKS, LOG_SPECS, evaluate_logs, path_locale
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.logs.audit import read_audit_log
from capinspect.logs.iis import read_iis_log
from capinspect.logs.timeline import LogEvidence, build_evidence
from capinspect.pipeline import analyze_paths

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"


def _evidence(name: str) -> LogEvidence:
    return build_evidence(
        [read_iis_log(str(PCAPS / f"{name}.iis.log"))],
        [read_audit_log(str(PCAPS / f"{name}.audit.log"))],
    )


def _mac(name: str) -> str:
    mac: str = json.loads((PCAPS / f"{name}.facts.json").read_text())["phones"][0]["mac"]
    return mac


def test_log_specs_and_checks_are_unique_and_cover_the_log_only_ids() -> None:
    ids = [check.spec.id for check in LOG_CHECKS]
    assert len(ids) == len(set(ids))
    assert {spec.id for spec in LOG_SPECS} <= set(ids)
    assert all(spec.id.startswith("logs.") for spec in LOG_SPECS)


def test_the_lab_acl_denied_logs_fail_on_the_firmware_get() -> None:
    evidence = _evidence("acl-denied")
    (report,) = evaluate_logs(evidence, DEFAULT_EXPECTATIONS)
    assert report.phone.key == _mac("acl-denied")
    assert report.verdict == Verdict.FAIL
    (finding,) = report.findings
    assert finding.check_id == "download.acl-denied"
    assert finding.severity == Severity.FAIL
    assert finding.observed.startswith("500 19 5")
    assert finding.lines and all(line.startswith("acl-denied.iis.log:") for line in finding.lines)
    assert finding.frames == ()


def test_the_lab_interim_upgrade_passes_with_its_interim_step() -> None:
    (report,) = evaluate_logs(_evidence("interim-upgrade"), DEFAULT_EXPECTATIONS)
    assert report.phone.key == _mac("interim-upgrade")
    assert report.verdict == Verdict.PASS
    ids = [f.check_id for f in report.findings]
    assert ids.count("download.ok") == 2
    assert "checkin.interim-step" in ids
    assert all(f.severity == Severity.INFO for f in report.findings)


def test_a_check_needs_logs_and_ignores_the_capture_beside_them() -> None:
    evidence = _evidence("acl-denied")
    (phone,) = evidence.phones
    logs_only = CheckContext(DEFAULT_EXPECTATIONS, logs=evidence)
    analysis = analyze_paths([str(PCAPS / "acl-denied.pcap")])
    both = CheckContext(
        DEFAULT_EXPECTATIONS, analysis=analysis, capture_end=analysis.stats.last_ts, logs=evidence
    )
    for check in LOG_CHECKS:
        assert list(check.run(phone, both)) == list(check.run(phone, logs_only)), check.spec.id
    # Checks that look past the phone's own lines (the IIS log's end, later GETs) need the
    # grouped logs and say so rather than judge without them.
    capture_only = CheckContext(DEFAULT_EXPECTATIONS, analysis=analysis)
    for check_id in ("checkin.update-not-applied", "logs.checkin-without-download"):
        (check,) = [c for c in LOG_CHECKS if c.spec.id == check_id]
        with pytest.raises(ValueError, match="CheckContext.logs"):
            list(check.run(phone, capture_only))


def test_path_locale_reads_the_locale_folder_of_a_firmware_path() -> None:
    path = "/DeviceUpdateFiles_Int/UCPhone/Polycom/CX700/A/DEU/3.5.6907.207/CPE/CPE.nbt"
    assert path_locale(path) == "DEU"
    assert path_locale(None) is None
