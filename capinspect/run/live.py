"""The live loop: frames from interfaces → LiveMonitor → lines as they happen → the report.

``capinspect live`` parses its options into :class:`LiveOptions` and a
:class:`~capinspect.run.options.RunOptions` and calls :func:`watch`, which goes through the same
:class:`~capinspect.run.step.Step` as ``analyze``: its TLS keys reach the engine, its
pseudonyms rewrite the live lines, the events and the final report alike, and the final report
is rendered by the renderer table in any format, plus the kernel's counters (text: after the
report; JSON: a ``live`` member; other formats: on stderr).

The loop feeds the step's pump (:meth:`~capinspect.run.step.Step.pump`), which stands for the
monitor and builds the events of ``--events`` / ``--syslog`` as it goes. Several interfaces
are read through one :class:`~capinspect.sources.live.LiveSources` (one engine sees them all);
SIGTERM ends the capture as Ctrl-C does, SIGHUP reopens the ``--events`` file (log rotation).
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import IO

import click

from capinspect import __version__
from capinspect.checks.capture import KERNEL_DROPS_CODE
from capinspect.errors import CapinspectError
from capinspect.live import (
    DEFAULT_TIMEOUTS,
    LiveEvent,
    LiveMonitor,
    StepEvent,
    Timeouts,
    VerdictEvent,
)
from capinspect.model import Anomaly
from capinspect.run.step import Outcome, Step
from capinspect.sources.live import DEFAULT_FILTER, KernelStats, LiveSource, LiveSources
from capinspect.sources.ring import DEFAULT_MAX_BYTES, FrameRing

_ARROW = {"to-server": "→", "from-server": "←", "broadcast": "⇢"}


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """What only the live mode asks: where (one interface or several, de-duplicated in
    order) and how long to capture, its evidence ring, its stage timeouts."""

    interfaces: tuple[str, ...]
    bpf_filter: str = DEFAULT_FILTER
    duration: float | None = None
    until_verdict: bool = False
    evidence: str | None = None
    evidence_mb: float = DEFAULT_MAX_BYTES / 1024 / 1024
    timeouts: Timeouts = DEFAULT_TIMEOUTS

    def __post_init__(self) -> None:
        if isinstance(self.interfaces, str) or not self.interfaces:
            raise ValueError("LiveOptions.interfaces: a tuple of one or more interface names")
        object.__setattr__(self, "interfaces", tuple(dict.fromkeys(self.interfaces)))

    @property
    def interface(self) -> str:
        """The interfaces as one name (``eth1,eth2``): the banner, the evidence file's
        interface, the JSON report's ``live.interface``."""
        return ",".join(self.interfaces)


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


def watch(options: LiveOptions, step: Step) -> Outcome:
    """Capture until Ctrl-C, SIGTERM, ``duration`` or ``until_verdict``; print the steps and
    verdicts as they happen (and send the events) and write the final report. Returns the
    outcome (its status is the exit status)."""
    if step.names is not None and options.evidence:
        raise CapinspectError(
            "--evidence keeps the frames as captured, so it cannot go with --redact; "
            "write the evidence unredacted, or capture to a file and use "
            "`capinspect analyze --redact --evidence`"
        )
    monitor = LiveMonitor(
        step.expect, step.options.limits, options.timeouts, tls_keys=step.tls_keys()
    )
    interfaces = options.interfaces
    pump = step.pump(monitor, interfaces)
    evidence = options.evidence
    ring = FrameRing(int(options.evidence_mb * 1024 * 1024)) if evidence else None
    output = step.options.output
    # The live lines share stdout only with a text report; any other format there keeps
    # stdout to itself and the lines go to stderr, as they do when the events have stdout.
    report_alone = output.fmt != "text" and output.to_stdout
    lines: IO[str] = sys.stderr if report_alone or step.stdout_taken else sys.stdout
    stopping: list[int] = []
    reopen: list[int] = []
    interface = options.interface

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    def on_hangup(signum: int, _frame: FrameType | None) -> None:
        reopen.append(signum)

    def emit(events: list[LiveEvent]) -> None:
        if events and step.names is not None:
            step.learn(_sessions_of(monitor, events))
            events = step.redact(events)
        verdict_given = False
        for event in events:
            for line in format_event(event):
                lines.write(line + "\n")
            verdict_given = verdict_given or isinstance(event, VerdictEvent)
        if events:
            lines.flush()
            for sink in step.options.sinks:
                sink.events(events)
        if verdict_given and ring is not None and evidence:
            ring.write_pcapng(evidence, interface, f"capinspect {__version__} live")

    source: LiveSource | LiveSources = (
        LiveSources(interfaces, options.bpf_filter)
        if len(interfaces) > 1
        else LiveSource(interfaces[0], options.bpf_filter)
    )
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, on_signal)
    previous_hup = signal.signal(signal.SIGHUP, on_hangup)
    try:
        with source:
            click.echo(
                f"capinspect: capturing on {interface}"
                + (f" for {options.duration:g} s" if options.duration else "")
                + "; Ctrl-C ends it with the full report",
                err=True,
            )
            deadline = started + options.duration if options.duration else None
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
                    if options.until_verdict and monitor.verdicts and monitor.all_settled:
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
    kernel = (
        f"kernel: {stats.received} frames passed the filter, {stats.dropped} dropped; "
        f"{source.frames_read} read"
    )
    by_interface = source.stats_by_interface() if isinstance(source, LiveSources) else {}
    where = pump.interfaces.by_device(report) if pump.interfaces is not None else {}
    for name, counted in by_interface.items():
        phones = ", ".join(key for key, on in where.items() if on == name) or "no phone"
        kernel += step.redact(
            f"\n  {name}: {counted.received} passed, {counted.dropped} dropped; {phones}"
        )
    evidence_note = None
    if ring is not None and evidence:
        written = ring.write_pcapng(evidence, interface, f"capinspect {__version__} live")
        evidence_note = f"evidence: {written} frames in {evidence}"
        if ring.evicted:
            evidence_note += f" (ring full: {ring.evicted} older frames left out)"
    outcome = step.conclude(report)
    step.finish(outcome)  # the event stream's last events, before its counts are read
    if output.fmt != "text" or not output.to_stdout:
        click.echo(kernel, err=True)
        if evidence_note:
            click.echo(evidence_note, err=True)
    for line in pump.notes():
        click.echo(line, err=True)
    if output.to_stdout:
        lines.flush()
    counters = {
        "interface": interface,
        "interfaces": list(interfaces),
        "phone_interfaces": {step.redact(key): on for key, on in where.items()},
        **pump.report_fields(),
        "filter": options.bpf_filter,
        "kernel_received": stats.received,
        "kernel_dropped": stats.dropped,
        "kernel_by_interface": {
            name: {"received": c.received, "dropped": c.dropped} for name, c in by_interface.items()
        },
        "frames_read": source.frames_read,
        "evidence": evidence,
    }
    trailer = kernel + "\n" + (evidence_note + "\n" if evidence_note else "")
    step.write(outcome, (), extra={"live": step.redact(counters)}, trailer=trailer)
    return outcome


def _sessions_of(monitor: LiveMonitor, events: list[LiveEvent]) -> object:
    """The sessions around ``events`` (their identifiers, to redact the events' words)."""
    report = monitor.last_report
    if report is None:
        return ()
    keys = {event.device for event in events}
    return tuple(d.session for d in report.devices if d.session.key in keys)
