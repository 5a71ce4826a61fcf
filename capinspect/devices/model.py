"""The values the devices stage hands to the checks and the reports.

A :class:`DeviceSession` is one phone's boot as the capture shows it; an :class:`OtherClient` is a
host that touched the update service's names or addresses without any phone evidence (a PC
running a Lync client, an admin testing the download URL in a browser): it is listed once at
the capture level and never judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from capinspect.devices.clock import PhoneTime
from capinspect.devices.signin import SignInPath
from capinspect.engine import TcpFlowSeen
from capinspect.flows.connects import TcpConnect
from capinspect.protocols.checkins import Checkin
from capinspect.protocols.dhcp.messages import DhcpExchange
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.ntp.messages import NtpExchange
from capinspect.protocols.tls.messages import TlsConnection


def seconds(value: float) -> str:
    """A duration for people: ``12 ms``, ``3.4 s``, ``2 min 18 s``."""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {value % 60:.0f} s"


__all__ = ["Checkin"]


@dataclass(frozen=True, slots=True)
class Download:
    """A firmware file GET and how it went."""

    exchange: HttpExchange
    url: str
    file_name: str
    status: int | None
    substatus: str | None
    """IIS sub-status read from the error page (``500.19``), when the body shows one."""
    error_code: str | None
    """IIS ``Error Code 0x…`` from the error page."""
    bytes_received: int
    expected: int | None
    complete: bool
    duration: float | None
    offered_by: int | None = None
    """Frame of the check-in whose response offered this file."""
    offered_version: str | None = None

    @property
    def frame(self) -> int:
        return self.exchange.request.frame

    @property
    def ts(self) -> float:
        return self.exchange.request.ts

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.complete


@dataclass(frozen=True, slots=True)
class FirmwareSighting:
    version: str | None
    frame: int
    ts: float
    source: str


@dataclass(frozen=True, slots=True)
class Identity:
    device_type: str | None = None
    vendor: str | None = None
    model: str | None = None
    revision: str | None = None
    locale: str | None = None
    serial: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineStep:
    """One line of a phone's ladder: what happened, when, in which frame, with whom."""

    ts: float
    frame: int
    stage: str
    """``dhcp``, ``dns``, ``checkin``, ``download``, ``tls``, ``http``."""
    direction: str
    """``to-server``, ``from-server`` or ``broadcast``."""
    peer: str
    summary: str
    details: dict[str, object] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class DeviceSession:
    key: str
    mac: str | None
    ips: tuple[str, ...]
    vlans: tuple[int, ...]
    phone_evidence: tuple[str, ...]
    identity: Identity
    dhcp: tuple[DhcpExchange, ...]
    dns: tuple[DnsLookup, ...]
    checkins: tuple[Checkin, ...]
    downloads: tuple[Download, ...]
    other_http: tuple[HttpExchange, ...]
    other_flows: tuple[TcpFlowSeen, ...]
    firmware_seen: tuple[FirmwareSighting, ...]
    boots: tuple[float, ...]
    """Start time of each boot seen (a DHCP lease exchange); a new one after a download is a
    reboot into the new firmware."""
    timeline: tuple[TimelineStep, ...]
    first_ts: float
    last_ts: float
    tls: tuple[TlsConnection, ...] = ()
    """The phone's TLS connections to its update and sign-in service: to names or addresses it
    got from DHCP (options 43, 120, 15) and DNS, or that its check-ins name. Handshake facts,
    outcome, whether they were decrypted (their HTTP then shows up in ``checkins`` and
    ``downloads``). Only these are judged by the ``tls.*`` checks."""
    other_tls: tuple[TlsConnection, ...] = ()
    """The phone's other TLS connections (Exchange, anything else): shown, never judged."""
    ntp: tuple[NtpExchange, ...] = ()
    """The phone's NTP exchanges (requests, retries, answers)."""
    connects: tuple[TcpConnect, ...] = ()
    """The phone's TCP connection attempts (accepted, refused, unanswered)."""
    signin: SignInPath | None = None
    """The sign-in path from option 43's Certificate Provisioning URL (devices/signin.py);
    None when no DHCP answer gave the phone one."""
    time: PhoneTime | None = None
    """Option 42's NTP servers, the phone's NTP and the clock it learnt (devices/clock.py);
    None when the capture shows neither."""


@dataclass(frozen=True, slots=True)
class ClientActivity:
    """One thing an other client did with the update service's names or addresses."""

    frame: int
    ts: float
    what: str
    """``DNS A ucupdates-r2.contoso.com? NOERROR 10.0.0.5``, ``TLS to 10.0.0.5:443 (SNI …)``."""


@dataclass(frozen=True, slots=True)
class OtherClient:
    """A host that looked up update or pool names, or talked to the update server, without any
    phone evidence: no phone vendor class, check-in, phone user agent or MAC named in a
    check-in. Listed at the capture level; never a device, never a verdict."""

    key: str
    mac: str | None
    ips: tuple[str, ...]
    activities: tuple[ClientActivity, ...]
    """The first few things it did (bounded); ``activity_count`` says how many in all."""
    activity_count: int
    oui_vendor: str | None = None
    """A phone maker whose MAC prefix it carries: supporting evidence, never enough alone."""

    @property
    def first_frame(self) -> int:
        return self.activities[0].frame if self.activities else 0


@dataclass(frozen=True, slots=True)
class Population:
    """Everything the devices stage found: the phones and the other clients."""

    phones: tuple[DeviceSession, ...]
    other_clients: tuple[OtherClient, ...] = ()
    other_clients_dropped: int = 0
    """Other clients beyond ``Limits.max_other_clients`` (counted, not kept)."""
    phones_dropped: int = 0
    """Phones beyond ``Limits.max_devices`` (counted, not kept; ``limit.max_devices``)."""
