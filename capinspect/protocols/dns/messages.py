"""DNS values: a lookup is one question with every query and response frame that carried it."""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.model import Anomaly, hot_value


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One resource record of an answer section, in presentation form.

    ``rtype`` is the mnemonic (``A``, ``AAAA``, ``CNAME``, ``SRV``…); ``value`` is the rdata as
    dnspython prints it (an address, a target name with the trailing dot removed, ``10 0 5061
    pool.contoso.com`` for SRV).
    """

    name: str
    rtype: str
    ttl: int
    value: str


@hot_value
class DnsLookup:
    """One question (name, type) asked by one client to one server with one DNS id.

    Retransmissions of the same question with the same id are folded in (``query_frames`` has
    several entries); a new id is a new lookup. ``rcode`` is the mnemonic of the first response
    (``NOERROR``, ``NXDOMAIN``, ``SERVFAIL``…), ``None`` when unanswered. ``cname_chain`` lists
    the names followed from ``qname`` (qname first) when the answer has CNAMEs; ``addresses`` are
    the final A/AAAA values for the end of that chain. Names are lower-case without the final dot.
    """

    qname: str
    qtype: str
    dns_id: int
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    transport: str
    """``udp`` or ``tcp``."""
    query_frames: tuple[int, ...]
    first_ts: float
    response_frames: tuple[int, ...] = ()
    response_ts: float | None = None
    rcode: str | None = None
    answers: tuple[DnsRecord, ...] = ()
    cname_chain: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    client_mac: str | None = None
    vlans: tuple[int, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()

    @property
    def answered(self) -> bool:
        return self.rcode is not None

    @property
    def retransmissions(self) -> int:
        return max(0, len(self.query_frames) - 1)

    @property
    def latency(self) -> float | None:
        return None if self.response_ts is None else self.response_ts - self.first_ts
