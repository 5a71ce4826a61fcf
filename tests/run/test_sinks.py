"""Outputs besides the report: the evidence sink of ``analyze --evidence``."""

from __future__ import annotations

from pathlib import Path

import pytest
from locations import PCAPS

from capinspect.errors import CapinspectError
from capinspect.pipeline import analyze_paths
from capinspect.run import Redaction, RunOptions, Step
from capinspect.run.sinks import EvidenceSink

ACL = str(PCAPS / "acl-denied.pcap")


def test_evidence_of_the_redacted_run_is_a_capture_with_the_reports_pseudonyms(
    tmp_path: Path,
) -> None:
    target = tmp_path / "evidence.pcapng"
    sink = EvidenceSink(str(target), (ACL,))
    step = Step(RunOptions(redaction=Redaction(True), sinks=(sink,)))
    outcome = step.conclude(step.evaluate(step.read([ACL])))
    step.write(outcome, [ACL])
    phone = outcome.report.devices[0].session
    assert target.exists()
    evidence = analyze_paths([str(target)])
    assert phone.mac not in repr(evidence.dhcp)
    assert outcome.shown.devices[0].session.mac in repr(evidence.dhcp)


def test_evidence_never_over_an_input(tmp_path: Path) -> None:
    capture = tmp_path / "boot.pcap"
    capture.write_bytes(Path(ACL).read_bytes())
    step = Step(RunOptions())
    outcome = step.conclude(step.evaluate(step.read([str(capture)])))
    with pytest.raises(CapinspectError, match="refusing to overwrite the input file"):
        EvidenceSink(str(capture), (str(capture),)).finish(outcome)
    assert capture.read_bytes() == Path(ACL).read_bytes()
