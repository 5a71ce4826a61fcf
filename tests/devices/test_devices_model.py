"""The devices stage's values: durations for people, a download's outcome, other clients."""

from __future__ import annotations

import pytest
from factories import SERVER_IP, checkin, healthy_boot, http

from capinspect.devices import build_population
from capinspect.devices.model import ClientActivity, Download, OtherClient, seconds
from capinspect.expectations import DEFAULT_EXPECTATIONS


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.0123, "12 ms"), (0.9994, "999 ms"), (3.44, "3.4 s"), (119.9, "119.9 s"),
     (138.0, "2 min 18 s"), (3600.0, "60 min 0 s")],
)  # fmt: skip
def test_seconds_for_people(value: float, shown: str) -> None:
    assert seconds(value) == shown


def _download(status: int | None, complete: bool) -> Download:
    exchange = http(40, 1004.0, "GET", "/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt")
    return Download(
        exchange, "http://ocs/CPE.nbt", "CPE.nbt", status, None, None, 10, 10, complete, 0.5
    )


def test_a_download_is_ok_only_when_whole_and_200() -> None:
    assert _download(200, True).ok
    assert not _download(200, False).ok
    assert not _download(404, True).ok
    assert not _download(None, True).ok
    done = _download(200, True)
    assert (done.frame, done.ts) == (40, 1004.0)


def test_other_client_first_frame() -> None:
    seen = OtherClient("10.1.1.1", None, ("10.1.1.1",), (ClientActivity(7, 1.0, "DNS"),), 1)
    assert seen.first_frame == 7
    assert OtherClient("10.1.1.2", None, (), (), 0).first_frame == 0


def test_a_healthy_boot_becomes_one_session_with_its_timeline() -> None:
    population = build_population(healthy_boot().analysis(), DEFAULT_EXPECTATIONS)
    (phone,) = population.phones
    assert phone.mac == "00:21:63:0f:20:7b" and phone.checkins and not phone.downloads
    assert phone.first_ts <= phone.last_ts
    stages = [step.stage for step in phone.timeline]
    assert stages.index("dhcp") < stages.index("dns") < stages.index("checkin")
    assert population.other_clients == () and population.phones_dropped == 0
    assert checkin(30, 1003.0, "3.5.6907.0").request.path.endswith("ucdevice.upx")
    assert SERVER_IP in {ex.flow.server_ip for ex in (c.exchange for c in phone.checkins)}
