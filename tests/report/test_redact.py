"""--redact: no identifier of the input survives in any format; pseudonyms are consistent."""

from __future__ import annotations

import html
import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
from locations import PCAPS
from test_html import report_of

from capinspect.protocols.http.messages import HttpBody
from capinspect.report.html import render_html
from capinspect.report.json import dumps, report_document
from capinspect.report.markdown import render_markdown
from capinspect.report.redact import REDACTED_BODY_NOTE, Pseudonyms, redact_report
from capinspect.report.text import render_analyze

CAPTURES = (
    "multi-phone.pcapng",
    "interim-upgrade.pcap",
    "acl-denied.pcap",
    "dns-cname.pcap",
    "file-not-found.pcap",
    "option43-truncated.pcap",
    "legacy-452.pcap",
)

_MAC_KEYS = {"mac", "chaddr", "src_mac", "dst_mac", "client_mac"}
_NAME_KEYS = {"qname", "web_server_fqdn", "serial", "user"}
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_MAC = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w.-]+\.[a-z]+")
_NAME = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:com|local|net|org)\b")


def _not_an_identifier(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return True
    mask = ~int(ip) & 0xFFFFFFFF
    return (
        ip.is_unspecified
        or ip.is_multicast
        or ip.is_loopback
        or str(ip) == "255.255.255.255"
        or mask & (mask + 1) == 0
    )


def identifiers(document: dict[str, Any]) -> set[str]:
    """Every MAC, IP, serial, user, host and domain name in an un-redacted report@1."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif isinstance(value, str) and value:
            if key in _MAC_KEYS or key in _NAME_KEYS or key == "cname_chain":
                found.add(value.lower())
            if key == "names":
                found.add(value.lower())

    walk(document)
    text = json.dumps(document).lower()
    found.update(m for m in _IPV4.findall(text) if not _not_an_identifier(m))
    found.update(_MAC.findall(text))
    found.update(_EMAIL.findall(text))
    found.update(_NAME.findall(text))
    for mac in [f for f in found if _MAC.fullmatch(f)]:
        found.add(mac.replace(":", ""))
    found.discard("asp.net")  # the X-Powered-By product name, not a host
    found.discard("ff:ff:ff:ff:ff:ff")
    found.discard("ffffffffffff")
    return {f for f in found if f and not _not_an_identifier_name(f)}


def _not_an_identifier_name(value: str) -> bool:
    return value in ("00:00:00:00:00:00", "000000000000") or (
        _IPV4.fullmatch(value) is not None and _not_an_identifier(value)
    )


def all_formats(redacted: Any) -> dict[str, str]:
    return {
        "text": render_analyze(redacted, width=160),
        "json": dumps(report_document(redacted)),
        "markdown": render_markdown(redacted).replace("\\", ""),
        "html": html.unescape(render_html(redacted)),
    }


@pytest.mark.parametrize("name", CAPTURES)
def test_no_original_identifier_survives_in_any_format(name: str) -> None:
    report = report_of(PCAPS / name)
    original = identifiers(report_document(report))
    assert len(original) >= 8  # MACs, IPs, names, serials, users: the test has teeth
    redacted, _ = redact_report(report)
    for fmt, text in all_formats(redacted).items():
        lowered = text.lower()
        leaks = sorted(i for i in original if i in lowered)
        assert leaks == [], f"{name} {fmt}: {leaks}"


def test_pseudonyms_are_consistent_and_keep_the_oui() -> None:
    report = report_of(PCAPS / "multi-phone.pcapng")
    redacted, names = redact_report(report)
    for before, after in zip(report.devices, redacted.devices, strict=True):
        assert before.session.mac is not None and after.session.mac is not None
        assert after.session.mac[:8] == before.session.mac[:8]
        assert after.session.mac != before.session.mac
        assert after.session.mac == names.mac(before.session.mac)
        # The same MAC gets the same pseudonym everywhere it appears.
        for exchange in after.session.dhcp:
            assert exchange.client_mac == after.session.mac
    ips = {ip for d in redacted.devices for ip in d.session.ips}
    assert all(ip.startswith("192.0.2.") for ip in ips) and len(ips) == 4
    # Numbered from 1 in the order the capture's data is walked (phones are listed failing
    # first, so the first phone listed need not hold number 1).
    serials = sorted(d.session.identity.serial or "" for d in redacted.devices)
    assert serials == [f"SERIAL-{n}" for n in range(1, len(redacted.devices) + 1)]
    users = [d.session.identity.user for d in redacted.devices if d.session.identity.user]
    assert users and any(u.startswith("user1@domain") for u in users)
    update_names = {lk.qname for d in redacted.devices for lk in d.session.dns}
    assert "ucupdates-r2.domain1.example" in update_names
    # Same input, same report: redaction is deterministic.
    again, _ = redact_report(report)
    assert report_document(again) == report_document(redacted)


def test_keep_names_leaves_listed_domains() -> None:
    report = report_of(PCAPS / "acl-denied.pcap")
    redacted, _ = redact_report(report, keep_names=["contoso.com"])
    text = dumps(report_document(redacted))
    assert "ucupdates-r2.contoso.com" in text and "ocs.contoso.com" in text
    assert "10.77.0." not in text and "00:21:63:0f:44:10" not in text


def test_bodies_that_cannot_be_rewritten_are_replaced_by_a_note() -> None:
    names = Pseudonyms()
    names.name("contoso.com", domain=True)
    binary = HttpBody(data=b"\x1f\x8b\x08\x00ocs.contoso.com\xff", size=20, sha256="ab")
    assert names.body(binary) == HttpBody(data=REDACTED_BODY_NOTE, size=20, sha256=None)
    text = HttpBody(data=b"<Server>ocs.contoso.com</Server>", size=32, sha256="ab")
    rewritten = names.body(text)
    assert rewritten.data == b"<Server>host1.domain1.example</Server>"
    assert rewritten.size == 32 and rewritten.sha256 is None
    plain = HttpBody(data=b"<Status>OK</Status>", size=19, sha256="ab")
    assert names.body(plain) is plain
    report = report_of(PCAPS / "interim-upgrade.pcap")
    redacted, _ = redact_report(report)
    checkin = redacted.devices[0].session.checkins[0].exchange.request.body
    assert b"<" in checkin.data and b"C185H001209" not in checkin.data


def test_text_rewriting_covers_every_spelling() -> None:
    names = Pseudonyms()
    names.mac("00:21:63:0f:20:7b")
    names.name("contoso.com", domain=True)
    out = names.text(
        "MAC 0021630F207B / 00-21-63-0F-20-7B, host www.contoso.com, "
        "sip:bob@contoso.com, http://10.1.2.3:80/x, v1.0.522.34"
    )
    assert "0F207B" not in out and "0f:20:7b" not in out.lower() and "contoso" not in out
    assert "bob" not in out and "10.1.2.3" not in out
    assert "002163" in out and "v1.0.522.34" in out  # OUI kept; a version is not an address


def test_redacted_cli_outputs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from capinspect.cli import main

    out = tmp_path / "r.md"
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            str(PCAPS / "acl-denied.pcap"),
            "--redact",
            "--format",
            "markdown",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "10.77.0." not in out.read_text() and "contoso" not in out.read_text()


def test_a_user_named_like_a_report_word_does_not_rewrite_that_word() -> None:
    names = Pseudonyms()
    assert names.user("tls@contoso.com").startswith("user1@")
    assert names.user("alice") == "user2"
    text = "TLS ClientHello from tls@contoso.com; alice signed in over tls"
    out = names.text(text)
    assert out.startswith("TLS ClientHello from user1@domain") and "alice" not in out
    assert out.endswith("user2 signed in over tls")
