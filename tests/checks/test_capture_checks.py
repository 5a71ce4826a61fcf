"""checks/capture.py: what the capture itself says — damage, malformed traffic, kernel drops,
no phone at all (and the hint why), phones and other clients beyond the limits."""

from __future__ import annotations

from dataclasses import replace

from factories import Capture, healthy_boot, lease

from capinspect.checks.base import CheckContext, Finding
from capinspect.checks.capture import check_capture
from capinspect.devices import build_population
from capinspect.expectations import Expectations
from capinspect.model import Anomaly, CaptureStats


def _capture_findings(capture: Capture) -> dict[str, Finding]:
    analysis = capture.analysis()
    population = build_population(analysis, Expectations())
    ctx = CheckContext(Expectations(), analysis, analysis.stats.last_ts, population)
    found = list(check_capture(population.phones, ctx))
    by_id = {f.check_id: f for f in found}
    assert len(by_id) == len(found)  # one finding per capture-level check
    return by_id


def test_a_healthy_capture_says_nothing() -> None:
    assert _capture_findings(healthy_boot()) == {}


def test_damage_malformed_traffic_and_kernel_drops_are_told_apart() -> None:
    capture = healthy_boot()
    capture.anomalies = [
        Anomaly("capture.truncated-record", "cut after 12 bytes", 99, 1500.0),
        Anomaly("pcapng.oversize-block", "block of 2 GB", 100, 1501.0),
        Anomaly("tcp.gap", "40 bytes missing", 31, 1003.0),
        Anomaly("tcp.gap", "8 bytes missing", 32, 1003.1),
        Anomaly("capture.kernel-drops", "the kernel dropped 12 packets", None, None),
    ]
    found = _capture_findings(capture)
    assert set(found) == {"capture.damaged", "capture.malformed-traffic", "capture.kernel-drops"}
    assert found["capture.damaged"].frames == (99, 100)
    assert found["capture.damaged"].summary.startswith("capture.truncated-record ×1")
    assert found["capture.malformed-traffic"].summary == "tcp.gap ×2"
    assert found["capture.kernel-drops"].observed == "the kernel dropped 12 packets"


def test_no_phone_names_what_was_seen_and_a_likely_cause() -> None:
    stats = CaptureStats(frames=50, first_ts=1.0, last_ts=2.0, tcp_frames=50, tcp443_frames=50)
    found = _capture_findings(Capture(stats=stats))
    (finding,) = found.values()
    assert finding.check_id == "capture.no-phone-traffic"
    assert finding.observed == "50 frames, 0 DHCP, 0 DNS, 0 TCP/80, 50 TCP/443"
    assert "no UDP at all" in finding.summary and "only encrypted HTTPS" in finding.summary


def test_dhcp_of_other_clients_is_named_when_no_phone_is_seen() -> None:
    pc = lease(1, 1.0, mac="00:15:5d:00:00:99")
    stats = CaptureStats(frames=4, first_ts=1.0, last_ts=2.0, udp_frames=4, dhcp_frames=4)
    found = _capture_findings(Capture(dhcp=[pc], stats=stats))
    summary = found["capture.no-phone-traffic"].summary
    assert "DHCP clients seen, none a phone (vendor classes: (none) ×2)" in summary


def test_an_empty_capture_is_nothing_readable() -> None:
    found = _capture_findings(Capture(stats=CaptureStats()))
    assert found["capture.no-phone-traffic"].observed == "0 frames, nothing readable"


def test_phones_beyond_the_limit_are_counted() -> None:
    analysis = healthy_boot().analysis()
    population = build_population(analysis, Expectations())
    dropped = replace(population, phones_dropped=3)
    ctx = CheckContext(Expectations(), analysis, analysis.stats.last_ts, dropped)
    (finding,) = check_capture(population.phones, ctx)
    assert finding.check_id == "capture.device-limit" and finding.observed == "4 phones"
