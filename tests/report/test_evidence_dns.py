"""DNS messages in evidence payloads rewritten in place, at the same length."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX

from capinspect.report.evidence_dns import dns_addresses, dns_short_labels


def _upper(label: bytes) -> bytes:
    return label.upper()


def test_a_and_aaaa_data_are_rewritten_and_nothing_else_moves() -> None:
    message = bytearray(
        bytes(
            DNS(
                qr=1,
                ancount=2,
                qd=DNSQR(qname="ucupdates-r2.contoso.com"),
                an=DNSRR(rrname="ucupdates-r2.contoso.com", rdata="10.77.0.1")
                / DNSRR(rrname="ucupdates-r2.contoso.com", type="AAAA", rdata="2001:db8::1"),
            )
        )
    )
    before = bytes(message)
    dns_addresses(message, 0, len(message), lambda raw: bytes(len(raw)))
    assert len(message) == len(before)
    assert bytes([10, 77, 0, 1]) not in message
    assert bytes(16) in message and bytes.fromhex("20010db8") not in message
    assert b"\x07contoso" in message  # names are not this walker's


def test_names_in_questions_owners_and_record_data_are_rewritten() -> None:
    message = bytearray(
        bytes(
            DNS(
                qr=1,
                ancount=2,
                qd=DNSQR(qname="contoso.com", qtype="MX"),
                an=DNSRRMX(rrname="contoso.com", exchange="mail.contoso.com")
                / DNSRR(rrname="www.contoso.com", type="CNAME", rdata="ocs.contoso.com"),
            )
        )
    )
    length = len(message)
    dns_short_labels(message, 0, len(message), _upper)
    assert len(message) == length
    assert b"contoso" not in message and b"ocs" not in message and b"mail" not in message
    assert b"\x07CONTOSO\x03COM" in message and b"\x03OCS" in message


@given(st.binary(max_size=300))
def test_damaged_messages_are_left_alone_without_raising(data: bytes) -> None:
    message = bytearray(data)
    dns_addresses(message, 0, len(message), lambda raw: raw)
    dns_short_labels(message, 0, len(message), lambda label: None)
    assert message == bytearray(data)
