"""The report: the only thing renderers see."""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.checks.base import Finding, Severity, Verdict
from capinspect.checks.verdict import DeviceVerdict
from capinspect.devices import DeviceSession, OtherClient
from capinspect.engine import Analysis
from capinspect.expectations import Expectations


@dataclass(frozen=True, slots=True)
class DeviceReport:
    session: DeviceSession
    findings: tuple[Finding, ...]
    verdict: DeviceVerdict

    @property
    def firmware_versions(self) -> tuple[str, ...]:
        """Distinct versions reported over time, in order (``?`` for an empty version)."""
        out: list[str] = []
        for sighting in self.session.firmware_seen:
            label = sighting.version or "?"
            if not out or out[-1] != label:
                out.append(label)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Report:
    analysis: Analysis
    devices: tuple[DeviceReport, ...]
    capture_findings: tuple[Finding, ...]
    expectations: Expectations
    elapsed: float | None = None
    """Wall-clock seconds the analysis took (report metadata only)."""
    other_clients: tuple[OtherClient, ...] = ()
    """Hosts without phone evidence that touched the update service: listed, never judged."""
    other_clients_dropped: int = 0
    """Other clients beyond ``Limits.max_other_clients`` (counted only)."""

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        return (*self.capture_findings, *(f for d in self.devices for f in d.findings))

    @property
    def has_fail(self) -> bool:
        return any(f.severity == Severity.FAIL for f in self.all_findings)

    def verdict_counts(self) -> dict[Verdict, int]:
        counts = {v: 0 for v in Verdict}
        for device in self.devices:
            counts[device.verdict.verdict] += 1
        return counts
