"""Check-ins inside TLS, judged without keys (``devices/encrypted.py`` infers; these report).

Each finding says it is inferred without decryption and carries the facts it rests on
(``Finding.basis``: JSON ``inferred`` and ``basis``). A check-in that was decrypted is judged by
the ordinary ``checkin.*`` checks instead, so the two never report the same check-in; a
handshake that failed is ``tls.handshake-failed``'s. What cannot be inferred stays
``tls.encrypted-checkin`` (info) and the verdict inconclusive.
"""

from __future__ import annotations

from collections.abc import Iterator

from capinspect.checks.base import Check, CheckContext, CheckSpec, Finding, Severity
from capinspect.devices import DeviceSession
from capinspect.devices.encrypted import INFERRED
from capinspect.devices.model import (
    NOTHING_OFFERED,
    OFFER_FETCHED,
    OFFER_UNFETCHED,
    REJECTED,
    EncryptedCheckin,
)

_SOURCE = (
    "inference (RFC 5246 6.2.3 record sizes, 7.2 alerts); the Device Update troubleshooting "
    "article (update flow steps 4-6: the check-in answers with the files' URLs, the phone then "
    "downloads them over HTTP); answer sizes measured on capinspect's lab captures"
)

ENCRYPTED_OFFER_FETCHED = CheckSpec(
    id="checkin.encrypted-offer-fetched",
    severity=Severity.INFO,
    title="An encrypted check-in offered a file: the phone fetched it right after",
    explanation=(
        "The check-in went over HTTPS and no key opened it, but the firmware itself travels "
        "over plain HTTP: the phone asked for a firmware file right after the server's answer, "
        "which it only does for a file the answer offered (the Device Update troubleshooting "
        "article, update flow step 5). The file's URL names the version offered. The download's "
        "own findings (download.*) say whether it worked."
    ),
    remediation=(
        "Nothing for the check-in. To read it anyway: --tls-key (RSA key exchange), --keylog, "
        "or the Device Update audit log (--audit-log)."
    ),
    source=_SOURCE,
)

ENCRYPTED_NOTHING_OFFERED = CheckSpec(
    id="checkin.encrypted-nothing-offered",
    severity=Severity.INFO,
    title="An encrypted check-in completed and offered nothing (inferred)",
    explanation=(
        "The phone sent its check-in over HTTPS, the server answered, neither side sent an "
        "alert or reset the connection before the answer, and no firmware download followed; "
        "the answer is not the size of one offering a file. That is what a phone already on "
        "the approved version sees. The size comparison is with capinspect's lab answers, not "
        "a rule: a real server's answer differs with its URLs."
    ),
    remediation=(
        "Nothing, if the phone runs the version you approved. Otherwise confirm what was "
        "offered with the Device Update audit log (--audit-log) or decrypt the check-in "
        "(--tls-key, --keylog), then see checkin.no-update-offered."
    ),
    source=_SOURCE,
)

ENCRYPTED_OFFER_UNFETCHED = CheckSpec(
    id="checkin.encrypted-offer-unfetched",
    severity=Severity.WARN,
    title="An encrypted check-in probably offered a file the phone never fetched",
    explanation=(
        "The server's encrypted answer is the size of an answer offering a file (or the audit "
        "log says it offered one), yet the phone asked for no firmware file although the "
        "capture went on. The phone may have judged the offer unusable (its URL, the version), "
        "or the download went somewhere the capture does not see."
    ),
    remediation=(
        "Read what was offered: the Device Update audit log (--audit-log) or a decrypted "
        "capture (--tls-key, --keylog); then check the offered URL from the phone's network "
        "(see checkin.offered-url-unusable and download.not-attempted)."
    ),
    source=_SOURCE,
)

ENCRYPTED_REJECTED = CheckSpec(
    id="checkin.encrypted-rejected",
    severity=Severity.FAIL,
    title="An encrypted check-in was broken off before the server answered",
    explanation=(
        "The TLS handshake completed, but before the server's answer the phone or the server "
        "sent an alert, reset the connection or closed it. The check-in never got its answer, "
        "so the phone learnt nothing about updates. An alert from the phone after the "
        "handshake usually means it gave up on the connection; a reset or close from the "
        "server an error in the Device Update web service or a device in between."
    ),
    remediation=(
        "Look at the Device Update web service on the server (its IIS log and the "
        "application event log at that time; --iis-log, --audit-log) and at any proxy or "
        "load balancer in the path; decrypt the check-in (--tls-key, --keylog) to see the "
        "alert's type."
    ),
    source=_SOURCE,
)

_BY_OUTCOME = {
    OFFER_FETCHED: ENCRYPTED_OFFER_FETCHED,
    NOTHING_OFFERED: ENCRYPTED_NOTHING_OFFERED,
    OFFER_UNFETCHED: ENCRYPTED_OFFER_UNFETCHED,
    REJECTED: ENCRYPTED_REJECTED,
}


def _where(item: EncryptedCheckin) -> str:
    conn = item.connection
    sni = f" (SNI {conn.sni})" if conn.sni else ""
    return f"{conn.flow.server_ip}:{conn.flow.server_port}{sni}"


def _audit_words(item: EncryptedCheckin) -> str:
    fill = item.audit
    if fill is None:
        return ""
    firmware = (
        "no version (nothing installed that the server knows)"
        if fill.nothing_known
        else fill.firmware or "no version"
    )
    offered = (
        ", ".join(f"{name} {version or ''}".strip() for name, version in fill.offered[:3])
        or "nothing"
    )
    return (
        f"; from the audit log ({fill.where}, matched by {fill.matched_by}): the phone reported "
        f"{firmware}, the server offered {offered}"
    )


def _summary(item: EncryptedCheckin) -> str:
    where = _where(item)
    outcome = item.outcome
    if outcome == OFFER_FETCHED:
        names = ", ".join(d.file_name for d in item.downloads[:3])
        version = (
            " (the interim file)"
            if item.offered_version == "interim"
            else f" (version {item.offered_version})"
            if item.offered_version
            else ""
        )
        text = f"the check-in to {where} offered {names}{version}: the phone fetched it"
    elif outcome == NOTHING_OFFERED:
        text = f"the check-in to {where} was answered and offered nothing"
    elif outcome == OFFER_UNFETCHED:
        text = f"the check-in to {where} offered a file the phone did not fetch"
    else:
        text = f"the check-in to {where} was broken off before the answer ({item.ended})"
    return f"{text} ({INFERRED}){_audit_words(item)}"


def _frames(item: EncryptedCheckin) -> list[int]:
    conn = item.connection
    frames = [conn.frame, *(r.frame for r in conn.app_records[:4])]
    frames += [a.frame for a in conn.alerts[:2]]
    frames += [d.frame for d in item.downloads[:2]]
    return frames


def _observed(item: EncryptedCheckin) -> str:
    size = ""
    if item.answer_plaintext is not None:
        low, high = item.answer_plaintext
        size = f", answer ≈{low}" + (f"–{high}" if high != low else "") + " bytes"
    return f"{item.request_records} record(s) up, {item.answer_records} down{size}; {item.ended}"


def _check(spec: CheckSpec) -> Check:
    def run(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
        for item in device.encrypted_checkins:
            if _BY_OUTCOME.get(item.outcome) is not spec:
                continue
            yield spec.finding(
                _summary(item),
                device=device.key,
                observed=_observed(item),
                frames=_frames(item),
                ts=item.ts,
                basis=item.basis,
            )

    return Check(spec, run)


CHECKS: tuple[Check, ...] = (
    _check(ENCRYPTED_REJECTED),
    _check(ENCRYPTED_OFFER_UNFETCHED),
    _check(ENCRYPTED_OFFER_FETCHED),
    _check(ENCRYPTED_NOTHING_OFFERED),
)
