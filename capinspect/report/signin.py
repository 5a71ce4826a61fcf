"""The sign-in path and the phone's time, for every report format.

One place builds what the reports show of ``DeviceSession.signin`` and ``DeviceSession.time``:
the JSON objects (docs/json-schema.md, ``Device.signin`` and ``Device.time``), the tables the
Markdown and HTML reports render (each escapes the raw strings as it must) and the lines of the
terminal report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from capinspect.devices.clock import PhoneTime, describe_offset
from capinspect.devices.model import DeviceSession
from capinspect.devices.signin import NameResolution, ProvisioningConnection, SignInPath
from capinspect.protocols.ntp.messages import NtpExchange
from capinspect.report.model import Table


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    try:
        moment = datetime.fromtimestamp(ts, UTC)
    except (ValueError, OverflowError, OSError):
        return f"{ts:.6f}"
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _round(value: float | None) -> float | None:
    return round(value, 6) if value is not None else None


def _resolution(name: NameResolution) -> dict[str, Any]:
    return {
        "name": name.name,
        "status": name.status,
        "addresses": list(name.addresses),
        "frames": list(name.frames),
        "time": _iso(name.ts),
    }


def _connection(attempt: ProvisioningConnection) -> dict[str, Any]:
    tls = attempt.tls
    cert = tls.server_certificate if tls is not None else None
    return {
        "server": attempt.server,
        "frame": attempt.frame,
        "time": _iso(attempt.ts),
        "connect": attempt.connect,
        "syns": attempt.syn_count,
        "tls_outcome": tls.outcome if tls is not None else None,
        "sni": tls.sni if tls is not None else None,
        "certificate_names": list(cert.names) if cert is not None else [],
        "certificate_issuer": cert.issuer if cert is not None else None,
        "certificate_valid": (
            [_iso(cert.not_before), _iso(cert.not_after)] if cert is not None else None
        ),
        "phone_alert": attempt.phone_alert,
        "frames": list(attempt.frames),
    }


def signin_json(path: SignInPath | None) -> dict[str, Any] | None:
    """``Device.signin``: option 43's provisioning URL and each step towards it and the pool."""
    if path is None:
        return None
    return {
        "provisioning_url": path.url,
        "host": path.host,
        "port": path.port,
        "path": path.path,
        "option43_frame": path.option43_frame,
        "provisioning_dns": (
            _resolution(path.provisioning_dns) if path.provisioning_dns is not None else None
        ),
        "connections": [_connection(a) for a in path.connections],
        "pool": [_resolution(name) for name in path.pool],
        "pool_tls": [
            {
                "server": f"{c.flow.server_ip}:{c.flow.server_port}",
                "frame": c.frame,
                "outcome": c.outcome,
                "sni": c.sni,
            }
            for c in path.pool_tls
        ],
        "problems": list(path.problems),
        "frames": list(path.frames),
    }


def _exchange(ex: NtpExchange, option42: tuple[str, ...]) -> dict[str, Any]:
    answer = ex.answer
    msg = answer.message if answer is not None else None
    first = ex.requests[0].message if ex.requests else None
    shown = first or msg
    return {
        "server": ex.flow.server_ip,
        "server_from_option42": ex.flow.server_ip in option42,
        "client_port": ex.flow.client_port,
        "requests": [{"frame": s.frame, "time": _iso(s.ts)} for s in ex.requests],
        "retries": ex.retries,
        "version": shown.version if shown is not None else None,
        "phone_clock": _iso(first.transmit_ts) if first is not None else None,
        "answer": (
            {
                "frame": answer.frame,
                "time": _iso(answer.ts),
                "stratum": msg.stratum,
                "leap": msg.leap,
                "reference": msg.reference_text,
                "server_time": _iso(msg.transmit_ts),
                "no_time_because": msg.usable_time,
            }
            if answer is not None and msg is not None
            else None
        ),
        "round_trip": _round(ex.round_trip),
        "server_offset": _round(ex.server_offset),
        "client_offset": _round(ex.client_offset),
    }


def time_json(clock: PhoneTime | None) -> dict[str, Any] | None:
    """``Device.time``: option 42, the phone's NTP exchanges and the clock it learnt."""
    if clock is None:
        return None
    answered = clock.answered
    learnt = answered[-1] if answered else None
    return {
        "ntp_servers": list(clock.ntp_servers),
        "option42_frame": clock.option42_frame,
        "exchanges": [_exchange(ex, clock.ntp_servers) for ex in clock.exchanges],
        "answered": bool(answered),
        "learnt_offset": _round(learnt.server_offset) if learnt is not None else None,
        "unanswered_requests": sum(
            len(ex.requests) + ex.retries_dropped for ex in clock.unanswered
        ),
    }


def _seconds(value: float | None) -> str:
    return "—" if value is None else describe_offset(value)


def _resolution_row(role: str, name: NameResolution) -> tuple[str, ...]:
    frames = ", ".join(str(f) for f in name.frames[:6])
    return (role, name.name, name.status, ", ".join(name.addresses) or "—", frames or "—")


def signin_tables(session: DeviceSession) -> list[Table]:
    """The sign-in path and the time, as tables for Markdown and HTML."""
    tables: list[Table] = []
    path = session.signin
    if path is not None:
        rows: list[tuple[str, ...]] = []
        if path.provisioning_dns is not None:
            rows.append(_resolution_row("DNS (option 43 host)", path.provisioning_dns))
        for attempt in path.connections:
            tls = attempt.tls
            cert = tls.server_certificate if tls is not None else None
            what = attempt.connect
            if tls is not None:
                what += f", TLS {tls.outcome}"
            if attempt.phone_alert:
                what += f", phone alert {attempt.phone_alert}"
            names = ", ".join(cert.names) if cert is not None else "—"
            frames = ", ".join(str(f) for f in attempt.frames[:6])
            rows.append(("connection", attempt.server, what, f"certificate: {names}", frames))
        for name in path.pool:
            rows.append(_resolution_row("DNS (option 120 pool)", name))
        for conn in path.pool_tls:
            server = f"{conn.flow.server_ip}:{conn.flow.server_port}"
            rows.append(("pool connection", server, f"TLS {conn.outcome}", "—", str(conn.frame)))
        note = f"Certificate Provisioning URL {path.url or '(none)'} (frame {path.option43_frame})"
        if path.problems:
            note += "; " + "; ".join(path.problems)
        tables.append(
            Table("Sign-in path", ("step", "to", "result", "detail", "frames"), tuple(rows), note)
        )
    clock = session.time
    if clock is not None:
        rows = []
        for ex in clock.exchanges:
            answer = ex.answer
            if answer is None:
                result = "no answer"
            elif answer.message.usable_time is not None:
                result = f"no time: {answer.message.usable_time}"
            else:
                result = f"server time {_iso(answer.message.transmit_ts)}"
            first = ex.requests[0].message if ex.requests else None
            given = " (option 42)" if ex.flow.server_ip in clock.ntp_servers else ""
            rows.append(
                (
                    ex.flow.server_ip + given,
                    str(len(ex.requests) + ex.retries_dropped),
                    (_iso(first.transmit_ts) or "(not set)") if first is not None else "—",
                    result,
                    _seconds(ex.server_offset),
                    ", ".join(str(f) for f in ex.frames[:6]),
                )
            )
        servers = ", ".join(clock.ntp_servers) or "none"
        tables.append(
            Table(
                "Time (NTP)",
                ("server", "requests", "phone clock", "answer", "offset vs capture", "frames"),
                tuple(rows),
                f"option 42 NTP servers: {servers}",
            )
        )
    return tables


def signin_text(session: DeviceSession) -> list[str]:
    """The terminal report's lines for the sign-in path and the time (raw: the caller makes
    them safe)."""
    lines: list[str] = []
    for table in signin_tables(session):
        lines.append(f"{table.title}: {table.note}")
        for row in table.rows:
            lines.append("  " + "  ".join(cell for cell in row if cell and cell != "—"))
    return lines
