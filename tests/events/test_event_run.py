"""The event pump and the interface map (capinspect/events/run.py): the pump passes every
call on to the live monitor and returns what it returns, sends events only where a sink is
given, finishes once; the map says which interface each phone came in on."""

from __future__ import annotations

from typing import Any

from locations import PCAPS

from capinspect.events.builder import EventBuilder
from capinspect.events.run import EventPump, InterfaceMap
from capinspect.live import LiveMonitor
from capinspect.model import RawFrame
from capinspect.sources.merge import iter_frames

ACL = str(PCAPS / "acl-denied.pcap")


class Keep:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.closed = 0
        self.reopened = 0

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def reopen(self) -> None:
        self.reopened += 1

    def close(self) -> None:
        self.closed += 1

    def note(self) -> str | None:
        return f"{len(self.events)} kept"


def pumped(frames: list[RawFrame], interfaces: InterfaceMap) -> tuple[EventPump, Keep]:
    sink = Keep()
    monitor = LiveMonitor(cost_factor=0.0)
    pump = EventPump(monitor, EventBuilder("s", interfaces.of), [sink], interfaces)
    for frame in frames:
        pump.feed(frame)
    pump.flush()
    return pump, sink


def test_the_pump_says_what_the_monitor_says() -> None:
    frames = list(iter_frames([ACL]))
    alone = LiveMonitor(cost_factor=0.0)
    said_alone = [event for frame in frames for event in alone.feed(frame)] + alone.flush()
    monitor = LiveMonitor(cost_factor=0.0)
    pump = EventPump(monitor, EventBuilder("s", InterfaceMap(["eth1"]).of), [Keep()])
    said = [event for frame in frames for event in pump.feed(frame)] + pump.flush()
    assert said == said_alone and said


def test_events_reach_the_sink_and_finish_closes_it_once() -> None:
    pump, sink = pumped(list(iter_frames([ACL])), InterfaceMap(["eth1"]))
    before = len(sink.events)
    assert before and pump.emitted == before
    assert {e["observer"]["ingress"]["interface"]["name"] for e in sink.events} == {"eth1"}
    report = pump.monitor.finish()
    pump.finish(report)
    pump.finish(report)
    assert sink.closed == 1 and pump.finished
    assert any(e["event"]["action"] == "verdict-changed" for e in sink.events)
    assert pump.report_fields() == {"events": pump.emitted, "event_outputs": [sink.note()]}
    pump.reopen()
    assert sink.reopened == 1


def test_several_interfaces_are_told_apart_by_source_mac() -> None:
    frames = [
        RawFrame(f.index, f.ts, f.linktype, f.data, f.orig_len, source=1)
        for f in iter_frames([ACL])
    ]
    interfaces = InterfaceMap(["eth1", "eth2"])
    pump, sink = pumped(frames, interfaces)
    assert interfaces.several
    names = {e["observer"]["ingress"]["interface"]["name"] for e in sink.events}
    assert names == {"eth2"}
    report = pump.monitor.finish()
    assert set(interfaces.by_device(report).values()) == {"eth2"}


def test_no_interface_named_is_none() -> None:
    pump, sink = pumped(list(iter_frames([ACL])), InterfaceMap([]))
    report = pump.monitor.finish()
    assert set(InterfaceMap([]).by_device(report).values()) == {None}
