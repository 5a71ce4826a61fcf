"""Time checks: the phone's NTP and the clock it judges certificates by.

A phone checks a certificate's dates against its own clock, and takes its time from NTP at
boot. ``devices/clock.py`` gives, for any moment, the time the phone believed then (the
offset its NTP answer taught it, else its own clock as its requests carry it). These checks
say when the phone got no time, and when a certificate it was shown is not valid at the
phone's time although it is at the capture's.

The rule that makes a missing answer the root cause: ``time.no-answer`` is a warn alone (its
spec says fail, the most it gives); when the same phone, after its unanswered requests, rejects
a server certificate with an alert (bad_certificate, certificate_expired, certificate_unknown,
unknown_ca…), it is a fail.
The time stage comes before DNS, sign-in and TLS in the boot (``checks/verdict.STAGE_ORDER``),
so the raised finding is the phone's root cause and the rejection follows from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from capinspect.checks.base import Check, CheckContext, CheckSpec, Finding, Severity
from capinspect.devices import DeviceSession
from capinspect.devices.signin import phone_rejections
from capinspect.knowledge.sources import DHCP_FOR_DEVICES, LPE_CERTIFICATES, NTP_RFC
from capinspect.protocols.tls.messages import CertificateInfo, TlsConnection

ANSWER_WAIT = 3.0
"""Seconds the capture must go on after the last request before "no answer" is said."""
CLOCK_TOLERANCE = 300.0
"""A phone clock within this of the capture's is the capture's (tls.cert-expired judges)."""

NO_ANSWER = CheckSpec(
    id="time.no-answer",
    severity=Severity.FAIL,
    title="The phone's NTP requests got no usable answer",
    explanation=(
        "The phone asked for the time (NTP, UDP 123) and no answer came, or only answers that "
        "give no time (a Kiss-o'-Death, a server that says it is not synchronised). The phone "
        "then keeps the clock it had (its requests show it) and judges certificates by it. "
        "Alone this is a warn; when the phone then rejects a server certificate it is a fail "
        "and the root cause: the certificate is judged against the wrong date."
    ),
    remediation=(
        "Give the phone a reachable NTP server (DHCP option 42, RFC 2132 8.3, or the time "
        "server your phones are configured with) and allow UDP 123 from the phone's VLAN to "
        "it; check that the server itself is synchronised (stratum below 16, no alarm: "
        f"{NTP_RFC}, section 7.3)."
    ),
    source=f"{DHCP_FOR_DEVICES}; RFC 2132 8.3; {NTP_RFC}; {LPE_CERTIFICATES}",
)

CERT_NOT_VALID_AT_PHONE_TIME = CheckSpec(
    id="time.certificate-not-valid-at-phone-time",
    severity=Severity.FAIL,
    title="A certificate the phone was shown is not valid at the phone's time",
    explanation=(
        "By the capture's clock the certificate is valid, but the phone's clock is elsewhere: "
        "the time its NTP answer taught it, or, with no answer, the clock its own NTP requests "
        "carry (which may be a date years back). At that time the certificate is expired or "
        "not yet valid, so the phone rejects it."
    ),
    remediation=(
        "Fix the phone's time source: the NTP server the phone asked must answer with the "
        f"right time (check its own source and stratum, {NTP_RFC}), and the phone must reach "
        "it before signing in. Reissuing the certificate does not help while the phone's "
        f"clock is wrong ({LPE_CERTIFICATES}: the phone validates the server's certificate)."
    ),
    source=f"{NTP_RFC}; RFC 5280 4.1.2.5; {LPE_CERTIFICATES}",
)


def _iso(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{ts:.0f} s"


def _judged_tls(device: DeviceSession) -> list[TlsConnection]:
    """The phone's TLS to its update and sign-in service, the provisioning and pool ones too."""
    conns = {c.frame: c for c in device.tls}
    path = device.signin
    if path is not None:
        conns.update((a.tls.frame, a.tls) for a in path.connections if a.tls is not None)
        conns.update((c.frame, c) for c in path.pool_tls)
    return [conns[frame] for frame in sorted(conns)]


def check_no_answer(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    clock = device.time
    if clock is None or not clock.exchanges or clock.answered:
        return
    unanswered = clock.unanswered
    if not unanswered:
        return
    requests = [seen for ex in unanswered for seen in ex.requests]
    last = max(seen.ts for seen in requests)
    first_ts = min(seen.ts for seen in requests)
    rejected = [c for c in phone_rejections(_judged_tls(device)) if c.ts >= first_ts]
    if not rejected and ctx.capture_end is not None and ctx.capture_end - last < ANSWER_WAIT:
        # The capture ended too soon after the request to say; a phone that went on to
        # reject a certificate had stopped waiting for the answer.
        return
    servers = ", ".join(dict.fromkeys(ex.flow.server_ip for ex in unanswered))
    kisses = [
        f"{ex.answer.message.usable_time} (frame {ex.answer.frame})"
        for ex in unanswered
        if ex.answer is not None and ex.answer.message.usable_time is not None
    ]
    what = f"answered without a time: {'; '.join(kisses)}" if kisses else "never answered"
    summary = f"{clock.requests_sent} NTP request(s) to {servers} {what}"
    own = clock.clock_at(last)
    if own is not None:
        summary += f"; the phone's clock stays at {_iso(own.time)} (frame {own.frame})"
    frames = [seen.frame for seen in requests[:8]]
    severity = Severity.WARN  # alone: the phone may still sign in with the clock it has
    if rejected:
        conn = rejected[0]
        alert = next(a for a in conn.alerts if a.sender == "client" and a.fatal)
        summary += (
            f"; then the phone rejected the certificate of {conn.flow.server_ip}:"
            f"{conn.flow.server_port} with {alert.name} (frame {alert.frame}): without a time "
            "answer this is the root cause"
        )
        frames.append(alert.frame)
        severity = Severity.FAIL
    yield NO_ANSWER.finding(
        summary,
        device=device.key,
        expected=f"an NTP answer from {servers}",
        observed=what,
        frames=frames,
        ts=min(seen.ts for seen in requests),
        severity=severity,
    )


def _validity(cert: CertificateInfo, ts: float) -> str | None:
    if cert.problem is not None:
        return None
    if ts > cert.not_after:
        return f"expired {_iso(cert.not_after)}"
    if ts < cert.not_before:
        return f"not valid before {_iso(cert.not_before)}"
    return None


def check_certificate_at_phone_time(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    clock = device.time
    if clock is None:
        return
    reported: set[str] = set()
    for conn in _judged_tls(device):
        phone = clock.clock_at(conn.ts)
        if phone is None or abs(phone.time - conn.ts) < CLOCK_TOLERANCE:
            continue
        invalid = [
            (cert, problem)
            for cert in conn.certificates
            if cert.sha256 not in reported
            and (problem := _validity(cert, phone.time)) is not None
            and _validity(cert, conn.ts) is None
        ]
        if not invalid:
            continue
        reported.update(cert.sha256 for cert, _ in invalid)
        cert, problem = invalid[0]
        how = (
            f"learnt from the NTP answer in frame {phone.frame}"
            if phone.source == "ntp"
            else f"its own clock as its NTP request in frame {phone.frame} carries it"
        )
        more = f" (and {len(invalid) - 1} more of its chain)" if len(invalid) > 1 else ""
        yield CERT_NOT_VALID_AT_PHONE_TIME.finding(
            f"{conn.flow.server_ip}:{conn.flow.server_port} sent {cert.subject}{more}, valid "
            f"{_iso(cert.not_before)} … {_iso(cert.not_after)}; the phone's time was "
            f"{_iso(phone.time)}, {how}: there the certificate is {problem}, while by the "
            f"capture's clock ({_iso(conn.ts)}) it is valid",
            device=device.key,
            expected=f"the phone's time within {_iso(cert.not_before)} … {_iso(cert.not_after)}",
            observed=f"phone time {_iso(phone.time)}",
            frames=[phone.frame, conn.certificate_frame or conn.frame],
            ts=conn.ts,
        )


CHECKS: tuple[Check, ...] = (
    Check(NO_ANSWER, check_no_answer),
    Check(CERT_NOT_VALID_AT_PHONE_TIME, check_certificate_at_phone_time),
)
