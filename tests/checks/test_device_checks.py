"""checks/device.py: a phone model the Device Update service no longer updates."""

from __future__ import annotations

from factories import checkin, healthy_boot

from capinspect.checks.base import Severity
from capinspect.expectations import Expectations
from capinspect.pipeline import evaluate


def _unsupported(vendor: str, model: str) -> list[tuple[Severity, str, tuple[int, ...]]]:
    capture = healthy_boot()
    capture.http = [checkin(30, 1003.0, "1.0.522.34", vendor=vendor, model=model)]
    report = evaluate(capture.analysis(), Expectations())
    return [
        (f.severity, f.summary, f.frames)
        for f in report.all_findings
        if f.check_id == "device.unsupported"
    ]


def test_the_dv1_is_unsupported_at_its_check_in() -> None:
    assert _unsupported("Microsoft", "DV1") == [
        (Severity.FAIL, "Microsoft DV1 (Microsoft DV1)", (30,))
    ]


def test_model_names_match_in_any_case() -> None:
    assert len(_unsupported("microsoft", "dv1")) == 1


def test_supported_and_unknown_models_pass() -> None:
    assert _unsupported("LG-Nortel", "IP8540") == []
    assert _unsupported("Polycom", "CX700") == []
    assert _unsupported("Nobody", "X-1") == []  # unknown is not unsupported
