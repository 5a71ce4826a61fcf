"""The check-in tracker: each check-in parsed once, live mode included."""

from __future__ import annotations

from typing import Any

import pytest
from factories import checkin
from locations import PCAPS

import capinspect.pipeline as pipeline
import capinspect.protocols.checkins as checkins_module
from capinspect.devices import Population
from capinspect.live import LiveMonitor
from capinspect.pipeline import analyze_paths
from capinspect.protocols.checkins import CheckinTracker
from capinspect.sources.merge import iter_frames


def test_the_tracker_parses_check_ins_only_and_hands_them_on_in_frame_order() -> None:
    tracker = CheckinTracker()
    late, early = checkin(30, 1003.0, "3.5.6907.0"), checkin(10, 1001.0, "1.0.522.103")
    tracker.feed([late, early])
    assert tracker.parsed == 2
    assert [c.frame for c in tracker.checkins()] == [10, 30]
    assert [c.firmware for c in tracker.checkins()] == ["1.0.522.103", "3.5.6907.0"]


def test_the_engine_hands_the_devices_stage_parsed_check_ins() -> None:
    analysis = analyze_paths([str(PCAPS / "multi-phone.pcapng")])
    paths = [ex for ex in analysis.http if ex.request.path.lower().endswith("ucdevice.upx")]
    assert len(analysis.checkins) == len(paths) > 0
    assert [c.exchange for c in analysis.checkins] == paths


def test_live_mode_parses_each_check_in_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = checkins_module.parse_checkin_request

    def counting(data: bytes) -> object:
        calls.append(data)
        return real(data)

    monkeypatch.setattr(checkins_module, "parse_checkin_request", counting)
    evaluations: list[int] = []
    real_build = pipeline.build_population

    def counting_build(*args: Any, **kwargs: Any) -> Population:
        evaluations.append(1)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(pipeline, "build_population", counting_build)
    monitor = LiveMonitor()
    for frame in iter_frames([str(PCAPS / "multi-phone.pcapng")]):
        monitor.feed(frame)
    monitor.flush()
    report = monitor.finish()
    checkins = sum(len(d.session.checkins) for d in report.devices)
    assert len(evaluations) > checkins > 0  # live evaluated many times over ...
    assert len(calls) == checkins  # ... and parsed each check-in once
