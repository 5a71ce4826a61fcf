"""Checks on the server's logs: the IIS log and the Device Update audit log, per phone.

The Device Update troubleshooting article's step 8 ("use the available audit update server logs
and IIS logs") and its readers' comments show the failures as they appear server-side: ``500 19
5`` on the firmware file (step 5), a 404 on it (Brent), the interim sequence (the audit-log
example), phones that check in and never fetch (the first comment, Edi), phones that keep
reporting the interim build, and an update whose locale is not the phone's (Wouter Berman).
Where a capture check means
the same thing, the same ID is used (``download.acl-denied`` from an IIS line is the same
problem as from a captured error page); the evidence cites ``file:line`` instead of frames.

Log checks have the capture checks' shape (checks/base.py): a :class:`CheckSpec` plus a function
of one phone — here a :class:`LogPhone` — and the :class:`CheckContext`, whose ``logs`` hold the
evidence; they yield the same :class:`Finding`, citing ``file:line`` in ``lines``, and a phone's
verdict comes from the same :func:`severity_verdict`. They are listed in ``LOG_CHECKS``; the IDs
only logs give are in ``LOG_SPECS`` for the catalogue and ``explain``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from capinspect.checks import checkin, download
from capinspect.checks.base import (
    SEVERITY_ORDER,
    CheckContext,
    CheckSpec,
    Finding,
    LogCheck,
    Severity,
    Verdict,
    severity_verdict,
)
from capinspect.devices import FIRMWARE_SUFFIXES, seconds
from capinspect.expectations import Expectations
from capinspect.knowledge.firmware import (
    INTERIM_PATH_MARKER,
    INTERIM_THRESHOLD,
    INTERIM_VERSION,
    Version,
    family_for,
    format_version,
    parse_version,
)
from capinspect.knowledge.iis import describe_iis
from capinspect.knowledge.sources import ARTICLE
from capinspect.logs.audit import AuditModule, AuditRecord
from capinspect.logs.iis import IisRecord
from capinspect.logs.timeline import MATCH_WINDOW, LogEvidence, LogPhone

CHECKIN_WITHOUT_DOWNLOAD = CheckSpec(
    id="logs.checkin-without-download",
    severity=Severity.WARN,
    title="The server offered an update but the phone never fetched it (IIS log)",
    explanation=(
        "The audit log shows the Device Update service answering a check-in with a file to "
        "download, but the IIS log has no GET of that file afterwards: the phone did not (or "
        "could not) start the download. Readers of the Device Update troubleshooting article "
        "met this with a response naming no file URL, with a phone on old firmware that does "
        "not follow the URL it was given, and when the phone resolved the file's host "
        "elsewhere."
    ),
    remediation=(
        "Browse to the offered URL from the phone's network (the Device Update troubleshooting "
        "article, step 5); check that its host resolves and is reachable from the phone, that "
        "the Response names a URL at all, and that the IIS log read covers the minutes after "
        "the check-in (and every pool server behind the load balancer)."
    ),
    source=(
        f"{ARTICLE}: update flow steps 3-5, troubleshooting step 8; readers' comments (a "
        "1.0.522.34 phone that never fetched the interim build; Edi's 1.0.452.0 phones)"
    ),
)

SAME_VERSION_REPEATED = CheckSpec(
    id="logs.same-version-repeated",
    severity=Severity.WARN,
    title="The phone keeps checking in on the same old version although it is offered an update",
    explanation=(
        "Several check-ins in the audit log report the same firmware, and each was offered a "
        "newer build: the phone is told to update and does not. Either it never fetches the "
        "file (see the IIS log) or it fetches it and does not install it."
    ),
    remediation=(
        "Look for the GET of the offered file in the IIS log (status, time-taken); leave the "
        "phone idle five minutes after a download (the Device Update troubleshooting article, "
        "step 12); check the phone's Last Update Status on its About screen (capinspect "
        "explain 0x…/…)."
    ),
    source=(
        f"{ARTICLE}: troubleshooting steps 9 and 12; readers' comments (phones that keep "
        "reporting the interim build 1.0.522.103)"
    ),
)

LOCALE_MISMATCH = CheckSpec(
    id="logs.locale-mismatch",
    severity=Severity.WARN,
    title="The phone's locale does not match the locale of the update files",
    explanation=(
        "Update files are per locale (…/<Vendor>/<Model>/<Revision>/<Locale>/<Version>/). A "
        "reader of the Device Update troubleshooting article got nothing on his phones because "
        "the uploaded files were Dutch and the phones English: the service only offers a phone "
        "files of its own locale."
    ),
    remediation=(
        "Upload (and approve) the update package for the phone's locale in the Device Update "
        "management console, or set the phone's language to one the server has files for."
    ),
    source=f"{ARTICLE}: a reader's comment (Wouter Berman: Dutch update files, English phones)",
)

LOG_SPECS: tuple[CheckSpec, ...] = (
    CHECKIN_WITHOUT_DOWNLOAD,
    SAME_VERSION_REPEATED,
    LOCALE_MISMATCH,
)


@dataclass(frozen=True, slots=True)
class LogPhoneReport:
    phone: LogPhone
    findings: tuple[Finding, ...]
    """Each with the log lines it rests on (``Finding.lines``) instead of frames."""
    verdict: Verdict


def _evidence(ctx: CheckContext) -> LogEvidence:
    if ctx.logs is None:
        raise ValueError("a log check needs CheckContext.logs")
    return ctx.logs


def _lf(
    spec: CheckSpec,
    phone: LogPhone,
    summary: str,
    lines: Iterable[str],
    ts: float | None,
    *,
    expected: str | None = None,
    observed: str | None = None,
    severity: Severity | None = None,
) -> Finding:
    cited = tuple(dict.fromkeys(lines))
    shown = ", ".join(cited[:6]) + (f" +{len(cited) - 6}" if len(cited) > 6 else "")
    return spec.finding(
        f"{summary} ({shown})" if shown else summary,
        device=phone.key,
        expected=expected,
        observed=observed,
        ts=ts,
        severity=severity,
        lines=cited,
    )


def _short_status(rec: IisRecord) -> str:
    label, _, meaning = describe_iis(rec.status, rec.iis_status).partition(" — ")
    short = meaning.split(":", 1)[0].strip()
    win32 = f", win32 {rec.win32_status}" if rec.win32_status else ""
    return (f"{label} ({short})" if short else label) + win32


def _download_kind(rec: IisRecord) -> str | None:
    if rec.method not in ("GET", "HEAD") or rec.is_checkin:
        return None
    if not rec.path.startswith("/deviceupdatefiles_"):
        return None
    if rec.status == 500 and rec.substatus == 19:
        return "acl-denied"
    if rec.status == 403 and rec.substatus == 4:
        return "ssl-required"
    if rec.status == 404:
        return "not-found"
    if rec.status >= 400:
        return "http-error"
    if rec.status == 200 and rec.path.endswith(FIRMWARE_SUFFIXES):
        return "ok" if rec.win32_status in (None, 0) else "incomplete"
    return None


_DOWNLOAD_SPECS = {
    "acl-denied": download.ACL_DENIED,
    "ssl-required": download.SSL_REQUIRED,
    "not-found": download.NOT_FOUND,
    "http-error": download.HTTP_ERROR,
    "incomplete": download.INCOMPLETE,
}


def check_iis_downloads(phone: LogPhone, ctx: CheckContext) -> Iterator[Finding]:
    """500.19, 403.4, 404 and other errors on DeviceUpdateFiles; completed downloads (info)."""
    groups: dict[tuple[str, str], list[IisRecord]] = {}
    for rec in phone.iis:
        kind = _download_kind(rec)
        if kind is not None:
            groups.setdefault((kind, rec.path), []).append(rec)
    for (kind, _), recs in groups.items():
        first = recs[0]
        times = f" ({len(recs)} times)" if len(recs) > 1 else ""
        if kind == "ok":
            for rec in recs:
                took = seconds((rec.time_taken_ms or 0) / 1000)
                yield _lf(
                    download.DOWNLOAD_OK,
                    phone,
                    f"GET {rec.stem} → 200 in {took} ({rec.time_taken_ms} ms, logged at the end)",
                    [rec.where],
                    rec.start_ts,
                    observed=f"200, time-taken {rec.time_taken_ms} ms",
                )
            continue
        spec = _DOWNLOAD_SPECS[kind]
        yield _lf(
            spec,
            phone,
            f"GET {first.stem} → {_short_status(first)}{times}",
            [r.where for r in recs],
            first.start_ts,
            expected="200 with the file",
            observed=f"{first.status} {first.substatus or 0} {first.win32_status or 0}",
        )


def check_iis_checkins(phone: LogPhone, ctx: CheckContext) -> Iterator[Finding]:
    """Check-ins IIS refused: the /UCDeviceUpdates/ 404 of firmware 1.0.452.0, other errors."""
    groups: dict[tuple[str, str], list[IisRecord]] = {}
    for rec in phone.iis:
        if not rec.is_checkin or rec.status < 400:
            continue
        legacy = rec.path.startswith("/ucdeviceupdates/") and rec.status == 404
        groups.setdefault(("legacy" if legacy else "error", rec.path), []).append(rec)
    for (kind, _), recs in groups.items():
        first = recs[0]
        times = f" ({len(recs)} times)" if len(recs) > 1 else ""
        spec = checkin.LEGACY_PATH_MISSING if kind == "legacy" else checkin.HTTP_ERROR
        yield _lf(
            spec,
            phone,
            f"{first.method} {first.stem} → {_short_status(first)}{times}",
            [r.where for r in recs],
            first.start_ts,
            expected="200 from the request handler",
            observed=first.iis_status,
        )


def _is_interim(module: AuditModule) -> bool:
    return parse_version(module.version) == INTERIM_VERSION or INTERIM_PATH_MARKER in (
        module.path or module.file_name.lower()
    )


def _reported(row: AuditRecord) -> str:
    if row.reports_nothing_known:
        return "no version (empty version, 1601 timestamp)"
    return row.firmware or "no version"


def check_interim_step(phone: LogPhone, ctx: CheckContext) -> Iterator[Finding]:
    """The interim sequence: below 1.0.522.98, offered 1.0.522.103, then the real build."""
    for i, row in enumerate(phone.audit):
        current = parse_version(row.firmware)
        interim = [m for m in row.response if _is_interim(m)]
        if not interim or (current is not None and current >= INTERIM_THRESHOLD):
            continue
        lines = [row.where]
        story = f"reported {_reported(row)}; offered the interim {interim[0].version}"
        later = [r for r in phone.audit[i + 1 :] if parse_version(r.firmware) == INTERIM_VERSION]
        if later:
            nxt = later[0]
            lines.append(nxt.where)
            offered = ", ".join(m.version or "?" for m in nxt.response) or "nothing"
            story += f"; then reported {nxt.firmware} and was offered {offered}"
        yield _lf(
            checkin.INTERIM_STEP,
            phone,
            story,
            lines,
            row.logged_ts,
            observed=interim[0].file_name or interim[0].version,
        )
        return


def _target(phone: LogPhone, expect: Expectations) -> tuple[Version, str] | None:
    target = expect.target_for(phone.vendor, phone.model)
    if target is not None:
        version = parse_version(target.version)
        if version is not None:
            return version, f"{target.version} (your expectations)"
    family = family_for(phone.vendor, phone.model)
    if family is not None and family.supported:
        return family.newest_known, f"{format_version(family.newest_known)} ({family.name})"
    return None


def check_no_update_offered(phone: LogPhone, ctx: CheckContext) -> Iterator[Finding]:
    """The phone's latest check-in got an empty Response although it is below the target."""
    if not phone.audit:
        return
    last = phone.audit[-1]
    if last.response:
        return
    target = _target(phone, ctx.expect)
    if target is None:
        return
    version, text = target
    current = parse_version(last.firmware)
    if current is not None and current >= version:
        return
    empty = [r for r in phone.audit if not r.response and r.firmware == last.firmware]
    who = "/".join(v or "?" for v in (phone.vendor, phone.model, phone.revision, phone.locale))
    test = ctx.expect.is_test_device(phone.mac, phone.serial)
    yield _lf(
        checkin.NO_UPDATE_OFFERED,
        phone,
        f"phone {who} reporting {_reported(last)} got an empty Response "
        f"({len(empty)} check-in(s)); target {text}"
        + (" (listed as a test device: the update must be pending)" if test else ""),
        [r.where for r in empty],
        last.logged_ts,
        expected=f"an update to {text}",
        observed="Response empty",
    )


def _fetched(ctx: CheckContext, path: str, after: float) -> list[IisRecord]:
    return [
        rec
        for log in _evidence(ctx).iis_logs
        for rec in log.records
        if rec.path == path and rec.method in ("GET", "HEAD") and rec.start_ts >= after
    ]


def _on_iis_clock(ctx: CheckContext, row: AuditRecord) -> float:
    return (row.logged_ts or 0.0) + (_evidence(ctx).audit_to_iis or 0.0)


def _iis_end(ctx: CheckContext) -> float | None:
    times = [rec.ts for log in _evidence(ctx).iis_logs for rec in log.records]
    return max(times) if times else None


def check_update_not_applied(phone: LogPhone, ctx: CheckContext) -> Iterator[Finding]:
    """Downloaded (IIS 200) and yet the next check-in reports the old version."""
    for i, row in enumerate(phone.audit):
        old = parse_version(row.firmware)
        for module in row.response:
            new = parse_version(module.version)
            if new is None or module.path is None or (old is not None and old >= new):
                continue
            start = _on_iis_clock(ctx, row) - MATCH_WINDOW
            later = [r for r in phone.audit[i + 1 :] if r.firmware == row.firmware]
            got = [g for g in _fetched(ctx, module.path, start) if g.status == 200]
            if not later or not got:
                continue
            got = [g for g in got if g.start_ts <= _on_iis_clock(ctx, later[0]) + MATCH_WINDOW]
            if got:
                yield _lf(
                    checkin.UPDATE_NOT_APPLIED,
                    phone,
                    f"downloaded {module.version} (GET → 200 in "
                    f"{seconds((got[0].time_taken_ms or 0) / 1000)}) but checked in again on "
                    f"{_reported(later[0])}",
                    [row.where, got[0].where, later[0].where],
                    later[0].logged_ts,
                    expected=module.version,
                    observed=later[0].firmware or "no version",
                )
                return


def check_same_version_repeated(phone: LogPhone, ctx: CheckContext) -> Iterator[Finding]:
    """Offered a newer build at least twice while reporting the same version."""
    runs: dict[tuple[str | None, str | None], list[AuditRecord]] = {}
    for row in phone.audit:
        old = parse_version(row.firmware)
        for module in row.response:
            new = parse_version(module.version)
            if new is not None and (old is None or old < new):
                runs.setdefault((row.firmware, module.version), []).append(row)
                break
    for (reported, offered), rows in runs.items():
        if len(rows) < 2:
            continue
        yield _lf(
            SAME_VERSION_REPEATED,
            phone,
            f"offered {offered} in {len(rows)} check-ins, still reporting "
            f"{reported or 'no version'}",
            [r.where for r in rows],
            rows[-1].logged_ts,
            expected=f"the phone reports {offered} after one update cycle",
            observed=f"{reported or 'no version'} in {len(rows)} check-ins",
        )
        return


def check_checkin_without_download(phone: LogPhone, ctx: CheckContext) -> Iterator[Finding]:
    """An offer with no URL, or (with an IIS log covering it) an offer never fetched."""
    end = _iis_end(ctx)
    for row in phone.audit:
        for module in row.response:
            if not module.file_name.strip():
                yield _lf(
                    CHECKIN_WITHOUT_DOWNLOAD,
                    phone,
                    f"the Response offers {module.version or 'a file'} with no file name or URL: "
                    "the phone has nothing to fetch",
                    [row.where],
                    row.logged_ts,
                    expected="FileName = the file's URL",
                    observed=f";{module.version or ''};{module.timestamp_text}",
                )
                return
            if module.path is None or end is None:
                continue
            start = _on_iis_clock(ctx, row)
            if end < start + 60:
                continue  # the IIS log stops before the phone had time to ask
            if not _fetched(ctx, module.path, start - MATCH_WINDOW):
                yield _lf(
                    CHECKIN_WITHOUT_DOWNLOAD,
                    phone,
                    f"offered {module.file_name} {module.version or ''} and no GET of it follows "
                    "in the IIS log",
                    [row.where],
                    row.logged_ts,
                    expected=f"GET {module.path}",
                    observed="none",
                )
                return


def path_locale(path: str | None) -> str | None:
    """Locale segment of an update file path: …/UCPhone/<Vendor>/<Model>/<Rev>/<Locale>/…."""
    if not path or INTERIM_PATH_MARKER in path:
        return None  # the interim build is served from OCInterim/ENU to every phone (article)
    parts = [p for p in path.split("/") if p]
    lowered = [p.lower() for p in parts]
    for marker in ("ucphone", "roundtable"):
        if marker in lowered:
            idx = lowered.index(marker) + 4
            return parts[idx].upper() if idx < len(parts) else None
    return None


def _server_locales(ctx: CheckContext) -> dict[str, str]:
    """Locales of update files the logs show the server offering or serving → where seen."""
    seen: dict[str, str] = {}
    for phone in _evidence(ctx).phones:
        for row in phone.audit:
            for module in row.response:
                loc = path_locale(module.path)
                if loc:
                    seen.setdefault(loc, row.where)
        for rec in phone.iis:
            loc = path_locale(rec.path) if rec.status == 200 else None
            if loc:
                seen.setdefault(loc, rec.where)
    return seen


def check_locale_mismatch(phone: LogPhone, ctx: CheckContext) -> Iterator[Finding]:
    """Offered files of another locale; or nothing offered while the server's files are all
    of other locales (Wouter Berman's comment on the article)."""
    mine = (phone.locale or "").upper()
    if not mine:
        return
    for row in phone.audit:
        for module in row.response:
            loc = path_locale(module.path)
            if loc and loc != mine:
                yield _lf(
                    LOCALE_MISMATCH,
                    phone,
                    f"phone locale {mine}, offered {module.file_name} (locale {loc})",
                    [row.where],
                    row.logged_ts,
                    expected=mine,
                    observed=loc,
                )
                return
    if phone.audit and not phone.audit[-1].response:
        server = _server_locales(ctx)
        if server and mine not in server:
            yield _lf(
                LOCALE_MISMATCH,
                phone,
                f"phone locale {mine} got nothing; the logs show update files only for "
                f"{', '.join(sorted(server))}",
                [phone.audit[-1].where, *server.values()],
                phone.audit[-1].logged_ts,
                expected=f"update files for {mine}",
                observed=", ".join(sorted(server)),
            )


LOG_CHECKS: tuple[LogCheck, ...] = (
    LogCheck(download.ACL_DENIED, check_iis_downloads),
    LogCheck(checkin.LEGACY_PATH_MISSING, check_iis_checkins),
    LogCheck(checkin.INTERIM_STEP, check_interim_step),
    LogCheck(checkin.NO_UPDATE_OFFERED, check_no_update_offered),
    LogCheck(checkin.UPDATE_NOT_APPLIED, check_update_not_applied),
    LogCheck(SAME_VERSION_REPEATED, check_same_version_repeated),
    LogCheck(CHECKIN_WITHOUT_DOWNLOAD, check_checkin_without_download),
    LogCheck(LOCALE_MISMATCH, check_locale_mismatch),
)
"""Every log check, by the first ID it reports (a function may report several related IDs)."""


def evaluate_logs(evidence: LogEvidence, expect: Expectations) -> tuple[LogPhoneReport, ...]:
    """Run every log check on every phone the logs show."""
    ctx = CheckContext(expect, logs=evidence)
    out = []
    for phone in evidence.phones:
        findings = [f for check in LOG_CHECKS for f in check.run(phone, ctx)]
        if any(f.check_id == checkin.UPDATE_NOT_APPLIED.id for f in findings):
            findings = [f for f in findings if f.check_id != SAME_VERSION_REPEATED.id]
        findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.ts or 0.0, f.lines))
        out.append(LogPhoneReport(phone, tuple(findings), severity_verdict(findings)))
    return tuple(out)
