"""``capinspect baseline`` reads the capture with the shared step's keys.

(Its behaviour as a user meets it, partial and whole, is in test_analyze.py beside the
``analyze --expect`` that reads what it writes.)"""

from __future__ import annotations

from pathlib import Path

from .spies import HTTPS, KEY_PEM, StepSpy, invoke


def test_baseline_takes_its_keys_from_the_shared_step(step_spy: StepSpy, tmp_path: Path) -> None:
    out = tmp_path / "expect.toml"
    result = invoke("baseline", "--tls-key", KEY_PEM, "-o", str(out), HTTPS)
    assert result.exit_code == 0, result.stderr
    assert step_spy.calls == ["tls_keys"]
    assert "3.5.6907.0" in out.read_text()  # the Server Version, read from the decrypted check-in
