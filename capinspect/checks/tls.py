"""TLS checks: the HTTPS check-in's handshake, certificate and whether its content is visible.

A phone that checks in over HTTPS needs what any TLS client needs: a protocol version and a
cipher suite in common with the server, a certificate for the name it connected to, valid at
the time, issued by a CA it trusts (for Communicator Phone Edition / Lync Phone Edition the
root CA has to reach the phone's store, typically published in Active Directory). When the
handshake fails the check-in never happens, so these come before every check-in finding.

Everything here is read from the handshake without keys (TLS 1.0-1.2; TLS 1.3 encrypts the
certificate, which the findings say). With a server key or a key log the check-ins are
decrypted upstream and the check-in checks see them like plain HTTP ones; what cannot be
decrypted is said by ``tls.cannot-decrypt``, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from capinspect.checks.base import Check, CheckContext, CheckSpec, Finding, Severity
from capinspect.devices import DeviceSession
from capinspect.knowledge.phone import is_update_name
from capinspect.protocols.tls.messages import (
    CIPHER_SUITES,
    DECRYPTED,
    ESTABLISHED,
    FAILED,
    NO_KEYS_GIVEN,
    NOTHING_TO_DECRYPT,
    CertificateInfo,
    TlsConnection,
    suite_name,
    version_name,
)

HANDSHAKE_FAILED = CheckSpec(
    id="tls.handshake-failed",
    severity=Severity.FAIL,
    title="A TLS handshake of the phone failed",
    explanation=(
        "The phone or the server gave up during the TLS handshake (the alert says why: "
        "unknown_ca means the phone does not trust the CA that issued the server certificate; "
        "bad_certificate or certificate_unknown that it rejected the certificate itself, often "
        "its names; certificate_expired its dates). Over HTTPS the check-in is only sent after "
        "the handshake, so this phone never asked for updates on this connection."
    ),
    remediation=(
        "unknown_ca: publish the issuing root CA to the phones (Lync/OCS phones read it from "
        "Active Directory: certutil -f -dspublish root.cer RootCA, then sign the phone in "
        "again). bad_certificate/certificate_unknown: see tls.cert-name-mismatch; "
        "certificate_expired: renew the Web Components certificate. Alerts from the server: "
        "see its Schannel event log."
    ),
    source="inference (RFC 5246 7.2, RFC 8446 6); Lync Phone Edition certificate requirements",
)

NO_COMMON_CIPHER = CheckSpec(
    id="tls.no-common-cipher",
    severity=Severity.FAIL,
    title="The server found no TLS version or cipher suite in common with the phone",
    explanation=(
        "The server answered the phone's ClientHello with a handshake_failure, "
        "insufficient_security or protocol_version alert instead of a ServerHello: nothing the "
        "phone offers is enabled on the server. Older phone firmware offers only TLS 1.0 with "
        "RSA/3DES/RC4 suites; a hardened IIS (TLS 1.0 or those suites disabled) rejects it."
    ),
    remediation=(
        "Compare the phone's offer (in this finding) with the server's Schannel settings; "
        "either update the phone firmware through a server that still accepts it, or enable "
        "one of the offered protocols/suites on the Web Components server."
    ),
    source="inference (RFC 5246 7.4.1.3)",
)

CERT_NAME_MISMATCH = CheckSpec(
    id="tls.cert-name-mismatch",
    severity=Severity.FAIL,
    title="The server certificate does not carry the name the phone connected to",
    explanation=(
        "The phone checks that the certificate names the host it connected to: the SNI it "
        "sent, or (without SNI) ucupdates-r2.<domain> / the Web Components FQDN from DHCP. "
        "None of those is in the certificate's subject alternative names (or its CN when it "
        "has none), so the phone rejects the server and never checks in."
    ),
    remediation=(
        "Issue the Web Components (IIS) certificate with ucupdates-r2.<SIP domain> and the pool "
        "web FQDN as subject alternative names, and bind it to the site the phone reaches."
    ),
    source="Microsoft docs (Device Update service certificate requirements); RFC 6125",
)

CERT_EXPIRED = CheckSpec(
    id="tls.cert-expired",
    severity=Severity.FAIL,
    title="A certificate of the server's chain was expired (or not yet valid) at capture time",
    explanation=(
        "At the time of the connection a certificate the server sent was outside its validity "
        "period. The phone rejects such a chain (certificate_expired), so the check-in fails."
    ),
    remediation=(
        "Renew the certificate (or its intermediate) and bind the new one in IIS; check the "
        "phone's clock too when the certificate is only 'not yet valid'."
    ),
    source="inference (RFC 5280 4.1.2.5)",
)

ENCRYPTED_CHECKIN = CheckSpec(
    id="tls.encrypted-checkin",
    severity=Severity.INFO,
    title="The check-in went over HTTPS: its content is not visible without a key",
    explanation=(
        "The phone talked TLS to port 443 and the handshake succeeded, so a check-in probably "
        "happened, but its request and answer are encrypted, and what the capture shows around "
        "it (sizes, alerts, how it ended, a download after it) does not decide what it was: "
        "the capture cut it, or ended right after an answer the size of an offer. Encrypted "
        "check-ins the capture does decide are the checkin.encrypted-* findings."
    ),
    remediation=(
        "Run again with --tls-key <server key> (works for RSA key exchange suites, "
        "TLS_RSA_WITH_*) or --keylog <NSS key log> (any suite); or give the server's Device "
        "Update audit log (--audit-log) and IIS log (--iis-log) for this phone."
    ),
    source="inference",
)

CANNOT_DECRYPT = CheckSpec(
    id="tls.cannot-decrypt",
    severity=Severity.INFO,
    title="Keys were given but this TLS connection could not be decrypted",
    explanation=(
        "capinspect had a server key or a key log but could not use it for this connection: "
        "an ephemeral (ECDHE/DHE, TLS 1.3) key exchange only a key log opens, a key that does "
        "not belong to the certificate, a resumed session whose master secret is not in the "
        "capture, a key log without this connection, or a cipher it does not decrypt."
    ),
    remediation=(
        "Follow the reason in the finding: use the key of the certificate the server showed "
        "(serial in the finding), capture the phone's full handshake (restart it) for resumed "
        "sessions, or take a key log when the suite is ephemeral."
    ),
    source="inference (RFC 5246 8.1, RFC 7627, RFC 5077)",
)

_NO_COMMON_ALERTS = {40, 70, 71}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _frames(conn: TlsConnection) -> list[int]:
    return [conn.frame, *conn.handshake_frames]


def _where(conn: TlsConnection) -> str:
    sni = f" (SNI {conn.sni})" if conn.sni else ""
    return f"{conn.flow.server_ip}:{conn.flow.server_port}{sni}"


def _no_common(conn: TlsConnection) -> bool:
    alert = conn.first_fatal_alert
    return (
        conn.outcome == FAILED
        and conn.server_hello is None
        and alert is not None
        and alert.sender == "server"
        and alert.description in _NO_COMMON_ALERTS
    )


def check_handshake_failed(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for conn in device.tls:
        if conn.outcome != FAILED or _no_common(conn):
            continue
        alert = conn.first_fatal_alert
        if alert is not None:
            what = f"the {alert.sender} sent a fatal {alert.name} alert (frame {alert.frame})"
            observed = f"{alert.sender} alert {alert.name}"
        else:
            what = conn.outcome_detail
            observed = conn.outcome_detail
        if alert is not None and alert.name == "unknown_ca" and alert.sender == "client":
            cert = conn.server_certificate
            issuer = f" issued by {cert.issuer}" if cert is not None else ""
            what += f": the phone does not trust the server certificate{issuer}"
        yield HANDSHAKE_FAILED.finding(
            f"TLS handshake with {_where(conn)} failed: {what}",
            device=device.key,
            expected="a completed handshake",
            observed=observed,
            frames=_frames(conn),
            ts=conn.ts,
        )


def check_no_common_cipher(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for conn in device.tls:
        if not _no_common(conn):
            continue
        alert = conn.first_fatal_alert
        ch = conn.client_hello
        offered = ""
        if ch is not None:
            versions = ch.describe_versions()
            suites = ", ".join(suite_name(c) for c in ch.cipher_suites[:12])
            more = f" and {len(ch.cipher_suites) - 12} more" if len(ch.cipher_suites) > 12 else ""
            offered = f"; the phone offered {versions} with {suites}{more}"
        yield NO_COMMON_CIPHER.finding(
            f"{_where(conn)} answered the ClientHello with {alert.name if alert else 'an alert'}"
            + offered,
            device=device.key,
            expected="a ServerHello",
            observed=f"server alert {alert.name if alert else '?'}",
            frames=_frames(conn),
            ts=conn.ts,
        )


def _covers(pattern: str, name: str) -> bool:
    """RFC 6125 6.4.3: exact match, or a wildcard for the whole left-most label only."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if pattern.startswith("*.") and "." in name:
        return name.split(".", 1)[1] == pattern[2:] and pattern.count(".") >= 2
    return False


def _wanted_names(device: DeviceSession, conn: TlsConnection) -> list[str]:
    """The names the phone could have validated: its SNI, else the update and web names."""
    if conn.sni:
        return [conn.sni]
    names: list[str] = []
    for lookup in device.dns:
        if conn.flow.server_ip in lookup.addresses:
            names.append(lookup.qname)
    for exchange in device.dhcp:
        for seen in exchange.messages:
            msg = seen.message
            if msg.domain_name:
                names.append(f"ucupdates-r2.{msg.domain_name}")
            if msg.option43 is not None and msg.option43.web_server_fqdn:
                names.append(msg.option43.web_server_fqdn)
            if msg.option120 is not None:
                names.extend(msg.option120.names)
    return list(dict.fromkeys(n.lower().rstrip(".") for n in names if n))


def check_cert_name_mismatch(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    reported: set[str] = set()
    for conn in device.tls:
        cert = conn.server_certificate
        if cert is None or cert.problem is not None:
            continue
        wanted = _wanted_names(device, conn)
        if not wanted or any(_covers(p, n) for p in cert.names for n in wanted):
            continue
        if cert.sha256 + ",".join(wanted) in reported:
            continue
        reported.add(cert.sha256 + ",".join(wanted))
        yield CERT_NAME_MISMATCH.finding(
            f"the certificate sent by {_where(conn)} (subject {cert.subject}, "
            f"serial {cert.serial}) "
            f"names {', '.join(cert.names) or 'nothing'}; the phone wanted "
            + (f"{wanted[0]} (its SNI)" if conn.sni else " or ".join(wanted)),
            device=device.key,
            expected=" or ".join(wanted),
            observed=", ".join(cert.names) or "(no names)",
            frames=[conn.certificate_frame or conn.frame],
            ts=conn.ts,
        )


def _validity_problem(cert: CertificateInfo, ts: float) -> str | None:
    if cert.problem is not None:
        return None
    if ts > cert.not_after:
        return f"expired {_iso(cert.not_after)}"
    if ts < cert.not_before:
        return f"not valid before {_iso(cert.not_before)}"
    return None


def check_cert_expired(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    reported: set[str] = set()
    for conn in device.tls:
        for cert in conn.certificates:
            problem = _validity_problem(cert, conn.ts)
            if problem is None or cert.sha256 in reported:
                continue
            reported.add(cert.sha256)
            yield CERT_EXPIRED.finding(
                f"{_where(conn)} sent {cert.subject} (serial {cert.serial}), {problem}; the "
                f"connection was at {_iso(conn.ts)}",
                device=device.key,
                expected=f"valid {_iso(cert.not_before)} … {_iso(cert.not_after)}",
                observed=f"used at {_iso(conn.ts)}",
                frames=[conn.certificate_frame or conn.frame],
                ts=conn.ts,
            )


def _which_key(conn: TlsConnection) -> str:
    suite = CIPHER_SUITES.get(conn.cipher_suite or -1)
    name = suite_name(conn.cipher_suite)
    cert = conn.server_certificate
    if suite is not None and suite.kx == "RSA":
        which = (
            f"the private key of the server certificate {cert.subject} (serial {cert.serial})"
            if cert is not None
            else "the server's private key"
        )
        return f"{name} uses RSA key exchange: {which} (--tls-key) or a key log would reveal it"
    return (
        f"{name} uses ephemeral key exchange: only a key log (--keylog, SSLKEYLOGFILE of the "
        "client or server) reveals it; the server key cannot"
    )


def check_encrypted_checkin(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    judged = {e.frame for e in device.encrypted_checkins if e.conclusive}
    hidden = [
        c
        for c in device.tls
        if c.outcome == ESTABLISHED
        and c.decryption == NO_KEYS_GIVEN
        and (c.flow.server_port == 443 or is_update_name(c.sni))
        and c.frame not in judged
    ]
    if not hidden:
        return
    first = hidden[0]
    extra = f" (and {len(hidden) - 1} more connection(s))" if len(hidden) > 1 else ""
    certificate = ""
    if first.certificate_encrypted:
        certificate = "; TLS 1.3: the certificate is encrypted too"
    yield ENCRYPTED_CHECKIN.finding(
        f"{len(hidden)} HTTPS connection(s) to {_where(first)}, "
        f"{version_name(first.version)}, {first.app_bytes_to_server}/"
        f"{first.app_bytes_to_client} bytes of application data{extra}: {_which_key(first)}"
        + certificate,
        device=device.key,
        observed=f"{len(hidden)} encrypted connection(s)",
        frames=[c.frame for c in hidden],
        ts=first.ts,
    )


def check_cannot_decrypt(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    reasons: dict[str, list[TlsConnection]] = {}
    for conn in device.tls:
        if conn.decryption in (DECRYPTED, NO_KEYS_GIVEN, NOTHING_TO_DECRYPT):
            continue
        reasons.setdefault(conn.decryption, []).append(conn)
    for reason, conns in reasons.items():
        first = conns[0]
        yield CANNOT_DECRYPT.finding(
            f"{len(conns)} connection(s) to {_where(first)} not decrypted ({reason}): "
            f"{first.decryption_detail}",
            device=device.key,
            expected="decrypted with the keys given",
            observed=reason,
            frames=[c.frame for c in conns],
            ts=first.ts,
        )


CHECKS: tuple[Check, ...] = (
    # The certificate checks come first: a handshake that failed over a certificate has the
    # certificate as its root cause (checks/verdict.py breaks ties by this order).
    Check(CERT_NAME_MISMATCH, check_cert_name_mismatch),
    Check(CERT_EXPIRED, check_cert_expired),
    Check(NO_COMMON_CIPHER, check_no_common_cipher),
    Check(HANDSHAKE_FAILED, check_handshake_failed),
    Check(ENCRYPTED_CHECKIN, check_encrypted_checkin),
    Check(CANNOT_DECRYPT, check_cannot_decrypt),
)
