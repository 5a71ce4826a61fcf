"""The audit log fills the gap an encrypted check-in leaves (``analyze --audit-log``).

An HTTPS check-in no key opened still has its row in the Device Update audit log: the version
the phone reported and the files the server offered. Each encrypted check-in the devices stage
judged (``devices/encrypted.py``) is matched with the row of the same phone — its MAC, else its
client address — logged at the same moment once the clock offset is applied. The offset is
estimated as ``logs/correlate.py`` does for plain check-ins, from every candidate pair
(``logs/timeline.estimate_offset``: the difference most pairs agree on, robust to a time zone).

The row then decides where the capture alone could not: an undecided check-in or one whose
answer size suggested otherwise. A fetched offer or a broken-off check-in stays what the
capture showed (the row only adds its values). Reports say "from the audit log" with the row's
``file:line``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from capinspect.devices.encrypted import with_timeline
from capinspect.devices.model import (
    NOTHING_OFFERED,
    OFFER_FETCHED,
    OFFER_UNFETCHED,
    REJECTED,
    UNDECIDED,
    AuditFill,
    DeviceSession,
    EncryptedCheckin,
    FirmwareSighting,
    Identity,
    Population,
)
from capinspect.logs.audit import AuditLog, AuditRecord, read_audit_log
from capinspect.logs.files import LogFileError, expand_paths
from capinspect.logs.timeline import MATCH_WINDOW, estimate_offset
from capinspect.protocols.tls.messages import TlsConnection

AUDIT_WINDOW = MATCH_WINDOW
"""Seconds an audit row may lie from its encrypted check-in's connection (its start to its
end) once the clock offset is applied."""


def read_audit_logs(
    paths: Iterable[str],
) -> tuple[tuple[AuditLog, ...], tuple[tuple[str, str], ...]]:
    """The audit logs the paths name (folders expanded), and each file that cannot be read
    with why. Read once a run: the fill and the logs report (``report/logs``) share them."""
    logs: list[AuditLog] = []
    unreadable: list[tuple[str, str]] = []
    for path in expand_paths(list(paths)):
        try:
            logs.append(read_audit_log(path))
        except LogFileError as exc:
            unreadable.append((path, str(exc)))
    return tuple(logs), tuple(unreadable)


def read_audit_rows(paths: Iterable[str]) -> tuple[AuditRecord, ...]:
    """Every row of the audit logs that can be read; unreadable files are skipped here
    (``report/logs/model.load_logs`` reports them)."""
    logs, _unreadable = read_audit_logs(paths)
    return tuple(row for log in logs for row in log.records)


def _logged(row: AuditRecord) -> float:
    """Logging DateTime, mid-second (the log writes whole seconds)."""
    return (row.logged_ts or 0.0) + 0.5


def _row_matches(row: AuditRecord, session: DeviceSession, conn: TlsConnection) -> str | None:
    if row.mac and session.mac:
        return "MAC" if row.mac == session.mac else None
    if row.client_ip and row.client_ip == conn.flow.client_ip:
        return "client IP"
    return None


def _distance(checkin: EncryptedCheckin, ts: float) -> float:
    """How far ``ts`` lies outside the connection's span (0 inside it)."""
    start, end = checkin.connection.ts, max(checkin.connection.last_ts, checkin.connection.ts)
    return max(0.0, start - ts, ts - end)


def audit_offset(
    sessions: Sequence[DeviceSession], rows: Sequence[AuditRecord]
) -> tuple[float, int] | None:
    """``capture − audit log`` from rows that match encrypted check-ins, and how many agree."""
    pairs = [
        (_logged(row), checkin.ts)
        for session in sessions
        for checkin in session.encrypted_checkins
        for row in rows
        if row.logged_ts is not None and _row_matches(row, session, checkin.connection)
    ]
    return estimate_offset(pairs, window=AUDIT_WINDOW)


def _offered(row: AuditRecord) -> tuple[tuple[str, str | None], ...]:
    return tuple((m.file_name.strip(), m.version) for m in row.response if m.file_name.strip())


def fill_session(
    session: DeviceSession, rows: Sequence[AuditRecord], offset: float
) -> DeviceSession:
    """The session with each encrypted check-in's audit row attached: the closest pairs first,
    each check-in and each row used once."""
    if not session.encrypted_checkins:
        return session
    candidates: list[tuple[float, int, int, str]] = []
    for index, checkin in enumerate(session.encrypted_checkins):
        for number, row in enumerate(rows):
            how = _row_matches(row, session, checkin.connection)
            if row.logged_ts is None or how is None:
                continue
            off = _distance(checkin, _logged(row) + offset)
            if off <= AUDIT_WINDOW:
                candidates.append((off, index, number, how))
    chosen: dict[int, tuple[AuditRecord, str]] = {}
    used: set[int] = set()
    for _, index, number, how in sorted(candidates):
        if index not in chosen and number not in used:
            chosen[index] = (rows[number], how)
            used.add(number)
    filled: list[EncryptedCheckin] = []
    for index, checkin in enumerate(session.encrypted_checkins):
        if index not in chosen:
            filled.append(checkin)
            continue
        row, how = chosen[index]
        fill = AuditFill(
            where=row.where,
            logged_ts=(row.logged_ts or 0.0) + offset,
            offset=offset,
            matched_by=how,
            firmware=row.firmware,
            nothing_known=row.reports_nothing_known,
            offered=_offered(row),
            identity=Identity(
                device_type=row.device_type,
                vendor=row.vendor,
                model=row.model,
                revision=row.revision,
                locale=row.locale,
                serial=row.serial,
                user=row.user,
            ),
        )
        filled.append(decide_with_audit(replace(checkin, audit=fill)))
    return with_timeline(_with_identity(replace(session, encrypted_checkins=tuple(filled))))


def _with_identity(session: DeviceSession) -> DeviceSession:
    """The phone's identity completed, and its reported firmware added, from its audit rows
    (what the capture's own check-ins say is kept)."""
    values = {
        name: getattr(session.identity, name)
        for name in ("device_type", "vendor", "model", "revision", "locale", "serial", "user")
    }
    sightings = list(session.firmware_seen)
    for checkin in session.encrypted_checkins:
        fill = checkin.audit
        if fill is None:
            continue
        for name in values:
            values[name] = values[name] or getattr(fill.identity, name)
        if fill.firmware or fill.nothing_known:
            sightings.append(
                FirmwareSighting(
                    fill.firmware, checkin.frame, checkin.ts, f"from the audit log ({fill.where})"
                )
            )
    sightings.sort(key=lambda s: s.ts)
    return replace(session, identity=Identity(**values), firmware_seen=tuple(sightings))


def decide_with_audit(checkin: EncryptedCheckin) -> EncryptedCheckin:
    """The outcome once the audit row is known (see the module docstring)."""
    fill = checkin.audit
    if fill is None:
        return checkin
    basis = list(checkin.basis)
    if fill.offered:
        names = ", ".join(f"{n} {v or ''}".strip() for n, v in fill.offered[:3])
        basis.append(f"from the audit log ({fill.where}): the answer offered {names}")
    else:
        basis.append(f"from the audit log ({fill.where}): the answer offered nothing")
    outcome = checkin.outcome
    if outcome in (REJECTED, OFFER_FETCHED):
        pass
    elif fill.offered:
        if outcome == NOTHING_OFFERED:
            outcome = OFFER_UNFETCHED
    elif outcome in (UNDECIDED, OFFER_UNFETCHED) and checkin.answer_records:
        outcome = NOTHING_OFFERED
    return replace(checkin, outcome=outcome, basis=tuple(basis))


def fill_population(population: Population, rows: Sequence[AuditRecord]) -> Population:
    """Every phone's encrypted check-ins filled from the audit rows (unchanged without a
    matching row)."""
    found = audit_offset(population.phones, rows) if rows else None
    if found is None:
        return population
    phones = tuple(fill_session(p, rows, found[0]) for p in population.phones)
    return replace(population, phones=phones)
