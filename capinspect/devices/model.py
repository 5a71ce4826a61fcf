"""The values the devices stage hands to the checks and the reports.

A :class:`DeviceSession` is one phone's boot as the capture shows it; an :class:`OtherClient` is a
host that touched the update service's names or addresses without any phone evidence (a PC
running a Lync client, an admin testing the download URL in a browser): it is listed once at
the capture level and never judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from capinspect.analysis import TcpFlowSeen
from capinspect.devices.clock import PhoneTime
from capinspect.devices.signin import SignInPath
from capinspect.flows.connects import TcpConnect
from capinspect.protocols.checkins import Checkin
from capinspect.protocols.dhcp.messages import DhcpExchange, DhcpSeen
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.ntp.messages import NtpExchange
from capinspect.protocols.tls.messages import TlsAlert, TlsConnection


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
    """One line of a phone's ladder: what happened, when, in which frame, with whom.

    Data only: the words a reader sees are the renderers' (``report/timeline.py``), from
    ``event`` and the transaction it concerns (``subject``)."""

    ts: float
    frame: int
    stage: str
    """``dhcp``, ``dns``, ``ntp``, ``checkin``, ``download``, ``tls``, ``http``, ``tcp``."""
    direction: str
    """``to-server``, ``from-server`` or ``broadcast``."""
    peer: str
    event: str
    """What happened: ``dhcp``, ``dns-query``, ``dns-answer``, ``checkin-request``,
    ``checkin-response``, ``download-request``, ``download-response``, ``http``,
    ``tls-connection`` (no handshake seen), ``tls-client-hello``, ``tls-server-hello``,
    ``tls-alert``, ``checkin-encrypted`` (judged without keys), ``ntp-request``, ``ntp-answer``,
    ``tcp-connect`` (refused or unanswered), or a followed flow's kind (``tls``, ``tcp``)."""
    subject: TimelineSubject = field(hash=False, compare=False)
    """The transaction the step is a part of (a DNS query's lookup says whether it was
    answered)."""
    details: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    """The decoded values that matter (the JSON timeline's ``details``)."""


# What an encrypted check-in is inferred to have been (devices/encrypted.py, docs/tls.md).
OFFER_FETCHED = "offer-fetched"
NOTHING_OFFERED = "nothing-offered"
OFFER_UNFETCHED = "offer-unfetched"
REJECTED = "rejected"
UNDECIDED = "undecided"


@dataclass(frozen=True, slots=True)
class AuditFill:
    """The Device Update audit log's row for an encrypted check-in: what the content would
    have shown (the phone's reported firmware, the files the server offered)."""

    where: str
    """``file:line`` of the row."""
    logged_ts: float
    """When the server logged it, on the capture's clock (shifted by ``offset``)."""
    offset: float
    """``capture − audit log`` in seconds, from the rows that matched encrypted check-ins."""
    matched_by: str
    """``MAC`` or ``client IP``."""
    firmware: str | None
    nothing_known: bool
    """The phone reported an empty version with the 1601 timestamp."""
    offered: tuple[tuple[str, str | None], ...]
    """(file or URL, version) of every file the server's answer offered."""
    identity: Identity = field(default_factory=lambda: Identity())
    """Who the row says the phone is (vendor, model, revision, locale, serial, user)."""


@dataclass(frozen=True, slots=True)
class EncryptedCheckin:
    """A check-in over HTTPS that no key opened, and what the capture says about it anyway."""

    connection: TlsConnection
    outcome: str
    """``offer-fetched``, ``nothing-offered``, ``offer-unfetched``, ``rejected`` or
    ``undecided`` (the evidence does not suffice)."""
    basis: tuple[str, ...]
    """The facts the outcome rests on, in words (sizes, alerts, how it ended, what followed)."""
    request_records: int
    request_bytes: int
    answer_records: int
    answer_bytes: int
    answer_plaintext: tuple[int, int] | None
    """The answer's plaintext size range, from its record sizes and the suite."""
    answer_like: str | None
    """``offer`` or ``nothing``: which reference answer its size is like
    (``knowledge/checkin_sizes.py``); None when it falls between or is unknown."""
    ended: str
    """How the connection ended, in words (close_notify, FIN, RST, cut by the capture)."""
    downloads: tuple[Download, ...] = ()
    """Firmware GETs of this phone that followed the check-in (before its next one)."""
    offered_version: str | None = None
    """The version the fetched file's URL names (``knowledge/update_paths.py``)."""
    audit: AuditFill | None = None

    @property
    def frame(self) -> int:
        return self.connection.frame

    @property
    def ts(self) -> float:
        return self.connection.ts

    @property
    def conclusive(self) -> bool:
        return self.outcome != UNDECIDED


TimelineSubject = (
    DhcpSeen
    | DnsLookup
    | Checkin
    | Download
    | HttpExchange
    | TlsConnection
    | TlsAlert
    | TcpFlowSeen
    | EncryptedCheckin
    | NtpExchange
    | TcpConnect
)
"""What a timeline step is a part of."""


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
    encrypted_checkins: tuple[EncryptedCheckin, ...] = ()
    """Check-ins inside TLS that no key opened, judged from what the capture shows
    (``devices/encrypted.py``); a decrypted check-in is in ``checkins`` instead."""
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
