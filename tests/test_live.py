"""LiveMonitor: the live mode's incremental logic, fed frames from the committed captures.

The frames go through the monitor exactly as capinspect live feeds them, so these tests prove
that the live path and ``analyze`` give the same report for the same frames, and that steps and
verdicts come out as a boot happens (tests/cli/test_live.py does the same over real sockets).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from factories import assert_same_analysis
from locations import PCAPS, lab_captures

from capinspect.analysis import Analysis
from capinspect.checks.base import Verdict
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.live import LiveEvent, LiveMonitor, StepEvent, Timeouts, VerdictEvent
from capinspect.model import RawFrame
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.json import report_document
from capinspect.run.live import drop_anomalies, format_event
from capinspect.sources.live import KernelStats
from capinspect.sources.merge import iter_frames

VOLATILE = ("inputs", "elapsed", "elapsed_s", "live")


def stable(document: dict[str, Any]) -> dict[str, Any]:
    """A report document without what legitimately differs between a file and a live run."""
    return {k: v for k, v in document.items() if k not in VOLATILE}


def frames_of(name: str) -> list[RawFrame]:
    return list(iter_frames([str(PCAPS / name)]))


def run_live(frames: list[RawFrame], *, tail: float = 0.0) -> tuple[LiveMonitor, list[LiveEvent]]:
    monitor = LiveMonitor()
    events: list[LiveEvent] = []
    for frame in frames:
        events.extend(monitor.feed(frame))
    events.extend(monitor.flush())
    if tail and frames:
        events.extend(monitor.tick(frames[-1].ts + tail))
    return monitor, events


@pytest.mark.parametrize("capture", lab_captures(), ids=lambda p: p.name)
def test_live_path_gives_the_same_report_as_analyze(capture: Any) -> None:
    frames = list(iter_frames([str(capture)]))
    monitor, _ = run_live(frames, tail=1000.0)
    live_report = monitor.finish()
    file_analysis = analyze_paths([str(capture)])
    # The whole analysis, not only what the report shows: every transaction list, the stats
    # and the anomalies (a live run reads no file, so only ``inputs`` differs).
    assert_same_analysis(live_report.analysis, file_analysis)
    live = report_document(live_report)
    analysed = report_document(evaluate(file_analysis, DEFAULT_EXPECTATIONS))
    assert stable(live) == stable(analysed)


def test_steps_and_verdicts_come_as_the_boot_happens() -> None:
    frames = frames_of("acl-denied.pcap")
    monitor = LiveMonitor()
    events: list[tuple[int, LiveEvent]] = []
    for frame in frames:
        events.extend((frame.index, e) for e in monitor.feed(frame))
    # Evaluations are spaced (URGENT_INTERVAL): the verdict comes within it of the failure,
    # when the quiet interface's clock moves on, not at the end of the capture.
    events.extend((0, e) for e in monitor.tick(frames[-1].ts + 0.3))
    steps = [e for _, e in events if isinstance(e, StepEvent)]
    verdicts = [e for _, e in events if isinstance(e, VerdictEvent)]
    assert len(verdicts) == 1
    verdict = verdicts[0]
    assert verdict.cause == "complete" and verdict.report.verdict.verdict == Verdict.FAIL
    assert "download.acl-denied" in verdict.report.verdict.reason
    assert steps[0].frame == 1 and [i for i, e in events if e is steps[0]][0] <= 2
    stages = [s.stage for s in steps]
    assert stages[:6] == ["dhcp"] * 6
    assert "dns" in stages and "checkin" in stages and "download" in stages
    assert [s.frame for s in steps] == sorted(s.frame for s in steps)
    assert steps[4].summary.startswith("DHCPINFORM vendor-class MS-UC-Client")
    text = "\n".join(line for event in [*steps, verdict] for line in format_event(event))
    assert "VERDICT 00:21:63:0f:44:10" in text and "FAIL" in text and "fix:" in text


def test_a_phone_that_reboots_gets_a_verdict_per_sequence() -> None:
    _, events = run_live(frames_of("interim-upgrade.pcap"))
    verdicts = [e for e in events if isinstance(e, VerdictEvent)]
    # Interim download, target download, then the check-in with nothing left to fetch.
    assert [v.reason for v in verdicts] == [
        "1 offered file(s) downloaded",
        "1 offered file(s) downloaded",
        "check-in answered 200, nothing to download",
    ]
    assert all(v.report.verdict.verdict == Verdict.PASS for v in verdicts)


def test_stalled_stage_times_out_in_packet_time() -> None:
    frames = frames_of("dns-nxdomain.pcap")
    timeouts = Timeouts(checkin_after_dhcp=60.0)
    monitor = LiveMonitor(timeouts=timeouts)
    early: list[LiveEvent] = []
    for frame in frames:
        early.extend(monitor.feed(frame))
    last = frames[-1].ts
    early.extend(monitor.tick(last + 30.0))  # not yet 60 s after the DHCP
    assert [e.stage for e in early if isinstance(e, StepEvent)] == ["dhcp"] * 6 + ["dns"] * 2
    assert not any(isinstance(e, VerdictEvent) for e in early)
    assert not monitor.all_settled
    events = monitor.tick(last + 61.0)
    verdicts = [e for e in events if isinstance(e, VerdictEvent)]
    assert len(verdicts) == 1 and verdicts[0].cause == "timeout"
    assert verdicts[0].reason == "no check-in within 60 s after DHCP"
    assert "dns.ucupdates-nxdomain" in verdicts[0].report.verdict.reason
    assert monitor.all_settled
    assert monitor.tick(last + 200.0) == []  # said once


def test_offered_files_not_fetched_time_out_after_five_minutes() -> None:
    frames = frames_of("acl-denied.pcap")
    # Cut the capture before the download request: the check-in offered a file.
    monitor = LiveMonitor()
    for frame in frames:
        monitor.feed(frame)
        if monitor.verdicts or frame.index >= 26:
            break
    assert not monitor.verdicts
    checkin_ts = frames[13].ts
    assert not any(isinstance(e, VerdictEvent) for e in monitor.tick(checkin_ts + 299.0))
    verdicts = [e for e in monitor.tick(checkin_ts + 301.0) if isinstance(e, VerdictEvent)]
    assert verdicts and verdicts[0].cause == "timeout"
    assert "1 file(s) offered, 0 fetched within 300 s" in verdicts[0].reason


def test_snapshot_covers_every_field_of_the_analysis() -> None:
    """Engine.snapshot() lists the Analysis fields; a new one must be added there too."""
    monitor, _ = run_live(frames_of("multi-phone.pcapng"))
    snap = monitor.engine.snapshot()
    final = monitor.engine.finish()
    for field in dataclasses.fields(Analysis):
        if field.name in ("inputs", "anomalies", "stats"):
            continue
        assert getattr(snap, field.name) == getattr(final, field.name), field.name


def test_kernel_drops_become_a_capture_warning() -> None:
    monitor, _ = run_live(frames_of("healthy-no-update.pcap"))
    report = monitor.finish(source_anomalies=drop_anomalies(KernelStats(1000, 12)))
    drops = [f for f in report.capture_findings if f.check_id == "capture.kernel-drops"]
    assert len(drops) == 1 and str(drops[0].severity) == "warn"
    assert "dropped 12 of 1000" in drops[0].summary
    assert not any(f.check_id == "capture.damaged" for f in report.capture_findings)
    assert drop_anomalies(KernelStats(1000, 0)) == []
