"""Nothing from the capture reaches the terminal raw: a crafted capture through the CLI.

The capture (scapy) puts ESC sequences, BEL, CR, C1 controls and bidi overrides into DHCP
option 15 and option 43, the DNS name, the HTTP Host / User-Agent / Server headers and the
check-in's XML and key=value values. ``analyze`` and ``timeline`` (text) must show them escaped
(``\\x1b``), never raw; JSON must escape them too.

In the ticket formats (Markdown, HTML) nothing from the capture may become markup: the
``<script>`` in the check-in values must come out as ``&lt;script``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from capinspect.cli import main
from capinspect.report.html import SORT_SCRIPT

PHONE_MAC = "00:21:63:0f:aa:01"
PHONE_IP = "10.9.0.23"
SERVER_MAC = "00:15:5d:00:00:05"
SERVER_IP = "10.9.0.5"
DHCP_IP = "10.9.0.1"

HOSTILE = "\x1b[2J\x1b]0;owned\x07\r\x9b31m\u202egnp.exe\u2066\u200f"
"""Clear screen, set window title (OSC … BEL), carriage return, C1 CSI, RLO, LRI, RLM."""
RAW = ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\u2066", "\u200f")


def _capture(path: Path) -> None:
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    hostile = HOSTILE.encode("utf-8")
    chaddr = bytes.fromhex(PHONE_MAC.replace(":", "")) + b"\x00" * 10
    fqdn = b"ocs" + hostile + b".contoso.com"
    opt43 = (
        b"\x01\x0cMS-UC-Client\x02\x05https"
        + bytes([3, len(fqdn)])
        + fqdn
        + b"\x04\x03443\x05\x25/CertProv/CertProvisioningService.svc"
    )
    t = 1_700_000_000.0
    packets = []

    def add(pkt: object, when: float) -> None:
        pkt.time = when  # type: ignore[attr-defined]
        packets.append(pkt)

    phone = Ether(src=PHONE_MAC, dst="ff:ff:ff:ff:ff:ff")
    add(
        phone
        / IP(src=PHONE_IP, dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(op=1, chaddr=chaddr, ciaddr=PHONE_IP, xid=0x77)
        / DHCP(
            options=[
                ("message-type", "inform"),
                ("vendor_class_id", b"MS-UC-Client"),
                ("param_req_list", [1, 15, 43, 120]),
                "end",
            ]
        ),
        t,
    )
    add(
        Ether(src=SERVER_MAC, dst=PHONE_MAC)
        / IP(src=DHCP_IP, dst=PHONE_IP)
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, chaddr=chaddr, ciaddr=PHONE_IP, xid=0x77)
        / DHCP(
            options=[
                ("message-type", "ack"),
                ("server_id", DHCP_IP),
                ("domain", b"contoso" + hostile + b".com"),
                (43, opt43),
                "end",
            ]
        ),
        t + 0.01,
    )
    qname = b"ucupdates-r2.contoso" + hostile.replace(b".", b"") + b".com."
    add(
        Ether(src=PHONE_MAC, dst=SERVER_MAC)
        / IP(src=PHONE_IP, dst=DHCP_IP)
        / UDP(sport=50000, dport=53)
        / DNS(id=7, rd=1, qd=DNSQR(qname=qname)),
        t + 0.1,
    )
    add(
        Ether(src=SERVER_MAC, dst=PHONE_MAC)
        / IP(src=DHCP_IP, dst=PHONE_IP)
        / UDP(sport=53, dport=50000)
        / DNS(id=7, qr=1, qd=DNSQR(qname=qname), an=DNSRR(rrname=qname, rdata=SERVER_IP)),
        t + 0.11,
    )
    xml_value = "A&#13;B\u202e<script>x</script>".replace("<", "&lt;")
    request_xml = (
        '<?xml version="1.0" encoding="utf-8"?><Request><DeviceType>UCPhone</DeviceType>'
        f"<MacAddress>0021630FAA01</MacAddress><Vendor>LG{xml_value}</Vendor>"
        f"<Model>IP8540{xml_value}</Model><Modules>"
        f'<Module FileName="cpe.nbt" Version="1.0.522.101{xml_value}" TimeStamp="x"/>'
        "</Modules></Request>"
    ).encode()
    response_xml = (
        f"<Response><ServerVersion>3.5{xml_value}</ServerVersion>"
        f"<ServiceVersion>3.5</ServiceVersion><Downloads Count='1'>"
        f"<File Name='CPE.nbt' Version='3.5.6907.0' "
        f"InternalUrl='http://ocs/Device{xml_value}/CPE.nbt'/></Downloads></Response>"
    ).encode()
    text_body = b"MacAddress=0021630FAA01\r\nModel=IP8540" + hostile + b"\r\nVersion=1" + hostile
    conversations = [
        (request_xml, response_xml, 40001),
        (text_body, b"ServerVersion=3.5" + hostile, 40002),
    ]
    when = t + 1
    for req_body, resp_body, port in conversations:
        up = Ether(src=PHONE_MAC, dst=SERVER_MAC) / IP(src=PHONE_IP, dst=SERVER_IP)
        down = Ether(src=SERVER_MAC, dst=PHONE_MAC) / IP(src=SERVER_IP, dst=PHONE_IP)
        request = (
            b"POST /RequestHandler/ucdevice.upx HTTP/1.1\r\nHost: ocs"
            + hostile
            + b"\r\nUser-Agent: Microsoft UCPhone Device"
            + hostile
            + b"\r\nContent-Type: text/xml\r\nContent-Length: "
            + str(len(req_body)).encode()
            + b"\r\n\r\n"
            + req_body
        )
        response = (
            b"HTTP/1.1 200 OK"
            + hostile
            + b"\r\nServer: Microsoft-IIS/7.0"
            + hostile
            + b"\r\nContent-Type: text/xml\r\nContent-Length: "
            + str(len(resp_body)).encode()
            + b"\r\n\r\n"
            + resp_body
        )
        add(up / TCP(sport=port, dport=80, flags="S", seq=100), when)
        add(down / TCP(sport=80, dport=port, flags="SA", seq=500, ack=101), when + 0.01)
        add(up / TCP(sport=port, dport=80, flags="A", seq=101, ack=501), when + 0.02)
        add(up / TCP(sport=port, dport=80, flags="PA", seq=101, ack=501) / request, when + 0.03)
        seq = 101 + len(request)
        add(down / TCP(sport=80, dport=port, flags="PA", seq=501, ack=seq) / response, when + 0.1)
        add(down / TCP(sport=80, dport=port, flags="FA", seq=501 + len(response)), when + 0.2)
        add(up / TCP(sport=port, dport=80, flags="FA", seq=seq), when + 0.21)
        when += 1
    wrpcap(str(path), packets)


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "hostile.pcap"
    _capture(path)
    return path


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code in (0, 1, 4), result.stderr
    return result.stdout


FORMATS = [("analyze", "text"), ("timeline", "text")]


@pytest.mark.parametrize(("command", "fmt"), FORMATS)
def test_no_control_or_bidi_character_reaches_the_terminal(
    crafted: Path, command: str, fmt: str
) -> None:
    out = _run(command, "--format", fmt, "--color", "always", str(crafted))
    # Colour is on: the only ESC allowed starts an SGR colour sequence capinspect wrote itself.
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", out)
    for char in RAW:
        assert char not in stripped, (repr(char), command)
    plain = _run(command, "--format", fmt, str(crafted))
    for char in RAW:
        assert char not in plain, (repr(char), command)
    # The hostile values did reach the output: escaped (check-in values), or as their bytes in
    # hex where a DHCP value is not text (options 15 and 43: ESC [ 2 J is 1B 5B 32 4A).
    assert "\\x0d" in plain
    assert "1b 5b 32 4a" in plain.lower()


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_nothing_from_the_capture_becomes_markup(crafted: Path, fmt: str) -> None:
    out = _run("analyze", "--format", fmt, str(crafted))
    for char in RAW:
        assert char not in out, (repr(char), fmt)
    # The HTML's one script is capinspect's own overview sort (allowed by its hash in the CSP).
    assert out.count("<script") == (1 if fmt == "html" else 0)
    if fmt == "html":
        assert f"<script>{SORT_SCRIPT}</script>" in out
    assert "&lt;script" in out  # the value reached the report, escaped


def test_the_crafted_values_reach_analysis_and_json_escapes_them(crafted: Path) -> None:
    for command in ("analyze", "timeline"):
        out = _run(command, "--format", "json", str(crafted))
        for char in RAW:
            assert char not in out, (repr(char), command)
        assert "\\u001b[2J" in out  # the value itself is kept, only escaped in the document
        json.loads(out)
    analyze = json.loads(_run("analyze", "--format", "json", str(crafted)))
    assert [d["mac"] for d in analyze["devices"]] == [PHONE_MAC]


# -- server logs: what a log line holds is as untrusted as what a capture holds --------------

LOG_HOSTILE = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202egnp.exe\u2066\u200f"
"""HOSTILE without the carriage return: a CR ends a line in a log file, so it cannot be inside
a value (the file would just have one more line)."""
LOG_RAW = tuple(ch for ch in RAW if ch != "\r")
LINK = "[click](http://evil.example/x)"


@pytest.fixture(scope="module")
def crafted_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("hostile-logs")
    iis = folder / "u_ex_hostile.log"
    agent = "Microsoft+UCPhone+Device<script>alert(1)</script>" + LOG_HOSTILE.replace(" ", "+")
    iis.write_text(
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
        "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken\n"
        f"2009-03-06 17:21:45 10.9.0.5 GET /DeviceUpdateFiles_Int/{LINK}<b>x</b>/CPE.nbt "
        f"q=<img> 80 - {PHONE_IP} {agent} 500 19 5 62\n",
        encoding="utf-8",
    )
    audit = folder / "audit_hostile.log"
    audit.write_text(
        "03-06-2009 17:21:44,<script>@evil.example,10.9.0.23,UCPhone,06-03-2009 17:21:44,"
        f'"0021630FAA01","C1{LOG_HOSTILE}","LG-Nortel<script>","IP8540 {LINK}","A","ENU",'
        "cpe.nbt;1.0.522.103;16-12-2008 04:43:58,"
        f"http://evil.example/<script>/{LINK}/CPE.nbt;3.5.6907.0;16-12-2008 04:43:58\n",
        encoding="utf-8",
    )
    return iis, audit


def _without_code_spans(markdown: str) -> str:
    return re.sub(r"`[^`\n]*`", "", markdown)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_nothing_from_a_server_log_becomes_markup_or_a_control(
    crafted_logs: tuple[Path, Path], fmt: str
) -> None:
    iis, audit = crafted_logs
    out = _run("logs", "--iis-log", str(iis), "--audit-log", str(audit), "--format", fmt)
    for char in LOG_RAW:
        assert char not in out, (repr(char), fmt)
    if fmt == "json":
        doc = json.loads(out)
        records = [s["record"] for p in doc["phones"] for s in p["timeline"]]
        agents = [r["user_agent"] for r in records if r["kind"] == "iis"]
        assert agents and "<script>" in agents[0]  # data stays data in JSON, only escaped
        assert "\\u001b[2J" in out
        return
    if fmt == "text":  # a terminal shows markup as text; controls only escaped
        assert "\\x1b" in out and "<script>" in out
        return
    assert "<script" not in out and "<b>" not in out and "<img" not in out
    if fmt == "markdown":
        assert "&lt;script" in out  # the values reached the report, escaped
        inert = _without_code_spans(out)
        assert "](" not in inert
        assert re.search(r"(?<![\\`])https?://", inert) is None  # no autolink
    if fmt == "html":
        assert "&lt;script" in out
        assert re.findall(r'href="(?!#)', out) == [] and "src=" not in out
        assert "Content-Security-Policy" in out and "default-src 'none'" in out


def test_analyze_with_hostile_logs_stays_inert(
    crafted: Path, crafted_logs: tuple[Path, Path]
) -> None:
    iis, audit = crafted_logs
    for fmt in ("markdown", "html"):
        out = _run(
            "analyze",
            str(crafted),
            "--iis-log",
            str(iis),
            "--audit-log",
            str(audit),
            "--format",
            fmt,
        )
        for char in RAW:
            assert char not in out, (repr(char), fmt)
        # capinspect's own sort script is the one script the page may hold (by its CSP hash).
        out = out.replace(f"<script>{SORT_SCRIPT}</script>", "")
        assert "<script" not in out and "<b>" not in out
