"""The HTML server-log report (report/logs/html.py): escaping, appending to a capture page."""

from __future__ import annotations

from pathlib import Path

from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.report.logs.html import append_to_html, render_logs_html
from capinspect.report.logs.model import LogsResult, load_logs


def _result(tmp_path: Path) -> LogsResult:
    path = tmp_path / "u_ex.log"
    path.write_text(
        "2026-11-29 06:39:44 10.77.0.1 GET /DeviceUpdateFiles_Int/<script>x\"'/CPE.nbt - 80 - "
        "10.77.0.102 Microsoft+UCPhone+Device 404 0 2 2\n"
    )
    return load_logs([str(path)], [], DEFAULT_EXPECTATIONS)


def test_untrusted_uri_is_escaped_in_html(tmp_path: Path) -> None:
    page = render_logs_html(_result(tmp_path))
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "download.not-found" in page
    assert "10.77.0.102" in page


def test_append_puts_the_logs_inside_an_existing_page(tmp_path: Path) -> None:
    page = "<!DOCTYPE html><html><body><h1>capture</h1></body></html>"
    out = append_to_html(page, _result(tmp_path))
    assert out.startswith("<!DOCTYPE html><html><body><h1>capture</h1>")
    assert out.rstrip().endswith("</html>")
    assert out.index("download.not-found") < out.index("</body>")
    assert "<script>" not in out
