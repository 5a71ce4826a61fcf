"""Checks on the phone itself: is it a model the Device Update service can update at all."""

from __future__ import annotations

from collections.abc import Iterator

from capinspect.checks.base import Check, CheckContext, CheckSpec, Finding, Severity
from capinspect.devices import DeviceSession
from capinspect.knowledge.firmware import family_for
from capinspect.knowledge.sources import ARTICLE

UNSUPPORTED = CheckSpec(
    id="device.unsupported",
    severity=Severity.FAIL,
    title="This phone model is not supported by the Device Update service",
    explanation=(
        "The model reported in the check-in is no longer supported: the service will not update "
        "it, and even the interim build will not install (the Device Update troubleshooting "
        "article names the Microsoft DV1)."
    ),
    remediation="Replace the device with a supported model (Polycom CX700, LG-Nortel IP8540, …).",
    source=f"{ARTICLE}: troubleshooting step 6",
)


def check_unsupported(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    ident = device.identity
    family = family_for(ident.vendor, ident.model)
    if family is None or family.supported:
        return
    first = device.checkins[0] if device.checkins else None
    yield UNSUPPORTED.finding(
        f"{ident.vendor or '?'} {ident.model} ({family.name})",
        device=device.key,
        observed=f"{ident.vendor or ''} {ident.model}".strip(),
        frames=[first.frame] if first else [],
        ts=first.ts if first else None,
    )


CHECKS: tuple[Check, ...] = (Check(UNSUPPORTED, check_unsupported),)
