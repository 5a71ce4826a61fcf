"""A judged run, ready to be shown: the report of every phone, what is shown of it, the logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from capinspect.run.status import exit_status

if TYPE_CHECKING:
    from capinspect.report.logs import LogsResult
    from capinspect.report.model import Report
    from capinspect.report.redact import Pseudonyms


@dataclass(frozen=True, slots=True)
class Outcome:
    """A judged run, ready to be shown."""

    report: Report
    """Every phone: the exit status reads this one."""
    selected: Report
    """The phones ``--only`` / ``--phone`` asked for (evidence is written of these)."""
    shown: Report
    """``selected``, redacted under ``--redact``: what the renderer gets."""
    logs: LogsResult | None = None
    """The server's logs (redacted with the report's pseudonyms under ``--redact``)."""
    pseudonyms: Pseudonyms | None = None

    @property
    def status(self) -> int:
        """The exit status over every phone of the capture and of the logs."""
        verdicts = [d.verdict.verdict for d in self.report.devices]
        has_fail = self.report.has_fail
        if self.logs is not None:
            verdicts += [p.verdict for p in self.logs.phones]
            has_fail = has_fail or self.logs.has_fail
        return exit_status(has_fail, verdicts)
