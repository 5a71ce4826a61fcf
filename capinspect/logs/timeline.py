"""Per-phone evidence from the server's logs: which lines are whose, and the phone's ladder.

The audit log names the phone (MAC, serial, model, locale); the IIS log names only an address,
and a pasted one often not even that (the seed's lines have no ``c-ip``). An IIS line is given
to a phone by, in order: its client address when an audit row (or an earlier match) ties that
address to a phone; for a check-in, the audit row logged in the same second (after the two
logs' clock difference is taken out); for a file, the latest offer of that file (or of the file
in that folder) to a phone before the request started. Lines that match nothing are grouped by
client address, or under ``unidentified`` when they have none, so their findings still show.

Times stay on the IIS log's clock (the audit log's rows are shifted onto it when the two logs
disagree); ``correlate.py`` moves everything onto the capture's clock.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from capinspect.devices import seconds
from capinspect.logs.audit import AuditLog, AuditModule, AuditRecord
from capinspect.logs.files import LogProblem
from capinspect.logs.iis import IisLog, IisRecord

UNIDENTIFIED = "unidentified"
MATCH_WINDOW = 2.0
"""Seconds two logged times may differ and still be the same request (IIS logs whole seconds)."""


@dataclass(frozen=True, slots=True)
class LogStep:
    """One line of a phone's ladder built from a log line."""

    ts: float
    """On the IIS log's clock; for a download, when the request started."""
    source: str
    """``iis-log`` or ``audit-log``."""
    file: str
    line: int
    stage: str
    """``checkin``, ``download`` or ``http``."""
    summary: str
    details: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    record: IisRecord | AuditRecord | None = field(default=None, hash=False, compare=False)
    """The parsed line itself, so reports can give its fields as data (``report/logs/json.py``)."""

    @property
    def where(self) -> str:
        return f"{self.file.rsplit('/', 1)[-1]}:{self.line}"


@dataclass(frozen=True, slots=True)
class LogPhone:
    key: str
    """The MAC (``00:21:63:0f:20:7b``, as a capture's device), else ``ip:…``/``unidentified``."""
    mac: str | None
    ips: tuple[str, ...]
    serial: str | None
    user: str | None
    device_type: str | None
    vendor: str | None
    model: str | None
    revision: str | None
    locale: str | None
    audit: tuple[AuditRecord, ...]
    iis: tuple[IisRecord, ...]
    steps: tuple[LogStep, ...]

    @property
    def label(self) -> str:
        who = " ".join(v for v in (self.vendor, self.model) if v)
        return f"{self.key} {who}".strip()


@dataclass(frozen=True, slots=True)
class LogEvidence:
    """Everything read from the server's logs, grouped per phone."""

    iis_logs: tuple[IisLog, ...]
    audit_logs: tuple[AuditLog, ...]
    phones: tuple[LogPhone, ...]
    audit_to_iis: float | None
    """Seconds to add to audit-log times to put them on the IIS log's clock (None: unknown)."""
    audit_to_iis_matches: int

    @property
    def problems(self) -> tuple[LogProblem, ...]:
        return (
            *(p for log in self.iis_logs for p in log.problems),
            *(p for log in self.audit_logs for p in log.problems),
        )

    @property
    def has_iis(self) -> bool:
        return bool(self.iis_logs)

    @property
    def has_audit(self) -> bool:
        return bool(self.audit_logs)

    def phone(self, key: str) -> LogPhone | None:
        return next((p for p in self.phones if p.key == key), None)


def estimate_offset(
    pairs: Iterable[tuple[float, float]], window: float = MATCH_WINDOW, min_support: int = 1
) -> tuple[float, int] | None:
    """The clock offset most pairs agree on: ``b - a`` for pairs (a, b) of candidate matches.

    Each candidate difference counts the differences within ``window`` of it; the best-supported
    cluster's median is the estimate. Robust to hours of offset (time zones) and to unmatched
    candidates, which scatter. Returns (offset, supporting pairs) or None.
    """
    diffs = sorted(b - a for a, b in pairs)
    if not diffs:
        return None
    best_lo, best_hi = 0, 0
    lo = 0
    for hi in range(len(diffs)):
        while diffs[hi] - diffs[lo] > 2 * window:
            lo += 1
        if hi - lo > best_hi - best_lo:
            best_lo, best_hi = lo, hi
    cluster = diffs[best_lo : best_hi + 1]
    if len(cluster) < min_support:
        return None
    return statistics.median(cluster), len(cluster)


def module_text(module: AuditModule) -> str:
    if module.unknown_install:
        return f"{module.file_name or '?'} (no version, {module.timestamp_text}: nothing installed)"
    return f"{module.file_name or '(no file name)'} {module.version or '(no version)'}"


def _audit_step(row: AuditRecord, ts: float) -> LogStep:
    reported = (
        "reports nothing installed that the server knows (empty version, 1601 timestamp)"
        if row.reports_nothing_known
        else f"reports {row.firmware}"
        if row.firmware
        else "reports no version"
    )
    if row.response:
        offered = "; ".join(
            f"{m.file_name or '(no URL)'} {m.version or ''}".strip() for m in row.response
        )
        answer = f"→ offered {offered}"
    else:
        answer = "→ nothing offered (empty Response: no approved update for this phone)"
    return LogStep(
        ts=ts,
        source="audit-log",
        file=row.source,
        line=row.line,
        stage="checkin",
        summary=f"check-in {reported} {answer}",
        details={
            "logged": row.logged_text,
            "request_time": row.request_text,
            "locale": row.locale,
            "requested": [module_text(m) for m in row.requested],
            "response": [module_text(m) for m in row.response],
        },
        record=row,
    )


def _iis_step(rec: IisRecord) -> LogStep:
    took = seconds(rec.time_taken_ms / 1000) if rec.time_taken_ms is not None else "?"
    stage = "checkin" if rec.is_checkin else "download" if rec.method == "GET" else "http"
    status = rec.iis_status + (f" win32 {rec.win32_status}" if rec.win32_status else "")
    summary = f"{rec.method} {rec.stem} → {status} in {took}"
    if stage == "download" and rec.time_taken_ms and rec.time_taken_ms >= 1000:
        summary += " (logged when it ended)"
    return LogStep(
        ts=rec.start_ts,
        source="iis-log",
        file=rec.source,
        line=rec.line,
        stage=stage,
        summary=summary,
        details={
            "logged_time": rec.ts,
            "time_taken_ms": rec.time_taken_ms,
            "status": rec.status,
            "substatus": rec.substatus,
            "win32_status": rec.win32_status,
            "client_ip": rec.client_ip,
            "port": rec.server_port,
        },
        record=rec,
    )


def _phone_key(row: AuditRecord) -> str:
    if row.mac:
        return row.mac
    if row.client_ip:
        return f"ip:{row.client_ip}"
    if row.serial:
        return f"serial:{row.serial}"
    return UNIDENTIFIED


def _folder(path: str) -> str:
    return path.rsplit("/", 1)[0] + "/"


def build_evidence(iis_logs: Sequence[IisLog], audit_logs: Sequence[AuditLog]) -> LogEvidence:
    """Group every log line per phone and build each phone's ladder (IIS clock)."""
    rows = sorted(
        (r for log in audit_logs for r in log.records if r.logged_ts is not None),
        key=lambda r: (r.logged_ts or 0.0, r.line),
    )
    records = sorted((r for log in iis_logs for r in log.records), key=lambda r: (r.ts, r.line))
    checkins = [r for r in records if r.is_checkin]
    found = estimate_offset(
        ((row.logged_ts or 0.0, rec.ts) for row in rows for rec in checkins), min_support=1
    )
    offset: float | None = None
    support = 0
    if found is not None:
        # One pair a day apart is a coincidence; insist on two unless the clocks already agree.
        if found[1] >= 2 or abs(found[0]) <= MATCH_WINDOW:
            offset, support = found
    shift = offset or 0.0

    by_key: dict[str, list[AuditRecord]] = {}
    ip_owner: dict[str, str] = {}
    for row in rows:
        row_key = _phone_key(row)
        by_key.setdefault(row_key, []).append(row)
        if row.client_ip:
            ip_owner[row.client_ip] = row_key
    owner: dict[int, str] = {}
    # Check-ins first: they tie addresses to phones for the file requests that follow.
    for idx, rec in enumerate(records):
        if not rec.is_checkin:
            continue
        key: str | None = ip_owner.get(rec.client_ip or "")
        if key is None and offset is not None:
            near = [r for r in rows if abs((r.logged_ts or 0.0) + shift - rec.ts) <= MATCH_WINDOW]
            keys = {_phone_key(r) for r in near}
            if len(keys) == 1:
                key = keys.pop()
        if key is not None:
            owner[idx] = key
            if rec.client_ip:
                ip_owner.setdefault(rec.client_ip, key)
    offers = [(r, m) for r in rows for m in r.response if m.path]
    for idx, rec in enumerate(records):
        if idx in owner:
            continue
        key = ip_owner.get(rec.client_ip or "")
        if key is None and rec.method in ("GET", "HEAD"):
            candidates = [
                (row, m)
                for row, m in offers
                if rec.path in (m.path, _folder(m.path or ""))
                and (row.logged_ts or 0.0) + shift <= rec.start_ts + MATCH_WINDOW
            ]
            if not candidates:
                candidates = [(row, m) for row, m in offers if rec.path == m.path]
            if candidates:
                key = _phone_key(max(candidates, key=lambda c: c[0].logged_ts or 0.0)[0])
        final = key or (f"ip:{rec.client_ip}" if rec.client_ip else UNIDENTIFIED)
        owner[idx] = final
        if rec.client_ip:
            ip_owner.setdefault(rec.client_ip, final)

    iis_by_key: dict[str, list[IisRecord]] = {}
    for idx, rec in enumerate(records):
        iis_by_key.setdefault(owner[idx], []).append(rec)
    phones = []
    for key in sorted(set(by_key) | set(iis_by_key), key=lambda k: (k == UNIDENTIFIED, k)):
        audit = by_key.get(key, [])
        iis = iis_by_key.get(key, [])
        phones.append(_phone(key, audit, iis, shift))
    return LogEvidence(
        iis_logs=tuple(iis_logs),
        audit_logs=tuple(audit_logs),
        phones=tuple(phones),
        audit_to_iis=offset,
        audit_to_iis_matches=support,
    )


def _last(values: Iterable[str | None]) -> str | None:
    out = None
    for value in values:
        out = value or out
    return out


def _phone(key: str, audit: list[AuditRecord], iis: list[IisRecord], shift: float) -> LogPhone:
    steps = [_audit_step(r, (r.logged_ts or 0.0) + shift) for r in audit]
    steps += [_iis_step(r) for r in iis]
    # Same second: the audit row (the server's decision) before the IIS line of that request.
    steps.sort(key=lambda s: (round(s.ts), s.source != "audit-log", s.ts, s.line))
    ips = sorted(
        {r.client_ip for r in audit if r.client_ip} | {r.client_ip for r in iis if r.client_ip}
    )
    return LogPhone(
        key=key,
        mac=_last(r.mac for r in audit),
        ips=tuple(ips),
        serial=_last(r.serial for r in audit),
        user=_last(r.user for r in audit),
        device_type=_last(r.device_type for r in audit),
        vendor=_last(r.vendor for r in audit),
        model=_last(r.model for r in audit),
        revision=_last(r.revision for r in audit),
        locale=_last(r.locale for r in audit),
        audit=tuple(audit),
        iis=tuple(iis),
        steps=tuple(steps),
    )
