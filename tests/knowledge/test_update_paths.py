"""The update-file path layouts, read on the article's own paths."""

from __future__ import annotations

from capinspect.knowledge.update_paths import LAYOUTS, read_update_path


def test_the_articles_approved_build_path() -> None:
    read = read_update_path(
        "/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/CPE.nbt"
    )
    assert read is not None and read.layout.name == "update"
    assert read.values == (
        ("device_type", "UCPhone"),
        ("vendor", "LG-Nortel"),
        ("model", "IP8540"),
        ("revision", "A"),
        ("locale", "ENU"),
        ("version", "3.5.6907.0"),
    )


def test_the_interim_path_names_only_a_locale() -> None:
    read = read_update_path("/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt")
    assert read is not None and read.layout.name == "interim"
    assert read.values == (("locale", "ENU"),)
    assert read.get("version") is None


def test_external_vdir_case_and_escapes() -> None:
    read = read_update_path(
        "/deviceupdatefiles_ext/UCPhone/Polycom/CX700%20/A/ENU/3.5.6907.207/CPE/CPE.nbt"
    )
    assert (
        read is not None
        and read.get("model") == "CX700 "
        and read.get("version") == ("3.5.6907.207")
    )


def test_paths_in_no_layout_say_nothing() -> None:
    assert read_update_path("/RequestHandler/ucdevice.upx") is None
    assert read_update_path("/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU") is None
    assert read_update_path("/DeviceUpdateFiles_Int/OCInterim/ENU") is None
    assert read_update_path("/files/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/CPE.nbt") is None


def test_every_layout_reads_its_own_example() -> None:
    for layout in LAYOUTS:
        read = read_update_path(layout.example)
        assert read is not None and read.layout is layout, layout.name
        assert layout.source
