"""The plain-text server-log report (report/logs/text.py)."""

from __future__ import annotations

from pathlib import Path

from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.report.logs.model import load_logs
from capinspect.report.logs.text import render_logs_text

FIXTURES = Path(__file__).resolve().parents[2] / "logs" / "fixtures"


def test_a_404_download_is_a_fail_with_its_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "u_ex.log"
    path.write_text(
        "2026-11-29 06:39:44 10.77.0.1 GET /DeviceUpdateFiles_Int/x/CPE.nbt - 80 - "
        "10.77.0.102 Microsoft+UCPhone+Device 404 0 2 2\n"
    )
    out = render_logs_text(load_logs([str(path)], [], DEFAULT_EXPECTATIONS))
    assert out.lstrip().startswith("Server logs\n")
    assert "1 Device Update line(s)" in out
    assert "ip:10.77.0.102 [FAIL]" in out
    assert "FAIL download.not-found" in out
    assert "(u_ex.log:1)" in out
    assert "fix:" in out
    assert "timeline (server clock):" in out


def test_the_seed_iis_log_renders_every_phone_line() -> None:
    result = load_logs([str(FIXTURES / "seed-iis.log")], [], DEFAULT_EXPECTATIONS)
    out = render_logs_text(result)
    assert "seed-iis.log" in out
    assert "/RequestHandler/ucdevice.upx" in out
    assert "CPE.nbt" in out
