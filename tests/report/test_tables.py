"""The format-neutral content of a ticket: raw strings, escaped later by each format."""

from __future__ import annotations

from locations import PCAPS
from test_html import report_of

from capinspect.checks.base import Severity
from capinspect.report.tables import (
    LANES,
    capture_tables,
    finding_rows,
    ladder,
    root_cause_line,
    summary_table,
)


def test_the_summary_names_each_phone_its_verdict_and_root_cause() -> None:
    report = report_of(PCAPS / "acl-denied.pcap")
    table = summary_table(report)
    (row,) = table.rows
    assert table.headers[5] == "verdict" and row[5] == "FAIL"
    assert row[6].startswith("download.acl-denied")
    line = root_cause_line(report.devices[0])
    assert line is not None and line.startswith("Root cause: download.acl-denied — ")


def test_the_ladder_goes_between_the_lanes_and_marks_the_failing_frame() -> None:
    report = report_of(PCAPS / "acl-denied.pcap")
    steps = ladder(report.devices[0])
    assert steps and all(0 <= s.source < len(LANES) and 0 <= s.target < len(LANES) for s in steps)
    failing = {f for f in report.devices[0].findings if f.severity == Severity.FAIL}
    cited = {frame for f in failing for frame in f.frames}
    assert {s.frame for s in steps if s.mark == "fail"} <= cited
    assert any(s.mark == "fail" for s in steps)


def test_capture_tables_hold_raw_strings_and_finding_rows_say_what_was_seen() -> None:
    report = report_of(PCAPS / "acl-denied.pcap")
    files, facts = capture_tables(report)
    assert report.analysis.inputs[0].sha256 in {cell for row in files.rows for cell in row}
    assert dict(facts.rows)["anomalies"] == "0"
    root = report.devices[0].verdict.root_cause
    assert root is not None
    labels = [label for label, _ in finding_rows(root)]
    assert labels and len(set(labels)) == len(labels)
