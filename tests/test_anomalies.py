"""The anomaly sink: bounded per code, counted exactly, and the one place every stage records."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP, Ether
from scapy.layers.l2 import ARP

from capinspect.anomalies import AnomalySink, bounded, count_by_code
from capinspect.engine import Engine
from capinspect.limits import MAX_ANOMALIES_PER_CODE, MAX_ARP_PER_IP
from capinspect.model import Anomaly, RawFrame

CODES = st.sampled_from(["decode.truncated", "tcp.overlap-conflict", "dns.malformed", "arp.x"])


@given(st.lists(CODES, max_size=200), st.integers(min_value=0, max_value=30))
def test_the_bound_holds_and_the_counts_are_exact(codes: list[str], keep: int) -> None:
    sink = AnomalySink(keep)
    for frame, code in enumerate(codes, start=1):
        sink.note(code, "seen", frame)
    expected = Counter(codes)
    assert sink.counts == dict(expected)
    assert sink.total == len(codes)
    kept = Counter(a.code for a in sink.kept)
    assert kept == Counter({code: min(n, keep) for code, n in expected.items() if min(n, keep)})
    # The first ones are kept, in the order met, with their frames.
    assert [a.frame for a in sink.kept] == sorted(a.frame or 0 for a in sink.kept)
    out = sink.anomalies()
    assert count_by_code(out) == dict(expected)
    assert all(a.count == 1 for a in out[: len(sink.kept)])
    assert Counter(a.code for a in out[len(sink.kept) :]) == Counter(
        code for code, n in expected.items() if n > keep
    )


@given(st.lists(st.lists(CODES, max_size=60), max_size=4))
def test_merging_sinks_keeps_the_bound_and_the_counts(parts: list[list[str]]) -> None:
    outputs = []
    for codes in parts:
        sink = AnomalySink()
        for code in codes:
            sink.note(code, "seen", 1)
        outputs.extend(sink.anomalies())
    merged = bounded(outputs)
    assert count_by_code(merged) == dict(Counter(code for codes in parts for code in codes))
    kept = Counter(a.code for a in merged if a.frame)
    assert all(n <= MAX_ANOMALIES_PER_CODE for n in kept.values())


def test_a_summary_from_another_sink_is_counted_not_kept() -> None:
    sink = AnomalySink(5)
    sink.add(Anomaly("tcp.overlap-conflict", "a.pcap: 40 more like this (60 in all)", count=40))
    assert sink.kept == [] and sink.counts == {"tcp.overlap-conflict": 40}


def test_every_stage_the_engine_wires_records_into_its_sink() -> None:
    engine = Engine()
    stages = [engine.decoder, engine.tcp, engine.dhcp, engine.dns, engine.http, engine.tls]
    assert all(stage.sink is engine.sink for stage in stages)


def _frame(index: int, packet: bytes) -> RawFrame:
    return RawFrame(index, 1000.0 + index, 1, packet, len(packet))


def test_an_analysis_holds_every_stage_bounded_with_exact_counts() -> None:
    frames: list[bytes] = []
    frames += [b"\x00" * 5] * 30  # decode.truncated
    bad_bootp = Ether() / IP(src="10.0.0.9", dst="255.255.255.255") / UDP(sport=68, dport=67)
    frames += [bytes(bad_bootp / (b"\x01" * 40))] * 25  # dhcp.malformed
    http = Ether() / IP(src="10.0.0.9", dst="10.0.0.1") / TCP(sport=50000, dport=80, flags="PA")
    frames.append(bytes(http / b"POST /RequestHandler/ucdevice.upx HTTP/1.1\r\nbad line\r\n"))
    engine = Engine()
    for index, data in enumerate(frames, start=1):
        engine.feed(_frame(index, data))
    analysis = engine.finish()
    counts = count_by_code(analysis.anomalies)
    assert counts == engine.sink.counts
    assert counts["decode.truncated"] == 30
    assert counts["dhcp.malformed"] == 25
    kept = Counter(a.code for a in analysis.anomalies if a.count == 1)
    assert kept["decode.truncated"] == MAX_ANOMALIES_PER_CODE
    assert kept["dhcp.malformed"] == MAX_ANOMALIES_PER_CODE
    assert counts["http.incomplete-headers"] == 1


def test_a_flapping_address_is_an_anomaly_once() -> None:
    engine = Engine()
    for n in range(MAX_ARP_PER_IP + 4):
        mac = f"00:15:5d:00:00:{n:02x}"
        reply = Ether(src=mac) / ARP(op=2, hwsrc=mac, psrc="10.0.0.9", pdst="10.0.0.1")
        engine.feed(_frame(n + 1, bytes(reply)))
    analysis = engine.finish()
    assert len(analysis.arp) == MAX_ARP_PER_IP
    flapping = [a for a in analysis.anomalies if a.code == "arp.flapping"]
    assert len(flapping) == 1
    assert flapping[0].frame == MAX_ARP_PER_IP + 1
    assert "10.0.0.9" in flapping[0].detail and "00:15:5d:00:00:08" in flapping[0].detail
