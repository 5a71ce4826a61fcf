"""The DHCP option and vendor sub-option tables: names as Wireshark shows them, unknown codes."""

from __future__ import annotations

from capinspect.protocols.dhcp.options import (
    OPTIONS,
    RELAY_AGENT_SUBOPTIONS,
    VENDOR_CPE_OCPHONE,
    VENDOR_MS_UC_CLIENT,
    option_kind,
    option_name,
    vendor_suboption_name,
)


def test_known_options_have_wiresharks_names_and_a_kind() -> None:
    assert option_name(43) == "Vendor-Specific Information"
    assert option_name(60) == "Vendor class identifier"
    assert option_kind(53) == "u8"
    assert option_kind(6) == "ipv4-list"


def test_unknown_options_are_binary_and_named_by_number() -> None:
    assert 224 not in OPTIONS
    assert option_name(224) == "Option 224"
    assert option_kind(224) == "binary"


def test_every_table_entry_has_a_name_and_a_kind() -> None:
    for code, (name, kind) in OPTIONS.items():
        assert 0 < code < 255 and name and kind, code
    assert RELAY_AGENT_SUBOPTIONS[1] == "Agent Circuit ID"


def test_vendor_suboptions_depend_on_the_vendor_class_in_any_case() -> None:
    assert vendor_suboption_name(VENDOR_MS_UC_CLIENT, 3) == "Web Server FQDN"
    assert vendor_suboption_name("ms-uc-client", 5) == "Cert Prov Relative Path"
    assert vendor_suboption_name(VENDOR_CPE_OCPHONE, 10) == "VLAN ID"
    # Sub-option 10 is not MS-UC-Client's; no vendor class names nothing.
    assert vendor_suboption_name(VENDOR_MS_UC_CLIENT, 10) == "Sub-option 10"
    assert vendor_suboption_name(None, 1) == "Sub-option 1"
