"""The events' options on ``analyze`` (``live`` shares the decorator): where things go, and
usage errors as one line with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from locations import PCAPS, ROOT

CAPTURE = str(PCAPS / "acl-denied.pcap")


def capinspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "capinspect", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_events_on_stdout_move_the_report_to_stderr() -> None:
    proc = capinspect("analyze", "--events", "-", "--format", "json", CAPTURE)
    assert proc.returncode == 1
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events and all(e["capinspect"]["schema"] == "events@1" for e in events)
    assert json.loads(proc.stderr)["devices"][0]["verdict"] == "fail"


def test_events_to_a_file_are_appended_and_the_report_stays_on_stdout(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    for _ in range(2):
        proc = capinspect("analyze", "--events", str(log), "--sensor", "s1", CAPTURE)
        assert proc.returncode == 1 and "download.acl-denied" in proc.stdout
    lines = log.read_text().splitlines()
    assert len(lines) == 16 and lines[:8] == lines[8:]
    assert json.loads(lines[0])["host"]["name"] == "s1"


def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = [
        (["--syslog", "http://x"], "--syslog"),
        (["--events", str(tmp_path / "no" / "such" / "dir.jsonl")], "cannot write"),
        (["--syslog-queue", "0", "--events", "-"], "--syslog-queue"),
    ]
    for args, said in cases:
        proc = capinspect("analyze", *args, CAPTURE)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout == ""
        assert said in proc.stderr, (args, proc.stderr)


def test_redacted_events_carry_the_reports_pseudonyms_and_no_identifier() -> None:
    proc = capinspect("analyze", "--events", "-", "--redact", "--format", "json", CAPTURE)
    assert proc.returncode == 1, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    report = json.loads(proc.stderr)
    phone = report["devices"][0]
    assert phone["mac"] != "00:21:63:0f:44:10" and phone["mac"].startswith("00:21:63:")
    assert {e["capinspect"]["device"] for e in events} == {phone["mac"]}
    assert {e["source"]["ip"] for e in events} == {phone["ips"][0]} != {"10.77.0.102"}
    assert {e["source"]["mac"] for e in events} == {phone["mac"].replace(":", "-").upper()}
    for identifier in ("00-21-63-0F-44-10", "10.77.0.102", "contoso"):
        assert identifier not in proc.stdout, identifier
    unredacted = capinspect("analyze", "--events", "-", "-o", "/dev/null", CAPTURE)
    assert len(unredacted.stdout.splitlines()) == len(events)


def test_the_options_are_on_live_too() -> None:
    proc = capinspect("live", "--help")
    for option in ("--events", "--sensor", "--syslog", "--syslog-queue"):
        assert option in proc.stdout
    assert "repeat for several" in proc.stdout
