"""--evidence: a small pcapng of the phones' frames, findings as comments, readable by tshark."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from locations import PCAPS, needs_tshark
from test_html import report_of

from capinspect.report.evidence import (
    TRIM_SEGMENTS,
    plan,
    redact_frame,
    select_frames,
    write_evidence,
)
from capinspect.report.redact import Pseudonyms, redact_report
from capinspect.sources.merge import iter_frames


def _blocks(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    at = 0
    while at < len(data):
        kind, length = struct.unpack_from("<II", data, at)
        assert length % 4 == 0 and length >= 12
        assert struct.unpack_from("<I", data, at + length - 4)[0] == length
        out.append((kind, data[at + 8 : at + length - 4]))
        at += length
    return out


def test_written_file_is_well_formed_pcapng_with_only_the_phones_frames(tmp_path: Path) -> None:
    capture = PCAPS / "multi-phone.pcapng"
    report = report_of(capture)
    out = tmp_path / "evidence.pcapng"
    written = write_evidence(report, [str(capture)], str(out))
    blocks = _blocks(out.read_bytes())
    assert blocks[0][0] == 0x0A0D0D0A and blocks[1][0] == 1
    epbs = [body for kind, body in blocks if kind == 6]
    assert len(epbs) == written.frames
    assert 0 < written.frames < report.analysis.stats.frames
    # Every frame a finding names is there.
    cited = {f for d in report.devices for finding in d.findings for f in finding.frames}
    chosen = select_frames(plan(report), [str(capture)])
    assert cited <= chosen
    # The background PC's traffic is not.
    pc = bytes.fromhex("001aa05c0050")  # the lab's background PC
    background = {
        number
        for number, *_, data, _o, _s in iter_frames([str(capture)]).records()
        if data[6:12] == pc
    }
    assert background and not background & chosen


def test_long_downloads_keep_only_their_ends() -> None:
    capture = PCAPS / "interim-upgrade.pcap"
    report = report_of(capture)
    download = report.devices[0].session.downloads[0]
    the_plan = plan(report)
    chosen = select_frames(the_plan, [str(capture)])
    flow = download.exchange.flow
    segments = []
    for number, _ts, _lt, data, _orig, _src in iter_frames([str(capture)]).records():
        ports = {flow.client_port, flow.server_port}
        if len(data) > 38 and set(struct.unpack_from("!HH", data, 34)) == ports:
            segments.append(number)
    assert len(segments) > 2 * TRIM_SEGMENTS + 4
    kept = [n for n in segments if n in chosen]
    assert segments[0] in kept and segments[-1] in kept
    assert len(kept) < len(segments)
    assert download.exchange.request.frame in kept


def test_redacted_frames_have_new_addresses_and_valid_checksums() -> None:
    from scapy.all import IP, TCP, UDP, Ether

    names = Pseudonyms()
    for packet in (
        Ether(src="00:04:f2:aa:bb:cc", dst="00:15:5d:00:00:05")
        / IP(src="10.1.1.50", dst="10.1.1.5")
        / TCP(sport=4000, dport=80, flags="PA")
        / b"GET / HTTP/1.1\r\n\r\n",
        Ether(src="00:04:f2:aa:bb:cc", dst="00:15:5d:00:00:05")
        / IP(src="10.1.1.50", dst="10.1.1.5")
        / UDP(sport=5353, dport=53)
        / b"\x00\x07query",
    ):
        raw = bytes(packet)
        out = redact_frame(1, raw, len(raw), names)
        again = Ether(out)
        assert again.src.startswith("00:04:f2") and again.src != "00:04:f2:aa:bb:cc"
        assert again[IP].src == names.ip("10.1.1.50") and again[IP].dst == names.ip("10.1.1.5")
        recomputed = Ether(out)
        layer = recomputed[IP].payload
        del recomputed[IP].chksum
        del layer.chksum
        rebuilt = Ether(bytes(recomputed))
        assert rebuilt[IP].chksum == again[IP].chksum
        assert rebuilt[IP].payload.chksum == again[IP].payload.chksum


@needs_tshark
def test_tshark_reads_the_comments(tmp_path: Path) -> None:
    capture = PCAPS / "multi-phone.pcapng"
    report = report_of(capture)
    out = tmp_path / "evidence.pcapng"
    write_evidence(report, [str(capture)], str(out))
    result = subprocess.run(
        ["tshark", "-r", str(out), "-T", "fields", "-e", "frame.comment"],
        capture_output=True,
        text=True,
        check=True,
    )
    comments = result.stdout
    assert "download.acl-denied" in comments and "checkin.legacy-path-missing" in comments
    assert "input frame 1" in comments
    listing = subprocess.run(
        ["tshark", "-r", str(out)], capture_output=True, text=True, check=True
    ).stdout
    assert "ucdevice.upx" in listing and "DHCP" in listing


@needs_tshark
def test_redacted_evidence_uses_the_reports_pseudonyms(tmp_path: Path) -> None:
    capture = PCAPS / "acl-denied.pcap"
    report = report_of(capture)
    redacted, names = redact_report(report)
    out = tmp_path / "evidence.pcapng"
    write_evidence(report, [str(capture)], str(out), names)
    fields = subprocess.run(
        [
            "tshark",
            "-r",
            str(out),
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "eth.src",
            "-e",
            "ip.src",
            "-e",
            "ip.checksum.status",
            "-e",
            "tcp.checksum.status",
            "-e",
            "udp.checksum.status",
            "-e",
            "frame.comment",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    phone = redacted.devices[0].session
    assert phone.mac is not None and phone.mac in fields and phone.ips[0] in fields
    assert "00:21:63:0f:44:10" not in fields and "10.77.0.102" not in fields
    for line in fields.splitlines():
        statuses = line.split("\t")[2:5]
        assert "2" not in statuses, line  # 2 = bad checksum
    assert "download.acl-denied" in fields


def test_cli_writes_evidence(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from capinspect.cli import main

    out = tmp_path / "e.pcapng"
    result = CliRunner().invoke(
        main, ["analyze", str(PCAPS / "legacy-452.pcap"), "--evidence", str(out), "-q"]
    )
    assert result.exit_code == 1, result.output
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed: the file's structure was checked, not its reading")
