from pathlib import Path

import pytest

from capinspect.errors import ConfigError
from capinspect.expectations import (
    Expectations,
    TargetFirmware,
    dump_expectations,
    load_expectations,
)


def test_round_trip_through_toml(tmp_path: Path) -> None:
    expect = Expectations(
        sip_domain="contoso.com",
        server_version="3.5.6907.0",
        ucupdates_addresses=("10.0.0.5",),
        test_devices=("00:21:63:0f:20:7b",),
        target_firmware=(TargetFirmware("Polycom", "CX700", "3.5.6907.207"),),
    )
    path = tmp_path / "expect.toml"
    path.write_text(dump_expectations(expect, "made by a test"))
    loaded = load_expectations(str(path))
    assert loaded.sip_domain == "contoso.com"
    assert loaded.server_version == "3.5.6907.0"
    assert loaded.ucupdates_addresses == ("10.0.0.5",)
    assert loaded.target_for("polycom", "CX700") == TargetFirmware(
        "Polycom", "CX700", "3.5.6907.207"
    )
    assert loaded.is_test_device("00-21-63-0F-20-7B")
    assert not loaded.is_test_device("00:21:63:0f:20:7c")
    assert path.read_text().startswith("# made by a test")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sip_domian = 'x'", "unknown key"),
        ("server_version = 3", "must be a string"),
        ("test_devices = 'aa'", "list of strings"),
        ("[[target_firmware]]\nmodel = 'CX700'\nversion = 'latest'", "needs a version"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "expect.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_expectations(str(path))
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such expectations file"):
        load_expectations(str(tmp_path / "nope.toml"))
