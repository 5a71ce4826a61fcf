"""What the events' options (``--events``, ``--sensor``, ``--syslog``, ``--syslog-queue``) ask,
typed; the command line (capinspect/cli/common.py) fills it and adds :meth:`EventOptions.sink`
to the shared step's sinks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from capinspect.events.builder import EventBuilder
from capinspect.events.run import EventPump, InterfaceMap, Redactor, default_sensor
from capinspect.events.sinks import EventSink, JsonLines, Output
from capinspect.events.syslog import DEFAULT_QUEUE, SyslogSender, Target
from capinspect.live import LiveMonitor


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
