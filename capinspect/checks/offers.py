"""Offered-file checks: can the phone use the URL a check-in response gave it?

A response that offers a file is only as good as its URL. The phone fetches it over HTTP right
after the check-in (the article's IIS log: the GET starts within a second), so a URL it cannot
follow shows up as nothing at all: no request, no error. This check reads each offered URL
against what the capture shows about the phone and says why it cannot be used:

* it does not parse, or its scheme is not http/https;
* its host never resolved for this phone (the phone's own lookups of that name failed; a name the
  phone never looked up proves nothing, it may have been cached);
* its path names another device type, vendor, model, revision or locale than the phone reported
  (knowledge/update_paths.py has the layout);
* it offers the version the phone already runs.

``unusable_reasons`` is shared with ``download.not-attempted``, which stays silent about a file
this check explains.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from capinspect.checks.base import Check, CheckContext, CheckSpec, Finding, Severity
from capinspect.devices import Checkin, DeviceSession
from capinspect.knowledge.firmware import parse_version
from capinspect.knowledge.sources import APPROVE_AN_UPDATE, ARTICLE, GET_CSDEVICEUPDATE
from capinspect.knowledge.update_paths import IDENTITY_FIELDS, read_update_path
from capinspect.protocols.checkin import FirmwareModule
from capinspect.protocols.dns.messages import DnsLookup

OFFERED_URL_UNUSABLE = CheckSpec(
    id="checkin.offered-url-unusable",
    severity=Severity.FAIL,
    title="A file the check-in offered has a URL this phone cannot use",
    explanation=(
        "The Device Update service answered with a file to download, but its URL cannot work "
        "for this phone: it does not parse or is not http/https, its host did not resolve when "
        "the phone looked it up, its path is for another model, revision or locale than the "
        "phone reported (update files are per vendor/model/revision/locale: a reader of the "
        "Device Update troubleshooting article had English phones and Dutch update files), or "
        "it offers the version the phone already runs (an older one is not a fault: devices "
        "take any approved version other than theirs, which is how roll-back works). The phone "
        "then never asks for the file, and the capture shows nothing after the check-in; or it "
        "fetches a file that is not for it."
    ),
    remediation=(
        "Each finding names its reason and the fix: correct the service's internal/external "
        "update URLs, the DNS record of their host, or upload and approve the update package "
        "for the phone's own vendor/model/revision/locale; then restart the phone."
    ),
    source=(
        f"{ARTICLE}: update flow steps 3-5, its audit log and IIS log, a reader's locale "
        f"report (Wouter Berman); {GET_CSDEVICEUPDATE}; {APPROVE_AN_UPDATE} (roll-back); "
        "inference"
    ),
)

DNS_ANSWER_WAIT = 5.0
"""Seconds after a query by which an unanswered lookup counts as failed (a resolver retries
after 1-2 s; inference). A query the capture ended on proves nothing."""

_FIX_URL = (
    "The service builds file URLs from its internal and external update URLs: set them to "
    "plain http(s) URLs with a host name the phone resolves (the phone fetches internal files "
    "over HTTP on port 80 in the IIS log of the Device Update troubleshooting article), then "
    "restart the phone."
)
_FIX_HOST = (
    "Create the host's DNS record (an A record the phone's DNS server answers) or point the "
    "service's internal/external URL at a name that resolves; browse to the file URL from the "
    "phone's network (the Device Update troubleshooting article, step 5)."
)
_FIX_IDENTITY = (
    "Upload the update package for this phone's own vendor/model/revision/locale and approve "
    "it (or leave it pending for a test device) in the Device Update management console; the "
    "locale of the package must be the phone's."
)
_FIX_INTERIM_LOCALE = (
    "Check that the OCInterim virtual directory holds the interim build for this phone's "
    "locale. Which locales the interim build ships for is not documented: if this phone then "
    "fetches and installs it, nothing is wrong."
)
_FIX_SAME_VERSION = (
    "Approve (or, for a test device, leave pending) a newer build for this model and locale; "
    "the Device Update troubleshooting article: the approved revision must be more recent "
    "than the one the devices run. If the phone already runs the build you want, remove the "
    "rule that offers it again."
)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why one offered URL cannot be used, with its evidence and fix."""

    kind: str
    """``unparsable``, ``scheme``, ``host``, ``identity``, ``same-version``."""
    summary: str
    expected: str
    observed: str
    frames: tuple[int, ...]
    remediation: str
    severity: Severity = Severity.FAIL


def module_urls(module: FirmwareModule) -> list[tuple[str, str]]:
    """(label, URL) of an offered file, internal first, without repeats."""
    out: list[tuple[str, str]] = []
    for label, url in (
        ("internal URL", module.internal_url),
        ("URL", module.url),
        ("external URL", module.external_url),
    ):
        if url and url not in [u for _, u in out]:
            out.append((label, url))
    return out


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        return None
    return parts


def _path(url: str) -> str | None:
    parts = _split(url)
    return parts.path.lower() if parts is not None else None


def fetched_paths(device: DeviceSession, since: float) -> set[str]:
    """Lower-case paths of the firmware GETs the phone sent from ``since`` on."""
    return {
        d.exchange.request.path.split("?", 1)[0].lower() for d in device.downloads if d.ts >= since
    }


def was_fetched(device: DeviceSession, checkin: Checkin, module: FirmwareModule) -> bool:
    """The phone asked for one of the file's URLs after this check-in."""
    got = fetched_paths(device, checkin.ts)
    return any(_path(url) in got for _, url in module_urls(module))


def _failed_lookups(device: DeviceSession, host: str, ctx: CheckContext) -> list[DnsLookup]:
    """The phone's lookups of ``host`` when none of them got an address and at least one
    failed for sure; empty when the name resolved, or was never (or not surely) looked up."""
    name = host.lower().rstrip(".")
    mine = [lk for lk in device.dns if lk.qname == name and lk.qtype in ("A", "AAAA", "ANY")]
    if not mine or any(lk.addresses for lk in mine):
        return []
    end = ctx.capture_end
    failed = [
        lk
        for lk in mine
        if lk.rcode is not None or (end is not None and end - lk.first_ts >= DNS_ANSWER_WAIT)
    ]
    return failed


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _url_reasons(
    device: DeviceSession, checkin: Checkin, label: str, url: str, ctx: CheckContext
) -> Iterator[Reason]:
    """Reasons the phone cannot follow this URL at all (dropped when it did follow it)."""
    frames = _offer_frames(checkin)
    parts = _split(url)
    if parts is None or not parts.scheme or not parts.hostname:
        yield Reason(
            "unparsable",
            f"the {label} {url!r} does not parse as a URL with a host",
            "http://<host>/DeviceUpdateFiles_Int/…",
            url,
            frames,
            _FIX_URL,
        )
        return
    if parts.scheme.lower() not in ("http", "https"):
        yield Reason(
            "scheme",
            f"the {label} {url} uses the scheme {parts.scheme!r}: the phone fetches files over "
            "http or https only",
            "http:// or https://",
            f"{parts.scheme}://",
            frames,
            _FIX_URL,
        )
        return
    host = parts.hostname
    if _is_ip(host):
        return
    failed = _failed_lookups(device, host, ctx)
    if failed:
        outcome = ", ".join(
            sorted(
                {
                    lk.rcode + (" without an address" if lk.rcode == "NOERROR" else "")
                    if lk.rcode
                    else "no answer"
                    for lk in failed
                }
            )
        )
        lookup_frames = [
            f for lk in failed for f in (*lk.query_frames[:1], *lk.response_frames[:1])
        ]
        yield Reason(
            "host",
            f"the {label}'s host {host} never resolved for this phone ({len(failed)} lookup(s): "
            f"{outcome})",
            f"{host} resolves to an address",
            outcome,
            tuple(sorted({*frames, *lookup_frames})),
            _FIX_HOST,
        )


def _identity_reasons(checkin: Checkin, label: str, url: str) -> Iterator[Reason]:
    """The path's device type/vendor/model/revision/locale against the phone's own."""
    path = _split(url)
    if path is None:
        return
    read = read_update_path(path.path)
    if read is None:
        return
    mine = {name: getattr(checkin.request, name) for name in IDENTITY_FIELDS}
    wrong = [
        (name, theirs, mine[name])
        for name, theirs in read.values
        if name in mine and mine[name] and theirs.casefold() != str(mine[name]).casefold()
    ]
    if not wrong:
        return
    interim = read.layout.name == "interim"
    described = ", ".join(
        f"{name.replace('_', ' ')} {got} (phone: {want})" for name, got, want in wrong
    )
    yield Reason(
        "identity",
        f"the {label} is for another phone: its path names {described}"
        + (" — the interim build, whose locales are not documented" if interim else ""),
        "/".join(f"{want}" for _, _, want in wrong),
        "/".join(got for _, got, _ in wrong),
        _offer_frames(checkin),
        _FIX_INTERIM_LOCALE if interim else _FIX_IDENTITY,
        Severity.WARN if interim else Severity.FAIL,
    )


def _version_reason(checkin: Checkin, module: FirmwareModule) -> Iterator[Reason]:
    """An offer of the very version the phone runs. An older version is not a reason: devices
    take an approved update whose version differs from theirs, even an older one — that is how
    roll-back works (Microsoft, Lync Server 2010 "Approve an update")."""
    installed = parse_version(checkin.firmware)
    offered_text = module.version
    if parse_version(offered_text) is None:
        for _, url in module_urls(module):
            parts = _split(url)
            read = read_update_path(parts.path) if parts is not None else None
            if read is not None and read.get("version"):
                offered_text = read.get("version")
                break
    offered = parse_version(offered_text)
    if installed is None or offered is None or offered != installed:
        return
    yield Reason(
        "same-version",
        f"it offers {offered_text}, the version the phone already runs: there is nothing to "
        "install",
        f"a version other than {checkin.firmware}",
        str(offered_text),
        _offer_frames(checkin),
        _FIX_SAME_VERSION,
    )


def _offer_frames(checkin: Checkin) -> tuple[int, ...]:
    resp = checkin.exchange.response
    return (checkin.frame,) + ((resp.frame,) if resp is not None else ())


def unusable_reasons(
    device: DeviceSession, checkin: Checkin, module: FirmwareModule, ctx: CheckContext
) -> list[Reason]:
    """Why the phone cannot (or should not) fetch this offered file, one reason per fault.

    Reasons that say a URL cannot be followed are dropped when the phone followed it anyway
    (the capture's evidence wins); the identity and version reasons stay: a file for another
    phone is wrong even when it was fetched."""
    reasons: list[Reason] = []
    fetched = was_fetched(device, checkin, module)
    seen: set[tuple[str, str]] = set()
    for label, url in module_urls(module):
        found = [] if fetched else list(_url_reasons(device, checkin, label, url, ctx))
        found += _identity_reasons(checkin, label, url)
        for reason in found:
            key = (reason.kind, reason.observed)
            if key not in seen:
                seen.add(key)
                reasons.append(reason)
    reasons += _version_reason(checkin, module)
    return reasons


def check_offered_url_unusable(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    reported: set[tuple[str, str, str]] = set()
    for checkin in device.checkins:
        if checkin.status != 200:
            continue  # an error answer offers nothing (checkin.http-error)
        for module in checkin.offered:
            name = module.file_name or "the offered file"
            for reason in unusable_reasons(device, checkin, module, ctx):
                key = (name.lower(), reason.kind, reason.observed)
                if key in reported:
                    continue  # the same fault offered again at the next check-in
                reported.add(key)
                yield OFFERED_URL_UNUSABLE.finding(
                    f"{name} {module.version or ''}: {reason.summary}".replace("  ", " "),
                    device=device.key,
                    severity=reason.severity,
                    expected=reason.expected,
                    observed=reason.observed,
                    frames=reason.frames,
                    ts=checkin.ts,
                    remediation=reason.remediation,
                )


CHECKS: tuple[Check, ...] = (Check(OFFERED_URL_UNUSABLE, check_offered_url_unusable),)
