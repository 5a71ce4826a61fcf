"""Firmware download checks: the GETs of the files a check-in offered.

Seed, update flow steps 4-6 and troubleshooting step 5: the phone fetches the image (internally
over plain HTTP from /DeviceUpdateFiles_Int/…); the readers' failures are 500.19 (the shared
folder's ACL), 403.4 (the vdir requires SSL) and 404 (the file is not in the store).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from capinspect.checks.base import Check, CheckContext, CheckSpec, Finding, Severity
from capinspect.devices import DeviceSession, Download, seconds
from capinspect.knowledge.iis import describe_iis

ACL_DENIED = CheckSpec(
    id="download.acl-denied",
    severity=Severity.FAIL,
    title="The firmware file is refused with HTTP 500.19 (IIS cannot read the folder)",
    explanation=(
        "IIS answered 500.19, 'configuration data is invalid': it cannot read the web.config of "
        "the DeviceUpdateFiles folder. For Enterprise Edition this is commonly the permissions of "
        "the shared updates folder (the seed's IIS line '500 19 5': win32 status 5 is access "
        "denied)."
    ),
    remediation=(
        "Give the Everyone group (or the IIS application pool identity) Read permission on the "
        "shared updates folder, or apply the fix for 'HTTP Error 500.19 when accessing OCPE "
        "firmware URLs on Windows 2008'; then browse to the file URL to confirm it downloads."
    ),
    source="seed (troubleshooting step 5); IIS sub-status table (KB 943891)",
)

SSL_REQUIRED = CheckSpec(
    id="download.ssl-required",
    severity=Severity.FAIL,
    title="The firmware file is refused with HTTP 403.4 (SSL required)",
    explanation=(
        "The phone fetches internal firmware files over plain HTTP; IIS answered 403.4 because "
        "the DeviceUpdateFiles_Int virtual directory is set to require SSL (the IIS 7 default "
        "one reader met)."
    ),
    remediation=(
        "In IIS Manager open DeviceUpdateFiles_Int (and its subfolders) → SSL Settings and "
        "untick 'Require SSL'."
    ),
    source="seed (comments 15 and 16); IIS sub-status table (protocol.md §4.2, S50)",
)

NOT_FOUND = CheckSpec(
    id="download.not-found",
    severity=Severity.FAIL,
    title="The offered firmware file is not on the server (HTTP 404)",
    explanation=(
        "The service offered a file the web server does not have: the update's folder is "
        "missing from DeviceUpdateFiles (upload incomplete, files not replicated to this pool "
        "server, or the OCInterim vdir missing)."
    ),
    remediation=(
        "Browse to the URL (seed step 5); check the DeviceUpdateFiles folder hierarchy for this "
        "vendor/model/revision/locale/version, re-upload the .cab if needed, and confirm the "
        "OCInterim vdir exists under DeviceUpdateFiles_Int and _Ext (step 4)."
    ),
    source="seed (troubleshooting steps 4-5, comment 19)",
)

HTTP_ERROR = CheckSpec(
    id="download.http-error",
    severity=Severity.FAIL,
    title="The firmware download failed at the HTTP level",
    explanation="The server answered the firmware GET with an error or not at all.",
    remediation="Look up the status (capinspect explain <status>) and the IIS log line for it.",
    source="seed (Log Files, troubleshooting step 8)",
)

NOT_ATTEMPTED = CheckSpec(
    id="download.not-attempted",
    severity=Severity.WARN,
    title="An offered file was never fetched in the capture",
    explanation=(
        "The check-in response offered firmware, but the phone did not request it while the "
        "capture ran. The phone may not accept the URL (a reader's phone ignored an https "
        "update URL), or the capture stopped too early."
    ),
    remediation=(
        "Keep capturing a few minutes after the check-in; check that the offered URL's host "
        "resolves from the phone and that the phone's firmware understands its scheme."
    ),
    source="seed (comments 1 and 13); inference",
)

INCOMPLETE = CheckSpec(
    id="download.incomplete",
    severity=Severity.FAIL,
    title="A firmware download was cut short",
    explanation=(
        "Fewer bytes arrived than the server announced (Content-Length), because the connection "
        "was closed or reset, or the capture lost or stopped before the end."
    ),
    remediation=(
        "A reset or close mid-transfer points at the network path (proxy, firewall, load "
        "balancer idle timeout); a capture that simply ended needs to run longer."
    ),
    source="inference",
)

DOWNLOAD_OK = CheckSpec(
    id="download.ok",
    severity=Severity.INFO,
    title="A firmware file was downloaded completely",
    explanation=(
        "The file arrived whole. The phone installs it after five minutes without use and "
        "restarts (seed, step 12: wait 5 minutes!)."
    ),
    remediation="Nothing to fix; wait five idle minutes for the phone to restart.",
    source="seed (update flow steps 5-6, troubleshooting step 12)",
)


def _frames(download: Download) -> list[int]:
    resp = download.exchange.response
    return [download.frame] + ([resp.frame] if resp is not None else [])


def _status_text(download: Download) -> str:
    """``HTTP 500.19 Internal Server Error (configuration data is invalid)``: the short form;
    ``capinspect explain 500.19`` gives the whole entry."""
    if download.status is None:
        return "no response"
    label, _, meaning = describe_iis(download.status, download.substatus).partition(" — ")
    short = meaning.split(":", 1)[0].strip()
    return f"{label} ({short})" if short else label


def _errors(device: DeviceSession, wanted: str) -> Iterator[Download]:
    for download in device.downloads:
        if _classify(download) == wanted:
            yield download


def _classify(download: Download) -> str:
    status = download.status
    if status is None:
        return "http-error"
    if status == 500 and (download.substatus == "500.19" or download.error_code == "0x80070005"):
        return "acl-denied"
    if status == 403 and download.substatus == "403.4":
        return "ssl-required"
    if status == 404:
        return "not-found"
    if status >= 400:
        return "http-error"
    if status == 200 and not download.complete:
        return "incomplete"
    if status == 200:
        return "ok"
    return "other"


def _error_check(spec: CheckSpec, kind: str) -> Check:
    def run(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
        for download in _errors(device, kind):
            yield spec.finding(
                f"GET {download.url} → {_status_text(download)}",
                device=device.key,
                expected="200 OK with the file",
                observed=_status_text(download)
                + (f", {download.error_code}" if download.error_code else ""),
                frames=_frames(download),
                ts=download.ts,
            )

    run.__name__ = f"check_download_{kind.replace('-', '_')}"
    return Check(spec, run)


def _url_path(url: str) -> str | None:
    """Lower-case path of a URL from the capture; None when it cannot be split (``http://[``)."""
    try:
        return urlsplit(url).path.lower()
    except ValueError:
        return None


def check_not_attempted(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    fetched = {_url_path(d.url) for d in device.downloads} - {None}
    for checkin in device.checkins:
        for module in checkin.offered:
            url = module.internal_url or module.url or module.external_url
            if not url:
                continue
            paths = {
                _url_path(u) for u in (module.internal_url, module.external_url, module.url) if u
            } - {None}
            if paths & fetched:
                continue
            later = [d for d in device.downloads if d.ts >= checkin.ts]
            if later:
                continue
            after = (ctx.capture_end - checkin.ts) if ctx.capture_end is not None else None
            note = f"; the capture ran {after:.0f} s more" if after is not None else ""
            yield NOT_ATTEMPTED.finding(
                f"offered {module.file_name or url} {module.version or ''} at {url}, never "
                f"requested{note}".replace("  ", " "),
                device=device.key,
                expected=f"GET {url}",
                observed="no request",
                frames=[checkin.frame],
                ts=checkin.ts,
            )
            return


def check_incomplete(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for download in _errors(device, "incomplete"):
        resp = download.exchange.response
        cut = resp.body.cut if resp is not None else None
        severity = Severity.WARN if cut in ("eof", "gap") else None
        why = {
            "eof": "the capture ended first",
            "gap": "the capture lost packets",
            "rst": "the connection was reset",
            "fin": "the server closed the connection",
        }.get(cut or "", "cut")
        expected = f"{download.expected} bytes" if download.expected is not None else "whole file"
        yield INCOMPLETE.finding(
            f"GET {download.url}: {download.bytes_received} of "
            f"{download.expected if download.expected is not None else '?'} bytes ({why})",
            device=device.key,
            severity=severity,
            expected=expected,
            observed=f"{download.bytes_received} bytes, {why}",
            frames=_frames(download),
            ts=download.ts,
        )


def check_ok(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for download in _errors(device, "ok"):
        took = f" in {seconds(download.duration)}" if download.duration is not None else ""
        version = f" ({download.offered_version})" if download.offered_version else ""
        yield DOWNLOAD_OK.finding(
            f"{download.file_name}{version}: {download.bytes_received} bytes{took}",
            device=device.key,
            observed=f"200, {download.bytes_received} bytes",
            frames=_frames(download),
            ts=download.ts,
        )


CHECKS: tuple[Check, ...] = (
    _error_check(ACL_DENIED, "acl-denied"),
    _error_check(SSL_REQUIRED, "ssl-required"),
    _error_check(NOT_FOUND, "not-found"),
    _error_check(HTTP_ERROR, "http-error"),
    Check(NOT_ATTEMPTED, check_not_attempted),
    Check(INCOMPLETE, check_incomplete),
    Check(DOWNLOAD_OK, check_ok),
)
