"""The events' command-line options, in one decorator for ``live`` and ``analyze``.

``@event_options`` adds ``--events``, ``--sensor``, ``--syslog`` and ``--syslog-queue`` without
adding parameters to the command's function (they are kept in the click context); the command
reads them with :func:`current_event_options` and builds its pump with
:meth:`EventOptions.pump`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TextIO, TypeVar

import click

from capinspect.events.builder import EventBuilder
from capinspect.events.run import EventPump, InterfaceMap, default_sensor
from capinspect.events.sinks import JsonLines, Sink
from capinspect.events.syslog import DEFAULT_QUEUE, SyslogSender, Target, parse_target
from capinspect.live import LiveMonitor

_KEY = "capinspect.events"
F = TypeVar("F", bound=Callable[..., Any])


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

    def sinks(self) -> list[Sink]:
        """Open the outputs (a file that cannot be written is a one-line error)."""
        sinks: list[Sink] = []
        if self.events is not None:
            sinks.append(JsonLines(self.events))
        if self.syslog is not None:
            sinks.append(SyslogSender(self.syslog, self.syslog_queue))
        return sinks

    def pump(self, monitor: LiveMonitor, interfaces: Sequence[str] = ()) -> EventPump:
        """The monitor with these options' outputs (none: events are not built at all)."""
        mapping = InterfaceMap(interfaces)
        builder = EventBuilder(self.sensor or default_sensor(), mapping.of)
        return EventPump(monitor, builder, self.sinks() if self.wanted else [], mapping)


def _store(name: str, convert: Callable[[Any], Any] = lambda v: v) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is None:
            return
        current = ctx.meta.get(_KEY, EventOptions())
        ctx.meta[_KEY] = replace(current, **{name: convert(value)})

    return callback


def _target(value: str) -> Target:
    try:
        return parse_target(value)
    except Exception as exc:  # CapinspectError: a usage error here, exit status 2
        raise click.BadParameter(str(exc).split(": ", 1)[-1], param_hint="--syslog") from None


def event_options(command: F) -> F:
    """Add the events' options to a command (see docs/events.md)."""
    decorators = [
        click.option(
            "--events",
            metavar="FILE|-",
            expose_value=False,
            callback=_store("events"),
            help="Write each phone's state changes as JSON lines (docs/events.md) to FILE "
            "(appended; reopened on SIGHUP) or stdout.",
        ),
        click.option(
            "--sensor",
            metavar="NAME",
            expose_value=False,
            callback=_store("sensor"),
            help="This sensor's name in the events.  [default: the host name]",
        ),
        click.option(
            "--syslog",
            metavar="URL",
            expose_value=False,
            callback=_store("syslog", _target),
            help="Also send the events as RFC 5424 syslog: udp://HOST:514, tcp://HOST:514 "
            "(octet-counted) or unix:/dev/log.",
        ),
        click.option(
            "--syslog-queue",
            type=click.IntRange(min=1),
            metavar="N",
            expose_value=False,
            callback=_store("syslog_queue"),
            help=f"Events held while the collector is away; beyond, dropped and counted.  "
            f"[default: {DEFAULT_QUEUE}]",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def current_event_options() -> EventOptions:
    """The options the running command was given."""
    ctx = click.get_current_context()
    options: EventOptions = ctx.meta.get(_KEY, EventOptions())
    return options


def write_to_stderr(text: str | Callable[[TextIO], None]) -> None:
    """The report on stderr (``--events -`` without ``-o``: stdout carries the events)."""
    sys.stdout.flush()
    if callable(text):
        text(sys.stderr)
    else:
        sys.stderr.write(text)
    sys.stderr.flush()
