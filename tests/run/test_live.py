"""The live loop through the shared step: where its lines go, what sinks get, the trailer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from locations import PCAPS
from replay import FileSource

from capinspect.live import LiveEvent, VerdictEvent
from capinspect.run import Keys, Output, Redaction, RunOptions, Step
from capinspect.run.live import LiveOptions, watch
from capinspect.run.outcome import Outcome

HTTPS = str(PCAPS / "https-healthy.pcap")
KEYLOG = str(PCAPS / "https-healthy.keylog")
MULTI = str(PCAPS / "multi-phone.pcapng")


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
    outcome = watch(LiveOptions(MULTI), Step(RunOptions()))
    out, err = capsys.readouterr()
    assert "VERDICT" in out and out.index("VERDICT") < out.index("phone(s):")
    frames = len(FileSource(MULTI).frames)
    assert out.endswith(f"kernel: {frames} frames passed the filter, 0 dropped; {frames} read\n")
    assert "kernel:" not in err and outcome.status == 1


@pytest.mark.parametrize("fmt", ["json", "markdown", "html", "summary"])
def test_any_other_format_has_stdout_to_itself(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    watch(LiveOptions(MULTI), Step(RunOptions(output=Output(fmt))))
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
    outcome = watch(LiveOptions(HTTPS), Step(options))
    verdict = sink.events_of(VerdictEvent)[-1]  # the phone boots three times: a verdict each
    assert isinstance(verdict, VerdictEvent)
    assert sink.outcomes == [outcome]
    shown = outcome.shown.devices[0].session
    assert verdict.device == shown.key != outcome.report.devices[0].session.key
    assert sink.seen and "contoso.com" not in repr(sink.seen)
    assert json.loads((tmp_path / "report.json").read_text())["devices"][0]["verdict"] == "pass"
    capsys.readouterr()
