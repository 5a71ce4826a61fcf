"""Where events go: a JSON-lines file (or stdout), reopened on SIGHUP for log rotation; and
:class:`EventSink`, the event stream as an output of the shared step after the engine.

:class:`EventSink` is a :class:`~capinspect.run.sinks.Sink` in ``RunOptions.sinks``: the step
hands it the live monitor the run feeds (:meth:`EventSink.follow`, from ``Step.pump``: ``live``'s
loop and ``analyze --events``), and its :meth:`~EventSink.finish` turns the final report into
the last events and closes the outputs, before the report is written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol

from capinspect.errors import CapinspectError

if TYPE_CHECKING:
    from capinspect.events.options import EventOptions
    from capinspect.events.run import EventPump, Redactor
    from capinspect.live import LiveEvent, LiveMonitor
    from capinspect.run.outcome import Outcome


class Output(Protocol):
    """Something events are handed to, one at a time, in order."""

    def emit(self, event: dict[str, Any]) -> None: ...

    def reopen(self) -> None: ...

    def close(self) -> None: ...

    def note(self) -> str | None:
        """One line for stderr at the end (what was delivered, what was dropped)."""
        ...


def dumps(event: dict[str, Any]) -> str:
    """One event as one line: ASCII only (every capture string escaped), keys in order."""
    return json.dumps(event, ensure_ascii=True, separators=(",", ":"))


class JsonLines:
    """``--events FILE|-``: one JSON object a line, flushed after every burst.

    A file is opened for appending (a restarted sensor adds to it) and reopened by
    :meth:`reopen`, so logrotate's ``create`` mode needs only a SIGHUP; ``-`` is stdout.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.written = 0
        self._stream: IO[str] = sys.stdout if path == "-" else self._open()

    def _open(self) -> IO[str]:
        try:
            return open(self.path, "a", encoding="ascii")  # noqa: SIM115 - held until close
        except OSError as exc:
            raise CapinspectError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def emit(self, event: dict[str, Any]) -> None:
        try:
            self._stream.write(dumps(event) + "\n")
            self._stream.flush()
        except OSError as exc:  # a full disk, a closed pipe: one line, exit status 2
            raise CapinspectError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self.written += 1

    def reopen(self) -> None:
        if self.path == "-":
            return
        stream = self._open()
        self._stream.close()
        self._stream = stream

    def close(self) -> None:
        if self.path == "-":
            self._stream.flush()
        else:
            self._stream.close()

    def note(self) -> str | None:
        return f"events: {self.written} written to {'stdout' if self.path == '-' else self.path}"


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

    def finish(self, outcome: Outcome) -> None:
        """What the final report adds (every phone's last verdict), then the outputs closed
        (syslog: what is queued delivered, at most its drain timeout)."""
        if self.pump is not None:
            self.pump.finish(outcome.report)
