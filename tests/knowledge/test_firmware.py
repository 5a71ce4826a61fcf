from capinspect.knowledge.firmware import (
    family_for,
    format_version,
    needs_interim,
    parse_version,
)


def test_versions_compare_numerically_not_as_text() -> None:
    assert parse_version("1.0.522.98") < parse_version("1.0.522.103")  # type: ignore[operator]
    assert parse_version("3.5.6907.0") == (3, 5, 6907, 0)
    assert format_version((1, 0, 522, 34)) == "1.0.522.34"


def test_parse_version_tolerates_noise_and_rejects_nothing_useful() -> None:
    assert parse_version("v1.0.452.0 (CX700)") == (1, 0, 452, 0)
    assert parse_version("") is None
    assert parse_version(None) is None
    assert parse_version("none") is None


def test_interim_rule_from_the_seed() -> None:
    assert needs_interim((1, 0, 522, 34))
    assert needs_interim((1, 0, 452, 0))
    assert not needs_interim((1, 0, 522, 98))
    assert not needs_interim((1, 0, 522, 103))


def test_families_by_model() -> None:
    tanjay = family_for("LG-Nortel", "IP8540")
    assert tanjay is not None and tanjay.newest_known == (3, 5, 6907, 0)
    assert family_for("polycom", "cx700") is tanjay
    dv1 = family_for("Microsoft", "DV1")
    assert dv1 is not None and not dv1.supported
    assert family_for("Aastra", "6725ip") is None
