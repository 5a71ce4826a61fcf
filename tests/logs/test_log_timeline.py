"""The seed's story from its logs alone: one phone, its ladder, the interim step, durations."""

from __future__ import annotations

from pathlib import Path

from capinspect.logs.audit import read_audit_log
from capinspect.logs.iis import read_iis_log
from capinspect.logs.timeline import UNIDENTIFIED, LogEvidence, build_evidence, estimate_offset

FIXTURES = Path(__file__).parent / "fixtures"


def _seed() -> tuple[LogEvidence]:
    evidence = build_evidence(
        [
            read_iis_log(str(FIXTURES / "seed-iis.log")),
            read_iis_log(str(FIXTURES / "seed-acl-denied.txt")),
        ],
        [read_audit_log(str(FIXTURES / "seed-audit.log"))],
    )
    return (evidence,)


def test_seed_logs_give_one_phone_with_every_line() -> None:
    (evidence,) = _seed()
    assert evidence.audit_to_iis == 0.0
    (phone,) = evidence.phones
    assert phone.key == "00:21:63:0f:20:7b"
    assert (phone.vendor, phone.model, phone.locale) == ("LG-Nortel", "IP8540", "ENU")
    assert len(phone.audit) == 3 and len(phone.iis) == 8  # the 500.19 line is its file's


def test_seed_ladder_in_order() -> None:
    (evidence,) = _seed()
    (phone,) = evidence.phones
    ladder = [(s.source, s.stage, s.summary) for s in phone.steps]
    audit = [s for s in ladder if s[0] == "audit-log"]
    assert "nothing installed" in audit[0][2] and "nothing offered" in audit[0][2]
    interim = (
        "offered http://ocs.demo.local/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt 1.0.522.103"
    )
    assert interim in audit[1][2]
    assert "reports 1.0.522.103" in audit[2][2] and "3.5.6907.0" in audit[2][2]
    downloads = [s for s in phone.steps if s.stage == "download" and s.summary.endswith(")")]
    assert [s.details["time_taken_ms"] for s in downloads] == [137810, 170679]
    # each download starts right after the check-in that offered it
    checkins = [s for s in phone.steps if s.source == "audit-log"]
    assert abs(downloads[0].ts - checkins[1].ts) < 1
    assert abs(downloads[1].ts - checkins[2].ts) < 1


def test_lines_without_an_owner_stay_visible() -> None:
    evidence = build_evidence([read_iis_log(str(FIXTURES / "comment19-iis.txt"))], [])
    (phone,) = evidence.phones
    assert phone.key == UNIDENTIFIED and len(phone.iis) == 2


def test_offset_estimate_ignores_scattered_candidates() -> None:
    pairs = [(0.0, 3600.2), (10.0, 3610.4), (20.0, 3620.3), (0.0, 3610.0), (10.0, 3620.1)]
    found = estimate_offset(pairs)
    assert found is not None
    assert abs(found[0] - 3600.3) < 0.2 and found[1] == 3
    assert estimate_offset([]) is None
