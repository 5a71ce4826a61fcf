"""DnsTracker: matching, retransmissions, duplicates, orphan responses, CNAME chains, TCP,
timeouts and limits, and the corpus trace with two responses."""

from __future__ import annotations

from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scapy.all import IP, UDP, Ether, rdpcap

from capinspect.errors import Malformed
from capinspect.limits import Limits
from capinspect.model import Direction, FlowKey, IpProto, Packet
from capinspect.protocols.dns.tracker import DnsTracker, _first_question_name
from capinspect.wire import plain_name, read_name

PHONE, PHONE_MAC, RESOLVER = "10.1.2.3", "00:04:f2:aa:bb:cc", "10.1.0.53"
QNAME = "ucupdates-r2.contoso.com"
CORPUS = Path("/work/shared/corpus/zeek-traces")


def _query(qname: str = QNAME, dns_id: int = 7, qtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(qname, qtype)
    query.id = dns_id
    return query


def _reply(query: dns.message.Message, *records: str, rcode: int = 0) -> bytes:
    reply = dns.message.make_response(query)
    reply.set_rcode(dns.rcode.Rcode.make(rcode))
    for record in records:
        name, ttl, rtype, value = record.split(" ", 3)
        reply.answer.append(dns.rrset.from_text(name, int(ttl), "IN", rtype, value))
    return reply.to_wire()


def _udp(frame: int, ts: float, payload: bytes, *, from_phone: bool, port: int = 50000) -> Packet:
    return Packet(
        frame=frame,
        ts=ts,
        src_mac=PHONE_MAC if from_phone else "00:15:5d:00:00:53",
        dst_mac="00:15:5d:00:00:53" if from_phone else PHONE_MAC,
        vlans=(20,),
        src_ip=PHONE if from_phone else RESOLVER,
        dst_ip=RESOLVER if from_phone else PHONE,
        proto=IpProto.UDP,
        sport=port if from_phone else 53,
        dport=53 if from_phone else port,
        payload=payload,
    )


def test_query_and_cname_answer_make_one_lookup() -> None:
    tracker = DnsTracker()
    query = _query("UCUpdates-R2.Contoso.com")
    tracker.feed_udp(_udp(1, 10.0, query.to_wire(), from_phone=True))
    tracker.feed_udp(_udp(2, 10.5, query.to_wire(), from_phone=True))  # retransmission
    answer = _reply(
        query,
        "UCUpdates-R2.Contoso.com. 300 CNAME pool.contoso.com.",
        "pool.contoso.com. 60 A 10.1.0.20",
        "pool.contoso.com. 60 A 10.1.0.21",
    )
    tracker.feed_udp(_udp(3, 10.6, answer, from_phone=False))
    (lookup,) = tracker.finish()
    assert (lookup.qname, lookup.qtype, lookup.dns_id, lookup.transport) == (QNAME, "A", 7, "udp")
    assert (lookup.client_ip, lookup.client_port, lookup.server_ip, lookup.server_port) == (
        PHONE,
        50000,
        RESOLVER,
        53,
    )
    assert lookup.query_frames == (1, 2) and lookup.retransmissions == 1
    assert lookup.response_frames == (3,)
    assert lookup.rcode == "NOERROR"
    assert lookup.latency == pytest.approx(0.6)
    assert lookup.cname_chain == (QNAME, "pool.contoso.com")
    assert lookup.addresses == ("10.1.0.20", "10.1.0.21")
    assert lookup.client_mac == PHONE_MAC and lookup.vlans == (20,)
    assert lookup.anomalies == ()


def test_unanswered_and_nxdomain() -> None:
    tracker = DnsTracker()
    tracker.feed_udp(_udp(1, 0.0, _query(dns_id=1).to_wire(), from_phone=True))
    second = _query("ucupdates-r2.lab.local", dns_id=2)
    tracker.feed_udp(_udp(2, 0.1, second.to_wire(), from_phone=True))
    tracker.feed_udp(_udp(3, 0.2, _reply(second, rcode=dns.rcode.NXDOMAIN), from_phone=False))
    unanswered, nxdomain = tracker.finish()
    assert not unanswered.answered and unanswered.rcode is None
    assert nxdomain.rcode == "NXDOMAIN" and nxdomain.addresses == ()


def test_other_id_or_port_is_another_lookup() -> None:
    tracker = DnsTracker()
    tracker.feed_udp(_udp(1, 0.0, _query(dns_id=1).to_wire(), from_phone=True))
    tracker.feed_udp(_udp(2, 0.1, _query(dns_id=2).to_wire(), from_phone=True))
    tracker.feed_udp(_udp(3, 0.2, _query(dns_id=1).to_wire(), from_phone=True, port=50001))
    assert len(tracker.finish()) == 3


def test_response_without_query() -> None:
    tracker = DnsTracker()
    tracker.feed_udp(_udp(5, 1.0, _reply(_query(), f"{QNAME}. 60 A 10.1.0.20"), from_phone=False))
    (lookup,) = tracker.finish()
    assert lookup.query_frames == () and lookup.response_frames == (5,)
    assert lookup.addresses == ("10.1.0.20",)
    assert lookup.client_mac == PHONE_MAC
    assert [a.code for a in lookup.anomalies] == ["dns.response-without-query"]


def test_duplicate_response_keeps_the_first() -> None:
    tracker = DnsTracker()
    query = _query()
    tracker.feed_udp(_udp(1, 0.0, query.to_wire(), from_phone=True))
    tracker.feed_udp(_udp(2, 0.1, _reply(query, f"{QNAME}. 60 A 10.1.0.20"), from_phone=False))
    tracker.feed_udp(_udp(3, 0.2, _reply(query, f"{QNAME}. 60 A 6.6.6.6"), from_phone=False))
    (lookup,) = tracker.finish()
    assert lookup.addresses == ("10.1.0.20",)
    assert lookup.response_frames == (2, 3)
    (anomaly,) = lookup.anomalies
    assert anomaly.code == "dns.duplicate-response" and anomaly.frame == 3
    assert "frame 3" in anomaly.detail and "frame 2" in anomaly.detail
    assert "differs" in anomaly.detail


def test_query_after_timeout_is_a_new_lookup() -> None:
    tracker = DnsTracker(Limits(dns_timeout=2.0))
    query = _query()
    tracker.feed_udp(_udp(1, 0.0, query.to_wire(), from_phone=True))
    tracker.feed_udp(_udp(2, 5.0, query.to_wire(), from_phone=True))
    assert [lk.query_frames for lk in tracker.finish()] == [(1,), (2,)]


def test_query_after_answer_with_same_id_is_a_new_lookup() -> None:
    tracker = DnsTracker()
    query = _query()
    tracker.feed_udp(_udp(1, 0.0, query.to_wire(), from_phone=True))
    tracker.feed_udp(_udp(2, 0.1, _reply(query), from_phone=False))
    tracker.feed_udp(_udp(3, 0.2, query.to_wire(), from_phone=True))
    assert [lk.query_frames for lk in tracker.finish()] == [(1,), (3,)]


def test_response_without_question_answers_the_single_open_lookup() -> None:
    tracker = DnsTracker()
    query = _query()
    tracker.feed_udp(_udp(1, 0.0, query.to_wire(), from_phone=True))
    reply = dns.message.make_response(query)
    reply.question = []
    reply.set_rcode(dns.rcode.FORMERR)
    tracker.feed_udp(_udp(2, 0.1, reply.to_wire(), from_phone=False))
    (lookup,) = tracker.finish()
    assert lookup.rcode == "FORMERR" and lookup.response_frames == (2,)


def test_cname_loop_is_an_anomaly() -> None:
    tracker = DnsTracker()
    loop = _reply(
        _query(), f"{QNAME}. 60 CNAME b.contoso.com.", f"b.contoso.com. 60 CNAME {QNAME}."
    )
    tracker.feed_udp(_udp(1, 0.0, loop, from_phone=False))
    (lookup,) = tracker.finish()
    assert lookup.cname_chain == (QNAME, "b.contoso.com")
    assert "dns.cname-loop" in [a.code for a in lookup.anomalies]


def test_tcp_lookup_framed_across_segments() -> None:
    tracker = DnsTracker()
    flow = FlowKey(PHONE, 50010, RESOLVER, 53)
    query = _query(dns_id=99)
    wire = query.to_wire()
    framed = len(wire).to_bytes(2, "big") + wire
    tracker.feed_tcp(flow, Direction.TO_SERVER, framed[:5], 1, 0.0, PHONE_MAC, (20,))
    tracker.feed_tcp(flow, Direction.TO_SERVER, framed[5:], 2, 0.01, PHONE_MAC, (20,))
    answer = _reply(query, f"{QNAME}. 60 A 10.1.0.20")
    tracker.feed_tcp(flow, Direction.TO_CLIENT, len(answer).to_bytes(2, "big") + answer, 3, 0.02)
    (lookup,) = tracker.finish()
    assert lookup.transport == "tcp"
    assert lookup.query_frames == (2,) and lookup.response_frames == (3,)
    assert lookup.addresses == ("10.1.0.20",) and lookup.client_mac == PHONE_MAC


def test_tcp_gap_and_end_report_partial_messages() -> None:
    tracker = DnsTracker()
    flow = FlowKey(PHONE, 50010, RESOLVER, 53)
    tracker.feed_tcp(flow, Direction.TO_SERVER, b"\x00\x30abc", 1, 0.0)
    tracker.gap_tcp(flow, Direction.TO_SERVER)
    tracker.feed_tcp(flow, Direction.TO_SERVER, b"\x00\x30abc", 2, 0.0)
    tracker.end_tcp(flow, Direction.TO_SERVER)
    assert [a.code for a in tracker.anomalies] == ["dns.tcp-partial-message"]
    assert "5 bytes" in tracker.anomalies[0].detail


def test_malformed_and_questionless_messages_are_capture_anomalies() -> None:
    tracker = DnsTracker()
    tracker.feed_udp(_udp(1, 0.0, b"\x00\x01", from_phone=True))
    wire = bytearray(_query().to_wire())
    wire[12] = 0x40
    tracker.feed_udp(_udp(2, 0.0, bytes(wire), from_phone=True))
    assert tracker.finish() == ()
    assert [(a.code, a.frame) for a in tracker.anomalies] == [
        ("dns.malformed", 1),
        ("dns.no-question", 2),
        ("dns.malformed", 2),
    ]


def test_pending_limit() -> None:
    tracker = DnsTracker(Limits(max_dns_pending=2))
    for frame in range(1, 5):
        tracker.feed_udp(_udp(frame, 0.0, _query(dns_id=frame).to_wire(), from_phone=True))
    assert [lk.dns_id for lk in tracker.finish()] == [1, 2]
    assert [(a.code, a.frame) for a in tracker.anomalies] == [("limit.max_dns_pending", 3)]


def test_pending_frees_up_after_timeout() -> None:
    tracker = DnsTracker(Limits(max_dns_pending=1, dns_timeout=1.0))
    tracker.feed_udp(_udp(1, 0.0, _query(dns_id=1).to_wire(), from_phone=True))
    tracker.feed_udp(_udp(2, 5.0, _query(dns_id=2).to_wire(), from_phone=True))
    assert [lk.dns_id for lk in tracker.finish()] == [1, 2]
    assert tracker.anomalies == []


def test_lookup_limit() -> None:
    tracker = DnsTracker(Limits(max_dns_lookups=1))
    tracker.feed_udp(_udp(1, 0.0, _query(dns_id=1).to_wire(), from_phone=True))
    tracker.feed_udp(_udp(2, 0.0, _query(dns_id=2).to_wire(), from_phone=True))
    assert len(tracker.finish()) == 1
    assert [a.code for a in tracker.anomalies] == ["limit.max_dns_lookups"]


def test_non_dns_udp_is_ignored() -> None:
    tracker = DnsTracker()
    tracker.feed_udp(Packet(1, 0.0, None, None, (), "a", "b", IpProto.UDP, 67, 68, b"x" * 300))
    assert tracker.finish() == () and tracker.anomalies == []


def _feed_corpus(tracker: DnsTracker, path: Path) -> None:
    for frame, pkt in enumerate(rdpcap(str(path)), 1):
        if UDP in pkt and IP in pkt:
            tracker.feed_udp(
                Packet(
                    frame=frame,
                    ts=float(pkt.time),
                    src_mac=pkt[Ether].src if Ether in pkt else None,
                    dst_mac=pkt[Ether].dst if Ether in pkt else None,
                    vlans=(),
                    src_ip=pkt[IP].src,
                    dst_ip=pkt[IP].dst,
                    proto=IpProto.UDP,
                    sport=pkt[UDP].sport,
                    dport=pkt[UDP].dport,
                    payload=bytes(pkt[UDP].payload),
                )
            )


TWO_RESPONSES = CORPUS / "dns-two-responses.pcap"


@pytest.mark.skipif(not TWO_RESPONSES.exists(), reason="zeek corpus not present")
def test_corpus_two_responses() -> None:
    tracker = DnsTracker()
    _feed_corpus(tracker, TWO_RESPONSES)
    (lookup,) = tracker.finish()
    assert lookup.qname == "www.cmu.edu"
    assert lookup.query_frames == (1,) and lookup.response_frames == (2, 3)
    assert lookup.cname_chain[0] == "www.cmu.edu" and len(lookup.cname_chain) == 3
    assert lookup.addresses == ("128.2.10.163",)
    assert [a.code for a in lookup.anomalies] == ["dns.duplicate-response"]


CORPUS_FILES = sorted(CORPUS.glob("dns*.pcap")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS_FILES, reason="zeek corpus not present")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_files_track_without_exception(path: Path) -> None:
    tracker = DnsTracker()
    _feed_corpus(tracker, path)
    lookups = tracker.finish()
    assert lookups or tracker.anomalies


_LABEL = st.binary(min_size=0, max_size=70)


@given(
    st.lists(_LABEL, max_size=5).map(
        lambda labels: b"".join(bytes([len(label) % 256]) + label for label in labels)
    ),
    st.binary(max_size=8),
)
@example(b"\x0cucupdates-r2\x07example\x03com\x00", b"\x00\x01\x00\x01")
@example(b"\x03a\x00b\x00", b"")  # a zero byte inside a label
@example(b"\x03abc\xc0\x0c", b"\x00")  # a compression pointer
@example(b"\x03ABC\x00", b"")  # upper case
def test_the_question_name_read_early_is_the_names_wire_reading_lower_cased(
    name: bytes, tail: bytes
) -> None:
    """The tracker's early reading of the question name (remembered for plain names, the
    bytes up to the first zero byte) gives what ``plain_name`` gives on the whole message,
    else what ``read_name`` gives, lower-cased, for any bytes; None where neither can read."""
    payload = bytes(12) + name + tail
    expected = plain_name(payload, 12)
    if expected is None:
        try:
            expected = read_name(payload, 12)[0]
        except Malformed:
            expected = None
    for _ in range(2):  # the second reading comes from the cache
        assert _first_question_name(payload) == (None if expected is None else expected.lower())
