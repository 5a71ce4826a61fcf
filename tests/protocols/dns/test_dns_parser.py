"""parse_dns and DnsTcpFramer: dnspython-built messages, corrupt answers, corpus vs tshark,
random bytes, byte-at-a-time framing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import UDP, rdpcap
from streamfeed import JUNK, split_at, tr, with_junk

from capinspect.errors import Malformed
from capinspect.protocols.dns import parser as dns_parser
from capinspect.protocols.dns.parser import DnsTcpFramer, parse_dns

CORPUS = Path("/work/shared/corpus/zeek-traces")


def _response(*records: str, qname: str = "ucupdates-r2.Contoso.com", qtype: str = "A") -> bytes:
    query = dns.message.make_query(qname, qtype)
    query.id = 4242
    reply = dns.message.make_response(query)
    for record in records:
        name, ttl, rtype, value = record.split(" ", 3)
        reply.answer.append(dns.rrset.from_text(name, int(ttl), "IN", rtype, value))
    return reply.to_wire()


def test_query_question_is_lower_case_without_final_dot() -> None:
    query = dns.message.make_query("UCUpdates-R2.Contoso.COM", "A")
    parsed = parse_dns(query.to_wire())
    assert not parsed.is_response
    assert parsed.opcode == "QUERY"
    assert [(q.name, q.rtype, q.rclass) for q in parsed.questions] == [
        ("ucupdates-r2.contoso.com", "A", "IN")
    ]
    assert parsed.anomalies == ()


def test_messages_differing_only_in_id_are_decoded_once_each_with_its_own_id() -> None:
    reply = dns.message.from_wire(_response("ucupdates-r2.contoso.com. 300 A 10.0.0.5"))
    decoded: list[tuple[int, tuple[str, ...]]] = []
    before = dns_parser._parse_dns_sans_id.cache_info()
    for dns_id in (4242, 7, 4242, 0):
        reply.id = dns_id
        parsed = parse_dns(reply.to_wire())
        decoded.append((parsed.dns_id, tuple(a.value for a in parsed.answers)))
    after = dns_parser._parse_dns_sans_id.cache_info()
    assert decoded == [
        (4242, ("10.0.0.5",)),
        (7, ("10.0.0.5",)),
        (4242, ("10.0.0.5",)),
        (0, ("10.0.0.5",)),
    ]
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 3
    # A different answer is a different message, not a remembered one.
    other = parse_dns(_response("ucupdates-r2.contoso.com. 300 A 10.0.0.6"))
    assert other.dns_id == 4242 and [a.value for a in other.answers] == ["10.0.0.6"]


def test_large_messages_are_decoded_without_the_memo() -> None:
    records = [f"ucupdates-r2.contoso.com. 300 A 10.0.{i // 250}.{i % 250 + 1}" for i in range(40)]
    wire = _response(*records)
    assert len(wire) > dns_parser.MEMO_MAX_MESSAGE
    before = dns_parser._parse_dns_sans_id.cache_info()
    parsed = parse_dns(wire)
    assert len(parsed.answers) == 40 and parsed.dns_id == 4242
    assert dns_parser._parse_dns_sans_id.cache_info() == before


def test_response_records_in_presentation_form() -> None:
    parsed = parse_dns(
        _response(
            "ucupdates-r2.contoso.com. 300 CNAME Pool01.Contoso.com.",
            "pool01.contoso.com. 60 A 10.1.0.20",
            "pool01.contoso.com. 60 AAAA 2001:db8::20",
        )
    )
    assert parsed.is_response and parsed.dns_id == 4242 and parsed.rcode == "NOERROR"
    assert [(r.name, r.rtype, r.ttl, r.value) for r in parsed.answers] == [
        ("ucupdates-r2.contoso.com", "CNAME", 300, "pool01.contoso.com"),
        ("pool01.contoso.com", "A", 60, "10.1.0.20"),
        ("pool01.contoso.com", "AAAA", 60, "2001:db8::20"),
    ]


def test_srv_target_loses_its_final_dot() -> None:
    parsed = parse_dns(
        _response(
            "_sipinternaltls._tcp.contoso.com. 300 SRV 0 0 5061 pool.contoso.com.",
            qname="_sipinternaltls._tcp.contoso.com",
            qtype="SRV",
        )
    )
    assert parsed.answers[0].value == "0 0 5061 pool.contoso.com"


def test_nxdomain_rcode() -> None:
    query = dns.message.make_query("ucupdates-r2.contoso.com", "A")
    reply = dns.message.make_response(query)
    reply.set_rcode(dns.rcode.NXDOMAIN)
    assert parse_dns(reply.to_wire()).rcode == "NXDOMAIN"


def test_corrupt_answer_still_yields_the_question() -> None:
    wire = bytearray(_response("ucupdates-r2.contoso.com. 60 A 10.1.0.20"))
    wire[-6:] = b"\x00\x09\x01\x02\x03\x04"  # rdlength 9 with 4 bytes left
    parsed = parse_dns(bytes(wire))
    assert parsed.questions[0].name == "ucupdates-r2.contoso.com"
    assert parsed.answers == ()
    assert parsed.anomalies and {a.code for a in parsed.anomalies} == {"dns.malformed"}


def test_corrupt_question_falls_back_and_reports() -> None:
    wire = bytearray(dns.message.make_query("a.contoso.com", "A").to_wire())
    wire[12] = 0x40  # label type 01: not a valid label
    parsed = parse_dns(bytes(wire))
    assert parsed.questions == ()
    assert parsed.anomalies and parsed.anomalies[0].code == "dns.malformed"


def test_tc_bit() -> None:
    query = dns.message.make_query("a.b", "A")
    reply = dns.message.make_response(query)
    reply.flags |= dns.flags.TC
    assert parse_dns(reply.to_wire()).truncated


def test_short_header_is_malformed() -> None:
    with pytest.raises(Malformed):
        parse_dns(b"\x00" * 11)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_random_bytes_give_a_message_or_malformed(data: bytes) -> None:
    try:
        parse_dns(data)
    except Malformed:
        assert len(data) < 12


@settings(max_examples=300)
@given(st.data())
def test_mutated_responses_never_raise(data: st.DataObject) -> None:
    wire = bytearray(
        _response(
            "ucupdates-r2.contoso.com. 300 CNAME pool01.contoso.com.",
            "pool01.contoso.com. 60 A 10.1.0.20",
        )
    )
    for _ in range(data.draw(st.integers(1, 6))):
        index = data.draw(st.integers(12, len(wire) - 1))
        wire[index] = data.draw(st.integers(0, 255))
    parse_dns(bytes(wire[: data.draw(st.integers(12, len(wire)))]))


# --- TCP framing ------------------------------------------------------------------------------


def _framed(*messages: bytes) -> bytes:
    return b"".join(len(m).to_bytes(2, "big") + m for m in messages)


def test_framer_whole_byte_at_a_time_and_trailing_junk() -> None:
    first = dns.message.make_query("a.b", "A").to_wire()
    second = dns.message.make_query("c.d", "AAAA").to_wire()
    fed = tr(
        DnsTcpFramer,
        lambda framer, chunk, _: framer.feed(chunk),
        _framed(first, second),
        [first, second],
        state=lambda framer: framer.pending,
    )
    assert fed.whole_parser.pending == fed.bytewise_parser.pending == 0
    # The junk's first two bytes read as a length prefix: the rest waits for more.
    assert fed.junk == [first, second]
    assert fed.junk_parser.pending == len(JUNK)


def test_trailing_bytes_of_one_message_are_reported() -> None:
    # parse_dns takes one whole message (not incremental): only the junk case applies.
    whole, after = with_junk(parse_dns, dns.message.make_query("a.b", "A").to_wire())
    assert (after.questions, after.answers) == (whole.questions, whole.answers)
    assert [a.code for a in whole.anomalies] == []
    assert [a.code for a in after.anomalies] == ["dns.trailing-bytes"]


def test_framer_holds_partial_and_gap_resets() -> None:
    message = dns.message.make_query("a.b", "A").to_wire()
    framer = DnsTcpFramer()
    assert framer.feed(_framed(message)[:-3]) == []
    assert framer.pending == len(message) - 1
    framer.gap()
    assert framer.pending == 0
    assert framer.feed(_framed(message) + b"\x00") == [message]
    assert framer.pending == 1


# --- corpus -----------------------------------------------------------------------------------

CORPUS_FILES = sorted(CORPUS.glob("dns*.pcap")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS_FILES, reason="zeek corpus not present")


def _udp_payloads(path: Path) -> list[tuple[int, bytes]]:
    return [(i, bytes(p[UDP].payload)) for i, p in enumerate(rdpcap(str(path)), 1) if UDP in p]


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_dns_parses_without_exception(path: Path) -> None:
    payloads = _udp_payloads(path)
    assert payloads
    for _, payload in payloads:
        parse_dns(payload)


TSHARK_FIELDS = (
    "frame.number",
    "dns.id",
    "dns.flags.response",
    "dns.qry.name",
    "dns.qry.type",
    "dns.flags.rcode",
    "dns.count.answers",
    "dns.a",
    "dns.aaaa",
)


@pytest.mark.tshark
@needs_corpus
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_dns_agrees_with_tshark(path: Path) -> None:
    args = ["tshark", "-r", str(path), "-Y", "dns", "-T", "fields", "-E", "separator=\t"]
    for name in TSHARK_FIELDS:
        args += ["-e", name]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        cells = dict(zip(TSHARK_FIELDS, line.split("\t"), strict=True))
        rows[int(cells["frame.number"])] = cells
    assert rows
    for frame, payload in _udp_payloads(path):
        expected = rows[frame]
        parsed = parse_dns(payload)
        assert parsed.dns_id == int(expected["dns.id"], 16)
        assert parsed.is_response == (expected["dns.flags.response"] in ("1", "True"))
        if parsed.anomalies:
            # tshark prints placeholders for names it cannot decode; we recover no question
            assert parsed.questions == () or not expected["dns.qry.name"].startswith("<")
            continue
        assert ",".join(q.name for q in parsed.questions) == expected["dns.qry.name"]
        assert (
            ",".join(str(dns.rdatatype.from_text(q.rtype).value) for q in parsed.questions)
            == expected["dns.qry.type"]
        )
        if parsed.is_response:
            assert dns.rcode.from_text(parsed.rcode).value == int(expected["dns.flags.rcode"])
            assert len(parsed.answers) == int(expected["dns.count.answers"])
            # dns.a / dns.aaaa also list additional-section records: ours are a subset
            tshark_addresses = set(
                filter(None, (expected["dns.a"] + "," + expected["dns.aaaa"]).split(","))
            )
            ours = {r.value for r in parsed.answers if r.rtype in ("A", "AAAA")}
            assert ours <= tshark_addresses


@given(st.binary(min_size=1, max_size=32))
def test_trailing_junk_keeps_the_message_and_is_reported(junk: bytes) -> None:
    wire = _response("ucupdates-r2.contoso.com. 300 CNAME pool01.contoso.com.")
    whole, with_junk = parse_dns(wire), parse_dns(wire + junk)
    assert (with_junk.questions, with_junk.answers) == (whole.questions, whole.answers)
    assert "dns.trailing-bytes" in {a.code for a in with_junk.anomalies}


@given(
    st.lists(st.binary(max_size=40), max_size=6),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
    st.binary(max_size=8),
)
def test_framer_any_split_and_trailing_junk_give_the_same_messages(
    messages: list[bytes], cuts: list[int], junk: bytes
) -> None:
    stream = _framed(*messages)
    data = stream + junk
    framer = DnsTcpFramer()
    out: list[bytes] = []
    for piece in split_at(data, cuts):
        out += framer.feed(piece)
    assert out[: len(messages)] == messages
    assert out == DnsTcpFramer().feed(data)
