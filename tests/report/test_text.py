from dataclasses import replace
from pathlib import Path

import pytest
from bundled import CAPTURES, URL, bundled_report
from click.testing import CliRunner
from factories import (
    GOOD_OPTION43,
    Capture,
    checkin,
    healthy_boot,
    lookup,
    write_dhcp_ack_capture,
)
from locations import PCAPS

from capinspect.cli import main
from capinspect.expectations import Expectations
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.protocols.tls.keys import NO_KEYS, load_tls_keys
from capinspect.report.model import Report
from capinspect.report.text import device_label, render_analyze, render_timeline, safe


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


def _printed_urls(report: Report) -> set[str]:
    """Every URL the text report prints: in findings (summary, fix) and verdict notes."""
    texts = [item.verdict.reason for item in report.devices]
    texts += [item.verdict.advice or "" for item in report.devices]
    findings = [f for item in report.devices for f in item.findings] + list(report.capture_findings)
    texts += [safe(f.summary) for f in findings] + [f.remediation for f in findings]
    return {url for text in texts for url in URL.findall(text)}


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name.split(".")[0])
def test_urls_are_never_broken_at_80_columns(capture: Path) -> None:
    """A URL is copied into a browser (the Device Update troubleshooting article's step 5):
    each one the report prints is whole on one line, however narrow the terminal; only such an
    unbreakable word may run past the edge."""
    report = bundled_report(capture)
    lines = render_analyze(report, width=80).splitlines()
    for url in _printed_urls(report):
        assert any(url in line for line in lines), url
    for line in lines:
        assert len(line) <= 80 or len(line.split()) == 1, line
    # The ladder (timeline) never wraps at all: each step is one line, URLs included.
    sessions = tuple(item.session for item in report.devices)
    ladder = render_timeline(report.analysis, sessions, width=80).splitlines()
    for item in report.devices:
        for download in item.session.downloads:
            assert any(download.url in line for line in ladder), download.url


def test_a_long_url_is_not_folded_where_it_is_longer_than_the_line() -> None:
    report = bundled_report(next(c for c in CAPTURES if c.name == "acl-denied.pcap"))
    (url,) = _printed_urls(report)
    assert len(url) > 80 - 9  # longer than the room the finding's column has
    text = render_analyze(report, width=80)
    assert "\n         " + url + "\n" in text  # on a line of its own, at the finding's column
    assert "fix: Give the Everyone group" in text  # the words around it still wrap
    assert max(len(line) for line in text.splitlines() if url not in line) <= 80


def test_other_clients_names_are_never_broken() -> None:
    """A PC's lookup of a long update-service name: the name is whole on one line at 80 columns,
    the table's columns stay aligned."""
    cap = healthy_boot()
    name = "ucupdates-r2." + "a-rather-long-label-of-a-site." * 3 + "contoso.com"
    cap.dns.append(replace(lookup(200, 1100.0, qname=name), client_ip="10.20.0.99"))
    text = render_analyze(evaluate(cap.analysis(), Expectations()), width=80)
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("Host "))
    column = lines[head].index("What it did first")
    assert lines[head + 1].startswith("ip:10.20.0.99") and lines[head + 1][column:] == "DNS A"
    assert lines[head + 2] == " " * column + name + "?"
    assert lines[head + 3].startswith(" " * column + "NOERROR")


@pytest.mark.parametrize(
    ("capture", "label"),
    [
        # Decrypted with the lab key: the check-in names the phone, its firmware is 4.0.7577.x.
        ("lpe-update-rsa", "Aastra 6725ip (Lync Phone Edition)"),
        # An OCPE phone keeps its plain label.
        ("healthy-no-update", "LG-Nortel IP8540"),
    ],
)
def test_device_label_names_lync_phone_edition(capture: str, label: str) -> None:
    key = PCAPS / f"{capture}.key.pem"
    keys = load_tls_keys([str(key)]) if key.exists() else NO_KEYS
    report = evaluate(
        analyze_paths([str(PCAPS / f"{capture}.pcap")], tls_keys=keys), Expectations()
    )
    assert [device_label(item.session) for item in report.devices] == [label]
