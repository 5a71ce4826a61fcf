"""A Lync Phone Edition phone's sign-in path as the capture shows it.

After its DHCPINFORM (vendor class ``MS-UC-Client``) the phone has, from option 43, the
Certificate Provisioning URL — ``<sub-option 2>://<3>:<4><5>``, such as
``https://pool.contoso.com:443/CertProv/CertProvisioningService.svc`` — and, from option 120,
the pool to register with. For PIN sign-in it then (Microsoft's "Configuring DHCP for Lync
Phone Edition" / "DHCP Configuration Tools for Devices" describe the options; the order on the
wire is inferred):

1. looks up sub-option 3's host (unless it is an address);
2. opens TCP to that address and sub-option 4's port;
3. makes a TLS handshake whose certificate must name sub-option 3's host and chain to a root
   CA the phone trusts (``unknown_ca`` from the phone: the root is not on the phone);
4. looks up option 120's pool and connects to it.

:func:`sign_in_path` gathers those steps from one phone's transactions: the values are what
the wire shows; the ``signin.*`` checks judge them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from capinspect.flows.connects import ACCEPTED, TcpConnect
from capinspect.protocols.dhcp.messages import DhcpExchange, Option43
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.tls.messages import TlsConnection

RESOLVED = "resolved"
NXDOMAIN = "nxdomain"
NO_ADDRESS = "no-address"
UNANSWERED = "unanswered"
NOT_LOOKED_UP = "not-looked-up"
LITERAL = "address"
"""The name is an IP address: nothing to look up."""
CERTIFICATE_ALERTS = frozenset((42, 43, 44, 45, 46, 48))
"""A client's alerts that reject the server's certificate (RFC 5246 §7.2.2): bad_certificate,
unsupported_certificate, certificate_revoked, certificate_expired, certificate_unknown,
unknown_ca."""
UNKNOWN_CA = 48
DEFAULT_PORT = 443


@dataclass(frozen=True, slots=True)
class NameResolution:
    """What the phone's own lookups of one name gave."""

    name: str
    status: str
    """``resolved``, ``nxdomain``, ``no-address`` (answered, no A/AAAA), another rcode in lower
    case (``servfail``), ``unanswered``, ``not-looked-up`` or ``address``."""
    addresses: tuple[str, ...] = ()
    frames: tuple[int, ...] = ()
    ts: float | None = None

    @property
    def failed(self) -> bool:
        return self.status not in (RESOLVED, NOT_LOOKED_UP, LITERAL)


@dataclass(frozen=True, slots=True)
class ProvisioningConnection:
    """One connection of the phone to the Certificate Provisioning address and port."""

    server: str
    """``address:port``."""
    frame: int
    ts: float
    connect: str
    """``accepted``, ``refused``, ``no-answer`` (flows/connects.py), or ``accepted`` when only
    the TLS bytes show it (the SYN was not captured)."""
    connect_frames: tuple[int, ...]
    syn_count: int
    tls: TlsConnection | None = None
    last_syn_ts: float = 0.0
    """When the phone sent its last SYN (a capture ending soon after it says nothing)."""

    @property
    def phone_alert(self) -> str | None:
        """The phone's fatal alert rejecting the certificate (``unknown_ca``…), if any."""
        return _phone_rejection(self.tls) if self.tls is not None else None

    @property
    def frames(self) -> tuple[int, ...]:
        tls = self.tls
        extra = (tls.frame, *tls.handshake_frames) if tls is not None else ()
        return tuple(sorted({*self.connect_frames, *extra}))


@dataclass(frozen=True, slots=True)
class SignInPath:
    """The sign-in path of one phone (docs/json-schema.md, ``Device.signin``)."""

    url: str | None
    host: str | None
    port: int
    path: str | None
    option43_frame: int
    option43_ts: float
    provisioning_dns: NameResolution | None
    connections: tuple[ProvisioningConnection, ...]
    pool: tuple[NameResolution, ...]
    pool_tls: tuple[TlsConnection, ...]
    """The phone's TLS connections to the pool's addresses (or naming it by SNI)."""
    problems: tuple[str, ...] = ()

    @property
    def frames(self) -> tuple[int, ...]:
        out: set[int] = {self.option43_frame}
        if self.provisioning_dns is not None:
            out.update(self.provisioning_dns.frames)
        for conn in self.connections:
            out.update(conn.frames)
        for name in self.pool:
            out.update(name.frames)
        return tuple(sorted(out))


def _phone_rejection(conn: TlsConnection) -> str | None:
    for alert in conn.alerts:
        if alert.sender == "client" and alert.fatal and alert.description in CERTIFICATE_ALERTS:
            return alert.name
    return None


def phone_rejections(conns: Iterable[TlsConnection]) -> list[TlsConnection]:
    """The connections in which the phone rejected the server's certificate by an alert."""
    return [c for c in conns if _phone_rejection(c) is not None]


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _first_frame(lookup: DnsLookup) -> int:
    return min((*lookup.query_frames, *lookup.response_frames), default=0)


def resolve(name: str, lookups: Sequence[DnsLookup], after: int) -> NameResolution:
    """What the phone's lookups of ``name`` after frame ``after`` gave: the first that gave an
    address wins; else the last answer; else unanswered; else not looked up. Steps are ordered
    by frame, not by time, so a capture replayed faster reads the same."""
    wanted = name.lower().rstrip(".")
    if _is_address(wanted):
        return NameResolution(name, LITERAL, (wanted,))
    mine = [
        lk for lk in lookups if lk.qname.lower().rstrip(".") == wanted and _first_frame(lk) > after
    ]
    if not mine:
        return NameResolution(name, NOT_LOOKED_UP)
    frames = tuple(f for lk in mine for f in (*lk.query_frames, *lk.response_frames))
    addresses = tuple(dict.fromkeys(a for lk in mine for a in lk.addresses))
    if addresses:
        first = next(lk for lk in mine if lk.addresses)
        return NameResolution(name, RESOLVED, addresses, frames, first.first_ts)
    answered = [lk for lk in mine if lk.rcode is not None]
    if not answered:
        return NameResolution(name, UNANSWERED, (), frames, mine[0].first_ts)
    rcode = (answered[-1].rcode or "").lower()
    status = NO_ADDRESS if rcode == "noerror" else rcode
    return NameResolution(name, status, (), frames, answered[-1].first_ts)


def parse_port(option43: Option43) -> tuple[int, str | None]:
    """Sub-option 4 as the phone reads it (ASCII digits); 443 with a note otherwise."""
    raw = option43.field_raw("web_server_port")
    if raw is None:
        return DEFAULT_PORT, None
    text = raw.decode("ascii", "replace").strip("\x00 ")
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text), None
    return DEFAULT_PORT, f"sub-option 4 ({option43.web_server_port}) is not a port in ASCII digits"


def _latest_option43(dhcp: Iterable[DhcpExchange]) -> tuple[Option43, int, float] | None:
    """The latest option 43 with a provisioning host the phone got, and the first answer that
    gave it that host (the phone's steps towards the host are read from there on)."""
    replies = sorted(
        (
            (seen.frame, seen.ts, o43)
            for exchange in dhcp
            for seen in exchange.messages
            if seen.message.op == 2
            and (o43 := seen.message.option43) is not None
            and o43.web_server_fqdn
        ),
        key=lambda reply: reply[0],
    )
    if not replies:
        return None
    latest = replies[-1][2]
    frame, ts, _ = next(r for r in replies if r[2].raw == latest.raw)
    return latest, frame, ts


def _pool_names(dhcp: Iterable[DhcpExchange]) -> list[str]:
    names: list[str] = []
    for exchange in dhcp:
        for seen in exchange.messages:
            o120 = seen.message.option120
            if seen.message.op == 2 and o120 is not None:
                names.extend(n.lower().rstrip(".") for n in o120.names)
    return list(dict.fromkeys(n for n in names if n))


def _connections(
    host: str,
    port: int,
    addresses: tuple[str, ...],
    after: int,
    connects: Sequence[TcpConnect],
    tls: Sequence[TlsConnection],
) -> tuple[ProvisioningConnection, ...]:
    by_flow = {c.flow: c for c in tls}
    used: set[object] = set()
    out: list[ProvisioningConnection] = []
    for attempt in connects:
        flow = attempt.flow
        if flow.server_port != port or flow.server_ip not in addresses:
            continue
        if attempt.frame < after:
            continue
        conn = by_flow.get(flow)
        outcome = ACCEPTED if conn is not None else attempt.outcome
        used.add(flow)
        out.append(
            ProvisioningConnection(
                f"{flow.server_ip}:{flow.server_port}",
                attempt.frame,
                attempt.ts,
                outcome,
                attempt.frames,
                len(attempt.syn_frames),
                conn,
                attempt.last_syn_ts,
            )
        )
    wanted = host.lower().rstrip(".")
    for conn in tls:
        flow = conn.flow
        if flow in used or flow.server_port != port or conn.frame < after:
            continue
        sni = (conn.sni or "").lower().rstrip(".")
        if flow.server_ip not in addresses and sni != wanted:
            continue
        out.append(
            ProvisioningConnection(
                f"{flow.server_ip}:{flow.server_port}",
                conn.frame,
                conn.ts,
                ACCEPTED,
                (),
                0,
                conn,
                conn.ts,
            )
        )
    return tuple(sorted(out, key=lambda c: c.frame))


def sign_in_path(
    dhcp: Sequence[DhcpExchange],
    dns: Sequence[DnsLookup],
    connects: Sequence[TcpConnect],
    tls: Sequence[TlsConnection],
) -> SignInPath | None:
    """The phone's sign-in path, or None when no DHCP answer gave it a provisioning host."""
    found = _latest_option43(dhcp)
    if found is None:
        return None
    option43, frame, ts = found
    host = (option43.web_server_fqdn or "").strip()
    port, problem = parse_port(option43)
    problems = [problem] if problem else []
    resolution = resolve(host, dns, frame)
    connections = _connections(host, port, resolution.addresses, frame, connects, tls)
    pool = tuple(resolve(name, dns, frame) for name in _pool_names(dhcp))
    pool_addresses = {a for name in pool for a in name.addresses}
    pool_names = {name.name for name in pool}
    pool_tls = tuple(
        c
        for c in tls
        if c.frame > frame
        and (c.flow.server_ip in pool_addresses or (c.sni or "").lower().rstrip(".") in pool_names)
        and all(c is not p.tls for p in connections)
    )
    return SignInPath(
        url=option43.url,
        host=host,
        port=port,
        path=option43.cert_prov_path,
        option43_frame=frame,
        option43_ts=ts,
        provisioning_dns=resolution,
        connections=connections,
        pool=pool,
        pool_tls=pool_tls,
        problems=tuple(problems),
    )
