"""The Markdown ticket report: the same content as HTML, pasteable, inert against hostile input.

Also keeps docs/examples/ (the multi-phone lab capture in all three formats) up to date:
``CAPINSPECT_UPDATE_EXAMPLES=1 python -m pytest tests/report/test_markdown.py`` rewrites them.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from bundled import CAPTURES, bundled_report, offered_urls
from locations import PCAPS, ROOT
from markdown_it import MarkdownIt
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
    assert md("`code`") == "\\`code\\`"
    assert md("\x1b[31m") == "\\\\x1b\\[31m"  # renders as the text \\x1b[31m
    # What GFM would autolink lands in a code span, where nothing is a link.
    assert md("http://evil") == "`http://evil`" and md("a@b.c") == "`a@b.c`"
    assert md("www.evil.com") == "`www.evil.com`"
    # Whatever could autolink is a code span, even when it is no value.
    assert md("x]://y") == "x\\]`://y`" and md("*www.evil.com") == "`*www.evil.com`"


def test_md_takes_linear_time_on_hostile_values() -> None:
    """A check-in body value can be long: classifying runs must not backtrack quadratically
    (a regex scan over the whole value took seconds on 50 KB of 'aaaa.b')."""
    hostile = ["a" * 60000, "aaaa.b" * 10000, "a/" * 30000, "1." * 30000, "http:/" * 10000]
    started = time.perf_counter()
    for value in hostile:
        assert len(md(value)) >= len(value)
    assert time.perf_counter() - started < 2.0


def test_values_a_reader_copies_are_code_spans_verbatim() -> None:
    url = "http://ocs.contoso.com/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt"
    assert md(f"GET {url} → HTTP 500.19") == f"GET `{url}` → HTTP 500.19"
    assert md("user alice@contoso.com.") == "user `alice@contoso.com`."
    assert md("00:21:63:0f:44:10 at 10.77.0.1:443") == "`00:21:63:0f:44:10` at `10.77.0.1:443`"
    assert md("ucupdates-r2.contoso.com: NXDOMAIN") == "`ucupdates-r2.contoso.com`: NXDOMAIN"
    assert md("POST /RequestHandler/ucdevice.upx") == "POST `/RequestHandler/ucdevice.upx`"
    assert md("under DeviceUpdateFiles_Int and _Ext") == (
        "under `DeviceUpdateFiles_Int` and `_Ext`"
    )
    assert md("pcaps/multi-phone.pcapng") == "`pcaps/multi-phone.pcapng`"
    assert md("fe80::1") == "`fe80::1`"
    # Versions, clock times and statuses are not addresses or names: plain text.
    for plain in ("1.0.522.98", "06:39:44.432", "0x2f7d/200", "HTTP/1.1", "e.g. this"):
        assert md(plain) == plain


def test_code_spans_follow_the_commonmark_backtick_rule() -> None:
    # A value holding backticks gets a fence longer than its longest run of them.
    assert md("http://a`b``c") == "```http://a`b``c```"
    assert md("http://x/`") == "`` http://x/` ``"  # padded: it ends with a backtick
    rendered = MarkdownIt("commonmark").render(md("see http://a`b``c now"))
    assert "<code>http://a`b``c</code>" in rendered


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
    assert "con`\\|`toso.com" in text  # a | splits the name into two code spans
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
    assert "download.acl-denied" in text and "**FAIL** `download" in text
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


def _code_spans(text: str) -> list[str]:
    """The contents of every code span, by the CommonMark parser (tables enabled, as GitHub)."""
    parser = MarkdownIt("commonmark").enable("table")
    found = []
    for token in parser.parse(text):
        for child in token.children or ():
            if child.type == "code_inline":
                found.append(child.content)
    return found


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name.split(".")[0])
def test_offered_urls_are_verbatim_code_spans_without_backslashes(capture: Path) -> None:
    """A reader copies the offered URL into a browser (the Device Update troubleshooting
    article's step 5): in the Markdown it is one code span, as the service wrote it, and no
    escape backslash stands in a URL, a file name or an address of any bundled capture."""
    report = bundled_report(capture)
    text = render_markdown(report)
    spans = set(_code_spans(text))
    for url in offered_urls(report):
        assert url in spans, url
    for escaped in ("\\:", "\\_", "\\@"):
        assert escaped not in text, escaped
    for device in report.devices:
        assert device.session.mac is None or device.session.mac in spans
        assert all(ip in spans for ip in device.session.ips)


def test_the_bundled_captures_offer_urls() -> None:
    """The test above has URLs to look for (both HTTP and decrypted HTTPS captures)."""
    with_urls = [c.name for c in CAPTURES if offered_urls(bundled_report(c))]
    assert len(with_urls) >= 6 and any(name.startswith("https-") for name in with_urls)


def test_hostile_markdown_parses_to_no_link_image_or_html(tmp_path: Path) -> None:
    """What a Markdown renderer makes of the hostile report: text and code, nothing else."""
    text = render_markdown(report_of(hostile_capture(tmp_path / "hostile.pcap")))
    parser = MarkdownIt("commonmark").enable("table")
    tokens = parser.parse(text)
    kinds = {child.type for token in tokens for child in token.children or ()}
    assert not kinds & {"link_open", "image", "html_inline"}, kinds
    assert not {token.type for token in tokens} & {"html_block"}
    rendered = parser.render(text)
    assert "<a " not in rendered and "<img" not in rendered and "<script" not in rendered
    # Every table keeps the column count of its header row: no value split a cell. (The
    # parser pads short rows and drops extra cells, so count the source's unescaped pipes.)
    assert sum(token.type == "table_open" for token in tokens) >= 5
    for token in tokens:
        if token.type == "table_open" and token.map is not None:
            rows = text.splitlines()[token.map[0] : token.map[1]]
            widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
            assert len(widths) == 1, rows
