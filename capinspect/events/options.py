"""What the events' options (``--events``, ``--sensor``, ``--syslog``, ``--syslog-queue``) ask,
typed; the command line (capinspect/cli/common.py) fills it and adds :meth:`EventOptions.sink`
to the shared step's sinks.

:class:`EventSink` is a :class:`~capinspect.run.sinks.Sink` in ``RunOptions.sinks``: the step
hands it the live monitor the run feeds (:meth:`EventSink.follow`, from ``Step.pump``: ``live``'s
loop and ``analyze --events``), and its :meth:`~EventSink.finish` turns the final report into
the last events and closes the outputs, before the report is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from capinspect.events.builder import EventBuilder
from capinspect.events.run import EventPump, InterfaceMap, Redactor, default_sensor
from capinspect.events.sinks import JsonLines, Output
from capinspect.events.syslog import DEFAULT_QUEUE, SyslogSender, Target
from capinspect.live import LiveMonitor

if TYPE_CHECKING:
    from capinspect.live import LiveEvent
    from capinspect.report.model import Report


@dataclass(frozen=True, slots=True)
class EventOptions:
    events: str | None = None
    """``--events FILE|-``: JSON lines."""
    sensor: str | None = None
    """``--sensor NAME`` (default: the host name)."""
    syslog: Target | None = None
    syslog_queue: int = DEFAULT_QUEUE

    @property
    def wanted(self) -> bool:
        return self.events is not None or self.syslog is not None

    @property
    def to_stdout(self) -> bool:
        """Events on stdout: the report and live lines must go elsewhere."""
        return self.events == "-"

    def sink(self) -> EventSink | None:
        """The step's sink for these options (None: no event is asked for)."""
        return EventSink(self) if self.wanted else None

    def outputs(self) -> list[Output]:
        """Open the outputs (a file that cannot be written is a one-line error)."""
        outputs: list[Output] = []
        if self.events is not None:
            outputs.append(JsonLines(self.events))
        if self.syslog is not None:
            outputs.append(SyslogSender(self.syslog, self.syslog_queue))
        return outputs

    def pump(
        self,
        monitor: LiveMonitor,
        interfaces: Sequence[str] = (),
        redact: Redactor | None = None,
    ) -> EventPump:
        """The monitor with these options' outputs (none: events are not built at all)."""
        mapping = InterfaceMap(interfaces)
        builder = EventBuilder(self.sensor or default_sensor(), mapping.of)
        outputs = self.outputs() if self.wanted else []
        return EventPump(monitor, builder, outputs, mapping, redact)


class Concluded(Protocol):
    """What a sink is handed at the end: the run's outcome (``capinspect.run.outcome.Outcome``),
    of which the stream needs only the judged report (named structurally, so that the events
    need nothing of the step that drives them)."""

    @property
    def report(self) -> Report: ...


class EventSink:
    """``--events`` / ``--syslog`` as one of the step's sinks (see the module docstring)."""

    def __init__(self, options: EventOptions) -> None:
        self.options = options
        self.pump: EventPump | None = None

    @property
    def to_stdout(self) -> bool:
        """Events on stdout (``--events -``): the report and the live lines go to stderr."""
        return self.options.to_stdout

    def follow(
        self,
        monitor: LiveMonitor,
        interfaces: Sequence[str] = (),
        redact: Callable[[LiveMonitor], Redactor] | None = None,
    ) -> EventPump:
        """The pump that stands for ``monitor`` in the run's loop, with this stream's outputs
        opened (a file that cannot be written: a one-line error, exit status 2)."""
        self.pump = self.options.pump(
            monitor, interfaces, redact(monitor) if redact is not None else None
        )
        return self.pump

    def events(self, events: Sequence[LiveEvent]) -> None:
        """The live lines' events carry neither each frame's interface nor the monitor's
        view of every phone: the stream takes its own from the monitor it follows."""

    def finish(self, outcome: Concluded) -> None:
        """What the final report adds (every phone's last verdict), then the outputs closed
        (syslog: what is queued delivered, at most its drain timeout)."""
        if self.pump is not None:
            self.pump.finish(outcome.report)
