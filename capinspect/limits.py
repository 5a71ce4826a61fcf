"""Named bounds on every resource capinspect spends per input.

Going over a bound is recorded as an Anomaly (``limit.<name>``) and the excess is dropped; it is
never an out-of-memory. The defaults fit a 2-core laptop analysing multi-GB mirror-port
captures; docs/limits.md explains each one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_flows: int = 20_000
    """TCP flows followed at once (only those that looked like HTTP or TLS)."""
    max_classify_bytes: int = 256
    """Bytes of a TCP flow's first payload looked at to decide whether it is HTTP when its first
    segment cannot tell (a request line cut into tiny segments, an unknown method, lines before
    the request line)."""
    max_classify_segments: int = 32
    """Segments held per flow while those bytes are gathered."""
    max_undecided_flows: int = 4_096
    """Flows gathering their first bytes at once; when full, the oldest is judged on what it
    sent so far."""
    max_pending_segments: int = 512
    """Out-of-order TCP segments held per direction while waiting for a hole to fill."""
    max_stream_buffer: int = 4 * 1024 * 1024
    """Bytes an HTTP parser may hold for one direction before the headers end or a body is cut."""
    max_body_kept: int = 1024 * 1024
    """Bytes of an HTTP body kept for analysis (check-in XML, error pages). Download bodies
    are counted and hashed, never kept."""
    max_http_exchanges_per_flow: int = 256
    """HTTP exchanges kept from one TCP connection; beyond, only check-ins and firmware
    downloads are kept and the rest are counted."""
    max_header_bytes: int = 64 * 1024
    """An HTTP header block longer than this is malformed."""
    max_xml_bytes: int = 512 * 1024
    """A check-in XML body larger than this is not parsed."""
    max_xml_depth: int = 64
    max_xml_fields: int = 5_000
    max_ip_fragments: int = 4_096
    """IPv4 datagrams held in reassembly at once."""
    max_tunnel_depth: int = 4
    """Tunnels opened one inside another (ERSPAN, VXLAN, GRE, IP in IP) for one frame."""
    fragment_timeout: float = 30.0
    """Seconds (packet time) an incomplete IPv4 datagram waits for its fragments."""
    flow_idle_timeout: float = 600.0
    """Seconds (packet time) without a segment after which a TCP flow is closed as ``idle``."""
    max_dns_pending: int = 50_000
    """DNS queries waiting for an answer, across the capture."""
    dns_timeout: float = 10.0
    """Seconds after which a DNS query with no response counts as unanswered."""
    dhcp_exchange_window: float = 60.0
    """Seconds within which DHCP messages with one xid and MAC belong to one exchange."""
    max_devices: int = 10_000
    """Phones kept (by first activity); the rest are counted (``limit.max_devices``)."""
    max_other_clients: int = 2_000
    """Hosts without phone evidence that touched the update service, kept for the report's
    "other clients" section; the rest are counted."""
    max_dhcp_exchanges: int = 50_000
    """DHCP exchanges (xid + client MAC) kept across the capture."""
    max_background_dhcp_clients: int = 64
    """DHCP clients without a phone's vendor class whose exchanges are kept whole; beyond this
    the least recently active are summarised (counts, vendor classes, address bindings)."""
    max_dhcp_messages_per_exchange: int = 256
    """Messages kept in one DHCP exchange (a client stuck retransmitting one xid stops here)."""
    max_dns_lookups: int = 500_000
    """DNS lookups kept across the capture (answered or not)."""
    max_ntp_exchanges: int = 10_000
    """Phones' NTP exchanges (a request, its retries and the answer) kept across the capture."""
    ntp_retry_window: float = 60.0
    """Seconds within which an unanswered NTP request to the same server is a retry of it."""
    max_tcp_connects: int = 10_000
    """Phones' TCP connection attempts (SYN, then SYN-ACK, RST or nothing) kept."""


DEFAULT_LIMITS = Limits()

# Bounds that are not per-run settings: what a stage keeps of something that should be rare.

MAX_ANOMALIES_PER_CODE = 20
"""Anomalies of one code kept with their frames by an :class:`~capinspect.anomalies.AnomalySink`
(Zeek's weird sampling threshold is the same 20); the rest of that code are counted exactly and
reported as one "N more like this" anomaly."""

MAX_ARP_PER_IP = 8
"""ARP bindings kept per address (a new one only when the MAC changes); an address that
changes MAC more often is flapping (``arp.flapping``), not a memory leak."""
MAX_ARP_ADDRESSES = 50_000
"""Addresses whose ARP bindings are kept; the rest are counted (``limit.arp-addresses``)."""
