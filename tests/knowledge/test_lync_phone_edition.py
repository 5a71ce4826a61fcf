from capinspect.knowledge.firmware import is_lync_phone_edition, parse_version
from capinspect.knowledge.lync_phone_edition import (
    DIFFERENCES,
    EDITION,
    LPE_BUILDS,
    LPE_MODELS,
    SERVER_SUPPORT,
    edition,
    lpe_build,
    lpe_model,
)
from capinspect.knowledge.phone import phone_oui


def test_every_lpe_model_of_the_issue_is_in_the_table() -> None:
    names = {(m.vendor, m.model) for m in LPE_MODELS if m.family == "Aries"}
    assert names == {
        ("Polycom", "CX500"),
        ("Polycom", "CX600"),
        ("Polycom", "CX3000"),
        ("Aastra", "6721ip"),
        ("Aastra", "6725ip"),
        ("HP", "4110"),
        ("HP", "4120"),
    }


def test_unpublished_checkin_strings_stay_unknown() -> None:
    # No source shows what an Aries phone sends in its check-in: nothing may be made up.
    for row in LPE_MODELS:
        if row.family == "Aries":
            assert (row.checkin_vendor, row.checkin_model, row.checkin_revision) == (None,) * 3
        assert row.source
    hp = [m for m in LPE_MODELS if m.vendor == "HP"]
    assert hp and all(m.registers_as is None and m.mac_prefix is None for m in hp)


def test_models_are_found_by_name_or_by_registration_strings() -> None:
    cx600 = lpe_model("POLYCOM", "CX600")
    assert cx600 is not None and cx600.vendor == "Polycom" and cx600.family == "Aries"
    assert lpe_model("polycom", "cx600") is cx600
    assert lpe_model("Aastra", "6725IP") is not None
    assert lpe_model("Polycom", "VVX500") is None and lpe_model(None, None) is None


def test_mac_prefixes_agree_with_the_phone_oui_table() -> None:
    for row in LPE_MODELS:
        if row.mac_prefix is not None:
            oui = phone_oui(row.mac_prefix + ":00:00:01")
            assert oui is not None, row


def test_builds_are_lync_phone_edition_and_in_version_order() -> None:
    versions = [parse_version(b.version) for b in LPE_BUILDS]
    assert all(v is not None and is_lync_phone_edition(v) for v in versions)
    assert versions == sorted(versions)  # type: ignore[type-var]
    cu7 = [b.version for b in LPE_BUILDS if b.release.startswith("CU7")]
    assert cu7 == ["4.0.7577.4363", "4.0.7577.4366", "4.0.7577.4372"]
    cu8 = lpe_build("4.0.7577.4387")
    assert cu8 is not None and cu8.release == "CU8"
    assert lpe_build((4, 0, 7577, 4463)) is not None
    assert lpe_build("3.5.6907.0") is None and lpe_build(None) is None


def test_server_support_minimums_are_published_builds() -> None:
    for row in SERVER_SUPPORT:
        if row.minimum is not None:
            assert lpe_build(row.minimum) is not None, row
    by_server = {row.server: row for row in SERVER_SUPPORT}
    assert by_server["Lync Server 2013"].minimum == "4.0.7577.4363"
    assert by_server["Lync Server 2010"].minimum is None


def test_differences_cover_the_wire() -> None:
    aspects = {d.aspect for d in DIFFERENCES}
    assert {"DHCP", "sign-in", "time", "check-in", "user agent"} <= aspects


def test_edition_follows_the_firmware_then_the_model() -> None:
    assert edition("Polycom", "CX700", "4.0.7577.4100") == EDITION  # a Tanjay phone on LPE
    assert edition("Polycom", "CX700", "3.5.6907.0") is None
    assert edition("Polycom", "CX700", None) is None  # runs either: nothing can be said
    assert edition("Aastra", "6725ip", None) == EDITION  # an Aries phone runs nothing else
    assert edition(None, None, "4.0.7577.4387") == EDITION
    assert edition(None, None, None) is None
