"""The server's logs in the report: read and checked (``model``), rendered in every format.

``load_logs`` reads the IIS and audit logs given on the command line and runs the log checks
(checks/logs.py); ``render_logs`` is ``capinspect logs`` alone, ``with_logs`` adds the logs to a
capture's report, ``redact_logs`` is the same redaction walk as the capture report's. One module
a format: ``text``, ``json``, ``markdown``, ``html`` (the last two share ``tables``).
"""

from __future__ import annotations

from capinspect.report.logs.json import device_logs, logs_document, merged_timeline_json
from capinspect.report.logs.model import LogsResult, load_logs
from capinspect.report.logs.render import redact_logs, render_logs, with_logs

__all__ = [
    "LogsResult",
    "device_logs",
    "load_logs",
    "logs_document",
    "merged_timeline_json",
    "redact_logs",
    "render_logs",
    "with_logs",
]
