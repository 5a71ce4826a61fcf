"""``capinspect timeline`` goes through the shared step: its keys, its redaction, its renderers.

(The ladder's own tests, decrypted and redacted end to end, are in test_analyze.py beside the
report they must agree with.)"""

from __future__ import annotations

from capinspect.run.render import formats

from .spies import HTTPS, KEY_PEM, PHONE_IP, PHONE_MAC, StepSpy, invoke


def test_timeline_takes_keys_redaction_and_formats_from_the_shared_step(
    step_spy: StepSpy,
) -> None:
    assert formats("timeline") == ["text", "json"]
    for fmt in formats("timeline"):
        step_spy.calls.clear()
        step_spy.rendered.clear()
        result = invoke("timeline", "--tls-key", KEY_PEM, "--redact", "--format", fmt, HTTPS)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"<{fmt} timeline>\n"
        assert step_spy.calls[0] == "tls_keys" and "timeline" in step_spy.calls
        assert "redact" in step_spy.calls and step_spy.calls[-1] == "write_timeline"
        ((name, face, (analysis, devices, _page)),) = step_spy.rendered
        assert (name, face) == (fmt, "timeline")
        (session,) = devices
        assert session.checkins, "the step's keys reached the engine"
        assert PHONE_MAC not in repr(devices) and PHONE_IP not in repr(analysis)


def test_timeline_without_redact_is_not_redacted(step_spy: StepSpy) -> None:
    result = invoke("timeline", HTTPS)
    assert result.exit_code == 0
    assert "redact" not in step_spy.calls
    ((_, _, (_, devices, _)),) = step_spy.rendered
    assert devices[0].mac == PHONE_MAC and not devices[0].checkins  # encrypted, no key
