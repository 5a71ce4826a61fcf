"""``capinspect logs``: the server's IIS and Device Update audit logs, without a capture.

For when no capture can be taken, or the check-in is encrypted: the logs alone give each
phone's ladder (check-ins, offers, downloads with their times and durations) and the findings
they support. Exit status as ``analyze``: 0 no fail finding, 1 at least one, 2 when no line
could be read from any file, 4 when no line names a phone or every phone is inconclusive.
"""

from __future__ import annotations

import sys

import click

from capinspect.cli_common import (
    EXIT_STATUS_EPILOG,
    audit_log_option,
    exit_status,
    expect_option,
    expectations_from,
    format_option,
    guarded,
    iis_log_option,
    output_option,
    write_output,
)


@click.command(name="logs", epilog=EXIT_STATUS_EPILOG)
@iis_log_option
@audit_log_option
@expect_option
@format_option
@output_option
@guarded
def logs(
    iis_logs: tuple[str, ...],
    audit_logs: tuple[str, ...],
    expect_path: str | None,
    fmt: str,
    output: str | None,
) -> None:
    """Check the server's IIS and audit logs without a capture (see docs/logs.md)."""
    from capinspect.errors import CapinspectError
    from capinspect.logs.report import load_logs, render_logs_text, standalone_document

    if not iis_logs and not audit_logs:
        raise CapinspectError("give at least one --iis-log or --audit-log")
    result = load_logs(iis_logs, audit_logs, expectations_from(expect_path))
    if fmt == "json":
        from capinspect.report.json import dumps

        text = dumps(standalone_document(result))
    else:
        text = render_logs_text(result).lstrip("\n")
    write_output(text, output, [*iis_logs, *audit_logs])
    sys.exit(exit_status(result.has_fail, [p.verdict for p in result.phones]))
