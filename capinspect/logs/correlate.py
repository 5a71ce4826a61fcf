"""A capture and the server's logs side by side: the same requests, the clocks' difference.

The capture's clock is the capturing machine's; the IIS log's is the server's (UTC), the audit
log's the server's local time. The same request appears in both: an IIS line matches a
captured HTTP exchange with the same method and path (and client address, when both have one),
and an audit row matches a captured check-in of the same MAC or address. Every such candidate
pair gives a difference; the differences that agree (within two seconds: IIS logs whole
seconds) are the real matches, and their median is the clock offset shown in the report. An IIS
line is compared by its start (logged time minus time-taken), the moment the capture shows the
request.

With the offsets known, each phone's log steps are moved onto the capture's clock and merged
with its captured ladder: one timeline per phone, each line citing a frame or a ``file:line``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from capinspect.devices import DeviceSession, TimelineStep
from capinspect.logs.audit import AuditRecord
from capinspect.logs.iis import IisRecord
from capinspect.logs.timeline import MATCH_WINDOW, LogEvidence, LogPhone, LogStep, estimate_offset
from capinspect.protocols.http.messages import HttpExchange


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """``capture time − log time`` in seconds, from ``matches`` agreeing pairs."""

    log: str
    """``iis-log`` or ``audit-log``."""
    offset: float | None
    matches: int
    how: str


@dataclass(frozen=True, slots=True)
class MergedStep:
    ts: float
    """On the capture's clock."""
    source: str
    """``capture``, ``iis-log`` or ``audit-log``."""
    frame: int | None
    where: str | None
    """``file:line`` for a log step."""
    stage: str
    summary: str
    """A log step's words; empty for a capture step, whose words are its ``capture`` step's
    (report/timeline.py words capture steps for every renderer)."""
    log_ts: float | None = None
    """A log step's time on its log's clock (the IIS log's for both logs), before the shift."""
    shift: float | None = None
    """Seconds added to ``log_ts`` to put it on the capture's clock (None: no offset known)."""
    record: IisRecord | AuditRecord | None = field(default=None, hash=False, compare=False)
    """A log step's parsed line."""
    capture: TimelineStep | None = field(default=None, hash=False, compare=False)
    """A capture step's own step (direction, peer, details)."""


@dataclass(frozen=True, slots=True)
class Correlation:
    iis: ClockOffset
    audit: ClockOffset
    matched: tuple[tuple[str, int], ...]
    """(IIS ``file:line`` or audit ``file:line``, capture frame) of every matched request."""
    devices: tuple[tuple[str, str], ...]
    """(log phone key, capture device key)."""
    timelines: dict[str, tuple[MergedStep, ...]]
    """Capture device key (or log-only phone key) → merged ladder."""

    def capture_key(self, log_key: str) -> str | None:
        return next((cap for log, cap in self.devices if log == log_key), None)


@dataclass(frozen=True, slots=True)
class _Seen:
    device: str
    exchange: HttpExchange

    @property
    def ts(self) -> float:
        return self.exchange.request.ts


def _exchanges(sessions: Iterable[DeviceSession]) -> list[_Seen]:
    out: list[_Seen] = []
    for s in sessions:
        out += [_Seen(s.key, c.exchange) for c in s.checkins]
        out += [_Seen(s.key, d.exchange) for d in s.downloads]
        out += [_Seen(s.key, ex) for ex in s.other_http]
    return out


def _mid(ts: float) -> float:
    """A whole-second log time stands for the second it truncates: its middle is the estimate."""
    return ts + 0.5 if ts == int(ts) else ts


def _start(rec: IisRecord) -> float:
    return _mid(rec.ts) - (rec.time_taken_ms or 0) / 1000.0


def _same_request(rec: IisRecord, seen: _Seen) -> bool:
    req = seen.exchange.request
    if req.method.upper() != rec.method.upper() or req.path.lower() != rec.path:
        return False
    return rec.client_ip is None or rec.client_ip == seen.exchange.flow.client_ip


def _row_matches(row: AuditRecord, session: DeviceSession, ip: str) -> bool:
    if row.mac and session.mac:
        return row.mac == session.mac
    return bool(row.client_ip) and row.client_ip == ip


def correlate(sessions: tuple[DeviceSession, ...], evidence: LogEvidence) -> Correlation:
    """Match log lines with captured requests, estimate both offsets, merge the ladders."""
    seen = _exchanges(sessions)
    records = [r for log in evidence.iis_logs for r in log.records]
    pairs = [(_start(rec), s.ts) for rec in records for s in seen if _same_request(rec, s)]
    found = estimate_offset(pairs)
    iis = (
        ClockOffset("iis-log", found[0], found[1], "median of matched IIS requests")
        if found
        else ClockOffset("iis-log", None, 0, "no IIS line matches a captured request")
    )
    matched: list[tuple[str, int]] = []
    owners: dict[str, str] = {}
    if iis.offset is not None:
        for rec in records:
            near = [
                s
                for s in seen
                if _same_request(rec, s) and abs(s.ts - _start(rec) - iis.offset) <= MATCH_WINDOW
            ]
            if near:
                best = min(near, key=lambda s: abs(s.ts - _start(rec) - (iis.offset or 0.0)))
                matched.append((rec.where, best.exchange.request.frame))
                owners[rec.where] = best.device

    rows = [r for log in evidence.audit_logs for r in log.records if r.logged_ts is not None]
    # Check-ins as (session, time, client address, frame): the plain or decrypted ones and the
    # encrypted ones judged without keys (their audit rows are what fills them in).
    checkins = [(s, c.ts, c.exchange.flow.client_ip, c.frame) for s in sessions for c in s.checkins]
    checkins += [
        (s, e.ts, e.connection.flow.client_ip, e.frame)
        for s in sessions
        for e in s.encrypted_checkins
    ]
    audit_pairs = [
        (_mid(row.logged_ts or 0.0), ts)
        for row in rows
        for s, ts, ip, _ in checkins
        if _row_matches(row, s, ip)
    ]
    found = estimate_offset(audit_pairs)
    if found:
        audit = ClockOffset("audit-log", found[0], found[1], "median of matched check-ins")
    elif iis.offset is not None and evidence.audit_to_iis is not None:
        audit = ClockOffset(
            "audit-log",
            evidence.audit_to_iis + iis.offset,
            0,
            "through the IIS log (audit rows matched IIS check-ins)",
        )
    else:
        audit = ClockOffset("audit-log", None, 0, "no audit row matches a captured check-in")
    if audit.offset is not None:
        for row in rows:
            for s, ts, ip, frame in checkins:
                close = abs(ts - _mid(row.logged_ts or 0.0) - audit.offset) <= MATCH_WINDOW
                if _row_matches(row, s, ip) and close:
                    matched.append((row.where, frame))
                    owners[row.where] = s.key
                    break

    pairs_map: list[tuple[str, str]] = []
    for phone in evidence.phones:
        key = _capture_key(phone, sessions, owners)
        if key is not None:
            pairs_map.append((phone.key, key))
    by_capture = {s.key: s for s in sessions}
    groups: dict[str, list[LogPhone]] = {}
    for phone in evidence.phones:
        cap = next((c for lk, c in pairs_map if lk == phone.key), None)
        groups.setdefault(cap or phone.key, []).append(phone)
    timelines: dict[str, tuple[MergedStep, ...]] = {}
    for key, phones in groups.items():
        steps = [_log_step(st, evidence, iis, audit) for phone in phones for st in phone.steps]
        if key in by_capture:
            steps += [_capture_step(st) for st in by_capture[key].timeline]
        timelines[key] = tuple(sorted(steps, key=_order))
    return Correlation(iis, audit, tuple(matched), tuple(pairs_map), timelines)


def _order(step: MergedStep) -> tuple[float, bool, int]:
    return (step.ts, step.source != "capture", step.frame or 0)


def _capture_key(
    phone: LogPhone, sessions: tuple[DeviceSession, ...], owners: dict[str, str]
) -> str | None:
    for s in sessions:
        if phone.mac and s.mac == phone.mac:
            return s.key
    for s in sessions:
        if set(phone.ips) & set(s.ips):
            return s.key
    votes = [
        owners[w]
        for w in (*(r.where for r in phone.iis), *(r.where for r in phone.audit))
        if w in owners
    ]
    return max(set(votes), key=votes.count) if votes else None


def _log_step(
    step: LogStep, evidence: LogEvidence, iis: ClockOffset, audit: ClockOffset
) -> MergedStep:
    """A log step on the capture's clock (unshifted when no offset could be estimated)."""
    original = step
    logged_at = step.details.get("logged_time")
    whole = logged_at if isinstance(logged_at, float) else step.ts
    if whole == int(whole) and (iis.offset is not None or audit.offset is not None):
        step = LogStep(step.ts + 0.5, step.source, step.file, step.line, step.stage, step.summary)
    if step.source == "audit-log":
        logged = step.ts - (evidence.audit_to_iis or 0.0)
        if audit.offset is not None:
            ts = logged + audit.offset
        else:
            ts = step.ts + (iis.offset or 0.0)
    else:
        if iis.offset is not None:
            ts = step.ts + iis.offset
        elif audit.offset is not None:
            ts = step.ts - (evidence.audit_to_iis or 0.0) + audit.offset
        else:
            ts = step.ts
    known = iis.offset is not None or audit.offset is not None
    return MergedStep(
        ts,
        step.source,
        None,
        step.where,
        step.stage,
        step.summary,
        log_ts=original.ts,
        shift=ts - original.ts if known else None,
        record=original.record,
    )


def _capture_step(step: TimelineStep) -> MergedStep:
    return MergedStep(step.ts, "capture", step.frame, None, step.stage, "", capture=step)
