"""Who is a phone: evidence, not proximity.

A host is a phone only on *phone evidence* (``knowledge/phone.py`` names each kind):

* a DHCP message it sent with vendor class ``MS-UC-Client`` or ``CPE-OCPHONE`` (any case);
* a check-in (``POST …/ucdevice.upx``) it sent, or its MAC named inside a check-in body;
* an HTTP request with the phone's user agent (``Microsoft UCPhone Device``);
* the user listing its MAC as a test device in the expectations.

A phone maker's MAC prefix *supports* evidence: together with traffic to the update service (a
``ucupdates-r2`` lookup, TLS to an update name) it makes a phone whose check-in is hidden in
TLS; alone it makes nothing. Looking up ``ucupdates-r2.<domain>`` or the pool, or talking TLS to
the pool, is what Lync clients on PCs do all day: such hosts are "other clients of the update
service" (``OtherClient``), listed once and never judged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from capinspect.analysis import Analysis
from capinspect.devices.bindings import AddressBindings, normalise_mac
from capinspect.devices.model import Checkin, ClientActivity, OtherClient
from capinspect.expectations import Expectations
from capinspect.knowledge.phone import (
    is_phone_user_agent,
    is_phone_vendor_class,
    is_sign_in_name,
    is_update_name,
    looks_like_firmware_path,
    phone_oui,
)
from capinspect.protocols.dhcp.messages import message_bindings
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.tls.messages import TlsConnection

MAX_ACTIVITIES_KEPT = 20
"""Activities kept per other client; the rest are counted."""


@dataclass(slots=True)
class Resolver:
    """Turns (client address, time, frame source MAC) into a device key.

    The key is the MAC that held the address then (``AddressBindings``); with no binding, the
    frame's own source MAC when that MAC is a phone's (a phone on the local segment); otherwise
    ``ip:<address>``.
    """

    bindings: AddressBindings
    phone_macs: set[str]

    def key(self, ip: str, ts: float, l2_mac: str | None) -> str:
        mac = self.bindings.lookup(ip, ts)
        if mac is None and l2_mac is not None and l2_mac in self.phone_macs:
            mac = l2_mac
        return mac if mac is not None else f"ip:{ip}"

    def mac_of(self, key: str, l2_mac: str | None) -> str | None:
        """The MAC a key stands for; for an unbound address, the frame's own source MAC (used
        only to look up a phone maker's prefix, which a router's MAC never carries)."""
        return l2_mac if key.startswith("ip:") else key


@dataclass(slots=True)
class Evidence:
    """Phone evidence gathered per device key, in the order it was found."""

    strong: dict[str, list[str]] = field(default_factory=dict)
    """Keys that are phones, with what says so."""
    supporting: dict[str, list[str]] = field(default_factory=dict)
    """Keys with a phone maker's MAC prefix and traffic to the update service."""

    def add(self, key: str, note: str) -> None:
        notes = self.strong.setdefault(key, [])
        if note not in notes:
            notes.append(note)

    def support(self, key: str, note: str) -> None:
        notes = self.supporting.setdefault(key, [])
        if note not in notes:
            notes.append(note)

    def phones(self) -> dict[str, list[str]]:
        """Every key that is a phone, with its evidence: strong evidence, or a phone maker's
        prefix together with traffic to the update service."""
        out = {key: list(notes) for key, notes in self.strong.items()}
        for key, notes in self.supporting.items():
            has_prefix = any(n.startswith("MAC prefix") for n in notes)
            has_traffic = any(not n.startswith("MAC prefix") for n in notes)
            if key in out:
                out[key].extend(n for n in notes if n not in out[key])
            elif has_prefix and has_traffic:
                out[key] = list(notes)
        return out


def gather_bindings(analysis: Analysis, checkins: Iterable[Checkin]) -> AddressBindings:
    """Every IP↔MAC binding the capture shows: DHCP, summarised DHCP clients, ARP, check-ins."""
    bindings = AddressBindings()
    for exchange in analysis.dhcp:
        for seen in exchange.messages:
            for binding in message_bindings(seen, exchange.client_mac):
                bindings.add(binding.ip, binding.mac, binding.ts, binding.how)
    for binding in analysis.dhcp_background.bindings:
        bindings.add(binding.ip, binding.mac, binding.ts, binding.how)
    for arp in analysis.arp:
        bindings.add(arp.ip, arp.mac, arp.ts, "arp")
    for checkin in checkins:
        body_mac = normalise_mac(checkin.request.mac)
        if body_mac is not None:
            ex = checkin.exchange
            bindings.add(ex.flow.client_ip, body_mac, ex.request.ts - 1e-6, "checkin")
    return bindings


def gather_evidence(
    analysis: Analysis,
    checkins: Iterable[Checkin],
    bindings: AddressBindings,
    expect: Expectations | None,
) -> tuple[Evidence, Resolver]:
    """Phone evidence per key, and the resolver that joins traffic to those keys."""
    evidence = Evidence()
    checkins = list(checkins)
    for exchange in analysis.dhcp:
        for seen in exchange.messages:
            vendor_class = seen.message.vendor_class
            if seen.message.op == 1 and is_phone_vendor_class(vendor_class):
                evidence.add(
                    exchange.client_mac, f"DHCP vendor class {vendor_class} (frame {seen.frame})"
                )
    for checkin in checkins:
        body_mac = normalise_mac(checkin.request.mac)
        if body_mac is not None:
            evidence.add(body_mac, f"MAC named in the check-in (frame {checkin.frame})")
    if expect is not None:
        for exchange in analysis.dhcp:
            if expect.is_test_device(exchange.client_mac):
                evidence.add(exchange.client_mac, "listed as a test device in the expectations")

    resolver = Resolver(bindings, {key for key in evidence.strong if not key.startswith("ip:")})
    for checkin in checkins:
        ex = checkin.exchange
        key = resolver.key(ex.flow.client_ip, ex.request.ts, ex.client_mac)
        evidence.add(key, f"check-in POST {ex.request.path} (frame {ex.request.frame})")
    for http in analysis.http:
        agent = http.request.header("user-agent")
        if is_phone_user_agent(agent):
            key = resolver.key(http.flow.client_ip, http.request.ts, http.client_mac)
            evidence.add(key, f"user agent {agent!r} (frame {http.request.frame})")
    resolver.phone_macs.update(key for key in evidence.strong if not key.startswith("ip:"))

    # A phone maker's prefix with traffic to the update service: a phone whose check-in is
    # inside TLS. The traffic alone is what any Lync client does.
    for lookup in analysis.dns:
        if is_update_name(lookup.qname):
            _support(
                evidence,
                resolver,
                lookup.client_ip,
                lookup.first_ts,
                lookup.client_mac,
                f"DNS lookup of {lookup.qname} (frame {_first_frame(lookup)})",
            )
    for conn in analysis.tls:
        if is_update_name(conn.sni):
            _support(
                evidence,
                resolver,
                conn.flow.client_ip,
                conn.ts,
                conn.client_mac,
                f"TLS to {conn.sni} (frame {conn.frame})",
            )
    return evidence, resolver


def _support(
    evidence: Evidence, resolver: Resolver, ip: str, ts: float, l2_mac: str | None, note: str
) -> None:
    key = resolver.key(ip, ts, l2_mac)
    oui = phone_oui(resolver.mac_of(key, l2_mac))
    if oui is None:
        return
    evidence.support(key, f"MAC prefix {oui.prefix} of {oui.holder} ({oui.makes})")
    evidence.support(key, note)


def _first_frame(lookup: DnsLookup) -> int:
    """The lookup's first frame: its query, or its answer when the query was not captured (an
    answer that came after the query had timed out is a lookup of its own)."""
    frames = lookup.query_frames or lookup.response_frames
    return frames[0] if frames else 0


@dataclass(slots=True)
class _ClientAcc:
    key: str
    mac: str | None
    ips: list[str] = field(default_factory=list)
    activities: list[ClientActivity] = field(default_factory=list)
    count: int = 0
    oui_vendor: str | None = None

    def note(self, ip: str, activity: ClientActivity) -> None:
        if ip not in self.ips:
            self.ips.append(ip)
        self.count += 1
        if len(self.activities) < MAX_ACTIVITIES_KEPT:
            self.activities.append(activity)


@dataclass(frozen=True, slots=True)
class ServiceNames:
    """The update service and pool as the phones learnt them: names and addresses."""

    names: frozenset[str]
    addresses: frozenset[str]

    def concerns_name(self, name: str | None) -> bool:
        lowered = (name or "").lower().rstrip(".")
        return bool(lowered) and (
            is_update_name(lowered) or is_sign_in_name(lowered) or lowered in self.names
        )


def other_clients(
    analysis: Analysis,
    resolver: Resolver,
    phones: set[str],
    service: ServiceNames,
    max_clients: int,
) -> tuple[tuple[OtherClient, ...], int]:
    """Hosts with no phone evidence that touched the update service's names or addresses, in
    order of first activity; the number beyond ``max_clients`` is returned, not kept."""
    accs: dict[str, _ClientAcc] = {}
    dropped: set[str] = set()

    def note(ip: str, ts: float, l2_mac: str | None, frame: int, what: str) -> None:
        key = resolver.key(ip, ts, l2_mac)
        if key in phones:
            return
        acc = accs.get(key)
        if acc is None:
            if len(accs) >= max_clients:
                dropped.add(key)
                return
            mac = None if key.startswith("ip:") else key
            oui = phone_oui(mac)
            acc = accs[key] = _ClientAcc(key, mac, oui_vendor=oui.holder if oui else None)
        acc.note(ip, ClientActivity(frame, ts, what))

    events: list[tuple[float, int, str, str | None, str]] = []
    for lookup in analysis.dns:
        if service.concerns_name(lookup.qname):
            answer = lookup.rcode or "no answer"
            if lookup.addresses:
                answer += " " + ",".join(lookup.addresses[:4])
            events.append(
                (
                    lookup.first_ts,
                    _first_frame(lookup),
                    lookup.client_ip,
                    lookup.client_mac,
                    f"DNS {lookup.qtype} {lookup.qname}? {answer}",
                )
            )
    for conn in analysis.tls:
        by_address = not conn.sni and conn.flow.server_ip in service.addresses
        if service.concerns_name(conn.sni) or by_address:
            events.append(
                (conn.ts, conn.frame, conn.flow.client_ip, conn.client_mac, _describe_tls(conn))
            )
    for exchange in analysis.http:
        req = exchange.request
        host = (req.host or "").split(":", 1)[0]
        if looks_like_firmware_path(req.path) or service.concerns_name(host):
            status = exchange.response.status if exchange.response is not None else "no answer"
            events.append(
                (
                    req.ts,
                    req.frame,
                    exchange.flow.client_ip,
                    exchange.client_mac,
                    f"HTTP {req.method} {req.host or exchange.flow.server_ip}{req.path} → {status}",
                )
            )
    events.sort(key=lambda e: (e[0], e[1]))
    for ts, frame, ip, l2_mac, what in events:
        note(ip, ts, l2_mac, frame, what)
    clients = tuple(
        OtherClient(
            key=acc.key,
            mac=acc.mac,
            ips=tuple(acc.ips),
            activities=tuple(acc.activities),
            activity_count=acc.count,
            oui_vendor=acc.oui_vendor,
        )
        for acc in accs.values()
    )
    return clients, len(dropped - set(accs))


def _describe_tls(conn: TlsConnection) -> str:
    sni = f" (SNI {conn.sni})" if conn.sni else ""
    cert = conn.server_certificate
    names = f", certificate for {', '.join(cert.names[:3]) or cert.subject}" if cert else ""
    return f"TLS to {conn.flow.server_ip}:{conn.flow.server_port}{sni}: {conn.outcome}{names}"
