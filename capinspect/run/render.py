"""The renderer table: a format's name → how it renders a report, server logs alone, a timeline.

Every command takes its ``--format`` choices from here (:func:`formats`): ``analyze`` and
``live`` every format with a report face, ``logs`` those with a logs face, ``timeline`` those
with a timeline face. A new format is one entry; each command offers it where it has the face.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TextIO

from capinspect.run.output import Written

if TYPE_CHECKING:
    from capinspect.analysis import Analysis
    from capinspect.devices import DeviceSession
    from capinspect.report.logs import LogsResult
    from capinspect.report.model import Report


@dataclass(frozen=True, slots=True)
class Page:
    """What a renderer needs besides what it renders."""

    color: bool = False
    width: int = 100
    table_style: str = "simple"
    """The summary's tabulate style (``--table-style``)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """JSON: top-level members after the devices (``live``: the interface and its counters)."""
    trailer: str = ""
    """Text: lines after the report (``live``: the kernel's counters)."""


ReportRenderer = Callable[["Report", "LogsResult | None", Page], Written]
LogsRenderer = Callable[["LogsResult"], str]
TimelineRenderer = Callable[["Analysis", "tuple[DeviceSession, ...]", Page], str]
Face = Literal["report", "logs", "timeline"]


@dataclass(frozen=True, slots=True)
class Renderer:
    """One format's faces; None where the format has none (a summary has no timeline)."""

    name: str
    report: ReportRenderer
    logs: LogsRenderer | None = None
    timeline: TimelineRenderer | None = None


def _with_logs(text: str, fmt: str, logs: LogsResult | None) -> str:
    if logs is None:
        return text
    from capinspect.report.logs import with_logs

    return with_logs(text, fmt, logs)


def _logs(fmt: str) -> LogsRenderer:
    def render(result: LogsResult) -> str:
        from capinspect.report.logs import render_logs

        return render_logs(result, fmt)

    return render


def text_report(report: Report, logs: LogsResult | None, page: Page) -> Written:
    from capinspect.report.text import render_analyze

    text = render_analyze(report, color=page.color, width=page.width)
    return _with_logs(text, "text", logs) + page.trailer


def json_report(report: Report, logs: LogsResult | None, page: Page) -> Written:
    from capinspect.report.json import write_report

    extra: dict[str, Any] = {}
    device_extra = None
    if logs is not None:
        from capinspect.report.logs import device_logs, logs_document

        extra["logs"] = logs_document(logs)
        device_extra = device_logs(logs)
    extra.update(page.extra)

    def write(out: TextIO) -> None:
        write_report(report, out, extra or None, device_extra)

    return write


def markdown_report(report: Report, logs: LogsResult | None, page: Page) -> Written:
    from capinspect.report.markdown import render_markdown

    return _with_logs(render_markdown(report), "markdown", logs)


def html_report(report: Report, logs: LogsResult | None, page: Page) -> Written:
    from capinspect.report.html import render_html

    return _with_logs(render_html(report), "html", logs)


def summary_report(report: Report, logs: LogsResult | None, page: Page) -> Written:
    """One line a phone; the server logs judge phones (the exit status) but add no section."""
    from capinspect.report.summary import render_summary

    return render_summary(report, page.table_style)


def text_timeline(analysis: Analysis, devices: tuple[DeviceSession, ...], page: Page) -> str:
    from capinspect.report.text import render_timeline

    return render_timeline(analysis, devices, color=page.color)


def json_timeline(analysis: Analysis, devices: tuple[DeviceSession, ...], page: Page) -> str:
    from capinspect.report.json import dumps, timeline_document

    return dumps(timeline_document(analysis, devices))


RENDERERS: dict[str, Renderer] = {
    r.name: r
    for r in (
        Renderer("text", text_report, _logs("text"), text_timeline),
        Renderer("json", json_report, _logs("json"), json_timeline),
        Renderer("markdown", markdown_report, _logs("markdown")),
        Renderer("html", html_report, _logs("html")),
        Renderer("summary", summary_report),
    )
}
"""Every format, in the order ``--help`` lists them."""


def formats(face: Face) -> list[str]:
    """The formats that can render ``face`` (a command's ``--format`` choices)."""
    return [name for name, r in RENDERERS.items() if getattr(r, face) is not None]
