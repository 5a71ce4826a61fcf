"""DHCP checks: the lease, the MS-UC-Client INFORM and the options the phone needs.

The Device Update troubleshooting article, step 2: "Make sure the Device Update Service is well
configured and that the DHCP options required by OCPE are in place". The option layouts are
Microsoft's DHCPUtil pages (see knowledge/sources.py for the titles).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from capinspect.checks.base import (
    Check,
    CheckContext,
    CheckFunction,
    CheckSpec,
    Finding,
    Severity,
)
from capinspect.devices import DeviceSession
from capinspect.expectations import Expectations
from capinspect.knowledge.phone import is_sign_in_name
from capinspect.knowledge.sources import (
    ARTICLE,
    CISCO_LONG_OPTION43,
    DHCP_FOR_DEVICES,
    DHCP_SIGN_IN,
    DHCPUTIL_VALUES,
    HOW_DEVICE_UPDATE_WORKS,
    REGISTRAR_CMDLET,
    SCHERTZ_OPTION43,
    USING_DHCPUTIL,
)
from capinspect.protocols.dhcp.messages import (
    ACK,
    DISCOVER,
    INFORM,
    NAK,
    OFFER,
    REQUEST,
    DhcpExchange,
    DhcpSeen,
    Option43,
)
from capinspect.protocols.tls.messages import ESTABLISHED

NO_LEASE = CheckSpec(
    id="dhcp.no-lease",
    severity=Severity.FAIL,
    title="The phone asked for an address and got none",
    explanation=(
        "The phone sent DHCPDISCOVER/DHCPREQUEST but no DHCPACK followed (no answer, or a "
        "DHCPNAK). Without an address it cannot look up ucupdates-r2 or check in for updates."
    ),
    remediation=(
        "Check that the voice VLAN's scope has free addresses and that a DHCP relay (ip "
        "helper-address) forwards the phone's broadcasts to the DHCP server; a NAK means the "
        "server refuses the address the phone asks for (wrong subnet/VLAN)."
    ),
    source=f"{ARTICLE}: troubleshooting step 2 (the DHCP options must be in place); RFC 2131",
)

INFORM_UNANSWERED = CheckSpec(
    id="dhcp.inform-unanswered",
    severity=Severity.FAIL,
    title="No server answered the phone's MS-UC-Client DHCPINFORM",
    explanation=(
        "Lync Phone Edition sends a DHCPINFORM with vendor class MS-UC-Client asking for options "
        "43 and 120, to find the Certificate Provisioning service and its SIP pool. Nothing "
        "answered it, so a phone that no user has signed in to cannot sign in with a PIN. "
        "Microsoft's Lync Server 2010 device troubleshooting says the device then falls back to "
        "DNS, which is less reliable: fail, unless this capture shows that fallback completing "
        "(a sign-in lookup answered and a working TLS connection to the pool), then warn."
    ),
    remediation=(
        "Configure the MS-UC-Client vendor class and options 43/120 on the DHCP server "
        "(DHCPUtil.exe / DHCPConfigScript.bat), or enable the Registrar's DHCP responder "
        "(Set-CsRegistrarConfiguration -EnableDHCPServer $true); the INFORM is a broadcast, so a "
        "relay must forward it when the server is on another subnet."
    ),
    source=(
        f"{DHCPUTIL_VALUES}; {DHCP_FOR_DEVICES}, 'Registrars and DHCP Servers'; {REGISTRAR_CMDLET}"
    ),
)

OPTION43_MISSING = CheckSpec(
    id="dhcp.option43-missing",
    severity=Severity.FAIL,
    title="The DHCP answer to the MS-UC-Client request carries no option 43",
    explanation=(
        "Option 43 (sub-options 1-5) tells a Lync Phone Edition phone the URL of the "
        "Certificate Provisioning service. The answer to its MS-UC-Client request has no option "
        "43, so PIN sign-in cannot work. Microsoft's Lync Server 2010 device troubleshooting "
        "('DHCP does not provide the Web Services URL') says the server must return option 43 "
        "and that the device otherwise falls back to DNS, which is less reliable: fail, unless "
        "this capture shows that fallback completing (a sign-in lookup answered and a working "
        "TLS connection to the pool), then warn."
    ),
    remediation=(
        "Define the MSUCClient vendor class and its sub-options 1-5 on the DHCP server "
        "(DHCPUtil.exe -SipServer <pool> -WebServer <web FQDN> then DHCPConfigScript.bat), "
        "and set them for the phones' scope."
    ),
    source=f"{DHCPUTIL_VALUES}; {DHCP_SIGN_IN}; {USING_DHCPUTIL}",
)

OPTION43_MALFORMED = CheckSpec(
    id="dhcp.option43-malformed",
    severity=Severity.FAIL,
    title="Option 43 is cut or its sub-option lengths do not add up",
    explanation=(
        "The sub-option lengths inside option 43 do not add up to the option's length, so the "
        "phone reads a wrong or partial Certificate Provisioning URL. A DHCP server told to send "
        "option 43 as one text string (an ISC dhcpd 'option vendor-encapsulated-options "
        '"https://…"\') sends no sub-options at all. Cisco IOS routers from '
        "15.1(3)S silently cut 'option 43 hex' at 180 hex characters (90 bytes), which drops the "
        "end of sub-option 5 whenever the web FQDN is longer than 23 characters."
    ),
    remediation=(
        "Send sub-options 1-5 as the MS-UC-Client vendor class's encapsulated options "
        "(Windows: DHCPUtil.exe and DHCPConfigScript.bat; ISC dhcpd: an option space with "
        "vendor-option-space; Kea: an option-def space); on a Cisco router use 'option ext 43 "
        "hex …' (IOS XE 3.2.1S and later). Then check the bytes again in a new capture."
    ),
    source=(
        f"{CISCO_LONG_OPTION43} (real DHCPUtil output, and Cisco's command reference on the "
        "180-character limit)"
    ),
)

OPTION43_UNEXPECTED = CheckSpec(
    id="dhcp.option43-unexpected",
    severity=Severity.FAIL,
    title="Option 43 points somewhere unusual",
    explanation=(
        "The Certificate Provisioning URL composed from option 43 (<2>://<3>:<4><5>) should be "
        "https on port 443 with the path /CertProv/CertProvisioningService.svc on the pool's "
        "internal web FQDN. A value the phone cannot use (a port that is not ASCII digits of "
        "1-65535, a scheme other than https, a relative path without a leading /, a UC "
        "Identifier other than MS-UC-Client, a host name with characters a name cannot have) "
        "is a fail; a workable but unusual one (another port, path or web FQDN than expected) "
        "is a warn."
    ),
    remediation=(
        "Regenerate the values with DHCPUtil.exe (-WebServer must be the internal web services "
        "FQDN) and re-run DHCPConfigScript.bat; sub-option 4 must be the ASCII text 443."
    ),
    source=f"{DHCPUTIL_VALUES}; {DHCP_SIGN_IN}; {CISCO_LONG_OPTION43}",
)

OPTION120_MISSING = CheckSpec(
    id="dhcp.option120-missing",
    severity=Severity.FAIL,
    title="The DHCP answer to the MS-UC-Client request carries no option 120",
    explanation=(
        "Option 120 (SIP servers, RFC 3361) gives the phone the FQDN of its first logon pool. "
        "Without it the phone falls back to DNS discovery, and PIN sign-in may not find the pool: "
        "fail, unless this capture shows that fallback completing (a sign-in lookup answered "
        "and a working TLS connection to the pool), then warn."
    ),
    remediation=(
        "Set option 120 (UCSipServer) for the MS-UC-Client class with DHCPUtil.exe / "
        "DHCPConfigScript.bat, encoding 0 with the pool (or Director) FQDN."
    ),
    source=f"{DHCPUTIL_VALUES}; {DHCP_SIGN_IN}",
)

OPTION120_MALFORMED = CheckSpec(
    id="dhcp.option120-malformed",
    severity=Severity.FAIL,
    title="Option 120 cannot be read as a list of SIP server names",
    explanation=(
        "Option 120 must start with encoding byte 0 followed by RFC 1035 labels of the pool "
        "FQDN. The bytes seen do not decode that way (bad length, bad pointer, or encoding 1 — "
        "IPv4 addresses, which Lync cannot use because TLS needs a name)."
    ),
    remediation="Re-create option 120 with DHCPUtil.exe -SipServer <pool FQDN>.",
    source=f"RFC 3361; {DHCPUTIL_VALUES}; {SCHERTZ_OPTION43}",
)

OPTION120_UNEXPECTED = CheckSpec(
    id="dhcp.option120-unexpected",
    severity=Severity.WARN,
    title="Option 120 names a different SIP pool than expected",
    explanation="The SIP server named in option 120 is not the pool FQDN you expect.",
    remediation=(
        "Point option 120 at the pool (or Director) that should be the phone's first logon server."
    ),
    source="expectations (--expect pool_fqdn); RFC 3361",
)

OPTION15_MISSING = CheckSpec(
    id="dhcp.option15-missing",
    severity=Severity.FAIL,
    title="No DNS domain name (option 15) was given to the phone",
    explanation=(
        "A phone that no user has signed in to looks up ucupdates-r2.<DNS domain provided by "
        "DHCP> to find the Device Update service. No DHCP answer to this phone carried option 15, "
        "so it has no domain to build that name from: fail when no check-in follows, warn when "
        "the phone checked in anyway (it had its update URL from sign-in)."
    ),
    remediation="Set option 15 (DNS Domain Name) in the phones' scope to the SIP domain.",
    source=f"{ARTICLE}: update flow step 1; {HOW_DEVICE_UPDATE_WORKS}",
)


def dns_fallback(device: DeviceSession) -> list[int] | None:
    """Frames that show the phone's DNS fallback completing when DHCP gave it no usable 43/120:
    a sign-in lookup (``_sipinternaltls._tcp``, ``lyncdiscoverinternal`` …) answered with
    records, and a TLS connection to its pool established. ``None`` when the capture does not
    show both."""
    lookups = [lk for lk in device.dns if is_sign_in_name(lk.qname) and lk.answers]
    working = [c for c in device.tls if c.outcome == ESTABLISHED]
    if not lookups or not working:
        return None
    return [*(lk.response_frames[0] for lk in lookups if lk.response_frames), working[0].frame]


def _fallback_severity(device: DeviceSession) -> tuple[Severity | None, str, list[int]]:
    """FAIL (the spec's default) unless the DNS fallback is seen completing: then WARN."""
    frames = dns_fallback(device)
    if frames is None:
        return None, "", []
    return (
        Severity.WARN,
        "; the phone's DNS fallback completed (sign-in lookup answered, TLS to the pool "
        "established)",
        frames,
    )


def _phone_requests(device: DeviceSession) -> Iterator[tuple[DhcpExchange, DhcpSeen]]:
    """Requests of this phone that carry the MS-UC-Client vendor class."""
    for exchange in device.dhcp:
        for seen in exchange.messages:
            vendor = (seen.message.vendor_class or "").lower()
            if seen.message.op == 1 and vendor == "ms-uc-client":
                yield exchange, seen


def _replies(exchange: DhcpExchange) -> list[DhcpSeen]:
    return [
        s for s in exchange.messages if s.message.op == 2 and s.message.msg_type in (ACK, OFFER)
    ]


def _uc_replies(device: DeviceSession) -> list[DhcpSeen]:
    """Replies in exchanges where the phone asked as MS-UC-Client (ACKs first)."""
    out: list[DhcpSeen] = []
    for exchange in {id(ex): ex for ex, _ in _phone_requests(device)}.values():
        replies = _replies(exchange)
        acks = [r for r in replies if r.message.msg_type == ACK]
        out.extend(acks or replies)
    return out


def check_no_lease(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    leases = [ex for ex in device.dhcp if ex.kind == "lease"]
    if not leases or any(ex.of_type(ACK) for ex in leases):
        return
    if any(ex.of_type(INFORM) for ex in device.dhcp):
        return  # it already had an address (INFORM carries ciaddr)
    asks = [s for ex in leases for s in ex.messages if s.message.msg_type in (DISCOVER, REQUEST)]
    naks = [s for ex in leases for s in ex.of_type(NAK)]
    offers = [s for ex in leases for s in ex.of_type(OFFER)]
    observed = f"{len(asks)} DISCOVER/REQUEST, {len(offers)} OFFER, 0 ACK"
    if naks:
        observed += f", DHCPNAK from {naks[0].src_ip}"
    yield NO_LEASE.finding(
        f"{len(asks)} DHCP requests without an ACK ({observed})",
        device=device.key,
        expected="DHCPACK with an address",
        observed=observed,
        frames=[s.frame for s in asks + naks + offers][:20],
        ts=asks[0].ts if asks else None,
    )


def check_inform_unanswered(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    informs = [(ex, s) for ex, s in _phone_requests(device) if s.message.msg_type == INFORM]
    if not informs:
        return
    if any(ex.of_type(ACK) for ex, _ in informs):
        return
    frames = [s.frame for _, s in informs]
    severity, fallback, fallback_frames = _fallback_severity(device)
    yield INFORM_UNANSWERED.finding(
        f"{len(informs)} DHCPINFORM (MS-UC-Client) with no DHCPACK{fallback}",
        device=device.key,
        expected="a DHCPACK carrying options 43 and 120",
        observed="no answer in the capture",
        frames=frames + fallback_frames,
        ts=informs[0][1].ts,
        severity=severity,
    )


def _missing_option(spec: CheckSpec, attr: str, code: int, expected: str) -> CheckFunction:
    """A check that the answers to the phone's MS-UC-Client requests carry option ``code``."""

    def check(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
        replies = _uc_replies(device)
        if not replies or any(getattr(r.message, attr) is not None for r in replies):
            return
        severity, fallback, fallback_frames = _fallback_severity(device)
        yield spec.finding(
            f"{len(replies)} answer(s) to MS-UC-Client requests, none with option {code}"
            + fallback,
            device=device.key,
            expected=expected,
            observed=f"no option {code}",
            frames=[r.frame for r in replies] + fallback_frames,
            ts=replies[0].ts,
            severity=severity,
        )

    check.__name__ = f"check_option{code}_missing"
    return check


def _replies_carrying(device: DeviceSession, attr: str) -> list[DhcpSeen]:
    """Every server reply to this phone that carries ``option43`` / ``option120``."""
    return [
        s
        for ex in device.dhcp
        for s in ex.messages
        if s.message.op == 2 and getattr(s.message, attr) is not None
    ]


def check_option43_malformed(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for seen in _replies_carrying(device, "option43"):
        opt = seen.message.option43
        assert opt is not None
        if opt.complete:
            continue
        problems = "; ".join(opt.problems) or "sub-option lengths do not add up"
        cut = " — exactly 90 bytes, the Cisco IOS limit" if len(opt.raw) == 90 else ""
        text = opt.raw.decode("ascii", "replace")
        if opt.raw.isascii() and text.isprintable():
            problems = (
                f"it holds the text {text!r}, not sub-options 1-5 (code, length, value): the "
                "phone reads no Certificate Provisioning URL from it"
            )
        yield OPTION43_MALFORMED.finding(
            f"option 43 in {seen.message.type_name} from {seen.src_ip} is {len(opt.raw)} bytes "
            f"long{cut}: {problems}",
            device=device.key,
            expected="TLV lengths that add up exactly to the option length",
            observed=f"{len(opt.raw)} bytes: {opt.raw.hex()}",
            frames=[seen.frame],
            ts=seen.ts,
        )
        return


def check_option43_unexpected(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    expect = ctx.expect
    for seen in _replies_carrying(device, "option43"):
        opt = seen.message.option43
        assert opt is not None
        if opt.vendor_class and opt.vendor_class.lower() != "ms-uc-client":
            continue
        if opt.uc_identifier is None and opt.url is None:
            continue
        wrong = option43_problems(opt, expect)
        if not wrong:
            continue
        unusable = any(problem.unusable for problem in wrong)
        yield OPTION43_UNEXPECTED.finding(
            ("the phone cannot use this option 43: " if unusable else "")
            + "; ".join(f"{p.what} is {p.shown}, expected {p.want!r}" for p in wrong),
            device=device.key,
            expected="; ".join(f"{p.what}={p.want}" for p in wrong),
            observed="; ".join(f"{p.what}={p.shown}" for p in wrong),
            frames=[seen.frame],
            ts=seen.ts,
            severity=None if unusable else Severity.WARN,
        )
        return


@dataclass(frozen=True, slots=True)
class Option43Problem:
    """One sub-option of option 43 that differs from what a working deployment sends."""

    what: str
    want: str
    got: str | None
    unusable: bool
    """True when the phone cannot use the value at all (fail); False when it is workable but
    unusual (warn)."""
    raw: bytes | None = None
    """The sub-option's bytes when they are not printable ASCII (shown in hex, exactly)."""

    @property
    def shown(self) -> str:
        """The value exactly: as text when printable, with its bytes in hex otherwise."""
        if self.got is None:
            return "(absent)"
        if self.raw is None and self.got.isprintable() and self.got.isascii():
            return repr(self.got)
        raw = self.raw if self.raw is not None else self.got.encode("utf-8", "replace")
        return f"bytes {raw.hex(' ').upper()} (hex)"


_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$"
)


def _unprintable_raw(opt: Option43, code: int) -> bytes | None:
    """The raw bytes of sub-option ``code`` when they are not printable ASCII text."""
    for sub in opt.suboptions:
        if sub.code == code:
            text = sub.raw.decode("ascii", "replace")
            return None if sub.raw.isascii() and text.isprintable() else sub.raw
    return None


def _port_usable(port: str) -> bool:
    return port.isascii() and port.isdigit() and 1 <= int(port) <= 65535


def option43_problems(opt: Option43, expect: Expectations) -> list[Option43Problem]:
    """What differs in an MS-UC-Client option 43, each marked unusable or merely unusual."""
    wrong: list[Option43Problem] = []
    if opt.uc_identifier is not None and opt.uc_identifier != "MS-UC-Client":
        wrong.append(
            Option43Problem("sub-option 1 (UC Identifier)", "MS-UC-Client", opt.uc_identifier, True)
        )
    if opt.url_scheme is not None and opt.url_scheme.lower() != expect.option43_scheme:
        usable = opt.url_scheme.lower() == "https"
        wrong.append(
            Option43Problem(
                "sub-option 2 (URL Scheme)", expect.option43_scheme, opt.url_scheme, not usable
            )
        )
    if opt.web_server_port is not None and opt.web_server_port != expect.option43_port:
        wrong.append(
            Option43Problem(
                "sub-option 4 (port)",
                expect.option43_port,
                opt.web_server_port,
                not _port_usable(opt.web_server_port),
                _unprintable_raw(opt, 4),
            )
        )
    if opt.complete and opt.cert_prov_path != expect.option43_path:
        path = opt.cert_prov_path
        usable = path is not None and path.startswith("/") and path.isprintable() and path.isascii()
        wrong.append(Option43Problem("sub-option 5 (path)", expect.option43_path, path, not usable))
    fqdn = opt.web_server_fqdn
    if fqdn is not None and not _HOST_NAME.match(fqdn):
        wrong.append(
            Option43Problem("sub-option 3 (web FQDN)", expect.web_fqdn or "a host name", fqdn, True)
        )
    elif expect.web_fqdn and fqdn is not None and fqdn.lower() != expect.web_fqdn.lower():
        wrong.append(Option43Problem("sub-option 3 (web FQDN)", expect.web_fqdn, fqdn, False))
    return wrong


def check_option120_malformed(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for seen in _replies_carrying(device, "option120"):
        opt = seen.message.option120
        assert opt is not None
        if not opt.problems and opt.encoding == 0 and opt.names:
            continue
        why = "; ".join(opt.problems) if opt.problems else f"encoding {opt.encoding}"
        if opt.encoding == 1 and not opt.problems:
            why = "encoding 1 (IPv4 addresses " + ", ".join(opt.addresses) + "): Lync needs a name"
        yield OPTION120_MALFORMED.finding(
            f"option 120 in {seen.message.type_name} from {seen.src_ip}: {why}",
            device=device.key,
            expected="encoding 0 followed by the pool FQDN in RFC 1035 labels",
            observed=opt.raw.hex(),
            frames=[seen.frame],
            ts=seen.ts,
        )
        return


def check_option120_unexpected(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    want = ctx.expect.pool_fqdn
    if not want:
        return
    for seen in _replies_carrying(device, "option120"):
        opt = seen.message.option120
        assert opt is not None
        if not opt.names or any(n.lower() == want.lower() for n in opt.names):
            continue
        yield OPTION120_UNEXPECTED.finding(
            f"option 120 names {', '.join(opt.names)}, expected {want}",
            device=device.key,
            expected=want,
            observed=", ".join(opt.names),
            frames=[seen.frame],
            ts=seen.ts,
        )
        return


def check_option15_missing(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    replies = [
        s
        for ex in device.dhcp
        for s in ex.messages
        if s.message.op == 2 and s.message.msg_type == ACK
    ]
    if not replies or any(r.message.domain_name for r in replies):
        return
    checked_in = bool(device.checkins)
    yield OPTION15_MISSING.finding(
        f"{len(replies)} DHCPACK(s) to this phone, none with option 15"
        + ("; the phone checked in anyway" if checked_in else ""),
        device=device.key,
        expected=ctx.expect.sip_domain or "the SIP domain",
        observed="no option 15",
        frames=[r.frame for r in replies],
        ts=replies[0].ts,
        severity=Severity.WARN if checked_in else None,
    )


CHECKS: tuple[Check, ...] = (
    Check(NO_LEASE, check_no_lease),
    Check(INFORM_UNANSWERED, check_inform_unanswered),
    Check(
        OPTION43_MISSING,
        _missing_option(
            OPTION43_MISSING, "option43", 43, "option 43 with MS-UC-Client sub-options 1-5"
        ),
    ),
    Check(OPTION43_MALFORMED, check_option43_malformed),
    Check(OPTION43_UNEXPECTED, check_option43_unexpected),
    Check(
        OPTION120_MISSING,
        _missing_option(OPTION120_MISSING, "option120", 120, "option 120 naming the SIP pool"),
    ),
    Check(OPTION120_MALFORMED, check_option120_malformed),
    Check(OPTION120_UNEXPECTED, check_option120_unexpected),
    Check(OPTION15_MISSING, check_option15_missing),
)
