"""baseline.coverage: which values an encrypted check-in keeps out of a baseline."""

from locations import PCAPS

from capinspect.baseline import CHECKIN_KEYS, baseline_from, coverage
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.limits import DEFAULT_LIMITS
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.protocols.tls.keys import load_tls_keys


def _coverage(name: str, keylog: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    keys = load_tls_keys((), None, str(PCAPS / keylog) if keylog else None)
    analysis = analyze_paths([str(PCAPS / name)], DEFAULT_LIMITS, tls_keys=keys)
    report = evaluate(analysis, DEFAULT_EXPECTATIONS)
    seen = coverage(report, baseline_from(report))
    assert seen.partial == bool(seen.encrypted and seen.missing)
    return seen.encrypted, seen.missing


def test_encrypted_checkin_without_a_key_names_the_phone_and_every_checkin_key() -> None:
    encrypted, missing = _coverage("https-healthy.pcap")
    assert encrypted == ("00:21:63:0f:a5:01",)
    assert missing == CHECKIN_KEYS


def test_with_the_key_log_nothing_is_missing() -> None:
    assert _coverage("https-healthy.pcap", "https-healthy.keylog") == ((), ())


def test_plain_http_capture_is_whole() -> None:
    encrypted, _ = _coverage("healthy-no-update.pcap")
    assert encrypted == ()
