"""The HTML ticket report: self-contained, inert against hostile captures, readable in Chromium."""

from __future__ import annotations

import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from locations import PCAPS

from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.html import render_html
from capinspect.report.model import Report

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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name in ("src", "href", "xlink:href", "action", "formaction", "data", "poster"):
                if not (value or "").startswith("#"):
                    self.external.append(f"{tag} {name}={value}")


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
    assert "script" not in found.tags and "img" not in found.tags and "iframe" not in found.tags
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
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(found.tags)
    assert "@import" not in document and "url(http" not in document
    assert document.count("<svg") == 4 and document.count("<details") == 4
    assert "Content-Security-Policy" in document
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
    assert document.count('<details class="phone"') == 20
    assert " open>" not in document  # collapsed: the table of contents leads to each phone
    assert document.count('<li><a href="#phone-') == 20


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_it_offline_without_console_errors(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    page.write_text(render_html(report_of(PCAPS / "multi-phone.pcapng")), encoding="utf-8")
    shot = tmp_path / "report.png"
    common = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
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
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Boot ladder" in dom.stdout and "<svg" in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
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
