from pathlib import Path

from click.testing import CliRunner
from factories import GOOD_OPTION43, Capture, checkin, healthy_boot, write_dhcp_ack_capture

from capinspect.cli import main
from capinspect.expectations import Expectations
from capinspect.pipeline import evaluate
from capinspect.report.text import render_analyze, render_timeline, safe


def test_safe_neutralises_terminal_escapes_and_bidi() -> None:
    hostile = "evil\x1b]2;pwned\x07\x1b[31mred\u202etxt"
    out = safe(hostile)
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b" in out


def test_analyze_output_is_plain_without_color_and_fits_100_columns() -> None:
    report = evaluate(healthy_boot().analysis(), Expectations())
    text = render_analyze(report, color=False, width=100)
    assert "\x1b[" not in text
    assert "00:21:63:0f:20:7b" in text and "PASS" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_hostile_values_from_the_capture_never_reach_the_terminal_raw() -> None:
    cap = Capture(http=[checkin(30, 1003.0, "1.0\x1b[2J.522.34", model="IP85\x1b]0;x\x0740")])
    report = evaluate(cap.analysis(), Expectations())
    for text in (
        render_analyze(report, color=True),
        render_timeline(report.analysis, tuple(d.session for d in report.devices), color=True),
    ):
        assert "\x1b[2J" not in text and "\x1b]0;" not in text and "\x07" not in text


def test_color_only_when_asked() -> None:
    report = evaluate(healthy_boot().analysis(), Expectations())
    assert "\x1b[" in render_analyze(report, color=True)


def test_binary_dhcp_values_show_as_hex_in_the_terminal(tmp_path: Path) -> None:
    capture = tmp_path / "binary-port.pcap"
    option43 = GOOD_OPTION43.replace(b"\x04\x03443", b"\x04\x02\x01\xbb")
    write_dhcp_ack_capture(str(capture), option43)
    for command in ("analyze", "timeline"):
        result = CliRunner().invoke(main, [command, str(capture)])
        assert result.exit_code in (0, 1, 4), result.output
        assert "01 BB (hex)" in result.stdout
        assert "\\x" not in result.stdout and "\\u0001" not in result.stdout
