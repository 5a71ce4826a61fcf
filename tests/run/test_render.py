"""The renderer table: which formats each face has, and what each renderer adds."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from locations import PCAPS

from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.json import dumps, report_document
from capinspect.report.logs import load_logs
from capinspect.report.model import Report
from capinspect.run.output import Written
from capinspect.run.render import RENDERERS, Page, formats

INTERIM = PCAPS / "interim-upgrade.pcap"


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(analyze_paths([str(INTERIM)]), DEFAULT_EXPECTATIONS)


def text_of(written: Written) -> str:
    if isinstance(written, str):
        return written
    out = io.StringIO()
    written(out)
    return out.getvalue()


def test_faces() -> None:
    assert formats("report") == ["text", "json", "markdown", "html", "summary"]
    assert formats("logs") == ["text", "json", "markdown", "html"]
    assert formats("timeline") == ["text", "json"]
    assert all(name == r.name for name, r in RENDERERS.items())


def test_json_extra_members_come_after_the_devices_as_one_document_would(report: Report) -> None:
    extra = {"live": {"interface": "eth0", "kernel_dropped": 0}}
    written = text_of(RENDERERS["json"].report(report, None, Page(extra=extra)))
    assert written == dumps({**report_document(report), **extra})


def test_text_trailer_follows_the_report(report: Report) -> None:
    plain = text_of(RENDERERS["text"].report(report, None, Page()))
    trailed = text_of(RENDERERS["text"].report(report, None, Page(trailer="kernel: 0\n")))
    assert trailed == plain + "kernel: 0\n"


def test_logs_join_every_format_but_the_one_line_summary(report: Report) -> None:
    logs = load_logs(
        [str(Path(str(INTERIM).replace(".pcap", ".iis.log")))],
        [str(Path(str(INTERIM).replace(".pcap", ".audit.log")))],
        DEFAULT_EXPECTATIONS,
        tuple(d.session for d in report.devices),
    )
    for name in ("text", "json", "markdown", "html"):
        without = text_of(RENDERERS[name].report(report, None, Page()))
        with_logs = text_of(RENDERERS[name].report(report, logs, Page()))
        assert with_logs != without and len(with_logs) > len(without), name
    summary = RENDERERS["summary"]
    assert text_of(summary.report(report, logs, Page())) == text_of(
        summary.report(report, None, Page())
    )
