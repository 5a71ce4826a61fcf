"""capinspect/pipeline.py: files → Analysis → judged phones, sequential or with --jobs."""

from __future__ import annotations

import json
from pathlib import Path

from capinspect.checks.base import Severity
from capinspect.checks.verdict import Verdict
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.logs.audit import read_audit_log
from capinspect.pipeline import analyze_paths, evaluate

PCAPS = Path(__file__).resolve().parents[1] / "pcaps"
NOT_FOUND = str(PCAPS / "file-not-found.pcap")
HEALTHY = str(PCAPS / "healthy-no-update.pcap")


def _facts(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((PCAPS / f"{name}.facts.json").read_text())
    return loaded


def test_two_lab_captures_judged_failing_phone_first() -> None:
    analysis = analyze_paths([HEALTHY, NOT_FOUND])
    assert [i.path for i in analysis.inputs] == [HEALTHY, NOT_FOUND]
    report = evaluate(analysis, DEFAULT_EXPECTATIONS)
    verdicts = [d.verdict.verdict for d in report.devices]
    assert verdicts == [Verdict.FAIL, Verdict.PASS]
    failing = report.devices[0]
    assert "update fails" in str(_facts("file-not-found")["expected_outcome"])
    assert failing.verdict.root_cause is not None
    assert failing.verdict.root_cause.check_id == "download.not-found"
    # Findings come most severe first.
    order = [f.severity for f in failing.findings]
    assert order[0] == Severity.FAIL
    assert report.devices[1].findings == ()


def test_jobs_on_files_close_in_time_reads_one_merged_stream() -> None:
    notes: list[str] = []
    parallel = analyze_paths([NOT_FOUND, HEALTHY], jobs=2, note=notes.append)
    sequential = analyze_paths([NOT_FOUND, HEALTHY])
    (said,) = notes
    assert said.startswith("--jobs: the files overlap in time or follow each other within")
    assert parallel.stats == sequential.stats
    assert parallel.http == sequential.http
    assert parallel.dhcp == sequential.dhcp


def test_jobs_on_one_file_says_nothing_and_changes_nothing() -> None:
    notes: list[str] = []
    one = analyze_paths([NOT_FOUND], jobs=4, note=notes.append)
    assert notes == []
    assert one.stats == analyze_paths([NOT_FOUND]).stats


def test_audit_rows_leave_a_plaintext_check_in_as_it_was() -> None:
    analysis = analyze_paths([str(PCAPS / "interim-upgrade.pcap")])
    rows = read_audit_log(str(PCAPS / "interim-upgrade.audit.log")).records
    assert rows
    plain = evaluate(analysis, DEFAULT_EXPECTATIONS)
    filled = evaluate(analysis, DEFAULT_EXPECTATIONS, audit=rows)
    assert [d.session.checkins for d in filled.devices] == [
        d.session.checkins for d in plain.devices
    ]
    assert [d.verdict.verdict for d in filled.devices] == [Verdict.PASS]
