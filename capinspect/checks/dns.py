"""DNS checks on the phone's lookup of ``ucupdates-r2.<domain>``.

The Device Update troubleshooting article, update flow step 1: a phone no user has signed in to
"sends a DNS lookup request to ucupdates-r2.<DNS domain name that was provided by DHCP>".
Microsoft's DNS tables ask for an A record ("DNS requirements for Front End pools", "… for
Standard Edition servers", Lync Server 2013); several of the article's readers had phones that
did not update while that name was a CNAME or missing.
"""

from __future__ import annotations

from collections.abc import Iterator

from capinspect.checks.base import Check, CheckContext, CheckSpec, Finding, Severity
from capinspect.devices import DeviceSession
from capinspect.knowledge.sources import (
    ARTICLE,
    DNS_FRONT_END,
    DNS_STANDARD_EDITION,
    HOW_DEVICE_UPDATE_WORKS,
)
from capinspect.protocols.dns.messages import DnsLookup

UPDATE_PREFIX = "ucupdates-r2."
LEGACY_PREFIX = "ucupdates."

NXDOMAIN = CheckSpec(
    id="dns.ucupdates-nxdomain",
    severity=Severity.FAIL,
    title="ucupdates-r2.<domain> does not exist in DNS",
    explanation=(
        "The phone looked up ucupdates-r2.<its DHCP domain> to find the Device Update service "
        "and the DNS server answered that the name does not exist, so a phone no user has "
        "signed in to never checks for updates."
    ),
    remediation=(
        "Create an internal A record ucupdates-r2.<domain> pointing at the Standard Edition "
        "server or the Front End pool (its load-balancer VIP) that runs the Device Update service."
    ),
    source=(
        f"{ARTICLE}: update flow step 1, and the author's reply to a reader ('should be an A "
        f"record'); {DNS_FRONT_END}; {DNS_STANDARD_EDITION}"
    ),
)

UNANSWERED = CheckSpec(
    id="dns.ucupdates-unanswered",
    severity=Severity.FAIL,
    title="The ucupdates-r2 lookup got no answer",
    explanation=(
        "The phone asked its DNS server for ucupdates-r2.<domain> and no response is in the "
        "capture, so it cannot find the Device Update service."
    ),
    remediation=(
        "Check that the DNS servers given in DHCP option 6 are reachable from the voice VLAN and "
        "answer for the domain; if the capture was taken where the answer could not be seen, "
        "capture on the phone's port."
    ),
    source=f"{ARTICLE}: update flow step 1; inference",
)

CNAME = CheckSpec(
    id="dns.ucupdates-cname",
    severity=Severity.WARN,
    title="ucupdates-r2 is a CNAME, not an A record",
    explanation=(
        "Microsoft's documentation asks for an A record for ucupdates-r2.<domain>. In the "
        "comments on the Device Update troubleshooting article a reader whose phones would not "
        "update had it as a CNAME, was told 'The UCUPDATES-R2 DNS record should be an A record "
        "and not a CNAME', and changed it. No source proves that a CNAME breaks the phone, but "
        "it is the documented form."
    ),
    remediation="Replace the CNAME with an A record pointing at the pool's address.",
    source=(
        f"{ARTICLE}: readers' comments (Edi's CNAME and the author's reply); {DNS_FRONT_END}; "
        "that a CNAME breaks the phone is unproven"
    ),
)

WRONG_DOMAIN = CheckSpec(
    id="dns.ucupdates-wrong-domain",
    severity=Severity.WARN,
    title="The phone looked up ucupdates-r2 in a different domain",
    explanation=(
        "The phone builds the name from the DNS domain DHCP gave it (option 15); Lync 2013's DNS "
        "tables put the record in the SIP domain. When the two differ, the record must exist in "
        "the domain the phone actually queries."
    ),
    remediation=(
        "Either set DHCP option 15 to the SIP domain, or create ucupdates-r2 in the domain the "
        "phone queries too."
    ),
    source=(
        f"{ARTICLE}: update flow step 1; {HOW_DEVICE_UPDATE_WORKS} (the DHCP domain) against "
        f"{DNS_FRONT_END} (the SIP domain)"
    ),
)

UNEXPECTED_ADDRESS = CheckSpec(
    id="dns.ucupdates-unexpected-address",
    severity=Severity.WARN,
    title="ucupdates-r2 resolves to an unexpected address",
    explanation="The address ucupdates-r2 resolves to is not one you listed for the update server.",
    remediation="Point the A record at the server or pool VIP running the Device Update service.",
    source="expectations (--expect ucupdates_addresses)",
)

LEGACY_NAME = CheckSpec(
    id="dns.ucupdates-legacy-name",
    severity=Severity.INFO,
    title="The phone looked up ucupdates.<domain> (an OCS 2007 R1-era name)",
    explanation=(
        "ucupdates.<domain> is the name older (R1-era) firmware uses; OCS 2007 R2 and Lync "
        "devices use ucupdates-r2. One reader had to create a plain ucupdates record for a "
        "CX700 on 1.0.522.101."
    ),
    remediation=(
        "If the phone runs old firmware, create ucupdates.<domain> as well (A record to the "
        "pool), or update the phone manually first."
    ),
    source=(
        f"{ARTICLE}: a reader's comment (Eduardo Rojas, a CX700 on 1.0.522.101); "
        f"{DNS_FRONT_END}; that ucupdates is the R1-era name is inference"
    ),
)


def _update_lookups(device: DeviceSession, prefix: str = UPDATE_PREFIX) -> list[DnsLookup]:
    return [lk for lk in device.dns if lk.qname.startswith(prefix)]


def _resolved(lookups: list[DnsLookup]) -> bool:
    return any(lk.rcode == "NOERROR" and lk.addresses for lk in lookups)


def check_nxdomain(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    lookups = _update_lookups(device)
    failed = [lk for lk in lookups if lk.rcode == "NXDOMAIN"]
    if not failed or _resolved(lookups):
        return
    names = sorted({lk.qname for lk in failed})
    yield NXDOMAIN.finding(
        f"{', '.join(names)}: NXDOMAIN from {failed[0].server_ip}",
        device=device.key,
        expected="an A record",
        observed="NXDOMAIN",
        frames=[f for lk in failed for f in (*lk.query_frames, *lk.response_frames)],
        ts=failed[0].first_ts,
    )


def check_unanswered(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    lookups = _update_lookups(device)
    silent = [lk for lk in lookups if lk.rcode is None and lk.query_frames]
    if not silent or any(lk.rcode is not None for lk in lookups):
        return
    tries = sum(len(lk.query_frames) for lk in silent)
    yield UNANSWERED.finding(
        f"{silent[0].qname}: {tries} queries to {silent[0].server_ip}, no response",
        device=device.key,
        expected="a DNS response",
        observed=f"{tries} queries, no response",
        frames=[f for lk in silent for f in lk.query_frames],
        ts=silent[0].first_ts,
    )


def check_cname(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    for lookup in _update_lookups(device):
        if len(lookup.cname_chain) > 1:
            chain = " → ".join(lookup.cname_chain)
            final = ", ".join(lookup.addresses) or "no address"
            yield CNAME.finding(
                f"{chain} ({final})",
                device=device.key,
                expected=f"A record for {lookup.qname}",
                observed=f"CNAME {chain}",
                frames=lookup.response_frames,
                ts=lookup.response_ts,
            )
            return


def check_wrong_domain(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    """The queried domain must be the DHCP domain (when DHCP is in the capture) and the
    expected SIP domain (when the user set one): any mismatch is a warn."""
    lookups = _update_lookups(device)
    if not lookups:
        return
    dhcp_domains = {
        seen.message.domain_name.lower().rstrip(".")
        for ex in device.dhcp
        for seen in ex.messages
        if seen.message.op == 2 and seen.message.domain_name
    }
    sip = ctx.expect.sip_domain.lower().rstrip(".") if ctx.expect.sip_domain else None
    for lookup in lookups:
        domain = lookup.qname[len(UPDATE_PREFIX) :]
        reasons = []
        if dhcp_domains and domain not in dhcp_domains:
            reasons.append(f"DHCP gave {', '.join(sorted(dhcp_domains))}")
        if sip is not None and domain != sip:
            reasons.append(f"the SIP domain is {sip}")
        if not reasons:
            continue
        wanted = sorted(dhcp_domains | ({sip} if sip else set()))
        yield WRONG_DOMAIN.finding(
            f"queried {lookup.qname}, but " + " and ".join(reasons),
            device=device.key,
            expected=" and ".join(f"ucupdates-r2.{d}" for d in wanted),
            observed=lookup.qname,
            frames=lookup.query_frames[:1],
            ts=lookup.first_ts,
        )
        return


def check_unexpected_address(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    wanted = set(ctx.expect.ucupdates_addresses)
    if not wanted:
        return
    for lookup in _update_lookups(device):
        if lookup.addresses and not wanted.intersection(lookup.addresses):
            yield UNEXPECTED_ADDRESS.finding(
                f"{lookup.qname} → {', '.join(lookup.addresses)}; expected "
                f"{', '.join(sorted(wanted))}",
                device=device.key,
                expected=", ".join(sorted(wanted)),
                observed=", ".join(lookup.addresses),
                frames=lookup.response_frames,
                ts=lookup.response_ts,
            )
            return


def check_legacy_name(device: DeviceSession, ctx: CheckContext) -> Iterator[Finding]:
    legacy = [lk for lk in device.dns if lk.qname.startswith(LEGACY_PREFIX)]
    if legacy:
        lookup = legacy[0]
        yield LEGACY_NAME.finding(
            f"{lookup.qname}: {lookup.rcode or 'no answer'}",
            device=device.key,
            observed=lookup.qname,
            frames=lookup.query_frames[:1],
            ts=lookup.first_ts,
        )


CHECKS: tuple[Check, ...] = (
    Check(NXDOMAIN, check_nxdomain),
    Check(UNANSWERED, check_unanswered),
    Check(CNAME, check_cname),
    Check(WRONG_DOMAIN, check_wrong_domain),
    Check(UNEXPECTED_ADDRESS, check_unexpected_address),
    Check(LEGACY_NAME, check_legacy_name),
)
