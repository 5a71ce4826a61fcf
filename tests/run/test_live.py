"""The live loop through the shared step: where its lines go, what sinks get, the trailer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from locations import PCAPS
from replay import FileSource, FileSources

from capinspect.events.options import EventOptions, EventSink
from capinspect.live import LiveEvent, VerdictEvent
from capinspect.run import Keys, Output, Redaction, RunOptions, Step
from capinspect.run.live import LiveOptions, watch
from capinspect.run.outcome import Outcome

HTTPS = str(PCAPS / "https-healthy.pcap")
KEYLOG = str(PCAPS / "https-healthy.keylog")
PHONE_IP_HTTPS = "10.77.0.131"
MULTI = str(PCAPS / "multi-phone.pcapng")
ACL = str(PCAPS / "acl-denied.pcap")
INTERIM = str(PCAPS / "interim-upgrade.pcap")


class Recorder:
    def __init__(self) -> None:
        self.seen: list[LiveEvent] = []
        self.outcomes: list[Outcome] = []

    def events_of(self, kind: type) -> list[LiveEvent]:
        return [e for e in self.seen if isinstance(e, kind)]

    def events(self, events: Sequence[LiveEvent]) -> None:
        self.seen.extend(events)

    def finish(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


@pytest.fixture(autouse=True)
def replay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("capinspect.run.live.LiveSource", FileSource)


def test_text_report_shares_stdout_with_the_lines_and_ends_with_the_kernel_counters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcome = watch(LiveOptions((MULTI,)), Step(RunOptions()))
    out, err = capsys.readouterr()
    assert "VERDICT" in out and out.index("VERDICT") < out.index("phone(s):")
    frames = len(FileSource(MULTI).frames)
    assert out.endswith(f"kernel: {frames} frames passed the filter, 0 dropped; {frames} read\n")
    assert "kernel:" not in err and outcome.status == 1


@pytest.mark.parametrize("fmt", ["json", "markdown", "html", "summary"])
def test_any_other_format_has_stdout_to_itself(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    watch(LiveOptions((MULTI,)), Step(RunOptions(output=Output(fmt))))
    out, err = capsys.readouterr()
    assert "VERDICT" not in out and "VERDICT" in err and "kernel:" in err
    if fmt == "json":
        assert json.loads(out)["live"]["interface"] == MULTI


def test_sinks_get_the_redacted_events_and_the_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = Recorder()
    options = RunOptions(
        keys=Keys(keylog=KEYLOG),
        redaction=Redaction(True),
        output=Output("json", str(tmp_path / "report.json")),
        sinks=(sink,),
    )
    outcome = watch(LiveOptions((HTTPS,)), Step(options))
    verdict = sink.events_of(VerdictEvent)[-1]  # the phone boots three times: a verdict each
    assert isinstance(verdict, VerdictEvent)
    assert sink.outcomes == [outcome]
    shown = outcome.shown.devices[0].session
    assert verdict.device == shown.key != outcome.report.devices[0].session.key
    assert sink.seen and "contoso.com" not in repr(sink.seen)
    assert json.loads((tmp_path / "report.json").read_text())["devices"][0]["verdict"] == "pass"
    capsys.readouterr()


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_event_stream_follows_the_loop_with_the_reports_pseudonyms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, report = tmp_path / "events.jsonl", tmp_path / "report.json"
    options = RunOptions(
        keys=Keys(keylog=KEYLOG),
        redaction=Redaction(True),
        output=Output("json", str(report)),
        sinks=(EventSink(EventOptions(events=str(log), sensor="s1")),),
    )
    outcome = watch(LiveOptions((HTTPS,)), Step(options))
    events, document = lines_of(log), json.loads(report.read_text())
    shown = outcome.shown.devices[0].session
    assert {e["capinspect"]["device"] for e in events} == {shown.key}
    assert shown.key != outcome.report.devices[0].session.key
    assert "contoso.com" not in log.read_text() and PHONE_IP_HTTPS not in log.read_text()
    assert events[-1]["event"]["action"] == "verdict-changed"
    assert document["live"]["events"] == len(events)
    assert document["live"]["phone_interfaces"] == {shown.key: HTTPS}
    assert f"events: {len(events)} written to {log}" in capsys.readouterr().err


def test_events_on_stdout_send_the_lines_and_the_report_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    step = Step(RunOptions(sinks=(EventSink(EventOptions(events="-")),)))
    watch(LiveOptions((ACL,)), step)
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in out.splitlines()]
    assert events and all(e["capinspect"]["schema"] == "events@1" for e in events)
    assert "VERDICT" in err and "phone(s):" in err and "kernel:" in err


def test_two_interfaces_name_each_phones_interface(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("capinspect.run.live.LiveSources", FileSources)
    log, report = tmp_path / "events.jsonl", tmp_path / "report.json"
    options = RunOptions(
        output=Output("json", str(report)),
        sinks=(EventSink(EventOptions(events=str(log))),),
    )
    outcome = watch(LiveOptions((ACL, INTERIM, ACL)), Step(options))
    live = json.loads(report.read_text())["live"]
    assert live["interfaces"] == [ACL, INTERIM] and live["interface"] == f"{ACL},{INTERIM}"
    on = {"00:21:63:0f:44:10": ACL, "00:21:63:0f:20:7b": INTERIM}
    assert live["phone_interfaces"] == on
    sources = FileSources((ACL, INTERIM))
    assert live["kernel_by_interface"] == {
        name: {"received": count, "dropped": 0}
        for name, count in zip((ACL, INTERIM), sources.counts, strict=True)
    }
    for event in lines_of(log):
        assert (
            event["observer"]["ingress"]["interface"]["name"] == on[event["capinspect"]["device"]]
        )
    assert sorted(d.verdict.verdict for d in outcome.report.devices) == ["fail", "pass"]
    err = capsys.readouterr().err
    assert f"  {INTERIM}: {sources.counts[1]} passed, 0 dropped; 00:21:63:0f:20:7b" in err
