"""The server-log report's value (report/logs/model.py): loading, unreadable files, helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from capinspect.checks.base import Severity
from capinspect.errors import CapinspectError
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.logs.correlate import ClockOffset
from capinspect.report.logs.model import files_line, load_logs, offset_text

FIXTURES = Path(__file__).resolve().parents[2] / "logs" / "fixtures"
PCAPS = Path(__file__).resolve().parents[3] / "pcaps"


def test_the_seed_logs_load_into_one_passing_phone() -> None:
    result = load_logs(
        [str(FIXTURES / "seed-iis.log")], [str(FIXTURES / "seed-audit.log")], DEFAULT_EXPECTATIONS
    )
    assert result.unreadable == ()
    assert result.correlation is None
    (phone,) = result.phones
    assert "00:21:63:0f:20:7b" in phone.phone.label
    assert not result.has_fail
    assert result.findings == tuple(f for p in result.phones for f in p.findings)
    line = files_line(result)
    assert "7 Device Update line(s), 1 header block(s)" in line
    assert "columns absent: c-ip ×7, s-ip ×7" in line
    assert "3 row(s), comma-delimited" in line


def test_a_lab_404_is_a_fail_and_a_missing_file_is_listed_unreadable(tmp_path: Path) -> None:
    missing = tmp_path / "absent.log"
    result = load_logs(
        [str(PCAPS / "acl-denied.iis.log")],
        [str(missing)],
        DEFAULT_EXPECTATIONS,
    )
    assert result.has_fail
    assert any(f.severity == Severity.FAIL for f in result.findings)
    (bad,) = result.unreadable
    assert bad.source == str(missing)
    assert bad.code == "audit-log.unreadable"


def test_nothing_usable_is_an_error_not_an_empty_report(tmp_path: Path) -> None:
    other = tmp_path / "u_ex.log"
    other.write_text(
        "2026-11-29 06:39:44 10.77.0.1 GET /index.htm - 80 - 10.0.0.9 curl 200 0 0 1\n"
    )
    with pytest.raises(CapinspectError, match="no IIS log line or audit-log row"):
        load_logs([str(other)], [], DEFAULT_EXPECTATIONS)
    with pytest.raises(CapinspectError):
        load_logs([str(tmp_path / "absent.log")], [], DEFAULT_EXPECTATIONS)


def test_offset_text_signs_and_unknown() -> None:
    assert offset_text(ClockOffset("iis-log", None, 0, "no pair")) == "iis-log: unknown (no pair)"
    ahead = offset_text(ClockOffset("iis-log", 3600.0, 2, "check-ins"))
    assert ahead.startswith("capture − iis-log = +")
    assert ahead.endswith("(check-ins, 2 matched)")
    behind = offset_text(ClockOffset("audit-log", -5.0, 0, "downloads"))
    assert "= −" in behind
    assert behind.endswith("(downloads)")
