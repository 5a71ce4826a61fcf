"""checkin.encrypted-* checks and the verdicts they give, in every format; the lab's https-*
captures judged without keys agree with the same captures decrypted."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
import tls_variants
from click.testing import CliRunner
from locations import PCAPS

from capinspect.checks.base import Severity, Verdict
from capinspect.checks.encrypted import (
    ENCRYPTED_NOTHING_OFFERED,
    ENCRYPTED_OFFER_FETCHED,
    ENCRYPTED_OFFER_UNFETCHED,
    ENCRYPTED_REJECTED,
)
from capinspect.cli import main
from capinspect.expectations import Expectations
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.protocols.tls.keys import NO_KEYS, load_tls_keys
from capinspect.report.model import DeviceReport

INFERRED = "(inferred without decryption)"
HTTPS_LAB = sorted(p.stem for p in PCAPS.glob("https-*.pcap"))


@cache
def _lab(name: str, keyed: bool) -> DeviceReport:
    keys = load_tls_keys([str(PCAPS / f"{name}.key.pem")], None, None) if keyed else NO_KEYS
    report = evaluate(analyze_paths([str(PCAPS / f"{name}.pcap")], tls_keys=keys), Expectations())
    (device,) = report.devices
    return device


def _variant(build: Callable[[Path], Path], tmp_path: Path) -> DeviceReport:
    path = build(tmp_path / "variant.pcap")
    (device,) = evaluate(analyze_paths([str(path)]), Expectations()).devices
    return device


@pytest.mark.parametrize("name", HTTPS_LAB)
def test_lab_capture_without_keys_gets_the_verdict_it_gets_with_them(name: str) -> None:
    hidden, truth = _lab(name, False), _lab(name, True)
    assert hidden.verdict.verdict == truth.verdict.verdict
    hidden_root, truth_root = hidden.verdict.root_cause, truth.verdict.root_cause
    assert (hidden_root and hidden_root.check_id) == (truth_root and truth_root.check_id)
    assert not truth.verdict.inferred
    # Inferred exactly when the verdict rests on an encrypted check-in (a failed handshake is
    # read from the handshake, in the clear).
    assert hidden.verdict.inferred == bool(hidden.session.encrypted_checkins)
    if hidden.verdict.inferred:
        assert INFERRED in hidden.verdict.reason and INFERRED in hidden.verdict.label


def test_https_healthy_without_keys_passes_inferred() -> None:
    device = _lab("https-healthy", False)
    assert device.verdict.verdict == Verdict.PASS
    assert device.verdict.label == "PASS (inferred without decryption)"
    ids = [f.check_id for f in device.findings]
    assert ids.count(ENCRYPTED_OFFER_FETCHED.id) == 2
    assert ids.count(ENCRYPTED_NOTHING_OFFERED.id) == 1
    assert "tls.encrypted-checkin" not in ids and "checkin.not-observed" not in ids
    for finding in device.findings:
        if finding.check_id.startswith("checkin.encrypted-"):
            assert finding.inferred and finding.basis and INFERRED in finding.summary


def test_decrypted_check_ins_raise_no_inferred_finding() -> None:
    device = _lab("https-healthy", True)
    assert not any(f.check_id.startswith("checkin.encrypted-") for f in device.findings)
    assert not any(f.inferred for f in device.findings)


CASES: dict[str, tuple[Callable[[Path], Path], str, Verdict]] = {
    ENCRYPTED_OFFER_FETCHED.id: (tls_variants.offer_fetched, "info", Verdict.PASS),
    ENCRYPTED_NOTHING_OFFERED.id: (tls_variants.nothing_offered, "info", Verdict.PASS),
    ENCRYPTED_REJECTED.id: (tls_variants.phone_alert, "fail", Verdict.FAIL),
    ENCRYPTED_OFFER_UNFETCHED.id: (tls_variants.offer_unfetched, "warn", Verdict.WARN),
}


@pytest.mark.parametrize("check_id", sorted(CASES))
def test_each_check_raised_by_its_variant(check_id: str, tmp_path: Path) -> None:
    build, severity, verdict = CASES[check_id]
    device = _variant(build, tmp_path)
    (finding,) = [f for f in device.findings if f.check_id == check_id]
    assert finding.severity == Severity(severity)
    assert finding.frames and finding.basis and INFERRED in finding.summary
    assert device.verdict.verdict == verdict and device.verdict.inferred
    if verdict != Verdict.PASS:
        assert device.verdict.root_cause == finding


def test_server_reset_is_rejected_too(tmp_path: Path) -> None:
    device = _variant(tls_variants.server_reset, tmp_path)
    assert device.verdict.verdict == Verdict.FAIL
    assert device.verdict.root_cause is not None
    assert device.verdict.root_cause.check_id == ENCRYPTED_REJECTED.id
    assert "reset" in device.verdict.root_cause.summary


@pytest.mark.parametrize("build", [tls_variants.cut, tls_variants.offer_then_end])
def test_what_cannot_be_inferred_is_inconclusive_naming_the_ways_to_see_more(
    build: Callable[[Path], Path], tmp_path: Path
) -> None:
    device = _variant(build, tmp_path)
    assert device.verdict.verdict == Verdict.INCONCLUSIVE and not device.verdict.inferred
    said = device.verdict.reason + " " + (device.verdict.advice or "")
    for option in ("--tls-key", "--keylog", "--audit-log"):
        assert option in said
    assert "tls.encrypted-checkin" in {f.check_id for f in device.findings}
    assert not any(f.check_id.startswith("checkin.encrypted-") for f in device.findings)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "summary", "json"])
def test_every_format_marks_the_inference(fmt: str, tmp_path: Path) -> None:
    capture = tls_variants.phone_alert(tmp_path / "alert.pcap")
    result = CliRunner().invoke(
        main, ["analyze", str(capture), "--format", fmt, "--color", "never", "-q"]
    )
    assert result.exit_code == 1, result.output
    if fmt == "json":
        (device,) = json.loads(result.output)["devices"]
        assert device["verdict"] == "fail" and device["verdict_inferred"] is True
        assert device["verdict_basis"]
        finding = device["root_cause"]
        assert finding["id"] == ENCRYPTED_REJECTED.id and finding["inferred"] is True
        assert finding["basis"] == device["verdict_basis"]
        (item,) = device["encrypted_checkins"]
        assert item["outcome"] == "rejected" and item["inferred"] is True
        assert item["request_records"] == 2 and item["answer_records"] == 0
        plain = [f for f in device["findings"] if not f["id"].startswith("checkin.encrypted-")]
        assert all(f["inferred"] is False and f["basis"] is None for f in plain)
    else:
        assert "FAIL (inferred without decryption)" in result.output
