"""Per-phone sessions: which transactions are each phone's, and what its boot looked like.

The stage runs after the engine, on everything it kept:

1. every check-in comes parsed from the engine (``protocols/checkins.CheckinTracker``); an
   Analysis assembled elsewhere (tests, fuzzing) has its check-ins parsed here, once;
2. ``identity.py`` gathers the IP↔MAC bindings and the phone evidence, and decides who is a
   phone (evidence, not proximity);
3. each kind of transaction is joined to a phone by a *joiner* (``JOINERS``): where its client
   address was, when, and what it adds to the session; traffic of hosts that are not phones is
   never made into a device;
4. hosts without phone evidence that touched the update service become ``OtherClient`` values;
5. each phone's session is finished: downloads matched to the offers, the phone's own TLS to its
   service told apart from its other TLS, its encrypted check-ins judged without keys
   (``encrypted.py``), the timeline.

``Limits.max_devices`` bounds the phones kept (by first activity); the excess is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from capinspect.analysis import Analysis, TcpFlowSeen
from capinspect.devices.clock import phone_time
from capinspect.devices.encrypted import infer_checkins, with_timeline
from capinspect.devices.identity import (
    ServiceNames,
    gather_bindings,
    gather_evidence,
    other_clients,
)
from capinspect.devices.model import (
    Checkin,
    DeviceSession,
    Download,
    FirmwareSighting,
    Identity,
    Population,
)
from capinspect.devices.signin import sign_in_path
from capinspect.devices.timeline import build_timeline
from capinspect.expectations import Expectations
from capinspect.flows.connects import TcpConnect
from capinspect.knowledge.firmware import UNKNOWN_VERSION_TIMESTAMP
from capinspect.knowledge.phone import (
    is_phone_user_agent,
    is_sign_in_name,
    is_update_name,
    looks_like_firmware_path,
)
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.protocols.checkins import interpret_checkin
from capinspect.protocols.dhcp.messages import INFORM, DhcpExchange
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.http.iis import iis_error_code, iis_substatus
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.ntp.messages import NtpExchange
from capinspect.protocols.tls.messages import TlsConnection
from capinspect.protocols.upx import is_checkin_path


@dataclass(slots=True)
class _Acc:
    """Mutable accumulator for one phone while its session is built."""

    key: str
    mac: str | None
    evidence: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    vlans: list[int] = field(default_factory=list)
    dhcp: list[DhcpExchange] = field(default_factory=list)
    dns: list[DnsLookup] = field(default_factory=list)
    checkins: list[Checkin] = field(default_factory=list)
    fetches: list[HttpExchange] = field(default_factory=list)
    other_http: list[HttpExchange] = field(default_factory=list)
    other_flows: list[TcpFlowSeen] = field(default_factory=list)
    tls: list[TlsConnection] = field(default_factory=list)
    ntp: list[NtpExchange] = field(default_factory=list)
    connects: list[TcpConnect] = field(default_factory=list)
    first_ts: float = float("inf")

    def at(self, ip: str, vlans: Iterable[int], ts: float) -> None:
        if ip and ip not in ("0.0.0.0", "::") and ip not in self.ips:
            self.ips.append(ip)
        for vlan in vlans:
            if vlan not in self.vlans:
                self.vlans.append(vlan)
        self.first_ts = min(self.first_ts, ts)


@dataclass(frozen=True, slots=True)
class Joiner:
    """How one kind of transaction reaches its phone: its transactions, where and when its
    client was, and what it adds to the session."""

    name: str
    items: Callable[[Analysis, list[Checkin]], Iterable[object]]
    where: Callable[[object], tuple[str, float, str | None, tuple[int, ...]]]
    """(client address, packet time, the frame's source MAC, VLAN tags)."""
    add: Callable[[_Acc, object], None]


def _add_checkin(acc: _Acc, item: object) -> None:
    assert isinstance(item, Checkin)
    acc.checkins.append(item)


def _add_http(acc: _Acc, item: object) -> None:
    assert isinstance(item, HttpExchange)
    agent = item.request.header("user-agent")
    if is_phone_user_agent(agent):
        note = f"user agent {agent!r}"
        if note not in acc.evidence:
            acc.evidence.append(note)
    if looks_like_firmware_path(item.request.path) and item.request.method in ("GET", "HEAD"):
        acc.fetches.append(item)
    else:
        acc.other_http.append(item)


def _add_dns(acc: _Acc, item: object) -> None:
    assert isinstance(item, DnsLookup)
    acc.dns.append(item)


def _add_flow(acc: _Acc, item: object) -> None:
    assert isinstance(item, TcpFlowSeen)
    acc.other_flows.append(item)


def _add_tls(acc: _Acc, item: object) -> None:
    assert isinstance(item, TlsConnection)
    acc.tls.append(item)


def _add_ntp(acc: _Acc, item: object) -> None:
    assert isinstance(item, NtpExchange)
    acc.ntp.append(item)


def _add_connect(acc: _Acc, item: object) -> None:
    assert isinstance(item, TcpConnect)
    acc.connects.append(item)


def _ntp_where(item: object) -> tuple[str, float, str | None, tuple[int, ...]]:
    assert isinstance(item, NtpExchange)
    return item.flow.client_ip, item.ts, item.client_mac, item.vlans


def _connect_where(item: object) -> tuple[str, float, str | None, tuple[int, ...]]:
    assert isinstance(item, TcpConnect)
    return item.flow.client_ip, item.ts, item.client_mac, item.vlans


def _checkin_where(item: object) -> tuple[str, float, str | None, tuple[int, ...]]:
    assert isinstance(item, Checkin)
    ex = item.exchange
    return ex.flow.client_ip, ex.request.ts, ex.client_mac, ex.vlans


def _http_where(item: object) -> tuple[str, float, str | None, tuple[int, ...]]:
    assert isinstance(item, HttpExchange)
    return item.flow.client_ip, item.request.ts, item.client_mac, item.vlans


def _dns_where(item: object) -> tuple[str, float, str | None, tuple[int, ...]]:
    assert isinstance(item, DnsLookup)
    return item.client_ip, item.first_ts, item.client_mac, item.vlans


def _flow_where(item: object) -> tuple[str, float, str | None, tuple[int, ...]]:
    assert isinstance(item, TcpFlowSeen)
    return item.flow.client_ip, item.ts, item.client_mac, item.vlans


def _tls_where(item: object) -> tuple[str, float, str | None, tuple[int, ...]]:
    assert isinstance(item, TlsConnection)
    return item.flow.client_ip, item.ts, item.client_mac, item.vlans


JOINERS: tuple[Joiner, ...] = (
    Joiner("check-in", lambda a, c: c, _checkin_where, _add_checkin),
    Joiner(
        "http",
        lambda a, c: (ex for ex in a.http if not is_checkin_path(ex.request.path)),
        _http_where,
        _add_http,
    ),
    Joiner("dns", lambda a, c: a.dns, _dns_where, _add_dns),
    Joiner("tcp", lambda a, c: a.other_flows, _flow_where, _add_flow),
    Joiner("tls", lambda a, c: a.tls, _tls_where, _add_tls),
    Joiner("ntp", lambda a, c: a.ntp, _ntp_where, _add_ntp),
    Joiner("connect", lambda a, c: a.connects, _connect_where, _add_connect),
)
"""Every kind of transaction a phone's session holds, joined the same way (DHCP is joined by
the client MAC it carries, in ``build_population``)."""


def build_devices(
    analysis: Analysis, expect: Expectations | None = None, limits: Limits = DEFAULT_LIMITS
) -> tuple[DeviceSession, ...]:
    """The phones' sessions (sorted by first activity)."""
    return build_population(analysis, expect, limits).phones


def build_population(
    analysis: Analysis, expect: Expectations | None = None, limits: Limits = DEFAULT_LIMITS
) -> Population:
    """Who is a phone, each phone's session, and the other clients of the update service."""
    checkins = list(analysis.checkins) or [
        interpret_checkin(ex) for ex in analysis.http if is_checkin_path(ex.request.path)
    ]
    bindings = gather_bindings(analysis, checkins)
    evidence, resolver = gather_evidence(analysis, checkins, bindings, expect)
    phone_evidence = evidence.phones()
    resolver.phone_macs.update(k for k in phone_evidence if not k.startswith("ip:"))

    accs: dict[str, _Acc] = {}
    for key, notes in phone_evidence.items():
        accs[key] = _Acc(key, None if key.startswith("ip:") else key, evidence=list(notes))
    for exchange in analysis.dhcp:
        acc = accs.get(exchange.client_mac)
        if acc is None:
            continue
        acc.dhcp.append(exchange)
        for seen in exchange.messages:
            acc.at("", seen.vlans, seen.ts)
        if exchange.assigned_ip:
            acc.at(exchange.assigned_ip, (), exchange.first_ts)
        for seen in exchange.of_type(INFORM):
            acc.at(seen.message.ciaddr, (), seen.ts)
    for joiner in JOINERS:
        for item in joiner.items(analysis, checkins):
            ip, ts, l2_mac, vlans = joiner.where(item)
            acc = accs.get(resolver.key(ip, ts, l2_mac))
            if acc is None:
                continue
            joiner.add(acc, item)
            acc.at(ip, vlans, ts)

    ordered = sorted(accs.values(), key=lambda a: (a.first_ts, a.key))
    kept = ordered[: limits.max_devices]
    sessions = [_finish(acc, expect, analysis.stats.last_ts) for acc in kept]
    sessions.sort(key=lambda s: (s.first_ts, s.key))
    service = _service_names(sessions, expect)
    clients, clients_dropped = other_clients(
        analysis, resolver, set(accs), service, limits.max_other_clients
    )
    return Population(
        phones=tuple(sessions),
        other_clients=clients,
        other_clients_dropped=clients_dropped,
        phones_dropped=len(ordered) - len(kept),
    )


def _service_names(sessions: Iterable[DeviceSession], expect: Expectations | None) -> ServiceNames:
    """The update service and pool as every phone learnt them (for telling other clients)."""
    names: set[str] = set()
    addresses: set[str] = set()
    for session in sessions:
        phone_names, phone_addresses = _phone_service(session.dhcp, session.dns, session.checkins)
        names |= phone_names
        addresses |= phone_addresses
    if expect is not None:
        names.update(n.lower() for n in (expect.web_fqdn, expect.pool_fqdn) if n)
    return ServiceNames(frozenset(names), frozenset(addresses))


def _phone_service(
    dhcp: Iterable[DhcpExchange], dns: Iterable[DnsLookup], checkins: Iterable[Checkin]
) -> tuple[set[str], set[str]]:
    """Names and addresses a phone got for sign-in and updates: options 43 (web FQDN), 120
    (pool), 15 (``ucupdates-r2.<domain>``), the hosts its check-ins name and offer, the pool its
    sign-in lookups (SRV, autodiscover) found, and what its own lookups of those names
    answered."""
    names: set[str] = set()
    addresses: set[str] = set()
    for exchange in dhcp:
        for seen in exchange.messages:
            msg = seen.message
            if msg.op != 2:
                continue
            if msg.domain_name:
                names.add(f"ucupdates-r2.{msg.domain_name}".lower())
            if msg.option43 is not None and msg.option43.web_server_fqdn:
                names.add(msg.option43.web_server_fqdn.lower().rstrip("."))
            if msg.option120 is not None:
                names.update(n.lower().rstrip(".") for n in msg.option120.names)
                addresses.update(msg.option120.addresses)
    for checkin in checkins:
        ex = checkin.exchange
        addresses.add(ex.flow.server_ip)
        if ex.request.host:
            names.add(ex.request.host.split(":", 1)[0].lower())
        for module in checkin.offered:
            for url in (module.internal_url, module.external_url, module.url):
                host = _url_host(url)
                if host:
                    names.add(host)
    for lookup in sorted(dns, key=lambda lk: is_sign_in_name(lk.qname), reverse=True):
        qname = lookup.qname.lower().rstrip(".")
        if qname in names or is_update_name(qname) or is_sign_in_name(qname):
            names.update(c.lower().rstrip(".") for c in lookup.cname_chain)
            addresses.update(lookup.addresses)
            # An SRV answer names the pool: "priority weight port target".
            names.update(
                r.value.split()[-1].lower().rstrip(".")
                for r in lookup.answers
                if r.rtype == "SRV" and r.value.split()
            )
    return names, addresses


def _url_host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def _split_tls(
    acc: _Acc, names: set[str], addresses: set[str]
) -> tuple[tuple[TlsConnection, ...], tuple[TlsConnection, ...]]:
    """The phone's TLS to its update and sign-in service, and its other TLS.

    A connection is the service's when its SNI is an update name or a name the phone got from
    DHCP/DNS/its check-ins, or its server is an address those names resolved to. A phone whose
    capture holds none of those (it started before the capture) has its TLS on 443 and 5061
    without another name counted as the service's."""
    service: list[TlsConnection] = []
    other: list[TlsConnection] = []
    known = bool(names or addresses)
    for conn in sorted(acc.tls, key=lambda c: c.frame):
        sni = (conn.sni or "").lower().rstrip(".")
        mine = (
            is_update_name(sni)
            or sni in names
            or conn.flow.server_ip in addresses
            or (not known and not sni and conn.flow.server_port in (443, 5061))
        )
        (service if mine else other).append(conn)
    return tuple(service), tuple(other)


def _finish(
    acc: _Acc, expect: Expectations | None = None, capture_end: float | None = None
) -> DeviceSession:
    acc.dhcp.sort(key=lambda ex: ex.first_ts)
    acc.dns.sort(key=lambda lk: lk.first_ts)
    acc.checkins.sort(key=lambda c: c.ts)
    acc.fetches.sort(key=lambda ex: ex.request.ts)
    downloads = tuple(_download(ex, acc.checkins) for ex in acc.fetches)
    boots = tuple(
        ex.first_ts for ex in acc.dhcp if ex.kind == "lease" and ex.of_type(1) + ex.of_type(3)
    )
    names, addresses = _phone_service(acc.dhcp, acc.dns, acc.checkins)
    if expect is not None:
        names.update(n.lower() for n in (expect.web_fqdn, expect.pool_fqdn) if n)
    service_tls, other_tls = _split_tls(acc, names, addresses)
    timeline = build_timeline(
        dhcp=acc.dhcp,
        dns=acc.dns,
        checkins=acc.checkins,
        downloads=downloads,
        other_http=acc.other_http,
        tls=sorted((*service_tls, *other_tls), key=lambda c: c.frame),
        other_flows=acc.other_flows,
        ntp=acc.ntp,
        connects=acc.connects,
    )
    times = [step.ts for step in timeline] or [0.0]
    session = DeviceSession(
        key=acc.key,
        mac=acc.mac,
        ips=tuple(acc.ips),
        vlans=tuple(acc.vlans),
        phone_evidence=tuple(acc.evidence),
        identity=_identity(acc.checkins),
        dhcp=tuple(acc.dhcp),
        dns=tuple(acc.dns),
        checkins=tuple(acc.checkins),
        downloads=downloads,
        other_http=tuple(acc.other_http),
        other_flows=tuple(acc.other_flows),
        firmware_seen=_firmware_seen(acc.checkins),
        boots=boots,
        timeline=timeline,
        first_ts=min(times),
        last_ts=max(times),
        tls=service_tls,
        other_tls=other_tls,
        encrypted_checkins=infer_checkins(service_tls, downloads, acc.dhcp, capture_end),
        ntp=tuple(acc.ntp),
        connects=tuple(acc.connects),
        signin=sign_in_path(
            acc.dhcp, acc.dns, acc.connects, sorted(acc.tls, key=lambda c: c.frame)
        ),
        time=phone_time(acc.dhcp, acc.ntp),
    )
    return with_timeline(session) if session.encrypted_checkins else session


def _match_offer(path: str, checkins: list[Checkin], ts: float) -> tuple[int | None, str | None]:
    """The latest check-in before ``ts`` that offered a file at this path."""
    lpath = path.lower()
    best: tuple[int | None, str | None] = (None, None)
    for checkin in checkins:
        if checkin.ts > ts:
            break
        for module in checkin.offered:
            for url in (module.internal_url, module.external_url, module.url):
                if url and _url_path(url) == lpath:
                    best = (checkin.frame, module.version)
    return best


def _url_path(url: str) -> str | None:
    """Lower-case path of a URL from the capture; None when it cannot be split (``http://[``)."""
    try:
        return urlsplit(url).path.lower()
    except ValueError:
        return None


def _download(exchange: HttpExchange, checkins: list[Checkin]) -> Download:
    req = exchange.request
    resp = exchange.response
    host = req.host or exchange.flow.server_ip
    scheme = "https" if exchange.flow.server_port == 443 else "http"
    port = "" if exchange.flow.server_port in (80, 443) else f":{exchange.flow.server_port}"
    url = req.target if "://" in req.target else f"{scheme}://{host}{port}{req.target}"
    status = resp.status if resp is not None else None
    substatus = error_code = None
    received = 0
    expected = None
    complete = False
    duration = None
    if resp is not None:
        substatus = iis_substatus(resp.status, resp.body.data)
        error_code = iis_error_code(resp.body.data)
        received = resp.body.size
        expected = resp.body.expected
        complete = resp.body.complete
        duration = max(0.0, resp.end_ts - req.ts)
    offered_by, version = _match_offer(req.path, checkins, req.ts)
    name = req.path.rsplit("/", 1)[-1] or req.path
    return Download(
        exchange=exchange,
        url=url,
        file_name=name,
        status=status,
        substatus=substatus,
        error_code=error_code,
        bytes_received=received,
        expected=expected,
        complete=complete,
        duration=duration,
        offered_by=offered_by,
        offered_version=version,
    )


def _identity(checkins: list[Checkin]) -> Identity:
    values: dict[str, str] = {}
    for checkin in checkins:
        req = checkin.request
        for name in ("device_type", "vendor", "model", "revision", "locale", "serial", "user"):
            value = getattr(req, name)
            if value:
                values[name] = value
    return Identity(**values)


def _firmware_seen(checkins: list[Checkin]) -> tuple[FirmwareSighting, ...]:
    seen: list[FirmwareSighting] = []
    for checkin in checkins:
        version = checkin.firmware
        if version is None and checkin.request.modules:
            stamp = checkin.request.modules[0].timestamp or ""
            source = "check-in (empty version" + (
                ", timestamp 1601: nothing installed that the server knows)"
                if UNKNOWN_VERSION_TIMESTAMP in stamp
                else ")"
            )
        else:
            source = "check-in"
        if version is None and not checkin.request.modules:
            continue
        seen.append(FirmwareSighting(version, checkin.frame, checkin.ts, source))
    return tuple(seen)
