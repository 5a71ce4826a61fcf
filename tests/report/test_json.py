import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import GOOD_OPTION43, healthy_boot, write_dhcp_ack_capture
from hypothesis import given, settings
from hypothesis import strategies as st
from locations import lab_captures

from capinspect.cli import main
from capinspect.expectations import Expectations
from capinspect.pipeline import analyze_frames, analyze_paths, evaluate
from capinspect.report.json import dumps, report_document, timeline_document, write_report
from capinspect.report.json_values import iso
from capinspect.report.text import clock


def test_times_no_calendar_can_show_stay_epoch_seconds() -> None:
    # A bit flip in a record header gave a year 57985 timestamp; rendering must not crash.
    assert iso(1.8e12) == "1800000000000.000000"
    assert iso(1e300) is not None and clock(1e300)
    assert iso(0.0) == "1970-01-01T00:00:00.000000Z"


def test_report_document_is_json_and_versioned() -> None:
    report = evaluate(healthy_boot().analysis(), Expectations())
    doc = json.loads(dumps(report_document(report)))
    assert doc["schema"] == "capinspect/report@1"
    device = doc["devices"][0]
    assert device["verdict"] == "pass"
    assert device["checkins"][0]["response_fields"]["server_version"] == "3.5.6907.0"
    assert {c["stage"] for c in device["coverage"]} == {"dhcp", "dns", "checkin"}
    timeline = timeline_document(report.analysis, tuple(d.session for d in report.devices))
    assert timeline["schema"] == "capinspect/timeline@1" and "verdict" not in timeline["devices"][0]


def test_control_characters_from_the_capture_are_escaped_in_json() -> None:
    from factories import Capture, checkin

    cap = Capture(http=[checkin(30, 1003.0, "1.0\x1b[2J.5")])
    text = dumps(report_document(evaluate(cap.analysis(), Expectations())))
    assert "\x1b" not in text and "\\u001b" in text


def test_dumps_escapes_c1_and_bidi_characters_from_the_capture() -> None:
    # Found by tests/test_output_safety.py: json.dumps(ensure_ascii=False) left 0x9b (CSI)
    # and bidi overrides raw for the terminal that shows the document.
    import json

    from capinspect.report.json import dumps

    value = "a\x1b[2J\x9b31m\u202egnp.exe\u2066\u200fé"
    text = dumps({"host": value})
    assert not any(c in text for c in "\x1b\x9b\u202e\u2066\u200f")
    assert "é" in text and json.loads(text) == {"host": value}


@pytest.mark.parametrize("path", lab_captures()[:6], ids=lambda p: p.name)
def test_streamed_report_is_the_document_to_the_byte(path: Path) -> None:
    report = evaluate(analyze_paths([str(path)]), Expectations())
    extra = {"logs": {"note": "\u202e after the devices", "rows": [1, 2]}}
    for added in (None, extra):
        out = io.StringIO()
        write_report(report, out, added)
        assert out.getvalue() == dumps({**report_document(report), **(added or {})})


def test_streamed_report_without_devices() -> None:
    report = evaluate(analyze_frames([]), Expectations())
    out = io.StringIO()
    write_report(report, out)
    assert out.getvalue() == dumps(report_document(report))
    assert json.loads(out.getvalue())["devices"] == []


def test_binary_dhcp_values_are_exact_hex_never_half_escaped(tmp_path: Path) -> None:
    # Sub-option 4 (port) sent as the 16-bit number 443 (01 BB) instead of the text "443".
    capture = tmp_path / "binary-port.pcap"
    option43 = GOOD_OPTION43.replace(b"\x04\x03443", b"\x04\x02\x01\xbb")
    write_dhcp_ack_capture(str(capture), option43, domain=b"contoso\x01.com")
    for command in ("analyze", "timeline"):
        result = CliRunner().invoke(main, [command, "--format", "json", str(capture)])
        assert result.exit_code in (0, 1, 4), result.output
        assert "\\\\x" not in result.stdout and "\\u0001" not in result.stdout
        doc = json.loads(result.stdout)
        ack = doc["devices"][0]["dhcp"][0]["messages"][1]["message"]
        o43 = ack["option43"]
        assert o43["web_server_port"] is None and o43["hex"] == {"web_server_port": "01bb"}
        assert o43["url"] is None  # a URL with a port that is not text is not a URL
        assert o43["web_server_fqdn"] == "ocs.contoso.com" and o43["url_scheme"] == "https"
        port = next(s for s in o43["suboptions"] if s["code"] == 4)
        assert (port["text"], port["raw_hex"]) == (None, "01bb")
        domain = next(o for o in ack["options"] if o["code"] == 15)
        assert (domain["value"], domain["raw_hex"]) == (None, b"contoso\x01.com".hex())
    # Text values are unchanged.
    write_dhcp_ack_capture(str(capture), GOOD_OPTION43)
    doc = json.loads(
        CliRunner().invoke(main, ["timeline", "--format", "json", str(capture)]).stdout
    )
    o43 = doc["devices"][0]["dhcp"][0]["messages"][1]["message"]["option43"]
    assert (o43["web_server_port"], o43["hex"]) == ("443", {})
    assert o43["url"] == "https://ocs.contoso.com:443/CertProv/CertProvisioningService.svc"


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda x: x == 0 or 1e-4 <= abs(x) < 1e16
    )
    | st.text(st.characters(blacklist_categories=("Cs",)))
)
_JSON_DOCUMENTS = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(st.dictionaries(st.text(), _JSON_DOCUMENTS, max_size=5))
@settings(max_examples=300, deadline=None)
def test_dumps_writes_what_the_standard_library_writes(document: dict[str, object]) -> None:
    # orjson is used for speed; for everything a report holds the text must not change.
    expected = json.dumps(document, indent=2, ensure_ascii=False)
    assert dumps(document) == dumps_escaped(expected)


def dumps_escaped(text: str) -> str:
    from capinspect.report.json import _TERMINAL_UNSAFE

    return _TERMINAL_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text) + "\n"


def test_what_orjson_refuses_is_written_by_the_standard_library() -> None:
    document = {"by_code": {53: "DHCP Message Type"}, "big": 2**70}
    assert json.loads(dumps(document)) == {"by_code": {"53": "DHCP Message Type"}, "big": 2**70}
