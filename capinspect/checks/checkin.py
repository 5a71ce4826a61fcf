"""Check-in checks: ``POST …/ucdevice.upx`` and what the Device Update Service answered.

The Device Update troubleshooting article, update flow steps 2-3: the phone sends its current
version; the service answers ``downloads=0`` when no approved (or, for test devices, pending)
update exists, else the internal and external URLs of the files. Its readers' failures: no
"Server Version"/"Service Version" in the response, the locale of the uploaded files not
matching the phone's (Wouter Berman), 1.0.452.0 asking for /UCDeviceUpdates/ (step 10, Edi),
phones stuck on the interim build.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from capinspect.checks.base import (
    Check,
    CheckContext,
    CheckFunction,
    CheckSpec,
    Finding,
    Severity,
)
from capinspect.checks.download import not_firmware
from capinspect.devices import Checkin, DeviceSession
from capinspect.devices.model import NOTHING_OFFERED
from capinspect.knowledge.firmware import (
    INTERIM_PATH_MARKER,
    INTERIM_THRESHOLD,
    INTERIM_VERSION,
    Version,
    family_for,
    format_version,
    parse_version,
)
from capinspect.knowledge.phone import is_update_name
from capinspect.knowledge.sources import ARTICLE

NOT_OBSERVED = CheckSpec(
    id="checkin.not-observed",
    severity=Severity.INFO,
    title="No check-in (POST …/ucdevice.upx) from this phone in the capture",
    explanation=(
        "At power-on and every 24 hours the phone asks the Device Update service for updates. "
        "This phone was seen (DHCP or DNS) but never checked in within the capture. That alone "
        "is not a fault the capture proves (it may have ended first, or the check-in is "
        "encrypted): the verdict is inconclusive unless an earlier step failed."
    ),
    remediation=(
        "Start the capture before powering the phone on and keep it running a few minutes; if "
        "the phone only talks TLS to port 443 the check-in is encrypted (give the server key); "
        "otherwise look at the DNS findings: without ucupdates-r2 the phone has nowhere to go."
    ),
    source=f"{ARTICLE}: update flow step 2; inference",
)

HTTP_ERROR = CheckSpec(
    id="checkin.http-error",
    severity=Severity.FAIL,
    title="The check-in failed at the HTTP level",
    explanation=(
        "The Device Update request handler answered the check-in with an error (or not at all), "
        "so the phone learns nothing about updates. The IIS log on the server has the same line "
        "with its sub-status."
    ),
    remediation=(
        "Look at the RequestHandler virtual directory in IIS (it must exist and run) and at the "
        "IIS log line for this request (sub-status, win32 status)."
    ),
    source=f"{ARTICLE}: 'Log Files' and troubleshooting step 8",
)

LEGACY_PATH_MISSING = CheckSpec(
    id="checkin.legacy-path-missing",
    severity=Severity.FAIL,
    title="Firmware 1.0.452.0 asks for /UCDeviceUpdates/ucdevice.upx and gets 404",
    explanation=(
        "Phones on 1.0.452.0 (OCS 2007 R1-era firmware) check in at /UCDeviceUpdates/ucdevice.upx, "
        "a virtual directory OCS 2007 R2 does not create, so the request fails with 404 and the "
        "phone never learns about an update."
    ),
    remediation=(
        "Create a virtual directory UCDeviceUpdates on the server running the update service and "
        "point it at the RequestHandler directory (the Device Update troubleshooting article, "
        "step 10; one of its readers did exactly this); also unblock 1.0.452.x in the Client "
        "Version Filter (the article's step 7)."
    ),
    source=(
        f"{ARTICLE}: troubleshooting steps 7 and 10; readers' comments (Edi's 1.0.452.0 phones "
        "and the author's reply)"
    ),
)

MISSING_SERVER_VERSION = CheckSpec(
    id="checkin.missing-server-version",
    severity=Severity.FAIL,
    title="The check-in response has no Server Version",
    explanation=(
        "A healthy Device Update response carries a Server Version. A reader whose phones showed "
        "0x0/200 but never downloaded found 'Server Version' and 'Service Version' missing from "
        "the response in Wireshark while a browser got them: something between the phone and the "
        "service (proxy, wrong virtual directory, wrong server) is answering. When such a "
        "response offers a file the phone never fetches, or offers nothing to a phone older "
        "than the target, this is the root cause (fail); without the versions to a phone that "
        "needs nothing it is a warn."
    ),
    remediation=(
        "Compare this response with what a browser gets from the same URL on the server; check "
        "that the phone reaches the right server (DNS, load balancer) and the RequestHandler vdir."
    ),
    source=(
        f"{ARTICLE}: a reader's comment (no 'Server Version' or 'Service Version' in "
        "Wireshark, both in a browser)"
    ),
)

MISSING_SERVICE_VERSION = CheckSpec(
    id="checkin.missing-service-version",
    severity=Severity.FAIL,
    title="The check-in response has no Service Version",
    explanation=MISSING_SERVER_VERSION.explanation.replace("Server Version.", "Service Version."),
    remediation=MISSING_SERVER_VERSION.remediation,
    source=MISSING_SERVER_VERSION.source,
)

NO_UPDATE_OFFERED = CheckSpec(
    id="checkin.no-update-offered",
    severity=Severity.FAIL,
    title="No update offered although the phone's firmware is older than the target",
    explanation=(
        "The service answered downloads=0: it has no approved update for this phone's vendor, "
        "model, revision and locale (or, for a test device, no pending one), so the phone stays "
        "on its firmware."
    ),
    remediation=(
        "In the Device Update management console check that the update for exactly this "
        "vendor/model/revision/locale is uploaded (the locale of the .cab must match the phone's) "
        "and approved — or pending with this phone listed as a test device by MAC or serial; "
        "make sure the Client Version Filter does not block the phone (the Device Update "
        "troubleshooting article, step 7); then restart it."
    ),
    source=(
        f"{ARTICLE}: update flow step 3, troubleshooting steps 7 and 11; a reader's comment "
        "(Wouter Berman: Dutch update files, English phones)"
    ),
)

INTERIM_STEP = CheckSpec(
    id="checkin.interim-step",
    severity=Severity.INFO,
    title="The phone goes through the interim build 1.0.522.103 first",
    explanation=(
        "A phone below 1.0.522.98 first updates to the interim build 1.0.522.103 (served from "
        "the OCInterim virtual directory), reboots, checks in again and only then receives the "
        "approved or pending build: two update cycles."
    ),
    remediation=(
        "Nothing to fix. If the phone stays on 1.0.522.103, check the approved build for its "
        "model and locale; the OCInterim vdir must exist under DeviceUpdateFiles_Int and _Ext."
    ),
    source=(
        f"{ARTICLE}: the interim build paragraph, the audit log example, troubleshooting step 4"
    ),
)

UNEXPECTED_RESPONSE = CheckSpec(
    id="checkin.unexpected-response",
    severity=Severity.WARN,
    title="A check-in response value differs from what you expect",
    explanation=(
        "The response names a Server Version, Service Version or update URL that differs from "
        "your expectations (or the baseline taken from a healthy phone)."
    ),
    remediation=(
        "Check which server answered (DNS, load balancer, the pool in the URL) and that its "
        "Device Update configuration (internal/external URLs) is the one you intended."
    ),
    source="expectations (--expect / capinspect baseline)",
)

UPDATE_NOT_APPLIED = CheckSpec(
    id="checkin.update-not-applied",
    severity=Severity.FAIL,
    title="The phone downloaded an update but still reports its old firmware",
    explanation=(
        "After a complete download the phone should wait five minutes idle, restart and report "
        "the new version. This phone checked in again still on the old version."
    ),
    remediation=(
        "Check that the file served is the right image for the model (its .cat and .nbt), that "
        "the phone stayed idle five minutes (nobody using it), and the phone's Last Update Status "
        "on its About screen (capinspect explain 0x…/…)."
    ),
    source=(
        f"{ARTICLE}: update flow step 6; readers' comments (phones that keep reporting the "
        "interim build 1.0.522.103)"
    ),
)

UNREADABLE_BODY = CheckSpec(
    id="checkin.unreadable-body",
    severity=Severity.INFO,
    title="A check-in body could not be read fully",
    explanation=(
        "The check-in request or response body is not well-formed XML (or was cut), so some "
        "fields may be missing from this report; what could be read is shown."
    ),
    remediation="Look at the body in the timeline JSON or in Wireshark (Follow TCP stream).",
    source="inference (Microsoft publishes no format for the check-in body)",
)


def _version(checkin: Checkin) -> Version | None:
    return parse_version(checkin.firmware)


def _target(device: DeviceSession, ctx: CheckContext) -> tuple[Version, str] | None:
    ident = device.identity
    target = ctx.expect.target_for(ident.vendor, ident.model)
    if target is not None:
        version = parse_version(target.version)
        if version is not None:
            return version, f"{target.version} (your expectations)"
    family = family_for(ident.vendor, ident.model)
    if family is not None and family.supported:
        return family.newest_known, f"{format_version(family.newest_known)} ({family.name})"
    return None


def _answered(device: DeviceSession) -> list[Checkin]:
    return [c for c in device.checkins if c.status == 200 and c.response is not None]


def offered_not_fetched(device: DeviceSession, checkin: Checkin) -> str | None:
    """The first file this check-in's response offers that the phone never fetched after it
    (``None`` when it offers nothing or every offered file was fetched)."""
    later = [d for d in device.downloads if d.ts >= checkin.ts]
    fetched = {d.file_name.lower() for d in later}
    fetched_paths = {_path_of(d.url) for d in later}
    for module in checkin.offered:
        urls = [u for u in (module.internal_url, module.external_url, module.url) if u]
        if any(_path_of(u) in fetched_paths for u in urls):
            continue
        name = module.file_name or (urls[0].rsplit("/", 1)[-1] if urls else None)
        if not urls and name and name.lower() in fetched:
            continue
        return f"{name or 'a file'} {module.version or ''}".strip()
    resp = checkin.response
    if resp is not None and not resp.files and resp.downloads and not later:
        return f"downloads={resp.downloads}"
    return None


def _path_of(url: str) -> str | None:
    try:
        return urlsplit(url).path.lower()
    except ValueError:
        return None


def check_not_observed(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    if device.checkins or any(e.conclusive for e in device.encrypted_checkins):
        return  # an encrypted check-in judged without keys is a checkin.encrypted-* finding
    tls = [f for f in device.other_flows if f.flow.server_port == 443 or f.kind == "tls"]
    update_lookups = [lk for lk in device.dns if is_update_name(lk.qname)]
    if device.tls and all(c.outcome == "failed" for c in device.tls):
        # No check-in because no TLS handshake succeeded: the tls.* findings say why.
        yield NOT_OBSERVED.finding(
            f"no check-in: all {len(device.tls)} TLS connection(s) failed their handshake "
            "(see the tls findings)",
            device=device.key,
            severity=Severity.INFO,
            expected="POST /RequestHandler/ucdevice.upx",
            observed="TLS handshake failed",
            frames=[c.frame for c in device.tls],
            ts=device.tls[0].ts,
        )
        return
    if tls:
        flow = tls[0]
        yield NOT_OBSERVED.finding(
            f"no plain-text check-in, but {len(tls)} TLS connection(s) to "
            f"{flow.flow.server_ip}:{flow.flow.server_port}: the check-in is probably encrypted",
            device=device.key,
            severity=Severity.INFO,
            observed=f"TLS to {flow.flow.server_ip}:{flow.flow.server_port}",
            frames=[f.frame for f in tls],
            ts=flow.ts,
            remediation=(
                "Decrypt with the server's private key (RSA key exchange) or a key log, or read "
                "the server's IIS log and Device Update audit log for this phone's check-ins."
            ),
        )
        return
    failed_dns = bool(update_lookups) and not any(lk.addresses for lk in update_lookups)
    yield NOT_OBSERVED.finding(
        "no check-in seen"
        + (
            " — the ucupdates-r2 lookup failed, so the phone had nowhere to go"
            if failed_dns
            else ""
        ),
        device=device.key,
        severity=Severity.INFO if failed_dns else None,
        expected="POST /RequestHandler/ucdevice.upx",
        observed="none",
        frames=[lk.query_frames[0] for lk in update_lookups if lk.query_frames],
        ts=device.first_ts,
    )


def check_http_error(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for checkin in device.checkins:
        if checkin.path_kind == "UCDeviceUpdates" and checkin.status == 404:
            continue  # checkin.legacy-path-missing says it better
        status = checkin.status
        if status is not None and status < 400:
            continue
        resp = checkin.exchange.response
        observed = "no response in the capture" if resp is None else f"{resp.status} {resp.reason}"
        yield HTTP_ERROR.finding(
            f"POST {checkin.exchange.request.path} → {observed}",
            device=device.key,
            expected="200 OK",
            observed=observed,
            frames=[checkin.frame] + ([resp.frame] if resp is not None else []),
            ts=checkin.ts,
        )


def check_legacy_path_missing(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for checkin in device.checkins:
        if checkin.path_kind == "UCDeviceUpdates" and checkin.status == 404:
            resp = checkin.exchange.response
            yield LEGACY_PATH_MISSING.finding(
                f"POST {checkin.exchange.request.path} → 404 (firmware "
                f"{checkin.firmware or 'unknown'})",
                device=device.key,
                expected="200 from a UCDeviceUpdates vdir pointing at RequestHandler",
                observed="404 Not Found",
                frames=[checkin.frame] + ([resp.frame] if resp is not None else []),
                ts=checkin.ts,
            )
            return


def _missing_field(spec: CheckSpec, attr: str, label: str) -> CheckFunction:
    """A check that the answered check-ins carry the response field ``attr``."""

    def check(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
        for checkin in _answered(device):
            assert checkin.response is not None
            if getattr(checkin.response, attr) is None:
                resp = checkin.exchange.response
                ignored = offered_not_fetched(device, checkin)
                withheld = _update_withheld(device, ctx, checkin)
                consequence = (
                    f"; it offers {ignored}, which the phone never fetched: the phone discards "
                    "a response without its versions"
                    if ignored
                    else f"; the phone is older than {withheld} and gets no update from it"
                    if withheld
                    else ""
                )
                yield spec.finding(
                    f"the 200 response to POST {checkin.exchange.request.path} has no {label}"
                    + consequence,
                    device=device.key,
                    expected=f"a {label}",
                    observed="absent",
                    frames=[checkin.frame] + ([resp.frame] if resp is not None else []),
                    ts=checkin.ts,
                    severity=None if ignored or withheld else Severity.WARN,
                )
                return

    check.__name__ = f"check_{attr}_present"
    return check


def _update_withheld(device: DeviceSession, ctx: CheckContext, checkin: Checkin) -> str | None:
    """The target (as text) when this answered check-in offers nothing to a phone older than
    it; ``None`` otherwise (the phone is current, the target is unknown, or it was offered)."""
    target = _target(device, ctx)
    resp = checkin.response
    if target is None or resp is None:
        return None
    target_version, target_text = target
    offered = resp.files or (resp.downloads is not None and resp.downloads > 0)
    if offered or resp.downloads is None and not resp.files and resp.problems:
        return None
    current = _version(checkin)
    if current is not None and current >= target_version:
        return None
    return target_text


def check_no_update_offered(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for checkin in _answered(device):
        resp = checkin.response
        assert resp is not None
        target_text = _update_withheld(device, ctx, checkin)
        if target_text is None:
            continue
        ident = device.identity
        who = "/".join(v or "?" for v in (ident.vendor, ident.model, ident.revision, ident.locale))
        test = ctx.expect.is_test_device(device.mac, ident.serial)
        yield NO_UPDATE_OFFERED.finding(
            f"phone {who} on {checkin.firmware or 'an unknown version'} got downloads="
            f"{resp.downloads if resp.downloads is not None else 0}; target {target_text}"
            + (" (listed as a test device: the update must be pending)" if test else ""),
            device=device.key,
            expected=f"an update to {target_text}",
            observed=f"downloads={resp.downloads if resp.downloads is not None else 0}",
            frames=[checkin.frame],
            ts=checkin.ts,
        )
        return
    yield from _encrypted_update_withheld(device, ctx)


def _encrypted_update_withheld(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    """An encrypted check-in whose audit row shows an old version and nothing offered."""
    target = _target(device, ctx)
    if target is None or device.checkins:
        return
    for item in device.encrypted_checkins:
        fill = item.audit
        if item.outcome != NOTHING_OFFERED or fill is None or fill.offered:
            continue
        current = parse_version(fill.firmware)
        if current is not None and current >= target[0]:
            continue
        yield NO_UPDATE_OFFERED.finding(
            f"phone on {fill.firmware or 'an unknown version'} (from the audit log, "
            f"{fill.where}) was offered nothing; target {target[1]}",
            device=device.key,
            expected=f"an update to {target[1]}",
            observed="nothing offered (audit log)",
            frames=[item.frame],
            ts=item.ts,
            basis=item.basis,
        )
        return


def check_interim_step(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for checkin in device.checkins:
        current = _version(checkin)
        interim = [
            m
            for m in checkin.offered
            if parse_version(m.version) == INTERIM_VERSION
            or any(INTERIM_PATH_MARKER in (u or "").lower() for u in (m.internal_url, m.url))
        ]
        below = current is None or current < INTERIM_THRESHOLD
        if interim and below:
            yield INTERIM_STEP.finding(
                f"firmware {checkin.firmware or '(none reported)'} is below "
                f"{format_version(INTERIM_THRESHOLD)}: offered the interim "
                f"{interim[0].version or format_version(INTERIM_VERSION)} first",
                device=device.key,
                observed=interim[0].internal_url or interim[0].url or interim[0].file_name,
                frames=[checkin.frame],
                ts=checkin.ts,
            )
            return


def check_unexpected_response(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    expect = ctx.expect
    for checkin in _answered(device):
        resp = checkin.response
        assert resp is not None
        wrong: list[tuple[str, str, str]] = []
        pairs = (
            ("Server Version", expect.server_version, resp.server_version),
            ("Service Version", expect.service_version, resp.service_version),
        )
        for label, want, got in pairs:
            if want and got and got != want:
                wrong.append((label, want, got))
        prefixes = (
            ("internal update URL", expect.internal_update_url_prefix, resp.internal_update_url),
            ("external update URL", expect.external_update_url_prefix, resp.external_update_url),
        )
        for label, want, got in prefixes:
            if want and got and not got.lower().startswith(want.lower()):
                wrong.append((label, want + "…", got))
        if expect.file_url_prefix:
            for module in resp.files:
                url = module.internal_url or module.url
                if url and not url.lower().startswith(expect.file_url_prefix.lower()):
                    wrong.append(("file URL", expect.file_url_prefix + "…", url))
        if wrong:
            yield UNEXPECTED_RESPONSE.finding(
                "; ".join(f"{label} is {got}, expected {want}" for label, want, got in wrong),
                device=device.key,
                expected="; ".join(f"{label}: {want}" for label, want, _ in wrong),
                observed="; ".join(f"{label}: {got}" for label, _, got in wrong),
                frames=[checkin.frame],
                ts=checkin.ts,
            )
            return


def check_update_not_applied(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for download in device.downloads:
        if not download.ok or download.offered_version is None or not_firmware(download):
            continue  # a page that is not an image is download.not-firmware's business
        new = parse_version(download.offered_version)
        before = [c for c in device.checkins if c.ts < download.ts]
        after = [c for c in device.checkins if c.ts > download.ts]
        if new is None or not before or not after:
            continue
        old = _version(before[-1])
        later = _version(after[-1])
        if later is not None and later < new and later == old:
            yield UPDATE_NOT_APPLIED.finding(
                f"downloaded {download.file_name} {download.offered_version} (frame "
                f"{download.frame}) but checked in again on {after[-1].firmware}",
                device=device.key,
                expected=download.offered_version,
                observed=after[-1].firmware,
                frames=[download.frame, after[-1].frame],
                ts=after[-1].ts,
            )
            return


def check_unreadable_body(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for checkin in device.checkins:
        problems = list(checkin.request.problems)
        if checkin.response is not None and checkin.status == 200:
            problems += [f"response: {p}" for p in checkin.response.problems]
        if problems:
            yield UNREADABLE_BODY.finding(
                "; ".join(problems[:3]),
                device=device.key,
                frames=[checkin.frame],
                ts=checkin.ts,
            )
            return


CHECKS: tuple[Check, ...] = (
    Check(NOT_OBSERVED, check_not_observed),
    Check(HTTP_ERROR, check_http_error),
    Check(LEGACY_PATH_MISSING, check_legacy_path_missing),
    Check(
        MISSING_SERVER_VERSION,
        _missing_field(MISSING_SERVER_VERSION, "server_version", "Server Version"),
    ),
    Check(
        MISSING_SERVICE_VERSION,
        _missing_field(MISSING_SERVICE_VERSION, "service_version", "Service Version"),
    ),
    Check(NO_UPDATE_OFFERED, check_no_update_offered),
    Check(INTERIM_STEP, check_interim_step),
    Check(UNEXPECTED_RESPONSE, check_unexpected_response),
    Check(UPDATE_NOT_APPLIED, check_update_not_applied),
    Check(UNREADABLE_BODY, check_unreadable_body),
)
