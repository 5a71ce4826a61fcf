"""What a check is: a :class:`CheckSpec` (data: stable ID, severity, words) plus a small function.

A check function takes one phone (a capture's :class:`DeviceSession`, or a :class:`LogPhone`
the server's logs show) and the :class:`CheckContext` — which holds a capture, logs or both —
and yields :class:`Finding` values; :func:`severity_verdict` turns any phone's findings into
its verdict (checks/verdict.py adds, for a captured phone, the root cause and
``inconclusive``). A check returns nothing when its inputs are missing (no DHCP in the capture
means no DHCP finding): what the capture does not cover is the verdict's business
(``inconclusive``), not a check's.

The words a support engineer reads — title, explanation, remediation — live in the spec, so
``docs/checks.md`` and ``capinspect explain <id>`` are generated from the same text the reports
print, and a test keeps them in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from capinspect.analysis import Analysis
from capinspect.devices import DeviceSession, Population
from capinspect.expectations import Expectations
from capinspect.logs.timeline import LogEvidence, LogPhone


class Severity(StrEnum):
    FAIL = "fail"
    WARN = "warn"
    INFO = "info"


SEVERITY_ORDER = {Severity.FAIL: 0, Severity.WARN: 1, Severity.INFO: 2}


class Verdict(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """The stable description of one check."""

    id: str
    severity: Severity
    title: str
    explanation: str
    """Why this matters, in plain words, tied to the Device Update troubleshooting article's
    steps (named so in the text: users read it)."""
    remediation: str
    source: str
    """Where the rule comes from, by title (``knowledge/sources.py``): the article and its step
    or reader, Microsoft's documents, an RFC, ``inference`` or ``expectations``."""

    def finding(
        self,
        summary: str,
        *,
        device: str | None,
        expected: str | None = None,
        observed: str | None = None,
        frames: Iterable[int] = (),
        ts: float | None = None,
        severity: Severity | None = None,
        remediation: str | None = None,
        basis: Iterable[str] | None = None,
        lines: Iterable[str] = (),
    ) -> Finding:
        return Finding(
            check_id=self.id,
            severity=severity or self.severity,
            title=self.title,
            summary=summary,
            expected=expected,
            observed=observed,
            frames=tuple(sorted({f for f in frames if f})),
            ts=ts,
            explanation=self.explanation,
            remediation=remediation or self.remediation,
            device=device,
            basis=tuple(basis) if basis is not None else None,
            lines=tuple(dict.fromkeys(lines)),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of one check, with its evidence."""

    check_id: str
    severity: Severity
    title: str
    summary: str
    """What was seen here, specifically (names the values and the frames)."""
    expected: str | None
    observed: str | None
    frames: tuple[int, ...]
    ts: float | None
    explanation: str
    remediation: str
    device: str | None
    basis: tuple[str, ...] | None = None
    """Set when the finding is inferred without decryption (an encrypted check-in judged from
    what the capture shows): the facts it rests on. None for findings read from content."""
    lines: tuple[str, ...] = ()
    """The server-log lines it rests on (``file:line``), for a finding from the logs."""

    @property
    def inferred(self) -> bool:
        return self.basis is not None


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the checks look at: a capture, the server's logs, or both."""

    expect: Expectations
    analysis: Analysis | None = None
    """The capture's analysis; ``None`` when only logs are checked."""
    capture_end: float | None = None
    """Packet time of the last frame: how long the capture went on after an event."""
    population: Population | None = None
    """The phones and the other clients of the update service (capture-level checks)."""
    logs: LogEvidence | None = None
    """The server's IIS and audit logs, grouped per phone; ``None`` without logs."""


Subject = TypeVar("Subject", DeviceSession, LogPhone)


@dataclass(frozen=True)
class CheckOf(Generic[Subject]):
    """One check: its spec and the function that runs it on one phone.

    Not slotted: ``Check(spec, run)`` goes through the generic alias, which sets
    ``__orig_class__`` (refused quietly by a frozen dataclass, not by a slotted one)."""

    spec: CheckSpec
    """The first (main) ID it reports; a function may report a few related IDs."""
    run: Callable[[Subject, CheckContext], Iterable[Finding]]


Check = CheckOf[DeviceSession]
"""A check of a phone seen in the capture."""
LogCheck = CheckOf[LogPhone]
"""A check of a phone seen in the server's logs."""
CheckFunction = Callable[[DeviceSession, CheckContext], Iterable[Finding]]


def severity_verdict(findings: Iterable[Finding]) -> Verdict:
    """``fail`` when a finding fails, else ``warn`` when one warns, else ``pass``
    (docs/verdicts.md). The one rule for every phone; a captured phone's ``pass`` may become
    ``inconclusive`` when the capture does not reach the stage that decides (checks/verdict.py).
    """
    severities = {f.severity for f in findings}
    if Severity.FAIL in severities:
        return Verdict.FAIL
    if Severity.WARN in severities:
        return Verdict.WARN
    return Verdict.PASS
