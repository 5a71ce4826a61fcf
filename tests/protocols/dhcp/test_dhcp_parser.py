"""parse_dhcp, decode_option43 and decode_option120 on protocol.md §1.2 byte literals, scapy-built
messages, the Zeek corpus (agreeing with tshark field by field) and random bytes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from factories import GOOD_OPTION43, dhcp_bytes
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import BOOTP, DHCP, UDP, rdpcap
from streamfeed import with_junk

from capinspect.errors import Malformed
from capinspect.protocols.dhcp import parser as dhcp_parser
from capinspect.protocols.dhcp.messages import ACK, INFORM, shown, value_text
from capinspect.protocols.dhcp.parser import decode_option43, decode_option120, parse_dhcp

CORPUS = Path("/work/shared/corpus/zeek-traces")
CERT_PATH = b"/CertProv/CertProvisioningService.svc"

# protocol.md §1.2 worked example (DHCPUtil output, source S9): 90 bytes.
OPTION43_WORKED = (
    b"\x01\x0cMS-UC-Client"
    b"\x02\x05https"
    b"\x03\x17server.fqdn.company.com"
    b"\x04\x03443"
    b"\x05\x25" + CERT_PATH
)
OPTION120_WORKED = b"\x00\x06server\x04fqdn\x07company\x03com\x00"


def _option43_with_fqdn(fqdn: bytes) -> bytes:
    return (
        b"\x01\x0cMS-UC-Client\x02\x05https\x03"
        + bytes([len(fqdn)])
        + fqdn
        + b"\x04\x03443\x05\x25"
        + CERT_PATH
    )


# --- option 43 --------------------------------------------------------------------------------


def test_worked_example_option43_decodes_every_suboption() -> None:
    assert len(OPTION43_WORKED) == 90
    decoded = decode_option43(OPTION43_WORKED, "MS-UC-Client")
    assert decoded.complete and decoded.problems == ()
    assert [s.code for s in decoded.suboptions] == [1, 2, 3, 4, 5]
    assert [s.name for s in decoded.suboptions] == [
        "UC Identifier",
        "URL Scheme",
        "Web Server FQDN",
        "Web Server Port",
        "Cert Prov Relative Path",
    ]
    assert decoded.uc_identifier == "MS-UC-Client"
    assert decoded.web_server_port == "443"
    assert decoded.cert_prov_path == CERT_PATH.decode()
    assert decoded.url == "https://server.fqdn.company.com:443/CertProv/CertProvisioningService.svc"


def test_option43_cut_at_90_bytes_by_a_cisco_router_is_incomplete() -> None:
    # A 41-character FQDN pushes sub-option 5 past the 90 bytes Cisco IOS keeps (protocol.md).
    cut = _option43_with_fqdn(b"lyncpool1.frontend.internal.contoso.local")[:90]
    decoded = decode_option43(cut, "MS-UC-Client")
    assert not decoded.complete
    assert decoded.problems == (
        "sub-option 5 announces 37 bytes but only 19 remain: option 43 looks cut (90 bytes)",
    )
    assert decoded.web_server_fqdn == "lyncpool1.frontend.internal.contoso.local"
    assert decoded.cert_prov_path is None
    assert decoded.url == "https://lyncpool1.frontend.internal.contoso.local:443"


def test_dnsmasq_order_pads_and_end_byte_are_complete() -> None:
    # dnsmasq writes sub-options in its own order, and may add 0x00 pads and a final 0xFF.
    raw = (
        b"\x05\x25" + CERT_PATH + b"\x04\x03443\x00\x03\x0bpool.lab.lo"
        b"\x02\x05https\x01\x0cMS-UC-Client\xff"
    )
    decoded = decode_option43(raw, None)
    assert decoded.complete and decoded.problems == ()
    assert decoded.vendor_class == "MS-UC-Client"  # guessed from sub-option 1
    assert decoded.url == "https://pool.lab.lo:443/CertProv/CertProvisioningService.svc"


def test_bytes_after_the_end_byte_make_it_incomplete() -> None:
    decoded = decode_option43(b"\x01\x01x\xff\x02\x01y", "MS-UC-Client")
    assert not decoded.complete
    assert "follow the end marker" in decoded.problems[0]


def test_missing_length_byte_is_a_problem() -> None:
    decoded = decode_option43(b"\x01\x01x\x02", "MS-UC-Client")
    assert not decoded.complete
    assert decoded.problems == ("sub-option 2 has no length byte: option 43 looks cut (4 bytes)",)


def test_cpe_ocphone_vlan_suboption_shown_as_sent() -> None:
    ascii_vlan = decode_option43(b"\x0a\x03100", "CPE-OCPHONE")
    assert ascii_vlan.vlan_id == "100"
    assert ascii_vlan.suboptions[0].name == "VLAN ID"
    binary_vlan = decode_option43(b"\x0a\x02\x00\x64", None)
    assert binary_vlan.vendor_class == "CPE-OCPHONE"  # a lone sub-option 10
    assert binary_vlan.vlan_id == "00 64 (hex)" and binary_vlan.binary == ("vlan_id",)


def test_unknown_vendor_class_gets_generic_names_and_no_fields() -> None:
    decoded = decode_option43(b"\x01\x03abc", "Cisco AP c1140")
    assert decoded.suboptions[0].name == "Sub-option 1"
    assert decoded.uc_identifier is None


# --- option 120 -------------------------------------------------------------------------------


def test_worked_example_option120() -> None:
    decoded = decode_option120(OPTION120_WORKED)
    assert decoded.encoding == 0
    assert decoded.names == ("server.fqdn.company.com",)
    assert decoded.problems == ()


def test_option120_compression_pointer_relative_to_name_list() -> None:
    raw = OPTION120_WORKED + b"\x02fe\xc0\x07"  # "fe" + pointer to "fqdn.company.com"
    assert decode_option120(raw).names == ("server.fqdn.company.com", "fe.fqdn.company.com")


def test_option120_pointer_loop_and_out_of_range_are_problems() -> None:
    looped = decode_option120(b"\x00\x01a\xc0\x00")
    assert looped.names == () and looped.problems
    out_of_range = decode_option120(b"\x00\x03sip\x00\xc0\x40")
    assert out_of_range.names == ("sip",) and out_of_range.problems


def test_option120_ipv4_encoding() -> None:
    assert decode_option120(b"\x01\x0a\x00\x00\x01\x0a\x00\x00\x02").addresses == (
        "10.0.0.1",
        "10.0.0.2",
    )
    odd = decode_option120(b"\x01\x0a\x00\x00\x01\x0a")
    assert odd.addresses == ("10.0.0.1",)
    assert "not a multiple of 4" in odd.problems[0]


@pytest.mark.parametrize("raw", [b"", b"\x02abc", b"\x01", b"\x00"])
def test_option120_empty_unknown_or_bare_encodings_are_problems(raw: bytes) -> None:
    assert decode_option120(raw).problems


# --- whole messages ---------------------------------------------------------------------------


def _inform(*extra: tuple[str, object] | str) -> bytes:
    options: list[tuple[str, object] | str] = [
        ("message-type", "inform"),
        ("vendor_class_id", b"MS-UC-Client"),
        ("param_req_list", [1, 3, 6, 15, 43, 120]),
        *extra,
        "end",
    ]
    packet = BOOTP(op=1, xid=0x1234ABCD, chaddr=bytes.fromhex("0004f2aabbcc"), ciaddr="10.1.2.3")
    return bytes(packet / DHCP(options=options))


def test_inform_from_a_lync_phone() -> None:
    msg = parse_dhcp(_inform())
    assert msg.msg_type == INFORM and msg.type_name == "DHCPINFORM"
    assert msg.xid == 0x1234ABCD
    assert msg.chaddr == "00:04:f2:aa:bb:cc"
    assert msg.ciaddr == "10.1.2.3"
    assert msg.vendor_class == "MS-UC-Client"
    assert msg.requested_options == (1, 3, 6, 15, 43, 120)
    assert msg.anomalies == ()


def test_repeated_option_areas_are_decoded_once_and_headers_stay_per_message() -> None:
    # A PC renewing: the same options, a new xid and address each time.
    before = dhcp_parser._decode_options_memo.cache_info()
    messages = [
        parse_dhcp(
            bytes(
                BOOTP(op=1, xid=xid, chaddr=bytes.fromhex("0004f2aabbcc"), ciaddr=ciaddr)
                / DHCP(options=[("message-type", "inform"), ("hostname", b"pc-7"), "end"])
            )
        )
        for xid, ciaddr in ((1, "10.1.2.3"), (2, "10.1.2.4"), (3, "10.1.2.5"))
    ]
    after = dhcp_parser._decode_options_memo.cache_info()
    assert [(m.xid, m.ciaddr) for m in messages] == [
        (1, "10.1.2.3"),
        (2, "10.1.2.4"),
        (3, "10.1.2.5"),
    ]
    assert all(m.option(12) is not None and m.option(12).value == "pc-7" for m in messages)
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 2


def test_ack_with_options_43_and_120() -> None:
    packet = BOOTP(op=2, xid=7, chaddr=bytes.fromhex("0004f2aabbcc")) / DHCP(
        options=[
            ("message-type", "ack"),
            ("server_id", "10.1.0.1"),
            ("subnet_mask", "255.255.255.0"),
            ("router", "10.1.2.1"),
            ("name_server", "10.1.0.53", "10.1.0.54"),
            ("domain", b"contoso.com\x00"),
            (43, OPTION43_WORKED),
            (120, OPTION120_WORKED),
            "end",
        ]
    )
    msg = parse_dhcp(bytes(packet))
    assert msg.msg_type == ACK
    assert msg.server_id == "10.1.0.1"
    assert msg.domain_name == "contoso.com"
    assert msg.option(6) is not None and msg.option(6).value == ["10.1.0.53", "10.1.0.54"]
    assert msg.option(3) is not None and msg.option(3).name == "Router"
    assert msg.option43 is not None and msg.option43.complete
    assert msg.option43.vendor_class == "MS-UC-Client"  # guessed: the ACK has no option 60
    assert msg.option120 is not None and msg.option120.names == ("server.fqdn.company.com",)


def test_long_option_pieces_are_concatenated_rfc3396() -> None:
    msg = parse_dhcp(_inform((43, OPTION43_WORKED[:40]), (43, OPTION43_WORKED[40:])))
    assert msg.option43 is not None and msg.option43.raw == OPTION43_WORKED
    assert msg.option43.complete
    assert [o.code for o in msg.options].count(43) == 1


def test_overloaded_file_field_holds_more_options() -> None:
    packet = BOOTP(op=2, xid=9, file=b"\x0f\x0bcontoso.com\xff") / DHCP(
        options=[("message-type", "ack"), (52, b"\x01"), "end"]
    )
    msg = parse_dhcp(bytes(packet))
    assert msg.domain_name == "contoso.com"
    assert msg.file == ""


def test_truncated_option_keeps_earlier_options() -> None:
    payload = _inform()
    end = payload.rindex(b"\xff")
    cut = payload[:end] + b"\x0f\x20contoso"  # option 15 announces 32 bytes, 7 follow
    msg = parse_dhcp(cut)
    assert msg.vendor_class == "MS-UC-Client"
    assert [a.code for a in msg.anomalies] == ["dhcp.option-truncated"]
    assert "announces 32 bytes but only 7 remain" in msg.anomalies[0].detail


def test_bytes_after_end_are_ignored() -> None:
    msg = parse_dhcp(_inform() + b"\x0f\x03abc" + b"\x00" * 20)
    assert msg.option(15) is None and msg.anomalies == ()


def test_missing_end_is_reported() -> None:
    payload = _inform()
    msg = parse_dhcp(payload[: payload.rindex(b"\xff")])
    assert [a.code for a in msg.anomalies] == ["dhcp.option-end-missing"]


def test_bad_cookie_gives_no_options_and_an_anomaly() -> None:
    payload = bytearray(_inform())
    payload[236:240] = b"\x00\x00\x00\x00"
    msg = parse_dhcp(bytes(payload))
    assert msg.options == () and msg.msg_type is None
    assert msg.type_name == "BOOTREQUEST"
    assert [a.code for a in msg.anomalies] == ["dhcp.bad-cookie"]


def test_wrong_option_lengths_give_none_and_an_anomaly() -> None:
    msg = parse_dhcp(_inform((1, b"\xff\xff\xff"), (51, b"\x00\x01")))
    assert msg.option(1) is not None and msg.option(1).value is None
    assert [a.code for a in msg.anomalies] == ["dhcp.option-bad-length"] * 2


def test_cut_option43_in_a_message_is_an_anomaly() -> None:
    cut = _option43_with_fqdn(b"lyncpool1.frontend.internal.contoso.local")[:90]
    msg = parse_dhcp(_inform((43, cut)))
    assert [a.code for a in msg.anomalies] == ["dhcp.option43-truncated"]


def test_value_kinds() -> None:
    msg = parse_dhcp(
        _inform(
            (2, b"\xff\xff\xb9\xb0"),
            (61, b"\x01\x00\x04\xf2\xaa\xbb\xcc"),
            (119, b"\x07contoso\x03com\x00\x03lab\xc0\x00"),
            (121, b"\x18\x0a\x01\x02\x0a\x01\x00\x01"),
            (81, b"\x05\x00\x00\x05phone\x07contoso\x03com\x00"),
            (82, b"\x01\x02\xab\xcd"),
            (99, b"\x01\x02"),
        )
    )
    values = {o.code: o.value for o in msg.options}
    assert values[2] == -18000
    assert values[61] == "01:00:04:f2:aa:bb:cc"
    assert values[119] == ["contoso.com", "lab.contoso.com"]
    assert values[121] == ["10.1.2.0/24 via 10.1.0.1"]
    assert values[81] == "phone.contoso.com"
    assert values[82] == ["Agent Circuit ID: abcd"]
    assert values[99] == "0102" and msg.option(99) is not None
    assert msg.option(99).name == "Option 99"
    assert msg.anomalies == ()


def test_short_payload_is_malformed() -> None:
    with pytest.raises(Malformed):
        parse_dhcp(b"\x01" * 235)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_give_a_message_or_malformed(data: bytes) -> None:
    try:
        parse_dhcp(data)
    except Malformed:
        assert len(data) < 236


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_random_option_area_never_raises(options: bytes) -> None:
    payload = _inform()[:240] + options
    msg = parse_dhcp(payload)
    assert msg.xid == 0x1234ABCD


@settings(max_examples=300)
@given(st.data())
def test_mutated_inform_never_raises(data: st.DataObject) -> None:
    payload = bytearray(_inform((43, OPTION43_WORKED), (120, OPTION120_WORKED)))
    for _ in range(data.draw(st.integers(1, 8))):
        index = data.draw(st.integers(236, len(payload) - 1))
        payload[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(236, len(payload)))
    parse_dhcp(bytes(payload[:cut]))


@given(st.binary(max_size=120), st.one_of(st.none(), st.sampled_from(["MS-UC-Client", "x"])))
def test_random_option43_and_option120_never_raise(raw: bytes, vendor: str | None) -> None:
    decode_option43(raw, vendor)
    decode_option120(raw)


# --- corpus, against tshark -------------------------------------------------------------------

CORPUS_FILES = sorted(CORPUS.glob("dhcp_*.pcap*")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS_FILES, reason="zeek corpus not present")


def _udp_payloads(path: Path) -> list[tuple[int, bytes]]:
    return [(i, bytes(p[UDP].payload)) for i, p in enumerate(rdpcap(str(path)), 1) if UDP in p]


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_dhcp_parses_without_exception(path: Path) -> None:
    payloads = _udp_payloads(path)
    assert payloads
    for _, payload in payloads:
        parse_dhcp(payload)


TSHARK_FIELDS = (
    "frame.number",
    "dhcp.option.dhcp",
    "dhcp.id",
    "dhcp.hw.mac_addr",
    "dhcp.ip.your",
    "dhcp.option.subnet_mask",
    "dhcp.option.router",
    "dhcp.option.domain_name_server",
    "dhcp.option.domain_name",
    "dhcp.option.ip_address_lease_time",
    "dhcp.option.dhcp_server_id",
    "dhcp.option.request_list_item",
    "dhcp.option.vendor_class_id",
    "dhcp.client_id.type",
    "dhcp.option.sip_server.name",
)


def _tshark_rows(path: Path) -> dict[int, dict[str, str]]:
    args = ["tshark", "-r", str(path), "-Y", "dhcp", "-T", "fields", "-E", "separator=\t"]
    for name in TSHARK_FIELDS:
        args += ["-e", name]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        cells = dict(zip(TSHARK_FIELDS, line.split("\t"), strict=True))
        rows[int(cells["frame.number"])] = cells
    return rows


def _option_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


@pytest.mark.tshark
@needs_corpus
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_dhcp_agrees_with_tshark(path: Path) -> None:
    rows = _tshark_rows(path)
    assert rows
    for frame, payload in _udp_payloads(path):
        if frame not in rows:
            continue
        expected = rows[frame]
        msg = parse_dhcp(payload)
        values = {o.code: o.value for o in msg.options}
        assert _option_text(msg.msg_type) == expected["dhcp.option.dhcp"], frame
        assert msg.xid == int(expected["dhcp.id"], 16)
        assert msg.chaddr == expected["dhcp.hw.mac_addr"].split(",")[0]
        assert msg.yiaddr == expected["dhcp.ip.your"]
        for code, field in (
            (1, "dhcp.option.subnet_mask"),
            (3, "dhcp.option.router"),
            (6, "dhcp.option.domain_name_server"),
            (15, "dhcp.option.domain_name"),
            (51, "dhcp.option.ip_address_lease_time"),
            (54, "dhcp.option.dhcp_server_id"),
            (55, "dhcp.option.request_list_item"),
            (60, "dhcp.option.vendor_class_id"),
        ):
            assert _option_text(values.get(code)) == expected[field], (frame, code)
        client_id = values.get(61)
        if isinstance(client_id, str) and client_id.startswith("01:"):
            # tshark shows an Ethernet client id as a second hardware address
            assert expected["dhcp.hw.mac_addr"].split(",")[1] == client_id[3:]
        else:
            client_id_type = str(int(client_id[:2], 16)) if isinstance(client_id, str) else ""
            assert client_id_type == expected["dhcp.client_id.type"]
        names = msg.option120.names if msg.option120 else ()
        assert ",".join(names) == expected["dhcp.option.sip_server.name"]


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_option120_names_agree_with_tshark(tmp_path: Path) -> None:
    from scapy.all import IP, Ether, wrpcap

    option120 = OPTION120_WORKED + b"\x02fe\xc0\x07"
    ack = BOOTP(op=2, xid=7, chaddr=bytes.fromhex("0004f2aabbcc")) / DHCP(
        options=[("message-type", "ack"), (120, option120), "end"]
    )
    frame = Ether() / IP(src="10.1.0.1", dst="10.1.2.3") / UDP(sport=67, dport=68) / ack
    path = tmp_path / "option120.pcap"
    wrpcap(str(path), [frame])
    rows = _tshark_rows(path)
    decoded = parse_dhcp(bytes(ack)).option120
    assert decoded is not None
    assert ",".join(decoded.names) == rows[1]["dhcp.option.sip_server.name"]


@settings(max_examples=200)
@given(st.binary(max_size=64))
def test_trailing_junk_after_end_changes_no_option(junk: bytes) -> None:
    payload = _inform((43, OPTION43_WORKED), (120, OPTION120_WORKED))
    whole = parse_dhcp(payload)
    with_junk = parse_dhcp(payload + junk)
    assert with_junk.options == whole.options
    assert with_junk.option43 == whole.option43 and with_junk.option120 == whole.option120


@pytest.mark.parametrize(
    ("raw", "text", "display"),
    [
        (b"443", "443", "443"),
        (b"contoso.com\x00", "contoso.com", "contoso.com"),  # NUL-terminated by many stacks
        ("müller.example".encode(), "müller.example", "müller.example"),
        (b"\x01\xbb", None, "01 BB (hex)"),  # 443 as a 16-bit number: not text
        (b"ab\x1b[2Jcd", None, "61 62 1B 5B 32 4A 63 64 (hex)"),
        (b"\xff\xfe", None, "FF FE (hex)"),
    ],
)
def test_values_are_text_or_hex_never_a_mix(raw: bytes, text: str | None, display: str) -> None:
    assert value_text(raw) == text
    assert shown(raw) == display
    assert "\\x" not in shown(raw)


def test_option43_binary_port_keeps_its_bytes_and_says_so() -> None:
    raw = GOOD_OPTION43.replace(b"\x04\x03443", b"\x04\x02\x01\xbb")
    decoded = decode_option43(raw, "MS-UC-Client")
    assert decoded.complete
    assert decoded.web_server_port == "01 BB (hex)" and decoded.binary == ("web_server_port",)
    assert decoded.field_raw("web_server_port") == b"\x01\xbb"
    port = next(s for s in decoded.suboptions if s.code == 4)
    assert (port.text, port.raw, port.hex) == (None, b"\x01\xbb", "01bb")
    assert decoded.url is not None and ":01 BB (hex)/" in decoded.url
    # A text option that is not text: option 15 as bytes.
    msg = parse_dhcp(dhcp_bytes(5, options=[(15, b"\x01\xbb")]))
    assert msg.domain_name == "01 BB (hex)"


def test_bytes_after_the_end_option_are_padding() -> None:
    # One datagram is one message (not incremental): only streamfeed's junk case applies.
    # RFC 2131 lets a message be padded after END; whatever follows it is not read.
    payload = dhcp_bytes(INFORM, options=[(60, b"MS-UC-Client"), (43, GOOD_OPTION43)])
    clean, after = with_junk(parse_dhcp, payload)
    assert after == clean and not clean.anomalies
    assert after.option43 is not None and after.option43.complete
