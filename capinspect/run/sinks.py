"""Outputs besides the report: told of a live run's events as they happen and given the
run's :class:`~capinspect.run.step.Outcome` at the end, before the report is written.

A command adds a sink to :attr:`RunOptions.sinks <capinspect.run.options.RunOptions.sinks>`
for an option that sends results somewhere else than the report (``analyze --evidence``
here); the step calls every sink the same way for every command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from capinspect.errors import CapinspectError

if TYPE_CHECKING:
    from capinspect.live import LiveEvent
    from capinspect.run.outcome import Outcome


class Sink(Protocol):
    def events(self, events: Sequence[LiveEvent]) -> None:
        """Steps and verdicts of a live run, as they happen (already redacted if asked)."""

    def finish(self, outcome: Outcome) -> None:
        """The run's outcome, before the report is written."""


@dataclass(frozen=True, slots=True)
class EvidenceSink:
    """``analyze --evidence FILE.pcapng``: the shown phones' frames, with their findings as
    comments (redacted with the report's pseudonyms under ``--redact``)."""

    path: str
    captures: tuple[str, ...]

    def events(self, events: Sequence[LiveEvent]) -> None:
        """A capture file has no live events."""

    def finish(self, outcome: Outcome) -> None:
        from capinspect.report.evidence import write_evidence

        target = Path(self.path)
        for capture in self.captures:
            if Path(capture).exists() and Path(capture).resolve() == target.resolve():
                raise CapinspectError(
                    f"refusing to overwrite the input file {self.path} with evidence"
                )
        write_evidence(outcome.selected, self.captures, self.path, outcome.pseudonyms)
