"""Where events go: a JSON-lines file (or stdout), reopened on SIGHUP for log rotation (the
syslog sender, ``syslog.py``, is the other :class:`Output`). The stream as one of the shared
step's sinks is :class:`capinspect.events.options.EventSink`."""

from __future__ import annotations

import json
import sys
from typing import IO, Any, Protocol

from capinspect.errors import CapinspectError


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
