"""Values of the Device Update check-in (``POST …/ucdevice.upx``) and its answer.

The XML element names of the check-in are published nowhere (protocol.md §3.2–3.3, §8): the
parser (capinspect/protocols/upx.py) finds each field whatever its spelling and keeps every
other field it saw in ``fields`` so the user can read what the server really said.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FirmwareModule:
    """One installed or offered module: ``file_name`` (``cpe.nbt``), ``version``, ``timestamp``
    as written; for offered files also the internal/external URLs when present."""

    file_name: str | None
    version: str | None
    timestamp: str | None
    url: str | None = None
    internal_url: str | None = None
    external_url: str | None = None


@dataclass(frozen=True, slots=True)
class CheckinRequest:
    """What the phone said about itself (audit-log schema fields, protocol.md §3.2)."""

    device_type: str | None = None
    mac: str | None = None
    serial: str | None = None
    vendor: str | None = None
    model: str | None = None
    revision: str | None = None
    locale: str | None = None
    user: str | None = None
    modules: tuple[FirmwareModule, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    """Every (path, value) pair found, in document order, including the ones above."""
    problems: tuple[str, ...] = ()
    """Why the body could not be read fully (not XML, too large, too deep, entity declared…)."""

    @property
    def firmware_version(self) -> str | None:
        """The version of the first module that has one (the installed CPE image)."""
        for module in self.modules:
            if module.version:
                return module.version
        return None


@dataclass(frozen=True, slots=True)
class CheckinResponse:
    """What the Device Update Service answered."""

    server_version: str | None = None
    service_version: str | None = None
    downloads: int | None = None
    """The download count when the body states one (``downloads=0`` when nothing is offered)."""
    internal_update_url: str | None = None
    external_update_url: str | None = None
    files: tuple[FirmwareModule, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    problems: tuple[str, ...] = ()
