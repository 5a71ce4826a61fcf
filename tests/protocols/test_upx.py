"""Check-in bodies: the lab's dialects exactly, tolerant spellings, and hostile XML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamfeed import JUNK, split_at, tr, with_junk

from capinspect.limits import Limits
from capinspect.protocols.checkin import CheckinRequest, CheckinResponse, FirmwareModule
from capinspect.protocols.upx import (
    checkin_path_kind,
    is_checkin_path,
    parse_checkin_request,
    parse_checkin_response,
)

REQUEST_A = (
    b'<?xml version="1.0" encoding="utf-8"?><Request><DeviceType>UCPhone</DeviceType>'
    b"<MacAddress>0021630F207B</MacAddress><SerialNumber>C185H001209</SerialNumber>"
    b"<Vendor>LG-Nortel</Vendor><Model>IP8540</Model><Revision>A</Revision><Locale>ENU</Locale>"
    b'<UserName>ruisilva@demo.local</UserName><Modules><Module FileName="cpe.nbt" '
    b'Version="1.0.522.34" TimeStamp="01-01-1601 00:00:00"/></Modules></Request>'
)
REQUEST_B = (
    b'<ucDeviceRequest device-type="UCPhone" mac_address="00-21-63-0F-20-7B" '
    b'serial="C184P006102" brand="Polycom" model="CX700" rev="A" language="ENU"><installed '
    b'file="CPE.nbt" ver="1.0.452.0" timestamp="01-01-1601 00:00:00"/></ucDeviceRequest>'
)
RESPONSE_A = (
    b"<Response><ServerVersion>3.5.6907.0</ServerVersion><ServiceVersion>3.5.6907.0"
    b"</ServiceVersion><UpdatesServerInternalUrl>https://ocs.contoso.com/RequestHandler/"
    b"ucdevice.upx</UpdatesServerInternalUrl><UpdatesServerExternalUrl>https://ocsext.contoso.com"
    b'/RequestHandlerExt/ucdevice.upx</UpdatesServerExternalUrl><Downloads Count="1"><File '
    b'Name="CPE.nbt" Version="1.0.522.103" TimeStamp="16-12-2008 04:43:58" '
    b'InternalUrl="http://ocs.contoso.com/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt" '
    b'ExternalUrl="https://ocsext.contoso.com/DeviceUpdateFiles_Ext/OCInterim/ENU/CPE.nbt"/>'
    b"</Downloads></Response>"
)
RESPONSE_A_NONE = (
    b"<Response><ServerVersion>3.5.6907.0</ServerVersion><ServiceVersion>3.5.6907.0"
    b'</ServiceVersion><Downloads Count="0"/></Response>'
)
RESPONSE_B = (
    b'<?xml version="1.0" ?><Response>Server Version=3.5.6907.0\r\nService Version=3.5.6907.0\n'
    b"UpdatesServerInternalUrl=https://ocs.contoso.com/RequestHandler/ucdevice.upx\n"
    b"downloads=0</Response>"
)


def test_paths() -> None:
    assert is_checkin_path("/RequestHandler/ucdevice.upx")
    assert is_checkin_path("/requestHandler/UCDEVICE.UPX?x=1")
    assert not is_checkin_path("/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt")
    assert checkin_path_kind("/requestHandler/ucdevice.upx") == "RequestHandler"
    assert checkin_path_kind("/RequestHandlerExt/ucdevice.upx") == "RequestHandlerExt"
    assert checkin_path_kind("/UCDeviceUpdates/ucdevice.upx") == "UCDeviceUpdates"
    assert checkin_path_kind("/elsewhere/ucdevice.upx") == "other"
    assert checkin_path_kind("/RequestHandler/other.aspx") == "other"


def test_request_dialect_a_exact() -> None:
    request = parse_checkin_request(REQUEST_A)
    assert request.problems == ()
    assert (request.device_type, request.mac, request.serial) == (
        "UCPhone",
        "0021630F207B",
        "C185H001209",
    )
    assert (request.vendor, request.model, request.revision, request.locale) == (
        "LG-Nortel",
        "IP8540",
        "A",
        "ENU",
    )
    assert request.user == "ruisilva@demo.local"
    assert request.modules == (FirmwareModule("cpe.nbt", "1.0.522.34", "01-01-1601 00:00:00"),)
    assert request.firmware_version == "1.0.522.34"
    assert ("Request/Modules/Module@Version", "1.0.522.34") in request.fields


def test_request_dialect_b_exact() -> None:
    request = parse_checkin_request(REQUEST_B)
    assert request.problems == ()
    assert request.mac == "00-21-63-0F-20-7B"  # as sent; the lead normalises
    assert (request.device_type, request.serial, request.vendor, request.model) == (
        "UCPhone",
        "C184P006102",
        "Polycom",
        "CX700",
    )
    assert (request.revision, request.locale, request.user) == ("A", "ENU", None)
    assert request.modules == (FirmwareModule("CPE.nbt", "1.0.452.0", "01-01-1601 00:00:00"),)


def test_response_dialect_a_exact() -> None:
    response = parse_checkin_response(RESPONSE_A, Limits())
    assert response.problems == ()
    assert (response.server_version, response.service_version, response.downloads) == (
        "3.5.6907.0",
        "3.5.6907.0",
        1,
    )
    assert response.internal_update_url == "https://ocs.contoso.com/RequestHandler/ucdevice.upx"
    assert response.external_update_url == (
        "https://ocsext.contoso.com/RequestHandlerExt/ucdevice.upx"
    )
    assert response.files == (
        FirmwareModule(
            "CPE.nbt",
            "1.0.522.103",
            "16-12-2008 04:43:58",
            internal_url="http://ocs.contoso.com/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt",
            external_url="https://ocsext.contoso.com/DeviceUpdateFiles_Ext/OCInterim/ENU/CPE.nbt",
        ),
    )


def test_response_dialect_a_no_update() -> None:
    response = parse_checkin_response(RESPONSE_A_NONE, Limits())
    assert response.downloads == 0 and response.files == () and response.problems == ()


def test_response_dialect_b_exact() -> None:
    response = parse_checkin_response(RESPONSE_B, Limits())
    assert response.problems == ()
    assert (response.server_version, response.service_version, response.downloads) == (
        "3.5.6907.0",
        "3.5.6907.0",
        0,
    )
    assert response.internal_update_url == "https://ocs.contoso.com/RequestHandler/ucdevice.upx"
    assert response.external_update_url is None
    assert ("Response/Server Version", "3.5.6907.0") in response.fields


def test_namespaces_nesting_and_child_elements() -> None:
    body = (
        b'<u:Envelope xmlns:u="urn:x"><u:Body><u:Device><u:Mac-Address>0021630F207B'
        b"</u:Mac-Address><u:SN>S1</u:SN><u:Manufacturer>Polycom</u:Manufacturer></u:Device>"
        b"<u:Files><u:Component><u:Name>CPE.nbt</u:Name><u:Ver>1.0</u:Ver></u:Component>"
        b"</u:Files></u:Body></u:Envelope>"
    )
    request = parse_checkin_request(body)
    assert (request.mac, request.serial, request.vendor) == ("0021630F207B", "S1", "Polycom")
    assert request.modules == (FirmwareModule("CPE.nbt", "1.0", None),)


def test_offered_file_by_url_only_and_counted() -> None:
    body = (
        b"<r><files><download><url>http://h/DeviceUpdateFiles_Int/x/CPE.nbt</url></download>"
        b"<download><url>http://h/DeviceUpdateFiles_Int/x/CPE.cat</url></download></files></r>"
    )
    response = parse_checkin_response(body)
    assert [f.file_name for f in response.files] == ["CPE.nbt", "CPE.cat"]
    assert response.downloads == 2


def test_form_and_plain_text_bodies() -> None:
    form = parse_checkin_request(b"device_type=UCPhone&MacAddress=00%3A21&model=CX+700")
    assert (form.device_type, form.mac, form.model) == ("UCPhone", "00:21", "CX 700")
    text = parse_checkin_response(b"Server Version: 3.5.6907.0\nDownloads: 0\n")
    assert (text.server_version, text.downloads) == ("3.5.6907.0", 0)


def test_utf16_and_latin1_bodies() -> None:
    utf16 = '<?xml version="1.0" encoding="utf-16"?><R><Model>CX700</Model></R>'.encode("utf-16")
    assert parse_checkin_request(utf16).model == "CX700"
    latin = b"<R><UserName>jos\xe9</UserName></R>"
    request = parse_checkin_request(latin)
    assert request.user == "jos\xe9"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Request><Model>&lol3;</Model></Request>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Request><Model>&x;</Model></Request>"""


def test_entity_bombs_and_external_entities_refused() -> None:
    for body in (BILLION_LAUGHS, XXE):
        request = parse_checkin_request(body)
        assert request.problems and "unsafe XML refused" in request.problems[0]
        assert request.model is None and request.fields == ()
        response = parse_checkin_response(body)
        assert response.problems and response.fields == ()


def test_size_depth_and_field_caps() -> None:
    limits = Limits(max_xml_bytes=1000, max_xml_depth=10, max_xml_fields=5)
    huge = b"<R>" + b"<Model>x</Model>" * 100 + b"</R>"
    assert "over the 1000-byte limit" in parse_checkin_request(huge, limits).problems[0]
    deep = b"<a>" * 50 + b"<Model>deep</Model>" + b"</a>" * 50
    request = parse_checkin_request(deep, limits)
    assert request.model is None and "deeper than 10" in request.problems[0]
    many = b"<R>" + b"".join(b"<F%d>v</F%d>" % (i, i) for i in range(20)) + b"</R>"
    request = parse_checkin_request(many, limits)
    assert len(request.fields) == 5 and "more than 5 fields" in request.problems[0]


def test_not_xml_not_text() -> None:
    assert parse_checkin_request(b"").problems == ("empty body",)
    assert (
        parse_checkin_request(b"<Request><Model>x</Request>")
        .problems[0]
        .startswith("not well-formed XML")
    )


@given(st.binary(max_size=300))
def test_random_bytes_never_raise(body: bytes) -> None:
    parse_checkin_request(body)
    parse_checkin_response(body)
    parse_checkin_request(b"<R>" + body + b"</R>")
    parse_checkin_response(b"<?xml version='1.0'?><R a='" + body + b"'/>")


@given(st.text(max_size=200))
def test_random_text_never_raises(text: str) -> None:
    for encoding in ("utf-8", "utf-16"):
        parse_checkin_request(text.encode(encoding, "replace"))
        parse_checkin_response(("<R>" + text + "</R>").encode(encoding, "replace"))


_VALUES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"),
    max_size=20,
)


@pytest.mark.parametrize(
    ("parse", "body"),
    [
        (parse_checkin_request, REQUEST_A),
        (parse_checkin_request, REQUEST_B),
        (parse_checkin_response, RESPONSE_A),
        (parse_checkin_response, RESPONSE_B),
    ],
    ids=["request-a", "request-b", "response-a", "response-b"],
)
@pytest.mark.parametrize("junk", [JUNK, b"\x00", b"<second/>"], ids=["junk", "nul", "element"])
def test_bytes_after_the_document_are_noted_and_the_fields_kept(
    parse: Callable[[bytes], CheckinRequest | CheckinResponse], body: bytes, junk: bytes
) -> None:
    # A check-in body is whole when the HTTP reader hands it over: only the junk case applies.
    clean, after = with_junk(parse, body, junk)
    assert clean.problems == ()
    assert after.fields == clean.fields
    assert replace(after, problems=()) == clean
    count = len(junk.decode("latin-1"))
    noun = "character" if count == 1 else "characters"
    assert after.problems[0].startswith(f"{count} {noun} after the XML document ignored (line ")


def test_junk_inside_the_document_is_not_cut_away() -> None:
    body = REQUEST_A.replace(b"</Request>", b"")
    parsed = parse_checkin_request(body + b"junk")
    assert parsed.fields == () and parsed.problems[0].startswith("not well-formed XML")


@given(_VALUES, _VALUES, st.sampled_from([b"", b"\r\n", b"\n\n  \t", b"<!-- end -->"]),
       st.lists(st.integers(min_value=0, max_value=600), max_size=6))  # fmt: skip
def test_checkin_same_whole_byte_by_byte_and_with_trailing_junk(
    model: str, version: str, junk: bytes, cuts: list[int]
) -> None:
    from xml.sax.saxutils import escape, quoteattr

    from capinspect.protocols.http.parser import HttpMessageReader

    body = (
        f"<Request><Model>{escape(model)}</Model><Modules>"
        f"<Module FileName='cpe.nbt' Version={quoteattr(version)}/></Modules></Request>"
    ).encode()
    whole = parse_checkin_request(body)
    assert parse_checkin_request(body + junk) == whole
    data = (
        b"POST /RequestHandler/ucdevice.upx HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )
    # The body as the HTTP reader cuts it, whole, a byte at a time and followed by junk.
    fed = tr(
        lambda: HttpMessageReader("request"),
        lambda reader, chunk, n: reader.feed(chunk, n, float(n)),
        data,
        view=lambda messages: [parse_checkin_request(m.body.data) for m in messages],
    )
    assert fed.whole == [whole]
    reader = HttpMessageReader("request")
    messages = [m for n, piece in enumerate(split_at(data, cuts)) for m in reader.feed(piece, n, 0)]
    assert len(messages) == 1 and parse_checkin_request(messages[0].body.data) == whole
