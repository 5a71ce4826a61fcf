"""The NTP tracker: requests paired with answers by origin timestamp, retries, unanswered
requests, answers without a captured request, damage and the bound."""

from __future__ import annotations

from dataclasses import replace

import pytest
from scapy.layers.ntp import NTPHeader

from capinspect.limits import Limits
from capinspect.model import IpProto, Packet
from capinspect.protocols.ntp.tracker import MAX_REQUESTS_KEPT, NtpTracker

NTP_EPOCH = 2_208_988_800
PHONE, SERVER = "10.30.0.41", "10.30.0.3"
T0 = 1_796_860_800.0


def _pkt(frame: int, ts: float, payload: bytes, *, to_server: bool, port: int = 123) -> Packet:
    src, dst = (PHONE, SERVER) if to_server else (SERVER, PHONE)
    sport, dport = (port, 123) if to_server else (123, port)
    return Packet(frame, ts, "00:04:f2:5a:10:01" if to_server else None, None, (), src, dst,
                  IpProto.UDP, sport, dport, payload)  # fmt: skip


def _request(frame: int, ts: float, phone_clock: float, port: int = 123) -> Packet:
    raw = bytes(NTPHeader(mode=3, version=3, sent=phone_clock + NTP_EPOCH, orig=None))
    return _pkt(frame, ts, raw, to_server=True, port=port)


def _answer(frame: int, ts: float, origin: float, server_time: float, port: int = 123) -> Packet:
    raw = bytes(
        NTPHeader(
            mode=4,
            version=3,
            stratum=2,
            orig=origin + NTP_EPOCH,
            recv=server_time + NTP_EPOCH,
            sent=server_time + NTP_EPOCH,
        )
    )
    return _pkt(frame, ts, raw, to_server=False, port=port)


def test_an_answer_pairs_with_its_request_and_gives_the_offsets() -> None:
    tracker = NtpTracker()
    tracker.feed(_request(1, T0, phone_clock=1_262_304_000.0))
    done = tracker.feed(_answer(2, T0 + 0.004, origin=1_262_304_000.0, server_time=T0 + 3600))
    assert done is not None and tracker.finish() == (done,)
    assert done.frames == (1, 2) and done.retries == 0 and done.answered_request == 0
    assert done.round_trip == pytest.approx(0.004, abs=1e-6)
    assert done.server_offset == pytest.approx(3600 - 0.002, abs=1e-3)
    assert done.client_offset == pytest.approx(1_262_304_000.0 - T0)


def test_retries_join_one_exchange_and_the_answer_names_the_request_it_answers() -> None:
    tracker = NtpTracker()
    for n in range(3):
        tracker.feed(_request(1 + n, T0 + n, phone_clock=1000.0 + n, port=50000 + n))
    done = tracker.feed(_answer(4, T0 + 2.5, origin=1001.0, server_time=T0 + 2.5, port=50001))
    assert done is not None
    assert done.retries == 2 and done.answered_request == 1
    assert done.round_trip == pytest.approx(1.5, abs=1e-6)


def test_unanswered_requests_stay_one_exchange_and_a_late_request_starts_another() -> None:
    tracker = NtpTracker(Limits(ntp_retry_window=10.0))
    tracker.feed(_request(1, T0, 1000.0))
    tracker.feed(_request(2, T0 + 5, 1005.0))
    tracker.feed(_request(3, T0 + 100, 1100.0))
    so_far = tracker.exchanges_so_far()
    assert [len(ex.requests) for ex in so_far] == [2, 1]
    finished = tracker.finish()
    assert [ex.answer for ex in finished] == [None, None]
    assert [ex.frames for ex in finished] == [(1, 2), (3,)]


def test_an_answer_without_a_captured_request_is_kept() -> None:
    tracker = NtpTracker()
    done = tracker.feed(_answer(7, T0, origin=5.0, server_time=T0))
    assert done is not None and done.requests == () and done.round_trip is None
    assert done.server_offset == pytest.approx(0.0, abs=1e-3)


def test_retries_beyond_the_bound_are_counted() -> None:
    tracker = NtpTracker()
    for n in range(MAX_REQUESTS_KEPT + 3):
        tracker.feed(_request(n + 1, T0 + n, 1000.0 + n))
    (exchange,) = tracker.finish()
    assert len(exchange.requests) == MAX_REQUESTS_KEPT and exchange.retries_dropped == 3
    assert exchange.retries == MAX_REQUESTS_KEPT + 2


def test_malformed_payloads_become_anomalies_and_other_modes_are_counted() -> None:
    tracker = NtpTracker()
    assert tracker.feed(_pkt(1, T0, b"\x1b" + bytes(10), to_server=True)) is None
    assert tracker.feed(_pkt(2, T0, bytes([0x16, 2]) + bytes(10), to_server=True)) is None
    assert tracker.feed(_pkt(3, T0, bytes(NTPHeader(mode=5)), to_server=False)) is None
    assert [a.code for a in tracker.sink] == ["ntp.malformed"]
    assert "48" in list(tracker.sink)[0].detail and list(tracker.sink)[0].frame == 1
    assert tracker.other_messages == 2 and tracker.finish() == ()


def test_the_bound_on_exchanges_is_an_anomaly_once() -> None:
    tracker = NtpTracker(Limits(max_ntp_exchanges=2, ntp_retry_window=0.5))
    for n in range(5):
        tracker.feed(_request(n + 1, T0 + 10 * n, 1000.0))
    assert len(tracker.finish()) == 2
    assert [a.code for a in tracker.sink] == ["limit.max_ntp_exchanges"]


def test_a_kiss_o_death_answer_closes_the_exchange_without_a_time() -> None:
    tracker = NtpTracker()
    tracker.feed(_request(1, T0, 1000.0))
    kiss = _answer(2, T0 + 0.01, origin=1000.0, server_time=T0)
    raw = bytearray(kiss.payload)
    raw[1], raw[12:16] = 0, b"DENY"
    done = tracker.feed(replace(kiss, payload=bytes(raw)))
    assert done is not None and done.answer is not None
    assert done.answer.message.kiss_code == "DENY" and done.server_offset is None
