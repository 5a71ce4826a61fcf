"""The step after the engine: option checks in order, keys, selection, redaction, status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from locations import PCAPS

from capinspect.errors import CapinspectError
from capinspect.events.options import EventOptions, EventSink
from capinspect.run import Keys, Output, Redaction, RunOptions, Selection, ServerLogs, Step

HTTPS = str(PCAPS / "https-healthy.pcap")
KEYLOG = str(PCAPS / "https-healthy.keylog")
MULTI = str(PCAPS / "multi-phone.pcapng")
INTERIM = str(PCAPS / "interim-upgrade.pcap")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (RunOptions(selection=Selection(verdicts=("bogus",))), "bogus"),
        (RunOptions(selection=Selection(phones=("not-a-phone",))), "not-a-phone"),
        (RunOptions(output=Output("text", table_style="grid")), "--table-style"),
        (RunOptions(output=Output("summary", table_style="nope")), "nope"),
        (RunOptions(expect_path="/nonexistent/expect.toml"), "expect.toml"),
        (RunOptions(output=Output("pdf")), "pdf"),
    ],
)
def test_bad_values_are_usage_errors(options: RunOptions, message: str) -> None:
    with pytest.raises(CapinspectError, match=message):
        Step(options)


def test_the_steps_keys_reach_the_engine() -> None:
    plain = Step(RunOptions()).read([HTTPS])
    decrypted = Step(RunOptions(keys=Keys(keylog=KEYLOG))).read([HTTPS])
    assert not plain.checkins and decrypted.checkins


def test_selection_shows_fewer_and_the_status_still_judges_every_phone() -> None:
    step = Step(RunOptions(selection=Selection(verdicts=("pass",), phones=("02:00:00:00:00:99",))))
    notes: list[str] = []
    report = step.evaluate(step.read([MULTI]))
    outcome = step.conclude(report, notes.append)
    assert report.has_fail and not outcome.shown.devices
    assert outcome.status == 1
    assert notes == ["no phone in the capture is 02:00:00:00:00:99"]
    assert outcome.shown is outcome.selected and outcome.pseudonyms is None


def test_one_set_of_pseudonyms_for_the_report_the_logs_and_what_comes_later() -> None:
    step = Step(
        RunOptions(
            logs=ServerLogs((INTERIM.replace(".pcap", ".iis.log"),), ()),
            redaction=Redaction(True),
        )
    )
    report = step.evaluate(step.read([INTERIM]))
    outcome = step.conclude(report)
    session = report.devices[0].session
    shown = outcome.shown.devices[0].session
    assert outcome.pseudonyms is step.names and shown.mac != session.mac
    assert outcome.logs is not None and session.ips[0] not in repr(outcome.logs)
    assert step.redact(f"phone {session.mac} at {session.ips[0]}") == (
        f"phone {shown.mac} at {shown.ips[0]}"
    )
    assert outcome.selected.devices[0].session.mac == session.mac  # evidence finds its frames


def test_learn_makes_a_name_known_before_free_text_is_redacted() -> None:
    step = Step(RunOptions(keys=Keys(keylog=KEYLOG), redaction=Redaction(True)))
    report = step.evaluate(step.read([HTTPS]))
    words = "DNS A ucupdates-r2.contoso.com?"
    assert "contoso" in step.redact(words)  # free text alone: a name is not recognised
    step.learn(report.devices[0].session)
    assert "contoso" not in step.redact(words)


def test_logs_alone_need_a_log_and_are_redacted_when_asked(tmp_path: Path) -> None:
    with pytest.raises(CapinspectError, match="--iis-log or --audit-log"):
        Step(RunOptions()).logs_alone()
    iis = INTERIM.replace(".pcap", ".iis.log")
    plain = Step(RunOptions(logs=ServerLogs((iis,)))).logs_alone()
    redacted = Step(RunOptions(logs=ServerLogs((iis,)), redaction=Redaction(True))).logs_alone()
    assert "10.77.0." in repr(plain) and "10.77.0." not in repr(redacted)


def test_timeline_formats_are_the_tables(tmp_path: Path) -> None:
    step = Step(RunOptions(output=Output("summary", path=str(tmp_path / "t"))))
    analysis = step.read([HTTPS])
    with pytest.raises(CapinspectError, match="timeline has no summary format"):
        step.write_timeline(*step.timeline(analysis), [HTTPS])


def _verdicts(report: Any) -> list[tuple[str, str, list[str]]]:
    return [
        (d.session.key, str(d.verdict.verdict), sorted(f.check_id for f in d.findings))
        for d in report.devices
    ]


def test_judge_with_events_reads_through_the_monitor_and_gives_the_same_report(
    tmp_path: Path,
) -> None:
    log = tmp_path / "events.jsonl"
    notes: list[str] = []
    plain = Step(RunOptions()).judge([MULTI], jobs=2, note=notes.append)
    assert notes == []
    step = Step(RunOptions(sinks=(EventSink(EventOptions(events=str(log))),)))
    assert step.event_stream() is not None and not step.stdout_taken
    report = step.judge([MULTI], jobs=2, note=notes.append)
    assert _verdicts(report) == _verdicts(plain)
    assert len(notes) == 1 and "--jobs is not used with --events" in notes[0]
    written = log.read_text().splitlines()
    assert written  # the live part of the stream, before the outcome
    step.finish(step.conclude(report))
    step.finish(step.conclude(report))  # once
    after = log.read_text().splitlines()
    assert after[: len(written)] == written
    verdicts = [json.loads(line) for line in after if '"verdict-changed"' in line]
    assert {v["capinspect"]["device"] for v in verdicts} == {d.session.key for d in report.devices}


def test_events_on_stdout_send_the_report_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    step = Step(RunOptions(output=Output("json"), sinks=(EventSink(EventOptions(events="-")),)))
    assert step.stdout_taken
    outcome = step.conclude(step.judge([INTERIM]))
    step.write(outcome, [INTERIM])
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in out.splitlines()]
    assert events and events[-1]["event"]["action"] == "verdict-changed"
    assert json.loads(err)["devices"][0]["verdict"] == "pass"


def test_an_audit_log_is_read_once_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fill of encrypted check-ins and the logs report share one reading of each
    --audit-log file (a big audit log is not parsed twice)."""
    from click.testing import CliRunner
    from locations import PCAPS

    import capinspect.logs.audit as audit
    import capinspect.logs.fill as fill
    from capinspect.cli import main

    reads: list[str] = []
    real = audit.read_audit_log

    def counted(path: str) -> audit.AuditLog:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(audit, "read_audit_log", counted)
    monkeypatch.setattr(fill, "read_audit_log", counted)
    log = str(PCAPS / "interim-upgrade.audit.log")
    result = CliRunner().invoke(
        main, ["analyze", "--audit-log", log, str(PCAPS / "interim-upgrade.pcap")]
    )
    assert result.exit_code == 0, result.output
    assert "audit" in result.stdout.lower()
    assert reads == [log]
