"""devices/encrypted.py: encrypted check-ins judged without keys, against the decrypted truth
of the lab capture and on scapy-built variants of it (tests/tls_variants.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import tls_variants
from locations import PCAPS

from capinspect.devices import DeviceSession, build_devices
from capinspect.devices.encrypted import checkin_connections, infer
from capinspect.devices.model import (
    NOTHING_OFFERED,
    OFFER_FETCHED,
    OFFER_UNFETCHED,
    REJECTED,
    UNDECIDED,
)
from capinspect.knowledge.update_paths import read_update_path
from capinspect.pipeline import analyze_paths
from capinspect.protocols.tls.keys import load_tls_keys
from capinspect.report.timeline import step_summary


def _device(path: Path | str, key: str | None = None) -> DeviceSession:
    keys = load_tls_keys([str(PCAPS / key)], None, None) if key else None
    analysis = analyze_paths([str(path)], tls_keys=keys) if keys else analyze_paths([str(path)])
    (device,) = build_devices(analysis)
    return device


def test_lab_inference_agrees_with_the_decrypted_truth() -> None:
    hidden = _device(PCAPS / "https-healthy.pcap")
    truth = _device(PCAPS / "https-healthy.pcap", "https-healthy.key.pem")
    assert not hidden.checkins and len(truth.checkins) == 3
    assert truth.encrypted_checkins == ()  # decrypted check-ins are not inferred too
    assert len(hidden.encrypted_checkins) == 3
    _assert_agree(hidden, truth)
    for inferred in hidden.encrypted_checkins:
        assert inferred.request_records == 2 and inferred.answer_records == 2
        assert "the phone closed it (FIN" in inferred.ended


@pytest.mark.parametrize("capture", ["lpe-healthy-ecdhe", "lpe-update-ecdhe"])
def test_lpe_ecdhe_inference_agrees_with_the_phone_key_log(capture: str) -> None:
    """Lync Phone Edition over ECDHE: the server key cannot read the check-ins, the phone's
    key log (shipped beside the capture) can; the inference without keys must match it."""
    hidden = _device(PCAPS / f"{capture}.pcap")
    keys = load_tls_keys([], None, str(PCAPS / f"{capture}.keylog"))
    (truth,) = build_devices(analyze_paths([str(PCAPS / f"{capture}.pcap")], tls_keys=keys))
    assert not hidden.checkins and truth.checkins
    assert truth.encrypted_checkins == ()
    _assert_agree(hidden, truth)


def _assert_agree(hidden: DeviceSession, truth: DeviceSession) -> None:
    """Each check-in judged without keys is what its decrypted content says."""
    assert len(hidden.encrypted_checkins) == len(truth.checkins)
    for inferred, checkin in zip(hidden.encrypted_checkins, truth.checkins, strict=True):
        assert inferred.connection.flow == checkin.exchange.flow
        if checkin.offered:
            assert inferred.outcome == OFFER_FETCHED
            (module,) = checkin.offered
            path = read_update_path(urlsplit(module.internal_url or module.url or "").path)
            assert path is not None
            expected = "interim" if path.layout.name == "interim" else module.version
            assert inferred.offered_version == expected
            assert inferred.answer_like == "offer"
        else:
            assert inferred.outcome == NOTHING_OFFERED
            assert inferred.answer_like == "nothing"


VARIANTS: dict[str, tuple[Callable[[Path], Path], str, tuple[str, ...]]] = {
    "offer_fetched": (
        tls_variants.offer_fetched,
        OFFER_FETCHED,
        ("then a plain-HTTP GET of CPE.nbt (frame 36", "like an answer offering a file"),
    ),
    "nothing_offered": (
        tls_variants.nothing_offered,
        NOTHING_OFFERED,
        ("like an answer offering nothing", "no firmware GET followed"),
    ),
    "phone_alert": (
        tls_variants.phone_alert,
        REJECTED,
        ("client sent an alert (type encrypted) in frame 23", "the phone closed it (FIN"),
    ),
    "server_reset": (
        tls_variants.server_reset,
        REJECTED,
        ("reset (RST, frame 24)", "reset before the server answered"),
    ),
    "cut": (
        tls_variants.cut,
        UNDECIDED,
        ("still open when the capture ended (cut)", "capture ended before the server answered"),
    ),
    "offer_unfetched": (
        tls_variants.offer_unfetched,
        OFFER_UNFETCHED,
        ("like an answer offering a file", "no firmware GET in the 2 min 0 s"),
    ),
    "offer_then_end": (
        tls_variants.offer_then_end,
        UNDECIDED,
        ("no firmware GET, but the capture ended",),
    ),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_outcome_and_its_basis(name: str, tmp_path: Path) -> None:
    build, outcome, facts = VARIANTS[name]
    device = _device(build(tmp_path / f"{name}.pcap"))
    (item,) = device.encrypted_checkins
    assert item.outcome == outcome
    basis = "; ".join(item.basis)
    for fact in facts:
        assert fact in basis, basis
    assert item.conclusive == (outcome != UNDECIDED)


def test_sign_in_and_decrypted_connections_are_not_check_ins() -> None:
    device = _device(PCAPS / "https-healthy.pcap")
    conn = device.tls[0]
    assert checkin_connections([conn], set()) == [conn]
    sign_in = replace(
        conn,
        client_hello=replace(conn.client_hello, sni="lyncdiscoverinternal.contoso.com")
        if conn.client_hello
        else None,
    )
    assert checkin_connections([sign_in], set()) == []
    assert checkin_connections([replace(conn, decryption="decrypted")], set()) == []
    assert checkin_connections([replace(conn, outcome="failed")], set()) == []
    # The certificate provisioning host is the sign-in's when an update name was reached too.
    web = replace(
        conn,
        client_hello=replace(conn.client_hello, sni="ocs.contoso.com")
        if conn.client_hello
        else None,
    )
    assert checkin_connections([conn, web], {"ocs.contoso.com"}) == [conn]
    assert checkin_connections([web], {"ocs.contoso.com"}) == [web]


def test_a_download_after_the_next_check_in_is_not_this_one_s(tmp_path: Path) -> None:
    device = _device(PCAPS / "https-healthy.pcap")
    first = device.encrypted_checkins[0].connection
    second = device.encrypted_checkins[1].connection
    late = [d for d in device.downloads if d.ts > second.ts]
    assert late
    item = infer(first, late, second.ts, None)
    assert item.downloads == () and item.outcome != OFFER_FETCHED


def test_the_ladder_shows_each_encrypted_check_in_once() -> None:
    device = _device(PCAPS / "https-healthy.pcap")
    steps = [s for s in device.timeline if s.details.get("inferred")]
    assert [s.frame for s in steps] == [26, 92, 160]  # each answer's last record
    assert all(
        s.stage == "checkin" and "(inferred without decryption" in step_summary(s) for s in steps
    )
    assert "offered nothing" in step_summary(steps[-1]) and "3.5.6907.0" in step_summary(steps[1])
    decrypted = _device(PCAPS / "https-healthy.pcap", "https-healthy.key.pem")
    assert not any(s.details.get("inferred") for s in decrypted.timeline)
