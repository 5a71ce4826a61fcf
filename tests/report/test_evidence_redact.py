"""--evidence --redact: no identifier of any lab capture survives in the evidence file's bytes.

Identifiers come from two places that do not depend on the code under test: the capture's facts
file (what the lab generator put on the wire: phones' MACs, addresses, serials, users, the
domain and the server names) and the un-redacted report. Each is looked for in every spelling
it can take in a frame: raw bytes (6 for a MAC, 4 for an address), text in each MAC notation,
a name as text and as DNS wire labels.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from locations import PCAPS, lab_captures, needs_tshark
from test_redact import identifiers

from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.protocols.tls.keys import TlsKeys, load_tls_keys
from capinspect.report.evidence import redact_frame, write_evidence
from capinspect.report.evidence_redact import (
    PayloadRewriter,
    StreamRewriter,
    dns_addresses,
    dns_short_labels,
    fit,
)
from capinspect.report.json import report_document
from capinspect.report.model import Report
from capinspect.report.redact import Pseudonyms, redact_report

CAPTURES = [p.name for p in lab_captures()]
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_IPV4 = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}")


def keys_for(capture: Path) -> TlsKeys:
    """The HTTPS captures' key and key log (the others have none)."""
    stem = capture.with_suffix("")
    key, keylog = Path(f"{stem}.key.pem"), Path(f"{stem}.keylog")
    if not keylog.exists():
        return load_tls_keys()
    return load_tls_keys([str(key)], None, str(keylog))


def analysed(capture: Path, keys: TlsKeys) -> Report:
    return evaluate(analyze_paths([str(capture)], tls_keys=keys), DEFAULT_EXPECTATIONS)


def _is_identifier_ip(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    inverted = ~int(ip) & 0xFFFFFFFF
    return not (
        ip.is_unspecified
        or ip.is_multicast
        or ip.is_loopback
        or str(ip) == "255.255.255.255"
        or inverted & (inverted + 1) == 0
    )


def facts_identifiers(facts: dict[str, Any]) -> set[str]:
    """MACs, addresses, serials, users and every name under the lab's domain in a facts file."""
    domain = str(facts.get("domain") or "").lower()
    under = re.compile(rf"(?:[a-z0-9_-]+\.)*{re.escape(domain)}") if domain else None
    found: set[str] = {domain} if domain else set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif isinstance(value, str) and value:
            text = value.lower()
            if _MAC.fullmatch(text):
                found.add(text)
            elif _IPV4.fullmatch(text) and _is_identifier_ip(text):
                found.add(text)
            if key in ("serial", "user"):
                found.add(text)
            if under is not None:
                found.update(under.findall(text))

    walk(facts)
    return found


def spellings(identifier: str) -> list[bytes]:
    """Every way ``identifier`` can sit in a frame (compared with the lowered file bytes)."""
    if _MAC.fullmatch(identifier):
        plain = identifier.replace(":", "")
        return [
            bytes.fromhex(plain),
            identifier.encode(),
            identifier.replace(":", "-").encode(),
            plain.encode(),
            ".".join(plain[i : i + 4] for i in (0, 4, 8)).encode(),
        ]
    if re.fullmatch(r"[0-9a-f]{12}", identifier):
        return [identifier.encode(), bytes.fromhex(identifier)]
    if _IPV4.fullmatch(identifier):
        return [identifier.encode(), ipaddress.ip_address(identifier).packed]
    forms = [identifier.encode()]
    if "." in identifier and "@" not in identifier:
        forms.append(b"".join(bytes([len(p)]) + p.encode() for p in identifier.split(".")))
    return forms


def _found(spelling: bytes, data: bytes, lowered: bytes) -> bool:
    if not spelling.isascii() or not spelling.decode("latin-1").isprintable():
        return spelling in data  # raw bytes: exact
    if _IPV4.fullmatch(spelling.decode()):
        return re.search(rb"(?<![\d.])" + re.escape(spelling) + rb"(?![\d])", lowered) is not None
    return spelling in lowered


def original_identifiers(capture: Path, report: Report) -> set[str]:
    facts_path = Path(str(capture.with_suffix("")) + ".facts.json")
    facts = json.loads(facts_path.read_text()) if facts_path.exists() else {}
    candidates = facts_identifiers(facts) | identifiers(report_document(report))
    data = capture.read_bytes()
    lowered = data.lower()
    # Only what the capture really holds: the test is about what the file could leak.
    return {i for i in candidates if any(_found(s, data, lowered) for s in spellings(i))}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, Report]]:
    """Every lab capture's evidence, redacted and not (written once for all the tests)."""
    out: dict[str, tuple[Path, Path, Report]] = {}
    folder = tmp_path_factory.mktemp("evidence")
    for name in CAPTURES:
        capture = PCAPS / name
        report = analysed(capture, keys_for(capture))
        _redacted, names = redact_report(report)
        plain, private = folder / f"{name}.plain.pcapng", folder / f"{name}.redacted.pcapng"
        write_evidence(report, [str(capture)], str(plain))
        write_evidence(report, [str(capture)], str(private), names)
        out[name] = (plain, private, report)
    return out


@pytest.mark.parametrize("name", CAPTURES)
def test_no_original_identifier_survives(
    name: str, written: dict[str, tuple[Path, Path, Report]]
) -> None:
    capture = PCAPS / name
    plain, private, report = written[name]
    originals = original_identifiers(capture, report)
    assert len(originals) >= 6, originals  # MACs, addresses, names, serials: the test has teeth
    before = plain.read_bytes()
    # The un-redacted evidence holds them (so their absence below means redaction removed them).
    assert any(_found(s, before, before.lower()) for i in originals for s in spellings(i))
    data = private.read_bytes()
    lowered = data.lower()
    leaks = sorted(i for i in originals if any(_found(s, data, lowered) for s in spellings(i)))
    assert leaks == [], f"{name}: {leaks}"


def _tshark(path: Path, *args: str) -> str:
    return subprocess.run(
        ["tshark", "-r", str(path), *args], capture_output=True, text=True, check=True
    ).stdout


@needs_tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_tshark_finds_nothing_malformed_and_every_checksum_valid(
    name: str, written: dict[str, tuple[Path, Path, Report]]
) -> None:
    plain, private, _report = written[name]
    assert _tshark(private, "-Y", "_ws.malformed") == _tshark(plain, "-Y", "_ws.malformed") == ""
    bad = _tshark(
        private,
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-Y",
        "ip.checksum.status==2 or udp.checksum.status==2 or tcp.checksum.status==2",
    )
    assert bad == ""
    # The dissectors still see the same protocols in the same frames.
    columns = ("-T", "fields", "-e", "frame.protocols", "-e", "dns.count.answers")
    assert _tshark(private, *columns) == _tshark(plain, *columns)


def _judged(report: Report) -> tuple[list[str], list[tuple[str, ...]]]:
    verdicts = [str(d.verdict.verdict) for d in report.devices]
    findings = [tuple(sorted({f.check_id for f in d.findings})) for d in report.devices]
    return verdicts, findings


@pytest.mark.parametrize("name", CAPTURES)
def test_redaction_does_not_change_the_analysis(
    name: str, written: dict[str, tuple[Path, Path, Report]]
) -> None:
    """The redacted evidence is judged exactly like the un-redacted one.

    (Both can differ from the whole capture's report: the evidence keeps only the ends of a long
    download, which then reads as cut short. Both are read without TLS keys: the redacted file's
    application data is filler, which no key decrypts.)"""
    plain, private, report = written[name]
    before, after = analysed(plain, load_tls_keys()), analysed(private, load_tls_keys())
    assert len(after.devices) == len(report.devices)
    assert _judged(after) == _judged(before)
    capture = PCAPS / name
    originals = {d.session.mac for d in report.devices}
    if keys_for(capture).keylog is None:  # no TLS: the whole capture's findings are all there
        mine = {f for ids in _judged(report)[1] for f in ids}
        theirs = {f for ids in _judged(after)[1] for f in ids}
        assert mine - {"download.ok"} <= theirs
    else:  # even with the site's keys, the redacted file reveals no phone's real MAC
        decrypted = analysed(private, keys_for(capture))
        assert not originals & {d.session.mac for d in decrypted.devices}


def test_same_length_pseudonyms() -> None:
    assert fit("domain", 1, 7) == "domain1"
    assert fit("domain", 1, 4) == "dom1"
    assert fit("SERIAL-", 2, 11) == "SERIAL-0002"
    assert fit("host", 12, 2) == "qc" and fit("host", 205, 3) == "q5p"  # base 36
    assert fit("host", 5000, 2) is None and fit("host", 1, 1) is None
    names = Pseudonyms()
    names.mac("00:21:63:0f:20:7b")
    names.name("ocs.contoso.com")
    names.name("contoso.com", domain=True)
    names.serial("C185H001209")
    names.user("ruisilva@contoso.com")
    names.ip("10.77.0.102")
    rewriter = PayloadRewriter(names)
    text = (
        b"<MacAddress>0021630F207B</MacAddress><SerialNumber>C185H001209</SerialNumber>"
        b"<UserName>ruisilva@Contoso.com</UserName> http://OCS.contoso.com/x 10.77.0.102 "
        b"\x03ocs\x07contoso\x03com\x00 Contoso Lab Root CA 1.0.522.34"
    )
    done = rewriter.text(text)
    assert len(done.data) == len(text)
    lowered = done.data.lower()
    for gone in (b"0021630f207b", b"c185h001209", b"ruisilva", b"contoso", b"ocs", b"10.77.0.102"):
        assert gone not in lowered, gone
    assert b"002163" in done.data and b"SERIAL-0001" in done.data and b"1.0.522.34" in done.data
    assert b"Domain1 Lab Root CA" in done.data and b"\x03ho1\x07domain1\x03com\x00" in done.data
    # Raw bytes are matched exactly (a MAC whose bytes spell ASCII letters too).
    names.mac("00:41:42:43:44:45")
    raw = rewriter.raw(b"..\x00ABCDE..\x00abcde")
    assert raw == b".." + bytes.fromhex(names.mac("00:41:42:43:44:45").replace(":", "")) + (
        b"..\x00abcde"
    )
    # Two addresses, one the other's prefix: each is found whole.
    names.ip("10.77.0.1")
    names.ip("10.77.0.12")
    both = rewriter.text(b"10.77.0.1 10.77.0.12").data
    assert b"10.77" not in both and len(both) == 20
    # 10.77.0.102 (11 characters) has the pseudonym 192.0.2.1 (9): it becomes filler, recorded.
    assert b"xxxxxxxxxxx" in done.data and [w for _s, _e, w in done.fillers] == ["ip"]
    assert both == b"192.0.2.2 xxxxxxxxxx"  # 192.0.2.3 is one character short of 10.77.0.12


def test_dns_answers_and_split_tcp_names() -> None:
    from scapy.all import DNS, DNSQR, DNSRR

    names = Pseudonyms()
    names.name("ucupdates-r2.contoso.com")
    message = bytearray(
        bytes(
            DNS(
                qr=1,
                qd=DNSQR(qname="ucupdates-r2.contoso.com"),
                an=DNSRR(rrname="ucupdates-r2.contoso.com", rdata="10.77.0.1"),
            )
        )
    )
    dns_addresses(message, 0, len(message), names.ip_bytes)
    assert ipaddress.ip_address(names.ip("10.77.0.1")).packed in message
    assert ipaddress.ip_address("10.77.0.1").packed not in message
    # A reverse lookup names the address too: as wire labels and as text.
    names.ip("10.77.0.102")
    ptr = bytearray(bytes(DNS(qd=DNSQR(qname="102.0.77.10.in-addr.arpa", qtype="PTR"))))
    done = PayloadRewriter(names).text(bytes(ptr) + b" 102.0.77.10.in-addr.arpa")
    assert b"\x0377" not in done.data and b"102.0.77.10" not in done.data
    assert b"\x03xxx\x01x\x02xx\x02xx\x07in-addr\x04arpa" in done.data  # 192.0.2.2: longer
    # A one-letter label is replaced where DNS delimits it, not as text in other bytes.
    names.name("a.contoso.com")
    short = bytearray(bytes(DNS(qd=DNSQR(qname="a.contoso.com"))))
    rewriter = PayloadRewriter(names)
    dns_short_labels(short, 0, len(short), rewriter.short_label)
    assert b"\x01x\x07contoso\x03com\x00" in short
    assert rewriter.text(b"\x00a\x00").data == b"\x00a\x00"
    # A name split over two segments is still rewritten, each segment keeping its length.
    streams = StreamRewriter(PayloadRewriter(names))
    key = (b"\x0a\x00\x00\x01", 1000, b"\x0a\x00\x00\x02", 80)
    first = b"GET / HTTP/1.1\r\nHost: ucupdates-r2.cont"
    streams.add(key, 5, 2**32 - 10, first)  # the sequence numbers wrap between the two
    streams.add(key, 6, (2**32 - 10 + len(first)) % 2**32, b"oso.com\r\n\r\n")
    result = streams.run()
    joined = result.payloads[5] + result.payloads[6]
    assert b"contoso" not in joined and b"domain1" in joined
    assert len(result.payloads[5]) == len(first)


def test_compressed_bodies_and_tls_application_data() -> None:
    names = Pseudonyms()
    names.name("ocs.contoso.com")
    streams = StreamRewriter(PayloadRewriter(names))
    body = b"\x1f\x8b\x08\x00" + b"ocs.contoso.com" + b"\x00" * 11
    response = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 30\r\n\r\n" + body
    streams.add((b"a", 80, b"b", 1), 7, 0, response)
    hello = b"\x01\x00\x00\x12" + b"\x00\x00\x0f" + b"ocs.contoso.com"
    handshake = b"\x16\x03\x01\x00\x16" + hello + b"\x14\x03\x03\x00\x01\x01"
    encrypted = b"\x17\x03\x03\x00\x0f" + b"ocs.contoso.com"
    streams.add((b"c", 1, b"d", 443), 8, 0, handshake)
    streams.add((b"c", 1, b"d", 443), 9, len(handshake), encrypted)
    result = streams.run()
    assert result.payloads[7].endswith(b"x" * 30)
    assert any("compressed" in n for n in result.notes[7])
    assert b"contoso" not in result.payloads[8]
    assert any("TLS handshake" in n for n in result.notes[8])
    # Application data cannot be rewritten: its body becomes filler, its header stays.
    assert result.payloads[9] == b"\x17\x03\x03\x00\x0f" + b"x" * 15
    assert any("application data" in n for n in result.notes[9])


def test_unknown_link_type_becomes_filler_with_a_comment() -> None:
    names = Pseudonyms()
    notes: list[str] = []
    out = redact_frame(147, b"ocs.contoso.com", 15, names, PayloadRewriter(names), None, notes)
    assert out == b"x" * 15 and "link type 147" in notes[0]


def test_cli_redacted_evidence(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from capinspect.cli import main

    out = tmp_path / "e.pcapng"
    capture = PCAPS / "interim-upgrade.pcap"
    result = CliRunner().invoke(
        main, ["analyze", str(capture), "--redact", "--evidence", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    data = out.read_bytes().lower()
    for secret in (b"demo.local", b"0021630f207b", b"c185h001209", b"ruisilva"):
        assert secret not in data
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed: the bytes were checked, not the reading")
    comments = _tshark(out, "-T", "fields", "-e", "frame.comment")
    assert "input frame 1" in comments
