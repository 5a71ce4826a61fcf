"""The Markdown server-log report (report/logs/markdown.py): tables, escaping."""

from __future__ import annotations

from pathlib import Path

from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.report.logs.markdown import render_logs_markdown, render_logs_markdown_document
from capinspect.report.logs.model import load_logs


def test_untrusted_uri_is_escaped_in_markdown(tmp_path: Path) -> None:
    path = tmp_path / "u_ex.log"
    path.write_text(
        "2026-11-29 06:39:44 10.77.0.1 GET /DeviceUpdateFiles_Int/<script>x|y/CPE.nbt - 80 - "
        "10.77.0.102 Microsoft+UCPhone+Device 404 0 2 2\n"
    )
    result = load_logs([str(path)], [], DEFAULT_EXPECTATIONS)
    doc = render_logs_markdown_document(result)
    assert doc.startswith("# capinspect server logs: `u_ex.log`")
    assert "1 phone(s): 1 fail." in doc
    assert "## Log files" in doc
    assert "`download.not-found`" in doc
    assert "<script>" not in doc
    assert "&lt;script&gt;" in doc
    # A pipe from the log may not split a table row: every ladder row keeps its 5 cells.
    rows = [line for line in doc.splitlines() if line.startswith("| 2026-11-29")]
    assert rows
    for row in rows:
        assert len(row.replace("\\|", "").split("|")) == 7, row
    # The section for a capture report sits one level down, under its own heading.
    section = render_logs_markdown(result)
    assert section.lstrip().startswith("## Server logs\n")
    assert "### Log files" in section
    assert "<script>" not in section
