"""``capinspect live``: watch an interface (a switch mirror port) and give verdicts as they happen.

Kept out of cli.py so the live mode's options and loop live in one place; cli.py only registers
the command. The loop is: kernel-filtered frames (sources/live.py) → LiveMonitor (live.py, the
same engine and checks as ``analyze``) → step and verdict lines as they happen (and events,
capinspect/events, through its pump) → on Ctrl-C, SIGTERM, ``--duration`` or
``--until-verdict``, the full report exactly as ``analyze`` renders it, plus the kernel's drop
counters. Several ``-i`` read through one ``LiveSources``; SIGHUP reopens ``--events``.
"""

from __future__ import annotations

import shutil
import signal
import sys
import time
from types import FrameType
from typing import IO

import click

from capinspect import __version__
from capinspect.checks.capture import KERNEL_DROPS_CODE
from capinspect.cli_common import (
    EXIT_STATUS_EPILOG,
    die,
    exit_status,
    expect_option,
    expectations_from,
    guarded,
    write_output,
)
from capinspect.errors import LiveCaptureError
from capinspect.events.options import current_event_options, event_options
from capinspect.live import (
    DEFAULT_TIMEOUTS,
    LiveEvent,
    LiveMonitor,
    StepEvent,
    Timeouts,
    VerdictEvent,
)
from capinspect.model import Anomaly
from capinspect.sources.live import (
    DEFAULT_FILTER,
    KernelStats,
    LiveSource,
    LiveSources,
    require_live_capture,
)
from capinspect.sources.ring import DEFAULT_MAX_BYTES, FrameRing

_ARROW = {"to-server": "→", "from-server": "←", "broadcast": "⇢"}


def format_event(event: LiveEvent) -> list[str]:
    """The lines printed for one live event (untrusted strings made safe for a terminal)."""
    from capinspect.report.text import clock, device_label, safe

    if isinstance(event, StepEvent):
        arrow = _ARROW.get(event.direction, " ")
        return [
            f"{clock(event.ts)}  #{event.frame:<6} {safe(event.device)}  {arrow} "
            f"{safe(event.peer):<15} {event.stage:<8} {safe(event.summary)}"
        ]
    item = event.report
    verdict = item.verdict
    firmware = " → ".join(item.firmware_versions) or "?"
    lines = [
        f"{clock(event.ts)}  VERDICT {safe(event.device)}  {device_label(item.session)}  "
        f"firmware {safe(firmware)}  {str(verdict.verdict).upper()}: {safe(verdict.reason)}  "
        f"({event.cause}: {safe(event.reason)})"
    ]
    for finding in item.findings:
        if str(finding.severity) == "info":
            continue
        frames = f" [frames {', '.join(str(f) for f in finding.frames[:8])}]"
        lines.append(
            f"    {str(finding.severity).upper():<4} {finding.check_id}: "
            f"{safe(finding.summary)}{frames if finding.frames else ''}"
        )
        lines.append(f"         fix: {finding.remediation}")
    return lines


def drop_anomalies(stats: KernelStats) -> list[Anomaly]:
    """The kernel's drop counter as a capture anomaly (capture.kernel-drops reads it)."""
    if not stats.dropped:
        return []
    share = 100.0 * stats.dropped / max(stats.received, 1)
    return [
        Anomaly(
            KERNEL_DROPS_CODE,
            f"the kernel dropped {stats.dropped} of {stats.received} frames that passed the "
            f"capture filter ({share:.2f}%)",
        )
    ]


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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Format of the final report (live lines go to stderr with json on stdout).",
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
    checkin_timeout: float,
    response_timeout: float,
    download_timeout: float,
) -> None:
    """Watch IFACE live: each phone's steps and verdict as they happen, the report at the end.

    Needs root or CAP_NET_RAW. Ctrl-C or SIGTERM (or --duration / --until-verdict) ends the
    capture and prints the full report, as `capinspect analyze` would for the same frames, with
    the kernel's drop counters; SIGHUP reopens the --events file (log rotation).
    Exit status: 0 no fail finding, 1 at least one, 2 cannot capture, 4 nothing could be
    judged (no phone seen, or every phone inconclusive).
    Linux only (AF_PACKET); elsewhere capture with Wireshark, dumpcap or pktmon and analyze.
    """
    require_live_capture()
    expect = expectations_from(expect_path)
    timeouts = Timeouts(checkin_timeout, response_timeout, download_timeout)
    monitor = LiveMonitor(expect, timeouts=timeouts)
    interfaces = tuple(dict.fromkeys(interfaces))
    interface = ",".join(interfaces)
    event_opts = current_event_options()
    pump = event_opts.pump(monitor, interfaces)
    ring = FrameRing(int(evidence_mb * 1024 * 1024)) if evidence else None
    report_to_stdout = output in (None, "-")
    # --events -: stdout carries the events alone; live lines and the report go to stderr.
    lines: IO[str] = (
        sys.stderr if (fmt == "json" and report_to_stdout) or event_opts.to_stdout else sys.stdout
    )
    stopping: list[int] = []
    reopen: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    def on_hangup(signum: int, _frame: FrameType | None) -> None:
        reopen.append(signum)

    def emit(events: list[LiveEvent]) -> None:
        verdict_given = False
        for event in events:
            for line in format_event(event):
                lines.write(line + "\n")
            verdict_given = verdict_given or isinstance(event, VerdictEvent)
        if events:
            lines.flush()
        if verdict_given and ring is not None and evidence:
            ring.write_pcapng(evidence, interface, f"capinspect {__version__} live")

    source = (
        LiveSources(interfaces, bpf_filter)
        if len(interfaces) > 1
        else LiveSource(interfaces[0], bpf_filter)
    )
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, on_signal)
    previous_hup = signal.signal(signal.SIGHUP, on_hangup)
    try:
        with source:
            click.echo(
                f"capinspect: capturing on {interface}"
                + (f" for {duration:g} s" if duration else "")
                + "; Ctrl-C ends it with the full report",
                err=True,
            )
            deadline = started + duration if duration else None
            try:
                while not stopping:
                    if reopen:  # SIGHUP: log rotation
                        reopen.clear()
                        pump.reopen()
                    frames = source.read(0.25)
                    for frame in frames:
                        kept = monitor.engine.decoder.frames_kept
                        events = pump.feed(frame)
                        if ring is not None and monitor.engine.decoder.frames_kept != kept:
                            ring.add(frame)
                        if events:
                            emit(events)
                    if not frames:
                        emit(pump.tick(source.now()))
                    if deadline is not None and time.monotonic() >= deadline:
                        break
                    if until_verdict and monitor.verdicts and monitor.all_settled:
                        break
            except KeyboardInterrupt:
                pass
            stats = source.stats()
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGHUP, previous_hup)
    emit(pump.flush())
    report = monitor.finish(
        source_anomalies=drop_anomalies(stats), elapsed=time.monotonic() - started
    )
    pump.finish(report)
    kernel = (
        f"kernel: {stats.received} frames passed the filter, {stats.dropped} dropped; "
        f"{source.frames_read} read"
    )
    by_interface = source.stats_by_interface() if isinstance(source, LiveSources) else {}
    if by_interface:
        where = pump.interfaces.by_device(report) if pump.interfaces else {}
        for name, counters in by_interface.items():
            phones = ", ".join(key for key, on in where.items() if on == name) or "no phone"
            kernel += (
                f"\n  {name}: {counters.received} passed, {counters.dropped} dropped; {phones}"
            )
    evidence_note = None
    if ring is not None and evidence:
        written = ring.write_pcapng(evidence, interface, f"capinspect {__version__} live")
        evidence_note = f"evidence: {written} frames in {evidence}"
        if ring.evicted:
            evidence_note += f" (ring full: {ring.evicted} older frames left out)"
    if fmt == "json":
        from capinspect.report.json import dumps, report_document

        document = report_document(report)
        document["live"] = {
            "interface": interface,
            "interfaces": list(interfaces),
            "phone_interfaces": pump.interfaces.by_device(report) if pump.interfaces else {},
            **pump.report_fields(),
            "filter": bpf_filter,
            "kernel_received": stats.received,
            "kernel_dropped": stats.dropped,
            "kernel_by_interface": {
                name: {"received": c.received, "dropped": c.dropped}
                for name, c in by_interface.items()
            },
            "frames_read": source.frames_read,
            "evidence": evidence,
        }
        text = dumps(document)
    else:
        from capinspect.report.text import render_analyze

        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 100
        text = render_analyze(report, width=max(80, min(width, 160)))
        text += kernel + "\n" + (evidence_note + "\n" if evidence_note else "")
    if fmt == "json" or not report_to_stdout:
        click.echo(kernel, err=True)
        if evidence_note:
            click.echo(evidence_note, err=True)
    for note in pump.notes():
        click.echo(note, err=True)
    if report_to_stdout:
        lines.flush()
    if event_opts.to_stdout and report_to_stdout:
        click.echo(text, nl=False, err=True)
    else:
        write_output(text, output, ())
    sys.exit(exit_status(report.has_fail, [d.verdict.verdict for d in report.devices]))
