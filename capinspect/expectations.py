"""What the user expects a healthy boot to show: built-in defaults, overridden by ``--expect``.

The defaults hold only what the sources state for every deployment (an https scheme, port 443
and the ``/CertProv/CertProvisioningService.svc`` path in option 43; an A record for
``ucupdates-r2``). Values that differ from site to site — domains, FQDNs, addresses, the
Server and Service Version a given server answers — are ``None`` until the user's file (or
``capinspect baseline`` run on a healthy capture) sets them; a check compares only what is set.

File format (TOML, every key optional)::

    sip_domain = "contoso.com"
    web_fqdn = "ocs.contoso.com"          # option 43 sub-option 3
    pool_fqdn = "pool.contoso.com"        # option 120
    ucupdates_addresses = ["10.0.0.5"]
    server_version = "3.5.6907.0"
    service_version = "3.5.6907.0"
    internal_update_url_prefix = "https://ocs.contoso.com/RequestHandler/"
    external_update_url_prefix = "https://ocsext.contoso.com/RequestHandlerExt/"
    file_url_prefix = "http://ocs.contoso.com/DeviceUpdateFiles_Int/"
    test_devices = ["00:21:63:0f:20:7b"]

    [[target_firmware]]
    vendor = "Polycom"
    model = "CX700"
    version = "3.5.6907.0"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from capinspect.errors import ConfigError
from capinspect.knowledge.firmware import parse_version


@dataclass(frozen=True, slots=True)
class TargetFirmware:
    vendor: str | None
    model: str
    version: str


@dataclass(frozen=True, slots=True)
class Expectations:
    """Expected values; ``None`` / empty means "not compared"."""

    sip_domain: str | None = None
    web_fqdn: str | None = None
    pool_fqdn: str | None = None
    ucupdates_addresses: tuple[str, ...] = ()
    server_version: str | None = None
    service_version: str | None = None
    internal_update_url_prefix: str | None = None
    external_update_url_prefix: str | None = None
    file_url_prefix: str | None = None
    test_devices: tuple[str, ...] = ()
    target_firmware: tuple[TargetFirmware, ...] = ()
    option43_scheme: str = "https"
    """protocol.md §1.2: sub-option 2 is ``https`` (S9, S2)."""
    option43_port: str = "443"
    """protocol.md §1.2: sub-option 4 is the ASCII text ``443`` (S9, S2)."""
    option43_path: str = "/CertProv/CertProvisioningService.svc"
    """protocol.md §1.2: sub-option 5 (S9, S10)."""
    source: str = "built-in defaults"
    """Where these expectations came from (shown in reports)."""
    _normalised_test_devices: frozenset[str] = field(default=frozenset(), repr=False)

    def target_for(self, vendor: str | None, model: str | None) -> TargetFirmware | None:
        if not model:
            return None
        for target in self.target_firmware:
            if target.model.lower() != model.lower():
                continue
            if target.vendor is None or vendor is None or target.vendor.lower() == vendor.lower():
                return target
        return None

    def is_test_device(self, mac: str | None, serial: str | None = None) -> bool:
        keys = self._normalised_test_devices or frozenset(
            normalise_device_key(d) for d in self.test_devices
        )
        if mac and normalise_device_key(mac) in keys:
            return True
        return bool(serial) and normalise_device_key(serial or "") in keys


def normalise_device_key(text: str) -> str:
    """MACs in any notation (``00-21-63-0F-20-7B``, ``0021630F207B``) compare equal."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


_STR_KEYS = {
    "sip_domain",
    "web_fqdn",
    "pool_fqdn",
    "server_version",
    "service_version",
    "internal_update_url_prefix",
    "external_update_url_prefix",
    "file_url_prefix",
    "option43_scheme",
    "option43_port",
    "option43_path",
}
_LIST_KEYS = {"ucupdates_addresses", "test_devices"}


def load_expectations(path: str) -> Expectations:
    """Read an expect.toml; any problem is a one-line :class:`ConfigError`."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such expectations file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return expectations_from_mapping(data, source=path)


def expectations_from_mapping(data: dict[str, Any], source: str) -> Expectations:
    known = {f.name for f in fields(Expectations)} - {"source", "_normalised_test_devices"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {"source": source}
    for key in _STR_KEYS & set(data):
        if not isinstance(data[key], str):
            raise ConfigError(f"{source}: {key} must be a string")
        values[key] = data[key]
    for key in _LIST_KEYS & set(data):
        items = data[key]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{source}: {key} must be a list of strings")
        values[key] = tuple(items)
    targets: list[TargetFirmware] = []
    for i, entry in enumerate(data.get("target_firmware", [])):
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            raise ConfigError(f"{source}: target_firmware[{i}] needs a model")
        version = entry.get("version")
        if not isinstance(version, str) or parse_version(version) is None:
            raise ConfigError(f"{source}: target_firmware[{i}] needs a version like 3.5.6907.0")
        vendor = entry.get("vendor")
        targets.append(
            TargetFirmware(vendor if isinstance(vendor, str) else None, entry["model"], version)
        )
    values["target_firmware"] = tuple(targets)
    tests = values.get("test_devices", ())
    values["_normalised_test_devices"] = frozenset(normalise_device_key(t) for t in tests)
    return Expectations(**values)


def dump_expectations(expect: Expectations, header: str) -> str:
    """TOML text for ``capinspect baseline``; only the keys that have a value are written."""
    out: dict[str, Any] = {}
    for key in sorted(_STR_KEYS):
        value = getattr(expect, key)
        if value is not None:
            out[key] = value
    for key in sorted(_LIST_KEYS):
        value = getattr(expect, key)
        if value:
            out[key] = list(value)
    if expect.target_firmware:
        out["target_firmware"] = [
            {
                k: v
                for k, v in (("vendor", t.vendor), ("model", t.model), ("version", t.version))
                if v
            }
            for t in expect.target_firmware
        ]
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + tomli_w.dumps(out)


DEFAULT_EXPECTATIONS = Expectations()
