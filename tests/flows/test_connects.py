"""Connection attempts: accepted, refused, unanswered (with retransmitted SYNs), the bound."""

from __future__ import annotations

from capinspect.flows.connects import ACCEPTED, NO_ANSWER, REFUSED, ConnectTracker
from capinspect.limits import Limits
from capinspect.model import TCP_ACK, TCP_RST, TCP_SYN, IpProto, Packet

PHONE, SERVER = "10.30.0.41", "10.30.0.10"


def _seg(frame: int, flags: int, *, from_phone: bool, sport: int = 49200) -> Packet:
    if from_phone:
        return Packet(frame, float(frame), "00:04:f2:5a:10:01", None, (), PHONE, SERVER,
                      IpProto.TCP, sport, 443, b"", 1000, 0, flags)  # fmt: skip
    return Packet(frame, float(frame), None, "00:04:f2:5a:10:01", (), SERVER, PHONE,
                  IpProto.TCP, 443, sport, b"", 5000, 1001, flags)  # fmt: skip


def test_syn_ack_accepts_rst_refuses_and_silence_is_no_answer() -> None:
    tracker = ConnectTracker()
    tracker.feed(_seg(1, TCP_SYN, from_phone=True, sport=1))
    tracker.feed(_seg(2, TCP_SYN | TCP_ACK, from_phone=False, sport=1))
    tracker.feed(_seg(3, TCP_SYN, from_phone=True, sport=2))
    tracker.feed(_seg(4, TCP_RST | TCP_ACK, from_phone=False, sport=2))
    for frame in (5, 8, 14):
        tracker.feed(_seg(frame, TCP_SYN, from_phone=True, sport=3))
    assert [c.outcome for c in tracker.connects_so_far()] == [ACCEPTED, REFUSED, NO_ANSWER]
    accepted, refused, silent = tracker.finish()
    assert accepted.frames == (1, 2) and refused.frames == (3, 4)
    assert silent.syn_frames == (5, 8, 14) and silent.answer_frame is None
    assert silent.last_syn_ts == 14.0 and silent.client_mac == "00:04:f2:5a:10:01"


def test_segments_of_unknown_attempts_are_ignored() -> None:
    tracker = ConnectTracker()
    tracker.feed(_seg(1, TCP_RST, from_phone=False))
    tracker.feed(_seg(2, TCP_SYN | TCP_ACK, from_phone=False))
    assert tracker.finish() == ()


def test_the_bound_is_an_anomaly_once() -> None:
    tracker = ConnectTracker(Limits(max_tcp_connects=2))
    for port in range(5):
        tracker.feed(_seg(port + 1, TCP_SYN, from_phone=True, sport=port))
    assert len(tracker.finish()) == 2
    assert [a.code for a in tracker.sink] == ["limit.max_tcp_connects"]
