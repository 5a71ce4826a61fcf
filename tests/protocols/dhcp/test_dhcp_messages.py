"""DHCP values: how option bytes are shown, what a message and an exchange answer, bindings."""

from __future__ import annotations

from factories import DHCP_IP, GOOD_OPTION43, PHONE_IP, PHONE_MAC, dhcp_bytes, inform, lease, seen

from capinspect.protocols.dhcp.messages import (
    ACK,
    DISCOVER,
    INFORM,
    REQUEST,
    DhcpExchange,
    hex_shown,
    message_bindings,
    shown,
    value_text,
)
from capinspect.protocols.dhcp.parser import decode_option43


def test_value_text_is_text_only_when_every_character_prints() -> None:
    assert value_text(b"contoso.com") == "contoso.com"
    assert value_text(b"contoso.com\x00\x00") == "contoso.com"  # NUL-terminated by many stacks
    assert value_text(b"\x01\xbb") is None
    assert value_text(b"a\x07b") is None  # a control character is not text
    assert value_text(b"\xff\xfe") is None  # not UTF-8
    assert value_text("Señor".encode()) == "Señor"


def test_shown_is_the_text_or_the_hex_never_a_mix() -> None:
    assert shown(b"MS-UC-Client") == "MS-UC-Client"
    assert shown(b"\x01\xbb") == hex_shown(b"\x01\xbb") == "01 BB (hex)"
    assert shown(b"") == ""


def test_message_properties_read_their_options() -> None:
    ack = inform(1, 1.0).messages[1].message
    assert ack.type_name == "DHCPACK" and ack.msg_type == ACK
    assert ack.server_id == DHCP_IP and ack.domain_name == "contoso.com"
    assert ack.vendor_class is None  # option 60 is the client's
    request = inform(1, 1.0).messages[0].message
    assert request.vendor_class == "MS-UC-Client"
    assert request.requested_options == (1, 3, 6, 15, 43, 120)
    assert request.option(99) is None
    bootp = seen(dhcp_bytes(1)[:240], 1, 1.0, from_server=False).message
    assert bootp.msg_type is None and bootp.type_name == "BOOTREQUEST"


def test_unknown_message_type_is_named_by_number() -> None:
    message = seen(dhcp_bytes(42), 1, 1.0, from_server=False).message
    assert message.type_name == "DHCP type 42"


def test_option43_url_and_raw_fields() -> None:
    option = decode_option43(GOOD_OPTION43, "MS-UC-Client")
    assert option.url == "https://ocs.contoso.com:443/CertProv/CertProvisioningService.svc"
    assert option.field_raw("web_server_port") == b"443"
    assert option.field_raw("vlan_id") is None
    no_port = decode_option43(b"\x02\x05https\x03\x0focs.contoso.com", "MS-UC-Client")
    assert no_port.url == "https://ocs.contoso.com"
    assert decode_option43(b"\x03\x0focs.contoso.com", "MS-UC-Client").url is None


def test_exchange_times_frames_types_and_assigned_address() -> None:
    exchange = lease(10, 100.0)
    assert exchange.first_ts == 100.0 and exchange.last_ts == 100.03
    assert exchange.frames == (10, 11, 12, 13)
    assert [s.frame for s in exchange.of_type(REQUEST)] == [12]
    assert exchange.assigned_ip == PHONE_IP
    assert lease(10, 100.0, acked=False).assigned_ip is None
    assert exchange.of_type(DISCOVER)[0].message.msg_type == DISCOVER


def test_bindings_come_from_acks_and_informs_with_an_address() -> None:
    acked = lease(1, 10.0)
    bindings = [b for s in acked.messages for b in message_bindings(s, PHONE_MAC)]
    assert [(b.ip, b.mac, b.how) for b in bindings] == [(PHONE_IP, PHONE_MAC, "dhcp-ack")]
    asked = inform(5, 20.0)
    found = [b for s in asked.messages for b in message_bindings(s, PHONE_MAC)]
    assert [(b.how, b.ts) for b in found] == [("dhcp-inform", 20.0)]
    assert found[0].ip == PHONE_IP and asked.messages[0].message.msg_type == INFORM
    unaddressed = seen(dhcp_bytes(5), 1, 1.0, from_server=True)  # yiaddr 0.0.0.0
    assert message_bindings(unaddressed, PHONE_MAC) == []


def test_an_exchange_of_one_message_has_one_time() -> None:
    only = DhcpExchange(1, PHONE_MAC, "release", (seen(dhcp_bytes(7), 3, 5.0, from_server=False),))
    assert only.first_ts == only.last_ts == 5.0 and only.assigned_ip is None
