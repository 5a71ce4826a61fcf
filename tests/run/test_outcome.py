"""The exit status of a judged run counts the phones of the capture and of the server logs."""

from __future__ import annotations

import dataclasses

from locations import PCAPS

from capinspect.checks.base import Verdict
from capinspect.run import RunOptions, ServerLogs, Step
from capinspect.run.outcome import Outcome
from capinspect.run.status import EXIT_FAIL, EXIT_NOTHING_JUDGED, EXIT_OK


def test_status_counts_the_phones_the_logs_judge() -> None:
    acl = str(PCAPS / "acl-denied.pcap")
    step = Step(RunOptions(logs=ServerLogs((str(PCAPS / "acl-denied.iis.log"),))))
    report = step.evaluate(step.read([acl]))
    logs = step.conclude(report).logs
    assert logs is not None and logs.has_fail
    empty = dataclasses.replace(report, devices=(), capture_findings=())
    assert Outcome(empty, empty, empty).status == EXIT_NOTHING_JUDGED
    assert Outcome(empty, empty, empty, logs).status == EXIT_FAIL
    healthy = dataclasses.replace(
        logs,
        phones=tuple(
            dataclasses.replace(p, findings=(), verdict=Verdict.PASS) for p in logs.phones
        ),
    )
    assert not healthy.has_fail
    assert Outcome(empty, empty, empty, healthy).status == EXIT_OK
