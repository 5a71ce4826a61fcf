"""``capinspect live``: watch an interface (a switch mirror port) and give verdicts as they happen.

The options become a :class:`~capinspect.run.live.LiveOptions` and the shared step's
:class:`~capinspect.run.options.RunOptions` (TLS keys, expectations, redaction, format); the
loop is the step's (capinspect/run/live.py): kernel-filtered frames (sources/live.py) →
LiveMonitor (live.py, the same engine and checks as ``analyze``) → step and verdict lines as
they happen (and events, capinspect/events, through the step's pump) → on Ctrl-C, SIGTERM,
``--duration`` or ``--until-verdict``, the full report as ``analyze`` renders it in the format
asked, plus the kernel's drop counters. Several ``-i`` are read as one; SIGHUP reopens the
``--events`` file.
"""

from __future__ import annotations

import sys

import click

from capinspect.cli.common import (
    EXIT_STATUS_EPILOG,
    die,
    event_options,
    event_sinks,
    expect_option,
    format_option,
    guarded,
    keep_names_option,
    keylog_option,
    redact_option,
    tls_key_option,
    tls_key_password_option,
)
from capinspect.errors import LiveCaptureError
from capinspect.live import DEFAULT_TIMEOUTS, Timeouts
from capinspect.run import Keys, Output, Redaction, RunOptions, Step
from capinspect.run.live import LiveOptions, watch
from capinspect.sources.live import DEFAULT_FILTER, require_live_capture
from capinspect.sources.ring import DEFAULT_MAX_BYTES


class LinuxOnlyCommand(click.Command):
    """A command that refuses off Linux before its options are checked.

    So ``capinspect live`` typed on Windows, with or without ``-i``, answers with the one line
    that says what to do instead, not with "Missing option '-i'"; ``--help`` still works."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not {"-h", "--help"}.intersection(args):
            try:
                require_live_capture()
            except LiveCaptureError as exc:
                die(str(exc))
        return super().parse_args(ctx, args)


@click.command(cls=LinuxOnlyCommand, epilog=EXIT_STATUS_EPILOG)
@click.option(
    "-i",
    "--interface",
    "interfaces",
    required=True,
    multiple=True,
    metavar="IFACE",
    help="Interface to capture on (the switch mirror/SPAN port); repeat for several "
    "(one engine, each frame tagged with its interface).",
)
@click.option(
    "--filter",
    "bpf_filter",
    default=DEFAULT_FILTER,
    show_default="DHCP, DNS, TCP 80/443, ARP, IP fragments; untagged, 802.1Q and QinQ",
    metavar="BPF",
    help="Capture filter (tcpdump syntax), run in the kernel; '' captures everything.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="Stop after S seconds (default: until Ctrl-C).",
)
@click.option(
    "--until-verdict",
    is_flag=True,
    help="Stop once every phone seen has a verdict.",
)
@format_option(
    "report",
    "Format of the final report (the live lines go to stderr when another format than text "
    "is on stdout).",
)
@click.option("-o", "--output", metavar="REPORT", help="Write the final report to REPORT.")
@click.option(
    "--evidence",
    metavar="FILE.pcapng",
    help="Keep the recent frames that matter in a ring and write them to FILE.pcapng.",
)
@click.option(
    "--evidence-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_MAX_BYTES / 1024 / 1024,
    show_default=True,
    metavar="MB",
    help="Size of the evidence ring.",
)
@expect_option
@tls_key_option
@tls_key_password_option
@keylog_option
@redact_option
@keep_names_option
@click.option(
    "--checkin-timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUTS.checkin_after_dhcp,
    show_default=True,
    metavar="S",
    help="Verdict when no check-in follows a phone's DHCP within S seconds.",
)
@click.option(
    "--response-timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUTS.response_after_checkin,
    show_default=True,
    metavar="S",
    help="Verdict when a check-in gets no response within S seconds.",
)
@click.option(
    "--download-timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUTS.download_after_offer,
    show_default=True,
    metavar="S",
    help="Verdict when offered files are not fetched within S seconds of the check-in.",
)
@event_options
@guarded
def live(
    interfaces: tuple[str, ...],
    bpf_filter: str,
    duration: float | None,
    until_verdict: bool,
    fmt: str,
    output: str | None,
    evidence: str | None,
    evidence_mb: float,
    expect_path: str | None,
    tls_key_paths: tuple[str, ...],
    tls_key_password: str | None,
    keylog_path: str | None,
    redact: bool,
    keep_names: tuple[str, ...],
    checkin_timeout: float,
    response_timeout: float,
    download_timeout: float,
    events_path: str | None,
    sensor: str | None,
    syslog_url: str | None,
    syslog_queue: int,
) -> None:
    """Watch IFACE live: each phone's steps and verdict as they happen, the report at the end.

    Needs root or CAP_NET_RAW. Ctrl-C or SIGTERM (or --duration / --until-verdict) ends the
    capture and prints the full report, as `capinspect analyze` would for the same frames,
    with the kernel's drop counters; SIGHUP reopens the --events file (log rotation). With
    --tls-key or --keylog HTTPS check-ins are decrypted, as in `analyze`; --redact rewrites
    the live lines, the events and the report with the same pseudonyms.
    Exit status: 0 no fail finding, 1 at least one, 2 cannot capture,
    4 nothing could be judged (no phone seen, or every phone inconclusive).
    Linux only (AF_PACKET); elsewhere capture with Wireshark, dumpcap or pktmon and analyze.
    """
    require_live_capture()
    step = Step(
        RunOptions(
            keys=Keys(tls_key_paths, tls_key_password, keylog_path),
            expect_path=expect_path,
            redaction=Redaction(redact, keep_names),
            output=Output(fmt, output, color="never"),
            sinks=event_sinks(events_path, sensor, syslog_url, syslog_queue),
        )
    )
    options = LiveOptions(
        interfaces,
        bpf_filter,
        duration,
        until_verdict,
        evidence,
        evidence_mb,
        Timeouts(checkin_timeout, response_timeout, download_timeout),
    )
    sys.exit(watch(options, step).status)
