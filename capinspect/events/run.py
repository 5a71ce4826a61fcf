"""Driving the live monitor with events on: the same code for ``live`` and ``analyze --events``.

:class:`EventPump` stands where ``live`` called the :class:`~capinspect.live.LiveMonitor`
(``feed``, ``tick``, ``flush``, ``finish``): it passes each call on, turns what the monitor
said into events (:class:`~capinspect.events.builder.EventBuilder`) and hands them to the sinks.
``analyze --events`` (:func:`analyze_with_events`) reads the files' frames through the same
pump, so a file and a live interface carrying the same frames give the same events. Both get
their pump from the shared step (``Step.pump``), whose event sink
(:class:`~capinspect.events.options.EventSink`) finishes it with the final report.
"""

from __future__ import annotations

import socket
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from capinspect.devices import DeviceSession
from capinspect.events.builder import EventBuilder
from capinspect.events.sinks import Output
from capinspect.expectations import Expectations
from capinspect.limits import Limits
from capinspect.live import DEFAULT_TIMEOUTS, LiveEvent, LiveMonitor, Timeouts
from capinspect.model import RawFrame
from capinspect.protocols.tls.keys import NO_KEYS, TlsKeys
from capinspect.report.model import Report
from capinspect.sources.merge import iter_frames

IDLE_CHECK = 1.0
"""Seconds of packet time between two looks for idle phones."""
MAX_MACS = 65_536
"""Source MACs whose interface is remembered (least recently seen forgotten first)."""

Redactor = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
"""Events in, the same events with the run's pseudonyms out (``--redact``)."""


def default_sensor() -> str:
    """``--sensor``'s default: this host's name."""
    return socket.gethostname() or "capinspect"


class InterfaceMap:
    """Which interface a phone's frames came in on, by their source MAC.

    With one interface every phone is on it; with several (``live -i eth1 -i eth2``) each
    frame's ``source`` is its interface's position and the Ethernet source address of the
    frame is remembered (bounded, :data:`MAX_MACS`)."""

    def __init__(self, interfaces: Sequence[str]) -> None:
        self.interfaces = tuple(interfaces)
        self._by_mac: OrderedDict[bytes, int] = OrderedDict()

    @property
    def several(self) -> bool:
        return len(self.interfaces) > 1

    def note(self, frame: RawFrame) -> None:
        mac = frame.data[6:12]
        by_mac = self._by_mac
        if by_mac.get(mac) != frame.source:
            by_mac[mac] = frame.source
            by_mac.move_to_end(mac)
            if len(by_mac) > MAX_MACS:
                by_mac.popitem(last=False)

    def of(self, session: DeviceSession) -> str | None:
        if not self.interfaces:
            return None
        if not self.several:
            return self.interfaces[0]
        if session.mac:
            try:
                index = self._by_mac.get(bytes.fromhex(session.mac.replace(":", "")))
            except ValueError:
                index = None
            if index is not None and index < len(self.interfaces):
                return self.interfaces[index]
        return None

    def by_device(self, report: Report) -> dict[str, str | None]:
        """Each phone's interface (the final report's ``live`` object)."""
        return {d.session.key: self.of(d.session) for d in report.devices}


class EventPump:
    """A :class:`LiveMonitor` with events: every call passes on to it and returns what it
    returns; events go to ``sinks`` as they happen.

    The builder reads the phones as captured (a frame's interface is known by its source
    MAC); under ``--redact`` each burst of events is then rewritten by ``redact`` with the
    run's pseudonyms, the ones the live lines and the report get."""

    def __init__(
        self,
        monitor: LiveMonitor,
        builder: EventBuilder,
        sinks: Sequence[Output],
        interfaces: InterfaceMap | None = None,
        redact: Redactor | None = None,
    ) -> None:
        self.monitor = monitor
        self.builder = builder
        self.sinks = tuple(sinks)
        self.interfaces = interfaces
        self.redact = redact
        self.emitted = 0
        self.finished = False
        self._next_idle: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.sinks)

    def _send(self, events: list[dict[str, Any]]) -> None:
        if events and self.redact is not None:
            events = self.redact(events)
        for event in events:
            for sink in self.sinks:
                sink.emit(event)
        self.emitted += len(events)

    def _idle(self, now: float) -> None:
        if self._next_idle is None or now >= self._next_idle:
            self._next_idle = now + IDLE_CHECK
            self._send(self.builder.idle(now, self.monitor.devices))

    def feed(self, frame: RawFrame) -> list[LiveEvent]:
        if self.interfaces is not None and self.interfaces.several:
            self.interfaces.note(frame)
        if not self.sinks:
            return self.monitor.feed(frame)
        # Idleness is judged before the frame is fed: a phone quiet for a minute that sends
        # again was idle in between, whether or not anything looked during the quiet.
        self._idle(frame.ts)
        said = self.monitor.feed(frame)
        if said:
            self._send(self.builder.observe(said, self.monitor.devices))
        return said

    def tick(self, now: float) -> list[LiveEvent]:
        said = self.monitor.tick(now)
        if self.sinks:
            if said:
                self._send(self.builder.observe(said, self.monitor.devices))
            self._idle(now)
        return said

    def flush(self) -> list[LiveEvent]:
        said = self.monitor.flush()
        if self.sinks and said:
            self._send(self.builder.observe(said, self.monitor.devices))
        return said

    def finish(self, report: Report) -> None:
        """The final report's additions as events, then the sinks closed (once)."""
        if self.finished:
            return
        self.finished = True
        if self.sinks:
            self._send(self.builder.finish(report))
        self.close()

    def reopen(self) -> None:
        for sink in self.sinks:
            sink.reopen()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

    def notes(self) -> list[str]:
        return [note for sink in self.sinks if (note := sink.note()) is not None]

    def report_fields(self) -> dict[str, Any]:
        """What the final JSON report's ``live`` object says about the events."""
        from capinspect.events.syslog import SyslogSender

        fields: dict[str, Any] = {"events": self.emitted, "event_outputs": self.notes()}
        for sink in self.sinks:
            if isinstance(sink, SyslogSender):
                fields["syslog"] = {
                    "target": str(sink.target),
                    "sent": sink.sent,
                    "dropped": sink.dropped,
                }
        return fields


def analyze_with_events(
    paths: Sequence[str],
    expect: Expectations,
    limits: Limits,
    pump_for: Callable[[LiveMonitor], EventPump],
    *,
    tls_keys: TlsKeys = NO_KEYS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    progress: Callable[[int, int], None] | None = None,
    elapsed: Callable[[], float] | None = None,
) -> Report:
    """``analyze --events``: the files' frames through the live monitor and the pump, then
    the report exactly as ``analyze`` builds it (tests/test_live.py holds the two equal). The
    pump is finished by its owner (the step's event sink, with the outcome).

    Evaluations are spaced in packet time only (``cost_factor=0``), so the events do not
    depend on how fast this machine is."""
    stream = iter_frames(paths)
    monitor = LiveMonitor(expect, limits, timeouts, tls_keys=tls_keys, cost_factor=0.0)
    pump = pump_for(monitor)
    total = stream.total_bytes
    for count, frame in enumerate(stream, 1):
        pump.feed(frame)
        if progress is not None and count % 8192 == 0:
            progress(stream.bytes_read, total)
    if progress is not None:
        progress(total, total)
    pump.flush()
    report = monitor.finish(
        tuple(stream.inputs),
        tuple(stream.anomalies),
        elapsed=elapsed() if elapsed is not None else None,
    )
    return report
