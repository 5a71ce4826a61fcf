"""What a check is: a :class:`CheckSpec` (data: stable ID, severity, words) plus a small function.

A check function takes one phone's session and the context and yields findings. It returns
nothing when its inputs are missing (no DHCP in the capture means no DHCP finding): what the
capture does not cover is the verdict's business (``inconclusive``), not a check's.

The words a support engineer reads — title, explanation, remediation — live in the spec, so
``docs/checks.md`` and ``capinspect explain <id>`` are generated from the same text the reports
print, and a test keeps them in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from capinspect.devices import DeviceSession, Population
from capinspect.expectations import Expectations
from capinspect.model.analysis import Analysis


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


@dataclass(frozen=True, slots=True)
class CheckContext:
    expect: Expectations
    analysis: Analysis
    capture_end: float | None
    """Packet time of the last frame: how long the capture went on after an event."""
    population: Population | None = None
    """The phones and the other clients of the update service (capture-level checks)."""


CheckFunction = Callable[[DeviceSession, CheckContext], Iterable[Finding]]


@dataclass(frozen=True, slots=True)
class Check:
    spec: CheckSpec
    run: CheckFunction
