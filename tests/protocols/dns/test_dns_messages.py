"""DNS lookup values: answered, retransmissions and latency as the checks read them."""

from __future__ import annotations

from dataclasses import replace

from factories import lookup

from capinspect.protocols.dns.messages import DnsLookup


def _asked(**changes: object) -> DnsLookup:
    base = DnsLookup(
        qname="ucupdates-r2.contoso.com",
        qtype="A",
        dns_id=7,
        client_ip="10.20.0.23",
        client_port=5353,
        server_ip="10.0.0.1",
        server_port=53,
        transport="udp",
        query_frames=(4,),
        first_ts=100.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_an_unanswered_lookup() -> None:
    asked = _asked()
    assert not asked.answered and asked.latency is None and asked.retransmissions == 0


def test_retransmissions_count_the_queries_after_the_first() -> None:
    assert _asked(query_frames=(4, 9, 15)).retransmissions == 2


def test_latency_is_from_the_first_query_to_the_response() -> None:
    answered = _asked(query_frames=(4, 9), response_frames=(10,), response_ts=100.25)
    assert not answered.answered  # no rcode: the response was not read
    answered = replace(answered, rcode="NXDOMAIN")
    assert answered.answered and answered.latency == 0.25


def test_factory_lookup_is_answered_with_its_addresses() -> None:
    found = lookup(20, 1002.0)
    assert found.answered and found.rcode == "NOERROR" and found.addresses == ("10.0.0.5",)
    assert found.latency is not None and found.latency >= 0
    assert not lookup(20, 1002.0, rcode=None).answered
