"""The Markdown ticket report: the same content as HTML, pasteable, inert against hostile input.

Also keeps docs/examples/ (the multi-phone lab capture in all three formats) up to date:
``CAPINSPECT_UPDATE_EXAMPLES=1 python -m pytest tests/report/test_markdown.py`` rewrites them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from locations import PCAPS, ROOT
from test_html import (
    HOSTILE_AGENT,
    HOSTILE_DNS,
    HOSTILE_MODEL,
    hostile_capture,
    report_of,
)

from capinspect.report.html import render_html
from capinspect.report.json import dumps, report_document
from capinspect.report.markdown import md, render_markdown

EXAMPLES = ROOT / "docs" / "examples"


def test_md_escapes_everything_that_could_become_markup() -> None:
    assert "](" not in md("[x](http://evil)")
    assert "![" not in md("![i](http://evil/i.png)")
    assert "<" not in md("<script>") and "&lt;script&gt;" == md("<script>")
    assert md("a|b") == "a\\|b"
    assert "\n" not in md("two\nlines\r\n")
    assert md("http://evil") == "http\\://evil" and "\\@" in md("a@b.c")
    assert md("www.evil.com").startswith("www\\.")
    assert md("`code`") == "\\`code\\`"
    assert md("\x1b[31m") == "\\\\x1b\\[31m"  # renders as the text \\x1b[31m


def test_hostile_capture_values_land_as_text(tmp_path: Path) -> None:
    report = report_of(hostile_capture(tmp_path / "hostile.pcap"))
    assert report.devices
    text = render_markdown(report)
    assert "](" not in text
    assert "<" not in text  # every < from the capture became &lt;
    assert "![" not in text
    # Every table row keeps its column count: no | from the capture splits a cell.
    for block in re.split(r"\n\n", text):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) <= 1, block
    # The values are there, escaped.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "con\\|toso.com" in text
    assert "\\`x\\`" in text
    assert HOSTILE_MODEL not in text and HOSTILE_AGENT not in text and HOSTILE_DNS not in text


def test_markdown_carries_the_html_content() -> None:
    report = report_of(PCAPS / "multi-phone.pcapng")
    text = render_markdown(report)
    for heading in (
        "Boot ladder",
        "Findings",
        "Option 43",
        "Option 120",
        "request fields",
        "response fields",
        "Downloads",
        "Input files",
        "SHA-256",
    ):
        assert heading in text
    assert "download.acl-denied" in text and "**FAIL** download" in text
    assert report.analysis.inputs[0].sha256 in text
    assert "<" not in text and "](" not in text


def _render_examples() -> dict[str, str]:
    report = report_of("pcaps/multi-phone.pcapng")
    return {
        "report.md": render_markdown(report),
        "report.html": render_html(report),
        "report.json": dumps(report_document(report)),
    }


def test_examples_are_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    rendered = _render_examples()
    if os.environ.get("CAPINSPECT_UPDATE_EXAMPLES"):
        EXAMPLES.mkdir(parents=True, exist_ok=True)
        for name, text in rendered.items():
            (EXAMPLES / name).write_text(text, encoding="utf-8")
    for name, text in rendered.items():
        stored = (EXAMPLES / name).read_text(encoding="utf-8")
        assert stored == text, (
            f"docs/examples/{name} is stale: run CAPINSPECT_UPDATE_EXAMPLES=1 python -m pytest "
            "tests/report/test_markdown.py -k examples"
        )
