"""knowledge/checkin_sizes.py: the reference answers are what the decrypted lab capture holds."""

from __future__ import annotations

from locations import PCAPS

from capinspect.devices import build_devices
from capinspect.knowledge.checkin_sizes import (
    NOTHING,
    OFFER,
    REFERENCE_ANSWERS,
    answer_like,
    size_boundary,
)
from capinspect.model import Direction
from capinspect.pipeline import analyze_paths
from capinspect.protocols.tls.keys import load_tls_keys


def test_reference_answers_are_the_decrypted_lab_answers() -> None:
    keys = load_tls_keys([str(PCAPS / "https-healthy.key.pem")], None, None)
    analysis = analyze_paths([str(PCAPS / "https-healthy.pcap")], tls_keys=keys)
    (device,) = build_devices(analysis)
    assert len(device.tls) == len(device.checkins) == len(REFERENCE_ANSWERS)
    for ref, conn, checkin in zip(REFERENCE_ANSWERS, device.tls, device.checkins, strict=True):
        assert conn.app_bytes_to_client == ref.http_bytes
        response = checkin.exchange.response
        assert response is not None and response.body.size == ref.body_bytes
        assert bool(checkin.offered) == ref.offers
        frames = tuple(r.frame for r in conn.app_records if r.direction == Direction.TO_CLIENT)
        assert frames == ref.frames
        assert "pcaps/https-healthy.pcap" in ref.source


def test_boundary_separates_offers_from_nothing() -> None:
    boundary = size_boundary()
    for ref in REFERENCE_ANSWERS:
        expected = OFFER if ref.offers else NOTHING
        assert answer_like(ref.http_bytes, ref.http_bytes) == expected
    assert answer_like(int(boundary) - 10, int(boundary) + 10) is None
