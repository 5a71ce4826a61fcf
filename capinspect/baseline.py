"""``capinspect baseline``: expectations taken from a capture of a phone that works.

Everything a later capture can be compared with field by field is written: domains and FQDNs
from DHCP, ucupdates-r2's addresses, the Server and Service Version the service answered, the
update URL prefixes, and for each model the newest firmware seen. Values that differ between
the phones of the baseline capture are left out (a baseline must be unambiguous).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from capinspect.expectations import Expectations, TargetFirmware
from capinspect.knowledge.firmware import parse_version
from capinspect.report.model import Report


def _only(values: Iterable[str | None]) -> str | None:
    distinct = {v for v in values if v}
    return distinct.pop() if len(distinct) == 1 else None


def _prefix(url: str | None, segments: int) -> str | None:
    """``https://h/RequestHandler/ucdevice.upx`` → ``https://h/RequestHandler/`` (segments=1)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # a URL from the capture that cannot be split (``http://[``)
        return None
    path = [p for p in parts.path.split("/") if p][:segments]
    return f"{parts.scheme}://{parts.netloc}/" + "".join(f"{p}/" for p in path)


def baseline_from(report: Report) -> Expectations:
    sessions = [d.session for d in report.devices]
    replies = [
        seen.message
        for s in sessions
        for ex in s.dhcp
        for seen in ex.messages
        if seen.message.op == 2
    ]
    checkins = [
        c for s in sessions for c in s.checkins if c.response is not None and c.status == 200
    ]
    responses = [c.response for c in checkins if c.response is not None]
    lookups = [lk for s in sessions for lk in s.dns if lk.qname.startswith("ucupdates-r2.")]
    offered = [m for c in checkins for m in c.offered]
    targets: dict[tuple[str | None, str], str] = {}
    for session in sessions:
        model = session.identity.model
        if not model:
            continue
        versions = [
            s.version for s in session.firmware_seen if s.version and parse_version(s.version)
        ]
        versions += [d.offered_version for d in session.downloads if d.ok and d.offered_version]
        if versions:
            best = max(versions, key=lambda v: parse_version(v) or ())
            key = (session.identity.vendor, model)
            if key not in targets or (parse_version(best) or ()) > (
                parse_version(targets[key]) or ()
            ):
                targets[key] = best
    addresses = sorted({a for lk in lookups for a in lk.addresses})
    return Expectations(
        sip_domain=_only(m.domain_name for m in replies)
        or _only(lk.qname.removeprefix("ucupdates-r2.") for lk in lookups),
        web_fqdn=_only(m.option43.web_server_fqdn for m in replies if m.option43 is not None),
        pool_fqdn=_only(
            m.option120.names[0] for m in replies if m.option120 is not None and m.option120.names
        ),
        ucupdates_addresses=tuple(addresses),
        server_version=_only(r.server_version for r in responses),
        service_version=_only(r.service_version for r in responses),
        internal_update_url_prefix=_only(_prefix(r.internal_update_url, 1) for r in responses),
        external_update_url_prefix=_only(_prefix(r.external_update_url, 1) for r in responses),
        file_url_prefix=_only(_prefix(m.internal_url or m.url, 1) for m in offered),
        target_firmware=tuple(
            TargetFirmware(vendor, model, version)
            for (vendor, model), version in sorted(
                targets.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
            )
        ),
        source="baseline",
    )


CHECKIN_KEYS = (
    "server_version",
    "service_version",
    "internal_update_url_prefix",
    "external_update_url_prefix",
    "file_url_prefix",
    "target_firmware",
)
"""Expectation keys only a readable check-in response gives (and the offers in it)."""

ENCRYPTED_CHECKIN_IDS = frozenset({"tls.encrypted-checkin", "tls.cannot-decrypt"})
"""Findings that say a phone's check-in went over TLS and could not be read."""


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a baseline could not take because check-ins were encrypted."""

    encrypted: tuple[str, ...]
    """The phones (MAC or key) whose check-in was seen only encrypted."""
    missing: tuple[str, ...]
    """The check-in keys (of :data:`CHECKIN_KEYS`) the baseline has no value for."""

    @property
    def partial(self) -> bool:
        return bool(self.encrypted) and bool(self.missing)


def coverage(report: Report, expect: Expectations) -> Coverage:
    """Whether the baseline lacks check-in values because the check-ins could not be read.

    An HTTPS capture without the server key shows DHCP and DNS but not the check-in: a
    baseline from it would silently hold no Server Version, update URL or target firmware, and
    every later ``analyze --expect`` would compare less than the admin thinks."""
    encrypted = tuple(
        d.session.mac or d.session.key
        for d in report.devices
        if any(f.check_id in ENCRYPTED_CHECKIN_IDS for f in d.findings)
        # Judged without keys, a check-in still shows no value to take (docs/tls.md).
        or (d.session.encrypted_checkins and not d.session.checkins)
    )
    missing = tuple(key for key in CHECKIN_KEYS if not getattr(expect, key))
    return Coverage(encrypted, missing)
