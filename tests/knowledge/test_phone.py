"""What a phone looks like (capinspect/knowledge/phone.py), checked against its sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from capinspect.knowledge.phone import (
    PHONE_OUIS,
    is_checkin_path,
    is_phone_user_agent,
    is_phone_vendor_class,
    is_sign_in_name,
    is_update_name,
    looks_like_firmware_path,
    phone_oui,
)


def test_vendor_classes_match_in_any_case() -> None:
    for value in ("MS-UC-Client", "ms-uc-client", "CPE-OCPHONE", "CPE-OCPhone"):
        assert is_phone_vendor_class(value)
    for value in ("MSFT 5.0", "android-dhcp-13", None, ""):
        assert not is_phone_vendor_class(value)


def test_user_agents_names_and_paths_from_the_articles_logs() -> None:
    assert is_phone_user_agent("Microsoft UCPhone Device")
    assert is_phone_user_agent("Microsoft+UCPhone+Device")
    assert not is_phone_user_agent("Mozilla/5.0 (Windows NT 10.0)")
    assert is_update_name("ucupdates-r2.demo.local") and is_update_name("UCUPDATES.demo.local")
    assert not is_update_name("ocs.demo.local")
    assert is_sign_in_name("_sipinternaltls._tcp.contoso.com")
    assert is_sign_in_name("lyncdiscoverinternal.contoso.com")
    assert is_checkin_path("/requestHandler/ucdevice.upx")
    assert is_checkin_path("/UCDeviceUpdates/ucdevice.upx?x=1")
    assert looks_like_firmware_path("/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt")
    assert not looks_like_firmware_path("/DeviceUpdateFiles_Int/OCInterim/ENU/")


def test_the_articles_phone_macs_carry_a_phone_makers_prefix() -> None:
    for mac in ("00:21:63:0f:20:7b", "00:1b:9e:f3:bc:18"):  # LG-Nortel IP8540 in the article
        oui = phone_oui(mac)
        assert oui is not None and "IP8540" in oui.makes
    assert phone_oui("00:04:F2:AA:10:02") is not None
    assert phone_oui("3c:52:82:00:00:99") is None and phone_oui(None) is None


MANUF = Path("/usr/share/wireshark/manuf")


@pytest.mark.skipif(not MANUF.exists(), reason="Wireshark's manuf file is not installed")
def test_every_prefix_is_registered_to_the_holder_named() -> None:
    registry = {}
    for line in MANUF.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and len(parts[0]) == 8:
            registry[parts[0].lower()] = " ".join(parts[1:]).lower()
    for oui in PHONE_OUIS:
        holder = registry.get(oui.prefix, "")
        first_word = oui.holder.split()[0].lower().split("-")[0]
        assert first_word in holder, (oui.prefix, oui.holder, holder)
