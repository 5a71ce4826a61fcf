"""The checks, registered explicitly (no import side effects): per-phone, then capture-level.

``ALL_CHECKS`` is the single list the engine runs; ``SPECS_BY_ID`` feeds ``capinspect explain``
and docs/checks.md.
"""

from __future__ import annotations

from capinspect.checks import (
    capture,
    checkin,
    device,
    dhcp,
    dns,
    download,
    encrypted,
    logs,
    offers,
    signin,
    time,
    tls,
)
from capinspect.checks.base import Check, CheckSpec

ALL_CHECKS: tuple[Check, ...] = (
    *dhcp.CHECKS,
    *time.CHECKS,
    *dns.CHECKS,
    *signin.CHECKS,
    *tls.CHECKS,
    *checkin.CHECKS,
    *encrypted.CHECKS,
    *offers.CHECKS,
    *download.CHECKS,
    *device.CHECKS,
)

LOG_SPECS: tuple[CheckSpec, ...] = logs.LOG_SPECS
"""IDs only the server's logs give (checks/logs.py); the log checks reuse capture IDs otherwise."""

ALL_SPECS: tuple[CheckSpec, ...] = (
    *(c.spec for c in ALL_CHECKS),
    *capture.CAPTURE_SPECS,
    *LOG_SPECS,
)
SPECS_BY_ID: dict[str, CheckSpec] = {spec.id: spec for spec in ALL_SPECS}
