"""Sign-in checks: the Lync Phone Edition phone's path from option 43 to the pool.

A phone signing in with its PIN takes the Certificate Provisioning URL from option 43 (host,
port and path in sub-options 3-5), resolves the host, connects, and checks the server's
certificate: it must name sub-option 3's host and chain to a root the phone trusts. It then
looks up option 120's pool. ``devices/signin.py`` gathers these steps per phone; each check
here judges one of them, from the wire only (the phone's alerts say what it rejected).
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address

from capinspect.checks.base import Check, CheckContext, CheckSpec, Finding, Severity
from capinspect.checks.tls import _covers
from capinspect.devices import DeviceSession
from capinspect.devices.signin import (
    NXDOMAIN,
    UNANSWERED,
    UNKNOWN_CA,
    NameResolution,
    SignInPath,
)
from capinspect.flows.connects import ACCEPTED, NO_ANSWER, REFUSED
from capinspect.knowledge.sources import (
    DHCP_FOR_DEVICES,
    DHCP_SIGN_IN,
    DNS_FRONT_END,
    LPE_CERTIFICATES,
    SCHERTZ_LPE_PUBLIC_CERTS,
    USING_DHCPUTIL,
    WEB_TRUSTED_CA,
)
from capinspect.protocols.tls.messages import TlsConnection

NO_ANSWER_AFTER = 3.0
"""Seconds the capture must go on after the last SYN before "no answer" is said (a phone
retransmits its SYN after 3 s)."""

NAME_MISMATCH = CheckSpec(
    id="signin.provisioning-name-mismatch",
    severity=Severity.FAIL,
    title="The Certificate Provisioning server's certificate does not name option 43's host",
    explanation=(
        "For PIN sign-in the phone connects to the Certificate Provisioning URL that option 43 "
        "gives it (sub-option 3 is the host) and checks that the server certificate names that "
        "host (a subject alternative name, or the common name when there is none). The "
        "certificate the server sent names other hosts, so the phone rejects the connection "
        "and cannot get its certificate: sign-in fails."
    ),
    remediation=(
        "Either set option 43 sub-option 3 to a name the Web Services certificate carries "
        "(the pool's internal web FQDN; regenerate the values with DHCPUtil as "
        f"{USING_DHCPUTIL} shows), or reissue the Web Services certificate with that name as "
        f"a subject alternative name ({LPE_CERTIFICATES})."
    ),
    source=f"{DHCP_SIGN_IN}; {LPE_CERTIFICATES}; RFC 6125",
)

ROOT_NOT_TRUSTED = CheckSpec(
    id="signin.root-not-trusted",
    severity=Severity.FAIL,
    title="The phone does not trust the root CA of the sign-in server's certificate (unknown_ca)",
    explanation=(
        "On the Certificate Provisioning or pool connection the phone answered the server's "
        "certificate with a fatal unknown_ca alert: the root CA that issued the chain is not on "
        "the phone. Lync Phone Edition trusts the public roots of its firmware and the roots "
        "Lync publishes to it; a private enterprise root that was never published (or a public "
        "root newer than an old firmware's store) stops sign-in here."
    ),
    remediation=(
        "Publish the root CA to the phones: for a private CA, publish its root certificate to "
        "Active Directory (certutil -f -dspublish <root.cer> RootCA) so the phone receives it "
        "through Certificate Provisioning, as Microsoft's Certificates for Lync Phone Edition "
        "describes; for another CA add it to the Web Services TrustedCACerts "
        "(New-CsWebTrustedCACertificate, Set-CsWebServiceConfiguration). Update old firmware "
        "whose public root store predates the server's CA."
    ),
    source=f"{LPE_CERTIFICATES}; {WEB_TRUSTED_CA}; {SCHERTZ_LPE_PUBLIC_CERTS}; RFC 5246 7.2",
)

PROVISIONING_UNREACHABLE = CheckSpec(
    id="signin.provisioning-unreachable",
    severity=Severity.FAIL,
    title="The phone cannot reach the Certificate Provisioning URL of option 43",
    explanation=(
        "The phone's lookup of option 43's host failed (no such name, no address, no answer) "
        "or its TCP connection to the host and port of sub-options 3-4 was refused (RST) or "
        "never answered. Without that connection PIN sign-in cannot get the phone's "
        "certificate."
    ),
    remediation=(
        "Make sub-option 3 a name the phone's DNS server resolves to the pool's web services "
        "(or the Director), and sub-option 4 the port they listen on (443); check firewalls "
        f"between the phone's VLAN and that address. {DHCP_SIGN_IN} and {USING_DHCPUTIL} give "
        "the values that match your topology."
    ),
    source=f"{DHCP_SIGN_IN}; {DHCP_FOR_DEVICES}",
)

POOL_NOT_RESOLVED = CheckSpec(
    id="signin.pool-not-resolved",
    severity=Severity.FAIL,
    title="The phone's lookups of option 120's pool found no address",
    explanation=(
        "Option 120 names the pool (Registrar or Director) the phone signs in to. The phone "
        "looked that name up and got no address (no such name, no A record, or no answer), so "
        "it cannot register."
    ),
    remediation=(
        "Create the pool's A record in the zone the phone's DNS server answers for "
        f"({DNS_FRONT_END}), or correct option 120 to the pool FQDN (DHCPUtil -SipServer <pool "
        f"FQDN> prints it: {USING_DHCPUTIL})."
    ),
    source=f"{DHCP_SIGN_IN}; {DHCP_FOR_DEVICES}; {DNS_FRONT_END}",
)


def _where(conn: TlsConnection) -> str:
    sni = f" (SNI {conn.sni})" if conn.sni else ""
    return f"{conn.flow.server_ip}:{conn.flow.server_port}{sni}"


def _names(conn: TlsConnection) -> str:
    cert = conn.server_certificate
    return ", ".join(cert.names) if cert is not None and cert.names else "no host name"


def _certificate_covers(conn: TlsConnection, host: str) -> bool | None:
    cert = conn.server_certificate
    if cert is None or cert.problem is not None:
        return None
    try:
        address = str(ip_address(host))
    except ValueError:
        return any(_covers(name, host) for name in cert.names)
    return address in cert.ip_addresses


def check_name_mismatch(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    path = device.signin
    if path is None or not path.host:
        return
    for attempt in path.connections:
        conn = attempt.tls
        if conn is None or _certificate_covers(conn, path.host) is not False:
            continue
        yield NAME_MISMATCH.finding(
            f"option 43 sends the phone to {path.host} (DHCP frame {path.option43_frame}); the "
            f"certificate {_where(conn)} sent names {_names(conn)}",
            device=device.key,
            expected=path.host,
            observed=_names(conn),
            frames=[path.option43_frame, conn.certificate_frame or conn.frame],
            ts=conn.ts,
        )
        return


def _unknown_ca(conns: list[TlsConnection]) -> list[TlsConnection]:
    out = []
    for conn in conns:
        if any(
            a.sender == "client" and a.fatal and a.description == UNKNOWN_CA for a in conn.alerts
        ):
            out.append(conn)
    return out


def check_root_not_trusted(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    path = device.signin
    if path is None:
        return
    conns = [a.tls for a in path.connections if a.tls is not None]
    refused = _unknown_ca([*conns, *path.pool_tls])
    if not refused:
        return
    first = refused[0]
    cert = first.server_certificate
    chain = first.certificates
    root = chain[-1].issuer if chain else "an issuer the capture does not show"
    which = "Certificate Provisioning" if first in conns else "pool"
    alert = next(a for a in first.alerts if a.description == UNKNOWN_CA)
    served = f" for {cert.subject}" if cert is not None else ""
    more = f" (and {len(refused) - 1} more connection(s))" if len(refused) > 1 else ""
    yield ROOT_NOT_TRUSTED.finding(
        f"on the {which} connection to {_where(first)} the phone sent a fatal unknown_ca alert "
        f"(frame {alert.frame}) after the server's chain{served} rooted in {root}{more}",
        device=device.key,
        expected=f"the phone trusts {root}",
        observed="phone alert unknown_ca",
        frames=[c for conn in refused for c in (conn.certificate_frame or conn.frame, alert.frame)],
        ts=first.ts,
    )


def _failed_lookup(resolution: NameResolution) -> str:
    if resolution.status == NXDOMAIN:
        return "answered NXDOMAIN (no such name)"
    if resolution.status == UNANSWERED:
        return "got no answer"
    if resolution.status == "no-address":
        return "was answered without an address"
    return f"was answered {resolution.status.upper()}"


def _unreachable(path: SignInPath, ctx: CheckContext) -> tuple[str, str, list[int], float] | None:
    dns = path.provisioning_dns
    if dns is not None and dns.failed:
        return (
            f"the phone's lookup of option 43's host {path.host} {_failed_lookup(dns)}",
            f"DNS {dns.status}",
            list(dns.frames),
            dns.ts or path.option43_ts,
        )
    if not path.connections or any(a.connect == ACCEPTED for a in path.connections):
        return None
    attempts = path.connections
    if all(a.connect == NO_ANSWER for a in attempts) and ctx.capture_end is not None:
        if ctx.capture_end - max(a.last_syn_ts for a in attempts) < NO_ANSWER_AFTER:
            return None  # the capture ended too soon to say
    refused = [a for a in attempts if a.connect == REFUSED]
    what = (
        f"refused with a reset ({len(refused)} of {len(attempts)} attempt(s))"
        if refused
        else f"never answered ({sum(a.syn_count for a in attempts)} SYN(s))"
    )
    return (
        f"the phone's TCP connection to {attempts[0].server} (option 43's {path.host}, port "
        f"{path.port}) was {what}",
        "TCP refused" if refused else "TCP no answer",
        [f for a in attempts for f in a.frames],
        attempts[0].ts,
    )


def check_provisioning_unreachable(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    path = device.signin
    if path is None:
        return
    found = _unreachable(path, ctx)
    if found is None:
        return
    summary, observed, frames, ts = found
    yield PROVISIONING_UNREACHABLE.finding(
        summary + (f"; {'; '.join(path.problems)}" if path.problems else ""),
        device=device.key,
        expected=f"a TLS connection to {path.url or path.host}",
        observed=observed,
        frames=[path.option43_frame, *frames],
        ts=ts,
    )


def check_pool_not_resolved(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    path = device.signin
    if path is None:
        return
    for name in path.pool:
        if not name.failed:
            continue
        yield POOL_NOT_RESOLVED.finding(
            f"the phone's lookup of option 120's pool {name.name} {_failed_lookup(name)}",
            device=device.key,
            expected=f"an address for {name.name}",
            observed=f"DNS {name.status}",
            frames=[path.option43_frame, *name.frames],
            ts=name.ts,
        )


CHECKS: tuple[Check, ...] = (
    Check(PROVISIONING_UNREACHABLE, check_provisioning_unreachable),
    Check(NAME_MISMATCH, check_name_mismatch),
    Check(ROOT_NOT_TRUSTED, check_root_not_trusted),
    Check(POOL_NOT_RESOLVED, check_pool_not_resolved),
)
