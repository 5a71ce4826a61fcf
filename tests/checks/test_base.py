"""The check shape: a spec makes findings; severities and verdicts order and spell as the
reports and the exit code expect."""

from __future__ import annotations

from capinspect.checks import ALL_CHECKS, ALL_SPECS, SPECS_BY_ID
from capinspect.checks.base import SEVERITY_ORDER, CheckSpec, Severity, Verdict

SPEC = CheckSpec(
    id="test.example",
    severity=Severity.WARN,
    title="An example",
    explanation="Why it matters.",
    remediation="What to do.",
    source="inference",
)


def test_a_finding_carries_the_spec_and_its_evidence() -> None:
    finding = SPEC.finding(
        "seen here", device="00:21:63:0f:20:7b", expected="a", observed="b",
        frames=[9, 0, 3, 9], ts=12.5,
    )  # fmt: skip
    assert (finding.check_id, finding.severity, finding.title) == (
        "test.example",
        Severity.WARN,
        "An example",
    )
    assert finding.frames == (3, 9)  # sorted, repeated and unknown (0) frames dropped
    assert (finding.explanation, finding.remediation) == ("Why it matters.", "What to do.")
    assert (finding.summary, finding.expected, finding.observed, finding.ts) == (
        "seen here",
        "a",
        "b",
        12.5,
    )


def test_a_finding_may_change_severity_and_remediation_only() -> None:
    finding = SPEC.finding("x", device=None, severity=Severity.FAIL, remediation="Another step.")
    assert finding.severity == Severity.FAIL and finding.remediation == "Another step."
    assert finding.title == SPEC.title and finding.device is None and finding.frames == ()


def test_severities_order_failing_first_and_spell_for_json() -> None:
    assert sorted(Severity, key=SEVERITY_ORDER.__getitem__) == [
        Severity.FAIL,
        Severity.WARN,
        Severity.INFO,
    ]
    assert [str(v) for v in Verdict] == ["pass", "warn", "fail", "inconclusive"]


def test_check_ids_are_unique_and_dotted() -> None:
    ids = [spec.id for spec in ALL_SPECS]
    assert len(ids) == len(set(ids)) == len(SPECS_BY_ID)
    for spec in ALL_SPECS:
        family, _, name = spec.id.partition(".")
        assert family and name and spec.id == spec.id.lower(), spec.id
    assert all(check.spec is SPECS_BY_ID[check.spec.id] for check in ALL_CHECKS)
