"""``capinspect logs``: the server's IIS and Device Update audit logs, without a capture.

For when no capture can be taken, or the check-in is encrypted: the logs alone give each
phone's ladder (check-ins, offers, downloads with their times and durations) and the findings
they support. Exit status as ``analyze``: 0 no fail finding, 1 at least one, 2 when no line
could be read from any file, 4 when no line names a phone or every phone is inconclusive.
"""

from __future__ import annotations

import sys

import click

from capinspect.cli.common import (
    EXIT_STATUS_EPILOG,
    audit_log_option,
    expect_option,
    format_option,
    guarded,
    iis_log_option,
    keep_names_option,
    output_option,
    redact_option,
)
from capinspect.errors import CapinspectError
from capinspect.run import Output, Redaction, RunOptions, ServerLogs, Step
from capinspect.run.status import exit_status


@click.command(name="logs", epilog=EXIT_STATUS_EPILOG)
@iis_log_option
@audit_log_option
@expect_option
@format_option("logs", "Output format (markdown and html: ticket-ready, see docs/logs.md).")
@output_option
@redact_option
@keep_names_option
@guarded
def logs(
    iis_logs: tuple[str, ...],
    audit_logs: tuple[str, ...],
    expect_path: str | None,
    fmt: str,
    output: str | None,
    redact: bool,
    keep_names: tuple[str, ...],
) -> None:
    """Check the server's IIS and audit logs without a capture (see docs/logs.md)."""
    server_logs = ServerLogs(iis_logs, audit_logs)
    if not server_logs.given:
        raise CapinspectError("give at least one --iis-log or --audit-log")
    step = Step(
        RunOptions(
            expect_path=expect_path,
            logs=server_logs,
            redaction=Redaction(redact, keep_names),
            output=Output(fmt, output),
        )
    )
    result = step.logs_alone()
    step.write_logs(result, server_logs.paths)
    sys.exit(exit_status(result.has_fail, [p.verdict for p in result.phones]))
