"""``capinspect logs`` and ``analyze --iis-log/--audit-log`` as a user meets them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from locations import PCAPS, ROOT

from capinspect.cli import main

FIXTURES = ROOT / "tests" / "logs" / "fixtures"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_logs_alone_tell_the_seeds_story() -> None:
    code, out, err = run(
        "logs",
        "--iis-log",
        str(FIXTURES / "seed-iis.log"),
        "--iis-log",
        str(FIXTURES / "seed-acl-denied.txt"),
        "--audit-log",
        str(FIXTURES / "seed-audit.log"),
    )
    assert code == 1, err
    assert "00:21:63:0f:20:7b LG-Nortel IP8540 [FAIL]" in out
    assert "download.acl-denied" in out and "checkin.interim-step" in out
    assert "137810 ms" in out and "170679 ms" in out


def test_logs_json_document() -> None:
    code, out, _ = run(
        "logs",
        "--format",
        "json",
        "--iis-log",
        str(FIXTURES / "comment19-iis.txt"),
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["schema"] == "capinspect/logs@1"
    (phone,) = doc["phones"]
    assert phone["findings"][0]["id"] == "download.not-found"
    assert phone["findings"][0]["lines"] == ["comment19-iis.txt:3"]
    assert doc["problems_total"] == 2


def test_nothing_readable_is_one_line_and_exit_2(tmp_path: Path) -> None:
    prose = tmp_path / "notes.txt"
    prose.write_text("the phone does not update\n")
    for args in (
        ("logs",),
        ("logs", "--iis-log", str(tmp_path / "missing.log")),
        ("logs", "--iis-log", str(prose), "--audit-log", str(prose)),
    ):
        code, out, err = run(*args)
        assert code == 2 and out == ""
        assert err.startswith("capinspect: error: ") and err.count("\n") == 1


def test_one_bad_file_among_good_ones_is_reported_not_fatal(tmp_path: Path) -> None:
    code, out, _ = run(
        "logs",
        "--iis-log",
        str(tmp_path / "missing.log"),
        "--iis-log",
        str(FIXTURES / "comment19-iis.txt"),
    )
    assert code == 1 and "unreadable: cannot read" in out


def test_analyze_with_the_lab_logs_shows_clock_and_merged_timeline() -> None:
    code, out, err = run(
        "analyze",
        str(PCAPS / "interim-upgrade.pcap"),
        "--iis-log",
        str(PCAPS / "interim-upgrade.iis.log"),
        "--audit-log",
        str(PCAPS / "interim-upgrade.audit.log"),
    )
    assert code == 0, err
    assert "Server logs" in out and "capture − iis-log = " in out
    assert "merged timeline (capture clock)" in out and "interim-upgrade.iis.log:6" in out


def test_analyze_json_carries_logs_and_log_timeline() -> None:
    code, out, _ = run(
        "analyze",
        "--format",
        "json",
        str(PCAPS / "acl-denied.pcap"),
        "--iis-log",
        str(PCAPS / "acl-denied.iis.log"),
        "--audit-log",
        str(PCAPS / "acl-denied.audit.log"),
    )
    assert code == 1
    doc = json.loads(out)
    logs = doc["logs"]
    assert abs(logs["clock_offset"]["iis_log"]["seconds"]) < 1
    (phone,) = logs["phones"]
    assert phone["capture_device"] == doc["devices"][0]["key"]
    sources = {s["source"] for s in phone["log_timeline"]}
    assert sources == {"capture", "iis-log", "audit-log"}
    assert any(s["line"] == "acl-denied.iis.log:6" for s in phone["log_timeline"])


def test_analyze_markdown_and_redact() -> None:
    args = [
        "analyze",
        str(PCAPS / "acl-denied.pcap"),
        "--iis-log",
        str(PCAPS / "acl-denied.iis.log"),
    ]
    code, out, _ = run(*args, "--format", "markdown")
    assert code == 1 and "## Server logs" in out
    code, out, err = run(*args, "--redact")
    assert code == 2 and "--redact" in err
