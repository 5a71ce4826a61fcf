"""``capinspect analyze``: each phone's boot in one or more captures, a verdict per phone."""

from __future__ import annotations

import os
import sys
import time

import click

from capinspect.cli.common import (
    EXIT_STATUS_EPILOG,
    audit_log_option,
    captures_argument,
    color_option,
    event_options,
    event_sinks,
    expect_option,
    format_option,
    guarded,
    iis_log_option,
    judge_captures,
    keep_names_option,
    keylog_option,
    note,
    output_option,
    quiet_option,
    redact_option,
    tls_key_option,
    tls_key_password_option,
)
from capinspect.run import Keys, Output, Redaction, RunOptions, Selection, ServerLogs, Step
from capinspect.run.sinks import EvidenceSink


@click.command(epilog=EXIT_STATUS_EPILOG)
@captures_argument
@expect_option
@tls_key_option
@tls_key_password_option
@keylog_option
@format_option(
    "report",
    "Output format (markdown and html: ticket-ready; summary: one line per phone; "
    "see docs/reports.md).",
)
@click.option(
    "--table-style",
    metavar="NAME",
    help="With --format summary: a tabulate table format (plain, simple, github, grid, pipe, "
    "…).  [default: simple]",
)
@click.option(
    "--only",
    "only",
    metavar="VERDICT[,…]",
    multiple=True,
    help="Show only phones with these verdicts (fail, warn, inconclusive, pass); repeatable. "
    "The exit status still judges every phone.",
)
@click.option(
    "--phone",
    "phones",
    metavar="MAC|IP",
    multiple=True,
    help="Show only this phone (MAC in any spelling, or any of its IP addresses); repeatable. "
    "The exit status still judges every phone.",
)
@output_option
@color_option
@quiet_option
@redact_option
@keep_names_option
@click.option(
    "--evidence",
    metavar="FILE.pcapng",
    help="Also write the phones' frames, with their findings as comments, to FILE.pcapng.",
)
@iis_log_option
@audit_log_option
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Analyse capture files that are apart in time in up to N processes (0: one per CPU).",
)
@event_options
@guarded
def analyze(
    captures: tuple[str, ...],
    expect_path: str | None,
    tls_key_paths: tuple[str, ...],
    tls_key_password: str | None,
    keylog_path: str | None,
    fmt: str,
    table_style: str | None,
    only: tuple[str, ...],
    phones: tuple[str, ...],
    output: str | None,
    color: str,
    quiet: bool,
    redact: bool,
    keep_names: tuple[str, ...],
    evidence: str | None,
    iis_logs: tuple[str, ...],
    audit_logs: tuple[str, ...],
    jobs: int,
    events_path: str | None,
    sensor: str | None,
    syslog_url: str | None,
    syslog_queue: int,
) -> None:
    """Check each phone's boot in CAPTURE... and give a verdict per phone.

    Phones are listed failing first (then warn, inconclusive, pass).

    Exit status: 0 no fail finding, 1 at least one, 2 bad usage or unreadable input, 4 nothing
    could be judged (no phone, or every phone inconclusive). It is computed over every phone of
    the capture, also when --only or --phone show fewer.

    With --events or --syslog the frames go through the live monitor, and the events are what
    `capinspect live` gives for the same frames (docs/events.md).
    """
    step = Step(
        RunOptions(
            keys=Keys(tls_key_paths, tls_key_password, keylog_path),
            expect_path=expect_path,
            logs=ServerLogs(iis_logs, audit_logs),
            selection=Selection(only, phones),
            redaction=Redaction(redact, keep_names),
            output=Output(fmt, output, color, table_style),
            quiet=quiet,
            sinks=((EvidenceSink(evidence, captures),) if evidence else ())
            + event_sinks(events_path, sensor, syslog_url, syslog_queue),
        )
    )
    started = time.monotonic()
    report = judge_captures(step, captures, quiet, jobs or os.cpu_count() or 1, started)
    outcome = step.conclude(report, None if quiet else note)
    step.write(outcome, captures)
    sys.exit(outcome.status)
