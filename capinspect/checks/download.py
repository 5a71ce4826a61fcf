"""Firmware download checks: the GETs of the files a check-in offered.

The Device Update troubleshooting article, update flow steps 4-6 and troubleshooting step 5: the
phone fetches the image (internally over plain HTTP from /DeviceUpdateFiles_Int/…); the readers'
failures are 500.19 (the shared folder's ACL), 403.4 (the vdir requires SSL) and 404 (the file is
not in the store).
"""

from __future__ import annotations

from collections.abc import Iterator

from capinspect.checks.base import Check, CheckContext, CheckSpec, Finding, Severity
from capinspect.checks.offers import module_urls, unusable_reasons, was_fetched
from capinspect.devices import Checkin, DeviceSession, Download, seconds
from capinspect.knowledge.firmware import (
    DOWNLOAD_TIMES_SEEN,
    FETCH_START_WINDOW,
    IMAGE_SUFFIXES,
    MIN_IMAGE_BYTES,
    UPDATE_CYCLE,
)
from capinspect.knowledge.iis import describe_iis
from capinspect.knowledge.sources import ARTICLE, IIS_STATUS_CODES
from capinspect.protocols.checkin import FirmwareModule

ACL_DENIED = CheckSpec(
    id="download.acl-denied",
    severity=Severity.FAIL,
    title="The firmware file is refused with HTTP 500.19 (IIS cannot read the folder)",
    explanation=(
        "IIS answered 500.19, 'configuration data is invalid': it cannot read the web.config of "
        "the DeviceUpdateFiles folder. For Enterprise Edition this is commonly the permissions of "
        "the shared updates folder (the IIS log line '500 19 5' in the Device Update "
        "troubleshooting article: win32 status 5 is access denied)."
    ),
    remediation=(
        "Give the Everyone group (or the IIS application pool identity) Read permission on the "
        "shared updates folder, or apply the fix for 'HTTP Error 500.19 when accessing OCPE "
        "firmware URLs on Windows 2008'; then browse to the file URL to confirm it downloads."
    ),
    source=f"{ARTICLE}: troubleshooting step 5; {IIS_STATUS_CODES}",
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
    source=(
        f"{ARTICLE}: readers' comments (Sam's 'Require SSL' and the author's reply); "
        f"{IIS_STATUS_CODES}"
    ),
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
        "Browse to the URL (the Device Update troubleshooting article, step 5); check the "
        "DeviceUpdateFiles folder hierarchy for this vendor/model/revision/locale/version, "
        "re-upload the .cab if needed, and confirm the OCInterim vdir exists under "
        "DeviceUpdateFiles_Int and _Ext (the article's step 4)."
    ),
    source=f"{ARTICLE}: troubleshooting steps 4-5; a reader's comment (Brent's '404 0 2')",
)

HTTP_ERROR = CheckSpec(
    id="download.http-error",
    severity=Severity.FAIL,
    title="The firmware download failed at the HTTP level",
    explanation="The server answered the firmware GET with an error or not at all.",
    remediation="Look up the status (capinspect explain <status>) and the IIS log line for it.",
    source=f"{ARTICLE}: 'Log Files' and troubleshooting step 8",
)

NOT_ATTEMPTED = CheckSpec(
    id="download.not-attempted",
    severity=Severity.WARN,
    title="An offered file was never fetched in the capture",
    explanation=(
        "The check-in response offered firmware, but the phone did not request it while the "
        "capture ran. A phone that accepts an offer asks for the file within seconds (the IIS log "
        "of the Device Update troubleshooting article). When the response lacks its Server or "
        "Service Version, or the offered URL is unusable, those findings say why and this one "
        "stays silent. Otherwise it says which of the rest it is: the phone checked in again or "
        "restarted without fetching (fail: it received the offer and ignored it), the capture "
        "ended too soon after the offer (info), or the capture went on and the phone simply did "
        "not ask (warn)."
    ),
    remediation=(
        "Check the phone's Last Update Status on its About screen (capinspect explain 0x…/…), "
        "whether its firmware follows this kind of URL (a reader of the Device Update "
        "troubleshooting article had an old phone that, given an https URL, never started the "
        "download), and browse to the URL from the phone's network (the article's step 5)."
    ),
    source=f"{ARTICLE}: update flow steps 3-5, its IIS log, readers' comments; inference",
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

NOT_FIRMWARE = CheckSpec(
    id="download.not-firmware",
    severity=Severity.FAIL,
    title="A firmware GET answered 200 with something that is not firmware",
    explanation=(
        "The server answered the file request with 200 OK, but the body is a web page (HTML or "
        "text) or far smaller than any phone image: real CPE.nbt images are megabytes, and "
        "capinspect takes anything under 100 KB as not an image (an inference, kept far below "
        "any real image). A reader of the Device Update troubleshooting article saw a phone "
        "'download' the interim CPE.nbt in 7 ms (IIS: 200 0 0 7) and a browser showed a blank "
        "page at that URL: the phone gets nothing it can install and keeps its old firmware."
    ),
    remediation=(
        "Browse to the file URL (the Device Update troubleshooting article, step 5) and compare "
        "what comes back with the CPE.nbt in the DeviceUpdateFiles folder: a page instead of the "
        "file means something else answers that URL (a default document, a redirect to a login "
        "or error page, a proxy, an empty file left by an incomplete upload). Fix the virtual "
        "directory or re-upload the .cab, then restart the phone."
    ),
    source=f"{ARTICLE}: a reader's IIS log and blank page; 'the file has a few megs'; inference",
)

DOWNLOAD_OK = CheckSpec(
    id="download.ok",
    severity=Severity.INFO,
    title="A firmware file was downloaded completely",
    explanation=(
        "The file arrived whole. The phone installs it after five minutes without use and "
        "restarts (the Device Update troubleshooting article, step 12: 'Wait 5 minutes!')."
    ),
    remediation="Nothing to fix; wait five idle minutes for the phone to restart.",
    source=f"{ARTICLE}: update flow steps 5-6, troubleshooting step 12",
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
    if status == 200 and not_firmware(download):
        return "not-firmware"
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


_WEB_PAGE_TYPES = ("text/html", "application/xhtml+xml")
_PAGE_STARTS = (b"<!doctype", b"<html")


def _textual(head: bytes) -> bool:
    """The first bytes of a body read as text (or there are none). A real image served under a
    wrong text Content-Type is binary and is judged by its size alone."""
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return printable >= 0.95 * len(head)


def not_firmware(download: Download) -> list[str]:
    """Why a 200 answer to a firmware GET is not a firmware image (empty when it may be one):
    a web page by type or by its first bytes, text where an image belongs, or an image far
    smaller than :data:`MIN_IMAGE_BYTES`. A HEAD has no body to judge."""
    resp = download.exchange.response
    if resp is None or download.status != 200 or download.exchange.request.method != "GET":
        return []
    reasons: list[str] = []
    ctype = (resp.header("content-type") or "").split(";", 1)[0].strip().lower()
    head = resp.body.data[:256].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    image = download.file_name.lower().endswith(IMAGE_SUFFIXES)
    if head.startswith(_PAGE_STARTS) or (ctype in _WEB_PAGE_TYPES and _textual(head)):
        reasons.append(f"a web page ({ctype or 'no Content-Type'}, body starts {head[:15]!r})")
    elif image and ctype.startswith("text/") and _textual(head):
        reasons.append(f"text ({ctype}) where the image belongs")
    size = download.expected
    if size is None and download.complete:
        size = download.bytes_received
    if image and size is not None and size < MIN_IMAGE_BYTES:
        reasons.append(
            f"{size} bytes, far smaller than any firmware image (at least "
            f"{MIN_IMAGE_BYTES // 1024} KB)"
        )
    return reasons


def check_not_firmware(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for download in _errors(device, "not-firmware"):
        reasons = not_firmware(download)
        took = f" in {seconds(download.duration)}" if download.duration is not None else ""
        yield NOT_FIRMWARE.finding(
            f"GET {download.url} → 200{took}, but the body is " + " and ".join(reasons),
            device=device.key,
            expected=f"a firmware image (at least {MIN_IMAGE_BYTES // 1024} KB, binary)"
            if download.file_name.lower().endswith(IMAGE_SUFFIXES)
            else "the file, not a web page",
            observed="; ".join(reasons),
            frames=_frames(download),
            ts=download.ts,
        )


def _boot_frame(device: DeviceSession, after: float) -> tuple[float, int] | None:
    """The first restart after ``after``: a DHCP lease exchange (``DeviceSession.boots``) that
    starts with a DISCOVER or a REQUEST from no address; a renewal (REQUEST from the phone's
    own address, at half the lease) is not a restart."""
    for exchange in device.dhcp:
        if exchange.first_ts <= after or exchange.first_ts not in device.boots:
            continue
        discovers = exchange.of_type(1)
        requests = [r for r in exchange.of_type(3) if r.message.ciaddr in ("", "0.0.0.0")]
        first = (discovers or requests or (None,))[0]
        if first is not None:
            return first.ts, first.frame
    return None


def _next_contact(device: DeviceSession, checkin: Checkin) -> tuple[float, int, str] | None:
    """When, in which frame and how the phone next showed it had moved on from this offer:
    another check-in, or a restart."""
    later = [c for c in device.checkins if c.ts > checkin.ts]
    events: list[tuple[float, int, str]] = []
    if later:
        events.append((later[0].ts, later[0].frame, "checked in again"))
    boot = _boot_frame(device, checkin.ts)
    if boot is not None:
        events.append((boot[0], boot[1], "restarted (a new DHCP lease exchange)"))
    return min(events) if events else None


def _tls_after(device: DeviceSession, start: float, end: float) -> list[int]:
    """Frames of TLS connections to port 443 the phone opened in [start, end): an https file
    fetched inside one is invisible without keys."""
    return [
        conn.frame for conn in device.tls if start <= conn.ts < end and conn.flow.server_port == 443
    ]


def check_not_attempted(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    ignored: list[tuple[Checkin, list[FirmwareModule], tuple[float, int, str] | None]] = []
    for checkin in device.checkins:
        resp = checkin.response
        if checkin.status != 200 or resp is None:
            continue
        if resp.server_version is None or resp.service_version is None:
            continue  # checkin.missing-server-/service-version is the root cause
        contact = _next_contact(device, checkin)
        until = contact[0] if contact is not None else float("inf")
        if any(checkin.ts <= d.ts < until for d in device.downloads):
            continue  # the phone acted on this offer (a path spelled differently counts)
        missed = [
            m
            for m in checkin.offered
            if module_urls(m)
            and not was_fetched(device, checkin, m)
            and not any(
                r.severity == Severity.FAIL for r in unusable_reasons(device, checkin, m, ctx)
            )
        ]
        if missed:
            ignored.append((checkin, missed, contact))
    if not ignored:
        return
    checkin, missed, contact = ignored[0]
    module = missed[0]
    url = module_urls(module)[0][1]
    what = f"{module.file_name or 'the file'} {module.version or ''}".replace("  ", " ").strip()
    offered = f"offered {what} at {url} (frame {checkin.frame})"
    more = [c.frame for c, _, _ in ignored[1:]]
    again = f"; offered again in {len(more)} later check-in(s), never fetched" if more else ""
    frames = [checkin.frame, *more]
    after = (ctx.capture_end - checkin.ts) if ctx.capture_end is not None else None
    https = [u for _, u in module_urls(module) if u.lower().startswith("https:")]
    tls = _tls_after(device, checkin.ts, contact[0] if contact else float("inf"))
    if https and tls:
        yield NOT_ATTEMPTED.finding(
            f"{offered}: no plain-text request, but the phone opened {len(tls)} TLS "
            f"connection(s) to port 443 right after: the download may be inside them{again}",
            device=device.key,
            severity=Severity.INFO,
            expected=f"GET {url}",
            observed="TLS connection(s), contents unknown",
            frames=[*frames, *tls],
            ts=checkin.ts,
            remediation=(
                "Decrypt the TLS connections (--tls-key with the server's RSA key, or --keylog) "
                "or read the server's IIS log for the GET of this file."
            ),
        )
        return
    if contact is not None:
        when, frame, how = contact
        yield NOT_ATTEMPTED.finding(
            f"{offered}; the phone {how} {seconds(when - checkin.ts)} later (frame {frame}) "
            f"without asking for it: it received the offer and ignored it{again}",
            device=device.key,
            severity=Severity.FAIL,
            expected=f"GET {url} within seconds of the check-in",
            observed=f"no request; {how} at frame {frame}",
            frames=[*frames, frame],
            ts=checkin.ts,
        )
        return
    if after is None or after < FETCH_START_WINDOW:
        ran = f"{seconds(after)}" if after is not None else "an unknown time"
        yield NOT_ATTEMPTED.finding(
            f"{offered}; the capture ended {ran} after the offer, too soon to tell: a phone "
            f"asks for the file within seconds (allowed: {seconds(FETCH_START_WINDOW)}), the "
            f"download takes 2-3 minutes ({', '.join(seconds(t) for t in DOWNLOAD_TIMES_SEEN)} "
            "in the IIS log of the Device Update troubleshooting article), then the phone idles "
            "five minutes and restarts",
            device=device.key,
            severity=Severity.INFO,
            expected=f"a capture running at least {seconds(FETCH_START_WINDOW)} after the "
            f"check-in, {seconds(UPDATE_CYCLE)} to see the whole update",
            observed=f"the capture ended {ran} after the offer",
            frames=frames,
            ts=checkin.ts,
            remediation=(
                "Capture again and keep capturing at least "
                f"{seconds(UPDATE_CYCLE)} after the check-in: the GET, the download, the five "
                "idle minutes and the restart into the new firmware."
            ),
        )
        return
    yield NOT_ATTEMPTED.finding(
        f"{offered}, never requested although the capture ran {seconds(after)} more (a phone "
        f"asks within seconds){again}",
        device=device.key,
        expected=f"GET {url} within {seconds(FETCH_START_WINDOW)} of the check-in",
        observed=f"no request in {seconds(after)}",
        frames=frames,
        ts=checkin.ts,
    )


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
    Check(NOT_FIRMWARE, check_not_firmware),
    Check(DOWNLOAD_OK, check_ok),
)
