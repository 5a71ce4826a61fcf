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
    guarded,
    iis_log_option,
    output_option,
    write_output,
)


@click.command(name="logs", epilog=EXIT_STATUS_EPILOG)
@iis_log_option
@audit_log_option
@expect_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "html"]),
    default="text",
    show_default=True,
    help="Output format (markdown and html: ticket-ready, see docs/logs.md).",
)
@output_option
@click.option(
    "--redact",
    is_flag=True,
    help="Replace MACs (OUI kept), IPs, serials, users and host/domain names by pseudonyms.",
)
@click.option(
    "--keep-names",
    metavar="NAME",
    multiple=True,
    help="With --redact: a host or domain name (and the names under it) to keep; repeatable.",
)
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
    from capinspect.errors import CapinspectError
    from capinspect.report.logs import load_logs, redact_logs, render_logs

    if not iis_logs and not audit_logs:
        raise CapinspectError("give at least one --iis-log or --audit-log")
    result = load_logs(iis_logs, audit_logs, expectations_from(expect_path))
    if redact:
        from capinspect.report.redact import Pseudonyms

        result = redact_logs(result, Pseudonyms(keep_names))
    write_output(render_logs(result, fmt), output, [*iis_logs, *audit_logs])
    sys.exit(exit_status(result.has_fail, [p.verdict for p in result.phones]))
