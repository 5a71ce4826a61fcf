"""The HTML ticket report: self-contained, inert against hostile captures, readable in Chromium."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from locations import PCAPS

from capinspect.checks.base import Verdict
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.html import SORT_SCRIPT, render_html
from capinspect.report.model import Report, verdict_rank

PHONE_MAC = "00:04:f2:aa:bb:cc"
SERVER_MAC = "00:15:5d:00:00:05"
PHONE_IP = "10.1.1.50"
SERVER_IP = "10.1.1.5"

HOSTILE_MODEL = "<script>alert(1)</script>"
HOSTILE_VENDOR = "[x](http://evil)"
HOSTILE_REVISION = "![i](http://evil/i.png)"
HOSTILE_HOST = "ocs`x`|y|<b>.contoso.com"
HOSTILE_AGENT = 'Microsoft UCPhone Device <img src="http://evil/i.png" onerror="alert(1)">'
HOSTILE_DNS = "ucupdates-r2.con|toso.com"


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hostile_capture(path: Path) -> Path:
    """A phone whose DHCP, DNS and check-in values try to inject markup into reports."""
    from scapy.all import (  # slow to import: only when a test builds a capture
        BOOTP,
        DHCP,
        DNS,
        DNSQR,
        DNSRR,
        IP,
        TCP,
        UDP,
        Ether,
        wrpcap,
    )

    mac = bytes.fromhex(PHONE_MAC.replace(":", ""))
    opt43 = (
        b"\x01\x0cMS-UC-Client\x02\x05https\x03"
        + bytes([len(b"ocs<i>x</i>.contoso.com")])
        + b"ocs<i>x</i>.contoso.com\x04\x03443\x05\x25/CertProv/CertProvisioningService.svc"
    )
    phone = Ether(src=PHONE_MAC, dst=SERVER_MAC)
    server = Ether(src=SERVER_MAC, dst=PHONE_MAC)
    frames = [
        Ether(src=PHONE_MAC, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=PHONE_IP, dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(op=1, xid=0x55, chaddr=mac, ciaddr=PHONE_IP)
        / DHCP(
            options=[
                ("message-type", "inform"),
                ("vendor_class_id", b"MS-UC-Client"),
                ("param_req_list", [43, 120, 15]),
                "end",
            ]
        ),
        server
        / IP(src=SERVER_IP, dst=PHONE_IP)
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, xid=0x55, chaddr=mac, ciaddr=PHONE_IP)
        / DHCP(
            options=[
                ("message-type", "ack"),
                ("server_id", SERVER_IP),
                ("vendor_class_id", b"MS-UC-Client"),
                (43, opt43),
                ("domain", b"con[t](o)so.com"),
                "end",
            ]
        ),
        phone
        / IP(src=PHONE_IP, dst=SERVER_IP)
        / UDP(sport=5353, dport=53)
        / DNS(id=7, rd=1, qd=DNSQR(qname=HOSTILE_DNS)),
        server
        / IP(src=SERVER_IP, dst=PHONE_IP)
        / UDP(sport=53, dport=5353)
        / DNS(
            id=7,
            qr=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname=HOSTILE_DNS),
            an=DNSRR(rrname=HOSTILE_DNS, rdata=SERVER_IP, ttl=60),
        ),
    ]
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Request><DeviceType>UCPhone</DeviceType>'
        "<MacAddress>0004F2AABBCC</MacAddress><SerialNumber>SN|`x`</SerialNumber>"
        f"<Vendor>{_xml_escape(HOSTILE_VENDOR)}</Vendor><Model>{_xml_escape(HOSTILE_MODEL)}</Model>"
        f"<Revision>{_xml_escape(HOSTILE_REVISION)}</Revision><Locale>ENU</Locale>"
        "<UserName>mallory@contoso.com</UserName><Modules>"
        '<Module FileName="cpe.nbt" Version="1.0.522.101" TimeStamp="16-12-2008 04:43:58"/>'
        "</Modules></Request>"
    ).encode()
    request = (
        f"POST /RequestHandler/ucdevice.upx HTTP/1.1\r\nHost: {HOSTILE_HOST}\r\n"
        f"User-Agent: {HOSTILE_AGENT}\r\nContent-Type: text/xml\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    answer = (
        b'<Response><ServerVersion>3.5.6907.0</ServerVersion><Downloads Count="1">'
        b'<File Name="CPE.nbt" Version="3.5.6907.0" TimeStamp="16-12-2008 04:43:58" '
        b'InternalUrl="http://evil/x.nbt?&lt;script&gt;alert(1)&lt;/script&gt;"/>'
        b"</Downloads></Response>"
    )
    response = (
        f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nServer: <iframe src=//evil>\r\n"
        f"Content-Length: {len(answer)}\r\n\r\n"
    ).encode() + answer
    c, s = 1000, 5000
    cp, sp = 49152, 80
    frames += [
        phone / IP(src=PHONE_IP, dst=SERVER_IP) / TCP(sport=cp, dport=sp, flags="S", seq=c),
        server
        / IP(src=SERVER_IP, dst=PHONE_IP)
        / TCP(sport=sp, dport=cp, flags="SA", seq=s, ack=c + 1),
        phone
        / IP(src=PHONE_IP, dst=SERVER_IP)
        / TCP(sport=cp, dport=sp, flags="A", seq=c + 1, ack=s + 1),
        phone
        / IP(src=PHONE_IP, dst=SERVER_IP)
        / TCP(sport=cp, dport=sp, flags="PA", seq=c + 1, ack=s + 1)
        / request,
        server
        / IP(src=SERVER_IP, dst=PHONE_IP)
        / TCP(sport=sp, dport=cp, flags="PA", seq=s + 1, ack=c + 1 + len(request))
        / response,
        phone
        / IP(src=PHONE_IP, dst=SERVER_IP)
        / TCP(sport=cp, dport=sp, flags="FA", seq=c + 1 + len(request), ack=s + 1 + len(response)),
    ]
    for number, frame in enumerate(frames):
        frame.time = 1_700_000_000 + number * 0.01
    wrpcap(str(path), frames)
    return path


def report_of(*paths: Path | str) -> Report:
    return evaluate(analyze_paths([str(p) for p in paths]), DEFAULT_EXPECTATIONS)


class _Audit(HTMLParser):
    """Every tag, and every attribute that could run or fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[str] = []
        self.external: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "script":
            self._in_script = True
            self.scripts.append("")
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name in ("src", "href", "xlink:href", "action", "formaction", "data", "poster"):
                if not (value or "").startswith("#"):
                    self.external.append(f"{tag} {name}={value}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def audit(document: str) -> _Audit:
    parser = _Audit()
    parser.feed(document)
    parser.close()
    return parser


def test_hostile_capture_values_land_as_text(tmp_path: Path) -> None:
    report = report_of(hostile_capture(tmp_path / "hostile.pcap"))
    assert report.devices, "the crafted phone must be analysed, else the test proves nothing"
    document = render_html(report)
    found = audit(document)
    assert found.scripts == [SORT_SCRIPT]  # capinspect's own, and nothing from the capture
    assert "img" not in found.tags and "iframe" not in found.tags
    assert "i" not in found.tags and "b" not in found.tags
    assert found.handlers == []
    assert found.external == []
    # The hostile values are there, as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "[x](http://evil)" in document
    assert "con|toso.com" in document


def test_multi_phone_report_is_self_contained() -> None:
    document = render_html(report_of(PCAPS / "multi-phone.pcapng"))
    found = audit(document)
    assert found.external == [] and found.handlers == []
    assert not {"link", "img", "iframe", "object", "embed"} & set(found.tags)
    assert "@import" not in document and "url(http" not in document
    assert document.count("<svg") == 4 and document.count("<details") == 4
    # The one inline script is allowed by its hash and by nothing else.
    assert found.scripts == [SORT_SCRIPT]
    digest = base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', document)
    assert csp is not None
    directives = dict(d.strip().split(" ", 1) for d in csp.group(1).split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == f"'sha256-{digest}'"
    # Failing phones first and open; passing phones collapsed.
    heads = re.findall(r'<details class="phone is-(\w+)" id="phone-\d+"( open)?>', document)
    assert [v for v, _ in heads] == ["fail", "fail", "pass", "pass"]
    assert [bool(o) for _, o in heads] == [True, True, False, False]
    # The failing steps are marked in the ladder.
    assert 'stroke="#c53030"' in document
    assert "download.acl-denied" in document and "checkin.legacy-path-missing" in document


def test_twenty_phone_report_stays_small_and_collapsed(tmp_path: Path) -> None:
    capture = tmp_path / "twenty.pcap"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.generate",
            "--phones",
            "20",
            "--packets",
            "20k",
            "-o",
            str(capture),
        ],
        check=True,
        capture_output=True,
        cwd=PCAPS.parent,
    )
    report = report_of(capture)
    assert len(report.devices) == 20
    document = render_html(report)
    assert len(document.encode()) < 2 * 1024 * 1024
    heads = re.findall(r'<details class="phone is-(\w+)" id="phone-(\d+)"( open)?>', document)
    assert len(heads) == 20
    # Only what must be acted on is open; the overview table leads to every phone.
    assert all(bool(o) == (v in ("fail", "warn")) for v, _, o in heads)
    assert [int(n) for _, n, _ in heads] == list(range(1, 21))
    assert document.count('<td><a href="#phone-') == 20


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_args(profile: Path) -> list[str]:
    assert CHROMIUM is not None
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        # No network: every host resolves nowhere, so a fetch would fail (and log) here.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
    ]


def png_left_columns(data: bytes, columns: int) -> tuple[int, list[list[tuple[int, int, int]]]]:
    """The image width and, per row, the RGB of its first ``columns`` pixels.

    A PNG reader just big enough for Chromium's screenshots (8-bit RGB or RGBA, not
    interlaced): zlib for the data, the five row filters undone for the left part of each row
    only (a filter looks at the byte to the left and above, never to the right)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * bpp
    keep = min(columns, width) * bpp
    previous = bytearray(keep)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + keep])
        for x in range(keep):
            left = line[x - bpp] if x >= bpp else 0
            up = previous[x]
            corner = previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                best = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + best) & 0xFF
        rows.append([tuple(line[i : i + 3]) for i in range(0, keep, bpp)])  # type: ignore[misc]
        previous = line
    return width, rows


FAIL_RGB = (0xC5, 0x30, 0x30)
"""The FAIL colour of the HTML report (badge background, a failing phone's left border)."""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_two_hundred_phones_first_failing_phone_is_on_the_first_screen(
    tmp_path: Path, bench_report: Report
) -> None:
    document = render_html(bench_report)
    size = len(document.encode())
    assert size < 8 * 1024 * 1024, size  # 3.3 MB when written (docs/reports.md)
    page = tmp_path / "report.html"
    page.write_text(document, encoding="utf-8")
    common = chromium_args(tmp_path / "profile")
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert [line for line in dom.stderr.splitlines() if "CONSOLE" in line] == []
    # In the DOM Chromium built: the first open phone fails, and comes before any passing one.
    heads = re.findall(r'<details class="phone is-(\w+)" id="phone-(\d+)"( open="")?>', dom.stdout)
    assert len(heads) == 200
    first_open = next(index for index, (_, _, o) in enumerate(heads) if o)
    first_pass = next(index for index, (v, _, _) in enumerate(heads) if v == "pass")
    assert heads[first_open][0] == "fail" and first_open == 0 < first_pass
    assert not any(o for v, _, o in heads if v == "pass")
    ranks = [verdict_rank(Verdict(v)) for v, _, _ in heads]
    assert ranks == sorted(ranks)
    # On screen (1280x900): the failing phone's section has a red left border; find it in the
    # screenshot's left margin (the overview's FAIL badges are far to the right of it).
    shot = tmp_path / "first-screen.png"
    snap = subprocess.run(
        [*common, "--window-size=1280,900", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert snap.returncode == 0, snap.stderr[-2000:]
    width, rows = png_left_columns(shot.read_bytes(), columns=60)
    assert width == 1280 and len(rows) == 900
    red_rows = [
        y
        for y, row in enumerate(rows)
        if any(all(abs(a - b) <= 4 for a, b in zip(px, FAIL_RGB, strict=True)) for px in row)
    ]
    assert len(red_rows) >= 40, "no failing phone's section in the first screen"
    assert red_rows[0] > 200  # below the title and the start of the overview


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_it_offline_without_console_errors(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(report_of(PCAPS / "multi-phone.pcapng")), encoding="utf-8")
    shot = tmp_path / "report.png"
    common = chromium_args(tmp_path / "profile")
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Boot ladder" in dom.stdout and "<svg" in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    # The CSP let the sort script run: it made each of the overview's 7 column heads sortable.
    assert len(re.findall(r'<th[^>]*title="Sort by this column"', dom.stdout)) == 7
    snap = subprocess.run(
        [*common, "--window-size=1300,2000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert snap.returncode == 0, snap.stderr[-2000:]
    assert [line for line in snap.stderr.splitlines() if "CONSOLE" in line] == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a rendered page, not a blank one
