"""Every format in one place: ``capinspect logs`` alone, the logs added to a capture's report,
and redaction (the same walk as the capture report's).
"""

from __future__ import annotations

import dataclasses

from capinspect.report.json import dumps
from capinspect.report.logs.html import append_to_html, render_logs_html
from capinspect.report.logs.json import logs_document, merged_timeline_json, standalone_document
from capinspect.report.logs.markdown import render_logs_markdown, render_logs_markdown_document
from capinspect.report.logs.model import LogsResult
from capinspect.report.logs.text import render_logs_text
from capinspect.report.redact import Pseudonyms, redact_also


def render_logs(result: LogsResult, fmt: str) -> str:
    """``capinspect logs`` in any of its formats."""
    if fmt == "json":
        return dumps(standalone_document(result))
    if fmt == "markdown":
        return render_logs_markdown_document(result)
    if fmt == "html":
        return render_logs_html(result)
    return render_logs_text(result).lstrip("\n")


def redact_logs(result: LogsResult, names: Pseudonyms) -> LogsResult:
    """``result`` with every identifier replaced, with the pseudonyms of ``names``.

    The same walk as the capture report's (report/redact.py), so a phone has the same
    pseudonym in the capture's sections and in the logs'. What only the logs say is registered
    first: IIS ``cs-username`` (often ``DOMAIN\\user``, which free-text scanning does not
    recognise as a user). The merged ladders are keyed by capture device: the keys are
    rewritten too, so the redacted report still finds each phone's ladder."""

    for log in result.evidence.iis_logs:
        for rec in log.records:
            if rec.username:
                names.user(rec.username)
    redacted: LogsResult = redact_also(result, names)
    corr = redacted.correlation
    if corr is not None:
        timelines = {names.text(k): v for k, v in corr.timelines.items()}
        redacted = dataclasses.replace(
            redacted, correlation=dataclasses.replace(corr, timelines=timelines)
        )
    return redacted


def with_logs(text: str, fmt: str, result: LogsResult) -> str:
    """The capture's rendered report with the server-log section added in its format."""
    if fmt == "json":
        import json

        document = json.loads(text)
        for device in document.get("devices", []):
            device["log_timeline"] = merged_timeline_json(result, device.get("key", ""))
        document["logs"] = logs_document(result)
        return dumps(document)
    if fmt == "markdown":
        return text.rstrip("\n") + "\n" + render_logs_markdown(result)
    if fmt == "html":
        return append_to_html(text, result)
    return text.rstrip("\n") + "\n" + render_logs_text(result)
