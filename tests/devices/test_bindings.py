"""Address bindings: which MAC held an IP when, and MACs written every way phones write them."""

from __future__ import annotations

import pytest

from capinspect.devices.bindings import AddressBindings, normalise_mac


@pytest.mark.parametrize(
    "text",
    [
        "0021630F207B",
        "00-21-63-0F-20-7B",
        "00:21:63:0f:20:7b",
        "0021.630f.207b",
        " 00:21:63:0F:20:7B ",
    ],
)
def test_every_spelling_of_a_mac_is_one_mac(text: str) -> None:
    assert normalise_mac(text) == "00:21:63:0f:20:7b"


@pytest.mark.parametrize(
    "text", [None, "", "0021630F207", "0021630F207B00", "00:21:63:0g:20:7b", "ucphone-0021630F207B"]
)
def test_what_is_not_a_mac_is_none(text: str | None) -> None:
    assert normalise_mac(text) is None


def test_the_binding_in_force_at_a_time() -> None:
    bindings = AddressBindings()
    bindings.add("10.20.0.23", "00:21:63:00:00:01", 100.0, "dhcp-ack")
    bindings.add("10.20.0.23", "00:21:63:00:00:02", 500.0, "arp")
    bindings.add("10.20.0.23", "00:21:63:00:00:03", 300.0, "checkin")  # added out of order
    assert bindings.lookup("10.20.0.23", 50.0) == "00:21:63:00:00:01"  # held from before
    assert bindings.lookup("10.20.0.23", 100.0) == "00:21:63:00:00:01"
    assert bindings.lookup("10.20.0.23", 299.9) == "00:21:63:00:00:01"
    assert bindings.lookup("10.20.0.23", 300.0) == "00:21:63:00:00:03"
    assert bindings.lookup("10.20.0.23", 10_000.0) == "00:21:63:00:00:02"
    assert bindings.lookup("10.20.0.99", 300.0) is None


def test_unspecified_addresses_bind_nothing() -> None:
    bindings = AddressBindings()
    for ip in ("", "0.0.0.0", "::"):
        bindings.add(ip, "00:21:63:00:00:01", 1.0, "dhcp-inform")
    assert bindings.by_ip == {}
