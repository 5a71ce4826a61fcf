"""Check-in values: which module's version is the phone's firmware."""

from __future__ import annotations

from capinspect.protocols.checkin import CheckinRequest, CheckinResponse, FirmwareModule
from capinspect.protocols.upx import parse_checkin_request


def test_firmware_version_is_the_first_module_that_states_one() -> None:
    request = CheckinRequest(
        modules=(
            FirmwareModule("cpe.nbt", None, None),
            FirmwareModule("cpe.nbt", "1.0.522.34", "01-01-1601 00:00:00"),
            FirmwareModule("other.cab", "9.9", None),
        )
    )
    assert request.firmware_version == "1.0.522.34"
    assert CheckinRequest().firmware_version is None
    assert CheckinRequest(modules=(FirmwareModule("a", "", None),)).firmware_version is None


def test_parsed_request_gives_its_version() -> None:
    body = (
        b"<Request><Modules><Module FileName='cpe.nbt' Version='3.5.6907.0'/></Modules></Request>"
    )
    assert parse_checkin_request(body).firmware_version == "3.5.6907.0"


def test_an_empty_answer_states_nothing() -> None:
    answer = CheckinResponse()
    assert answer.downloads is None and answer.files == () and answer.problems == ()
