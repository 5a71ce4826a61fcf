"""The engine: one path for files and live, and the hot path's shortcuts proven equivalent.

The decoder's fast path (``decode_record``) exists only for speed: on every lab and corpus
capture it must give exactly what the full decoder gives (the sieve: tests/decode/test_sieve.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import assert_same_analysis
from hypothesis import given
from hypothesis import strategies as st
from locations import PCAPS, corpus_files, lab_captures

from capinspect.decode.decoder import Decoder
from capinspect.engine import Engine, _Interest
from capinspect.model import RawFrame
from capinspect.pipeline import analyze_frames, analyze_paths
from capinspect.sources.merge import iter_frames

CAPTURES = lab_captures() + corpus_files()


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_fast_path_agrees_with_the_full_decoder(path: Path) -> None:
    full, fast = Decoder(), Decoder()
    for record in iter_frames([str(path)]).records():
        assert fast.decode_record(*record) == full.decode(RawFrame(*record)), record[0]
    assert fast.capture_stats() == full.capture_stats()


@given(st.binary(min_size=0, max_size=200), st.sampled_from([1, 1, 1, 113, 101]))
def test_fast_path_agrees_on_random_frames(data: bytes, linktype: int) -> None:
    full, fast = Decoder(), Decoder()
    expected = full.decode(RawFrame(1, 1.0, linktype, data, len(data)))
    assert fast.decode_record(1, 1.0, linktype, data, len(data)) == expected
    assert [a.code for a in fast.anomalies] == [a.code for a in full.anomalies]
    assert fast.capture_stats() == full.capture_stats()


@pytest.mark.parametrize("path", lab_captures(), ids=lambda p: p.name)
def test_reading_records_and_feeding_frames_give_the_same_analysis(path: Path) -> None:
    """Files go through records and the sieve; live frames through Engine.feed."""
    by_records = analyze_paths([str(path)])
    by_frames = analyze_frames(iter(iter_frames([str(path)])))
    assert_same_analysis(by_records, by_frames)


def test_feed_returns_transactions_as_they_complete() -> None:
    engine = Engine()
    completed = []
    for frame in iter_frames([str(PCAPS / "interim-upgrade.pcap")]):
        completed.extend((frame.index, item) for item in engine.feed(frame))
    kinds = [type(item).__name__ for _, item in completed]
    assert kinds.count("DhcpSeen") == 18  # three boots of DISCOVER/OFFER/REQUEST/ACK/INFORM/ACK
    assert "HttpExchange" in kinds
    # The first check-in's exchange is handed out with the frame that completed it, long
    # before the end of the capture.
    first_http = next(index for index, item in completed if type(item).__name__ == "HttpExchange")
    assert first_http < 40


def test_unrelated_web_traffic_is_released_but_follow_all_keeps_it() -> None:
    corpus = [p for p in corpus_files() if p.name == "http_get.pcap"]
    if not corpus:
        pytest.skip("third-party corpus not present")
    assert analyze_paths([str(corpus[0])]).http == ()
    assert len(analyze_paths([str(corpus[0])], follow_all=True).http) >= 1


def test_a_phones_lookups_of_other_names_are_kept() -> None:
    analysis = analyze_paths([str(PCAPS / "interim-upgrade.pcap")])
    names = {lookup.qname for lookup in analysis.dns}
    assert names == {"ucupdates-r2.demo.local", "ocs.demo.local"}


def test_a_live_snapshot_leaves_waiting_fragments_waiting() -> None:
    from scapy.layers.dns import DNS, DNSQR
    from scapy.layers.inet import IP, UDP, Ether, fragment

    query = (
        Ether()
        / IP(src="10.0.0.9", dst="10.0.0.1", id=7)
        / UDP(sport=5000, dport=53)
        / DNS(id=1, qd=DNSQR(qname="ucupdates-r2.contoso.com"))
        / (b"\x00" * 600)
    )
    first, second = (bytes(p) for p in fragment(query, fragsize=512))
    engine = Engine()
    engine.feed(RawFrame(1, 1.0, 1, first, len(first)))
    engine.snapshot()
    engine.feed(RawFrame(2, 1.1, 1, second, len(second)))
    analysis = engine.finish()
    assert [lookup.qname for lookup in analysis.dns] == ["ucupdates-r2.contoso.com"]
    assert not [a for a in analysis.anomalies if a.code == "ip.fragment-incomplete"]


@pytest.mark.parametrize(
    ("head", "wanted"),
    [
        (b"POST /RequestHandler/ucdevice.upx HTTP/1.1\r\n\r\n", True),
        (b"\r\n\r\nGET /DeviceUpdateFiles_Int/UCPhone/CPE.nbt HTTP/1.1\r\n\r\n", True),
        (b"hello\r\nQUERY /RequestHandler/ucdevice.upx HTTP/1.1\r\n\r\n", True),
        (b"GET /index.html HTTP/1.1\r\nReferer: http://x/RequestHandler/a.upx\r\n\r\n", False),
        (b"hello /ucdevice.upx\r\nGET /index.html HTTP/1.1\r\n\r\n", False),
    ],
)
def test_interest_reads_the_request_line_past_what_comes_before_it(
    head: bytes, wanted: bool
) -> None:
    # A phone's request is kept even after CR/LF or a line of junk (the reassembler follows
    # such flows); only the request line's path counts, not a header or the junk line.
    assert _Interest().http_wanted(head, "10.0.0.99") is wanted


def test_only_phones_ntp_and_connection_attempts_are_kept(tmp_path: Path) -> None:
    """UDP 123 and SYN/RST of hosts that are not phones cost nothing downstream; a phone's (by
    its DHCP vendor class) are paired and kept."""
    from lpe_signin import PHONE_IP, signin_frames
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.ntp import NTPHeader
    from scapy.utils import wrpcap

    frames = signin_frames(connect_outcome="refused")
    pc = Ether(src="3c:52:82:00:00:01") / IP(src="10.30.0.99", dst="10.30.0.3")
    for n, packet in enumerate(
        [pc / UDP(sport=123, dport=123) / NTPHeader(mode=3), pc / TCP(dport=443, flags="S")]
    ):
        packet.time = frames[-1].time + 1 + n
        frames.append(packet)
    path = tmp_path / "ntp.pcap"
    wrpcap(str(path), frames)
    analysis = analyze_paths([str(path)])
    assert [ex.flow.client_ip for ex in analysis.ntp] == [PHONE_IP]
    assert [(c.flow.client_ip, c.outcome) for c in analysis.connects] == [(PHONE_IP, "refused")]
    everything = analyze_paths([str(path)], follow_all=True)
    assert len(everything.ntp) == 2 and len(everything.connects) == 2
