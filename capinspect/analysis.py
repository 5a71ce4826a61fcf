"""What the engine hands the devices stage: every transaction of the input, before judgement.

These values sit above the protocol stages (an :class:`Analysis` holds their transactions), so
they live here rather than in :mod:`capinspect.model`, which the stages themselves import: the
engine only wires the stages together, and ``devices``, ``checks``, ``report`` and ``parallel``
read an analysis without importing the module that knows every tracker.
"""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.flows.connects import TcpConnect
from capinspect.model import Anomaly, CaptureStats, FlowKey, InputFile
from capinspect.protocols.checkins import Checkin
from capinspect.protocols.dhcp.messages import DhcpBackground, DhcpExchange
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.ntp.messages import NtpExchange
from capinspect.protocols.tls.messages import TlsConnection


@dataclass(frozen=True, slots=True)
class ArpBinding:
    """``mac`` answered for or announced ``ip`` at ``ts`` (frame ``frame``)."""

    ip: str
    mac: str
    frame: int
    ts: float
    vlans: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TcpFlowSeen:
    """A followed TCP flow that was not HTTP or DNS (TLS on 443, typically).

    Kept so that a phone whose check-in is encrypted is still seen talking to the update server,
    and so that "only encrypted 443" can be said when nothing else is visible.
    """

    flow: FlowKey
    kind: str
    frame: int
    ts: float
    client_mac: str | None
    vlans: tuple[int, ...]
    bytes_to_server: int = 0
    bytes_to_client: int = 0
    end_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the protocol stages reconstructed from the input, before any judgement."""

    inputs: tuple[InputFile, ...]
    stats: CaptureStats
    dhcp: tuple[DhcpExchange, ...]
    dns: tuple[DnsLookup, ...]
    http: tuple[HttpExchange, ...]
    other_flows: tuple[TcpFlowSeen, ...]
    arp: tuple[ArpBinding, ...]
    anomalies: tuple[Anomaly, ...]
    tls: tuple[TlsConnection, ...] = ()
    """Every TLS connection followed: handshake facts, outcome, decryption status."""
    dhcp_background: DhcpBackground = DhcpBackground()
    """What is left of the DHCP clients summarised as background (dhcp/tracker.py)."""
    checkins: tuple[Checkin, ...] = ()
    """Every check-in, parsed once as its exchange completed (protocols/checkins.py); empty in
    an Analysis assembled without the engine, whose check-ins the devices stage parses."""
    ntp: tuple[NtpExchange, ...] = ()
    """The phones' NTP exchanges (protocols/ntp): requests, retries, answers."""
    connects: tuple[TcpConnect, ...] = ()
    """The phones' TCP connection attempts and their answers (flows/connects.py)."""
