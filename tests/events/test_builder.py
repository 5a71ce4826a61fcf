"""The event builder: the live monitor's per-phone states as events@1 (docs/events.md).

The same frames through ``analyze --events`` and through the pump ``live`` uses give the same
events; each event is self-contained and carries the fields docs/events.md lists.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from locations import PCAPS, lab_captures

from capinspect.cli import main
from capinspect.events.builder import ACTIONS, SCHEMA, STAGES, EventBuilder, milestone
from capinspect.events.options import EventOptions
from capinspect.events.run import EventPump, InterfaceMap
from capinspect.live import LiveMonitor
from capinspect.model import RawFrame
from capinspect.sources.merge import iter_frames


class Collect:
    """A sink that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.reopened = 0
        self.closed = False

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def reopen(self) -> None:
        self.reopened += 1

    def close(self) -> None:
        self.closed = True

    def note(self) -> str | None:
        return None


def live_events(
    frames: list[RawFrame], *, cost_factor: float = 0.0, tail: float | None = None
) -> list[dict[str, Any]]:
    """The events ``capinspect live`` emits for these frames (its pump, fed as it feeds).

    ``cost_factor`` 0: evaluations spaced in packet time only, as ``analyze --events`` spaces
    them (live also waits ten times an evaluation's cost, which depends on the machine)."""
    sink = Collect()
    monitor = LiveMonitor(cost_factor=cost_factor)
    pump = EventPump(monitor, EventBuilder("sensor-1", InterfaceMap(["eth1"]).of), [sink])
    for frame in frames:
        pump.feed(frame)
    if tail is not None and frames:
        pump.tick(frames[-1].ts + tail)
    pump.flush()
    pump.finish(monitor.finish())
    assert sink.closed
    return sink.events


def analyze_events(path: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        main, ["analyze", "--events", "-", "--sensor", "sensor-1", "-o", "/dev/null", path]
    )
    assert result.exit_code in (0, 1, 4), result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def without_interface(event: dict[str, Any]) -> dict[str, Any]:
    observer = {k: v for k, v in event["observer"].items() if k != "ingress"}
    return {**event, "observer": observer}


@pytest.mark.parametrize("capture", lab_captures(), ids=lambda p: p.name)
def test_a_file_gives_the_events_live_gives_for_the_same_frames(capture: Any) -> None:
    frames = list(iter_frames([str(capture)]))
    live = live_events(frames)
    analysed = analyze_events(str(capture))
    assert [without_interface(e) for e in live] == analysed
    assert all(e["observer"]["ingress"]["interface"]["name"] == "eth1" for e in live)
    assert all("ingress" not in e["observer"] for e in analysed)


def test_a_failed_download_tells_its_story() -> None:
    events = live_events(list(iter_frames([str(PCAPS / "acl-denied.pcap")])))
    actions = [e["event"]["action"] for e in events]
    assert actions[0] == "phone-first-seen"
    stages = [e["capinspect"]["stage"] for e in events if e["event"]["action"] == "stage-reached"]
    assert stages == ["dhcp", "inform", "dns", "checkin", "download"]
    finding = next(e for e in events if e["event"]["action"] == "finding-raised")
    verdict = next(e for e in events if e["event"]["action"] == "verdict-changed")
    assert actions.index("finding-raised") < actions.index("verdict-changed")
    assert finding["rule"]["id"] == "download.acl-denied"
    assert finding["event"]["kind"] == "alert" and finding["event"]["severity"] == 3
    assert finding["capinspect"]["severity"] == "fail" and finding["capinspect"]["frames"]
    assert finding["capinspect"]["verdict"] == "fail"
    assert verdict["event"]["outcome"] == "failure" and verdict["capinspect"]["verdict"] == "fail"
    assert verdict["rule"]["id"] == "download.acl-denied"
    assert verdict["capinspect"]["cause"] == "complete"
    # The end of the capture does not repeat a verdict that did not change.
    assert actions.count("verdict-changed") == 1
    for event in events:
        assert event["capinspect"]["schema"] == SCHEMA and event["event"]["action"] in ACTIONS
        assert event["host"]["name"] == "sensor-1" == event["observer"]["hostname"]
        assert event["source"] == {"mac": "00-21-63-0F-44-10", "ip": "10.77.0.102"}
        assert event["device"] == {"manufacturer": "LG-Nortel", "model": {"name": "IP8540"}}
        assert event["capinspect"]["firmware"] == "1.0.522.103"
        assert event["@timestamp"].endswith("Z")
    assert [e["event"]["sequence"] for e in events] == list(range(1, len(events) + 1))


def test_a_reboot_reaches_the_stages_again() -> None:
    events = live_events(list(iter_frames([str(PCAPS / "interim-upgrade.pcap")])))
    reached = [
        (e["capinspect"]["boot"], e["capinspect"]["stage"])
        for e in events
        if e["event"]["action"] == "stage-reached"
    ]
    boots = sorted({boot for boot, _ in reached})
    assert len(boots) >= 2
    assert all((boot, "checkin") in reached for boot in boots)
    assert len(reached) == len(set(reached))
    verdicts = [e for e in events if e["event"]["action"] == "verdict-changed"]
    assert [v["capinspect"]["verdict"] for v in verdicts] == ["pass"] * len(verdicts)
    assert len(verdicts) >= 2


def test_a_quiet_phone_goes_idle_once_in_packet_time() -> None:
    frames = list(iter_frames([str(PCAPS / "healthy-no-update.pcap")]))
    assert not [e for e in live_events(frames, tail=30.0) if e["event"]["action"] == "phone-idle"]
    events = live_events(frames, tail=120.0)
    idle = [e for e in events if e["event"]["action"] == "phone-idle"]
    assert len(idle) == 1
    verdict = next(e for e in events if e["event"]["action"] == "verdict-changed")
    assert idle[0]["@timestamp"] > verdict["@timestamp"]
    assert idle[0]["capinspect"]["verdict"] == "pass"


def test_a_phone_never_judged_live_gets_its_verdict_at_the_end() -> None:
    # dns-nxdomain: no check-in follows, the 60 s timeout never comes in a 1 s capture.
    events = live_events(list(iter_frames([str(PCAPS / "dns-nxdomain.pcap")])))
    verdicts = [e for e in events if e["event"]["action"] == "verdict-changed"]
    assert len(verdicts) == 1 and verdicts[0]["capinspect"]["cause"] == "end"
    assert verdicts[0]["event"]["reason"] == "end of capture"
    assert verdicts[0]["rule"]["id"].startswith("dns.")


def test_milestones() -> None:
    assert milestone("dhcp", "DHCPINFORM vendor-class MS-UC-Client") == "inform"
    assert milestone("dhcp", "DHCPACK 10.0.0.5") == "dhcp"
    assert milestone("http", "GET /") is None
    assert set(STAGES) >= {"dhcp", "inform", "dns", "checkin", "download"}


def test_untrusted_text_stays_one_line_of_ascii() -> None:
    from capinspect.events.sinks import dumps

    line = dumps({"message": "a\nb\u2028c\x1b[31m", "x": "é"})
    assert "\n" not in line and line.isascii()
    assert json.loads(line)["message"] == "a\nb\u2028c\x1b[31m"


def test_no_outputs_no_events_built() -> None:
    monitor = LiveMonitor()
    pump = EventOptions().pump(monitor, ["eth1"])
    assert not pump.active
    for frame in iter_frames([str(PCAPS / "acl-denied.pcap")]):
        pump.feed(frame)
    pump.flush()
    assert pump.emitted == 0 and monitor.verdicts
