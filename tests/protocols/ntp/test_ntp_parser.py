"""The NTP header parser: scapy-made messages whole, cut byte by byte, with trailing bytes,
random bytes (hypothesis), and tshark's reading of the same capture."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from locations import ZEEK_TRACES, needs_tshark
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.ntp import NTPHeader
from scapy.utils import wrpcap

from capinspect.errors import Malformed, Truncated
from capinspect.pipeline import analyze_paths
from capinspect.protocols.ntp.messages import SERVER
from capinspect.protocols.ntp.parser import HEADER_BYTES, ntp_time, parse_ntp

NTP_EPOCH = 2_208_988_800
NOW = 1_796_860_800.25  # 2026-12-10 00:00:00.25 UTC


def _answer() -> bytes:
    return bytes(
        NTPHeader(
            leap=0,
            version=4,
            mode=4,
            stratum=2,
            poll=6,
            precision=-20,
            delay=0.5,
            dispersion=0.25,
            id="192.0.2.7",
            ref=NOW - 60 + NTP_EPOCH,
            orig=NOW - 1 + NTP_EPOCH,
            recv=NOW + NTP_EPOCH,
            sent=NOW + 0.5 + NTP_EPOCH,
        )
    )


def test_a_server_answer_reads_every_field() -> None:
    msg = parse_ntp(_answer())
    assert msg is not None
    assert (msg.leap, msg.version, msg.mode, msg.stratum) == (0, 4, SERVER, 2)
    assert (msg.poll, msg.precision) == (6, -20)
    assert (msg.root_delay, msg.root_dispersion) == (0.5, 0.25)
    assert msg.reference_text == "192.0.2.7"
    assert msg.reference_ts == pytest.approx(NOW - 60, abs=1e-6)
    assert msg.origin_ts == pytest.approx(NOW - 1, abs=1e-6)
    assert msg.receive_ts == pytest.approx(NOW, abs=1e-6)
    assert msg.transmit_ts == pytest.approx(NOW + 0.5, abs=1e-6)
    assert msg.extra_bytes == 0 and msg.usable_time is None and msg.kiss_code is None


def test_zero_timestamps_are_not_set() -> None:
    raw = bytearray(_answer())
    raw[24:32] = bytes(8)  # origin
    msg = parse_ntp(bytes(raw))
    assert msg is not None and msg.origin_ts is None and msg.origin_raw == bytes(8)


def test_fed_byte_by_byte_every_prefix_is_truncated_and_never_crashes() -> None:
    whole = _answer()
    for cut in range(1, HEADER_BYTES):
        with pytest.raises(Truncated):
            parse_ntp(whole[:cut])
    assert parse_ntp(whole) is not None
    with pytest.raises(Truncated):
        parse_ntp(b"")


def test_trailing_bytes_are_counted_and_the_header_is_unchanged() -> None:
    whole = parse_ntp(_answer())
    assert whole is not None
    junk = _answer() + b"\x00\x00\x00\x01" + bytes(16)  # a key id and a 128-bit MAC (NTPv3)
    assert parse_ntp(junk) == replace(whole, extra_bytes=20)


@pytest.mark.parametrize(
    ("first", "message"),
    [(0x00 | 3, "version 0"), (0x28 | 3, "version 5"), (0x20 | 0, "mode 0")],
)
def test_impossible_first_bytes_are_malformed(first: int, message: str) -> None:
    with pytest.raises(Malformed, match=message):
        parse_ntp(bytes([first]) + bytes(47))


def test_control_and_private_modes_are_not_time_messages() -> None:
    assert parse_ntp(bytes([0x16, 0x02, 0, 1]) + bytes(8)) is None  # ntpq READSTAT, 12 bytes
    assert parse_ntp(bytes([0x17]) + bytes(7)) is None  # ntpdc private mode


def test_kiss_o_death_and_unsynchronised_servers_give_no_time() -> None:
    kiss = bytearray(_answer())
    kiss[1] = 0
    kiss[12:16] = b"RATE"
    msg = parse_ntp(bytes(kiss))
    assert msg is not None and msg.kiss_code == "RATE"
    assert msg.usable_time == "Kiss-o'-Death RATE" and msg.reference_text == "RATE"
    alarm = bytearray(_answer())
    alarm[0] = 0xC0 | (4 << 3) | 4
    msg = parse_ntp(bytes(alarm))
    assert msg is not None and msg.usable_time is not None and "not synchronised" in msg.usable_time


def test_timestamps_after_2036_read_in_the_next_era() -> None:
    assert ntp_time(struct.pack(">II", 0xFFFFFFFF, 0)) == 0xFFFFFFFF - NTP_EPOCH
    # POSIX 2_208_988_800 is 2040-01-01 00:00 UTC; its NTP seconds, written modulo 2**32,
    # have the top bit clear, so they are read in era 1 (2036-2104).
    since_1900 = 2_208_988_800 + NTP_EPOCH
    assert ntp_time(struct.pack(">II", since_1900 % (1 << 32), 1 << 31)) == 2_208_988_800.5
    assert ntp_time(bytes(8)) is None


@given(st.binary(max_size=120))
def test_random_bytes_give_a_message_none_or_malformed(data: bytes) -> None:
    try:
        msg = parse_ntp(data)
    except Malformed:
        return
    if msg is not None:
        assert 1 <= msg.version <= 4 and msg.mode in range(1, 6)
        assert msg.extra_bytes == len(data) - HEADER_BYTES >= 0


@given(
    st.integers(0, 3),
    st.integers(1, 4),
    st.integers(1, 5),
    st.integers(0, 255),
    st.floats(1e9, 3e9),
)
def test_scapy_headers_round_trip(
    leap: int, version: int, mode: int, stratum: int, t: float
) -> None:
    raw = bytes(
        NTPHeader(leap=leap, version=version, mode=mode, stratum=stratum, sent=t + NTP_EPOCH)
    )
    msg = parse_ntp(raw)
    assert msg is not None
    assert (msg.leap, msg.version, msg.mode, msg.stratum) == (leap, version, mode, stratum)
    assert msg.transmit_ts == pytest.approx(t, abs=1e-3)


@needs_tshark
def test_fields_agree_with_tshark(tmp_path: Path) -> None:
    path = tmp_path / "ntp.pcap"
    packets = [
        Ether() / IP(src="10.0.0.2", dst="10.0.0.3") / UDP(sport=123, dport=123) / _answer(),
        Ether()
        / IP(src="10.0.0.3", dst="10.0.0.2")
        / UDP(sport=40000, dport=123)
        / NTPHeader(version=3, mode=3, stratum=0, sent=NOW + NTP_EPOCH),
    ]
    wrpcap(str(path), packets)
    tshark = shutil.which("tshark")
    assert tshark is not None
    out = subprocess.run(
        [tshark, "-r", str(path), "-T", "json", "-e", "ntp.flags.vn", "-e", "ntp.flags.mode",
         "-e", "ntp.stratum", "-e", "ntp.xmt", "-e", "ntp.rec", "-e", "ntp.ppoll"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = [p["_source"]["layers"] for p in json.loads(out)]
    assert len(rows) == 2
    for packet, row in zip(packets, rows, strict=True):
        msg = parse_ntp(bytes(packet[UDP].payload))
        assert msg is not None
        assert int(row["ntp.flags.vn"][0]) == msg.version
        assert int(row["ntp.flags.mode"][0]) == msg.mode
        assert int(row["ntp.stratum"][0]) == msg.stratum
        assert int(row["ntp.ppoll"][0]) == msg.poll
        # tshark prints "Dec 10, 2026 00:00:00.750000000 UTC": compare the seconds.
        assert msg.transmit_ts is not None
        shown = row["ntp.xmt"][0]
        expected = datetime.fromtimestamp(msg.transmit_ts, UTC).strftime("%H:%M:%S")
        assert expected in shown, (shown, expected)


@needs_tshark
def test_a_third_party_capture_agrees_with_tshark() -> None:
    """tunnels_gre-sample.pcap (the Zeek traces) carries NTPv4 inside GRE: every message the
    engine reads (following everything: no phone there) has tshark's mode, stratum, version
    and transmit time."""
    capture = ZEEK_TRACES / "tunnels_gre-sample.pcap"
    if not capture.exists():
        pytest.skip("third-party corpus not present")
    tshark = shutil.which("tshark")
    assert tshark is not None
    out = subprocess.run(
        [tshark, "-r", str(capture), "-Y", "ntp", "-T", "fields", "-e", "frame.number",
         "-e", "ntp.flags.mode", "-e", "ntp.stratum", "-e", "ntp.flags.vn", "-e", "ntp.xmt",
         "-t", "ud"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    expected = {}
    for line in out.splitlines():
        frame, mode, stratum, version, transmit = line.split("\t")
        expected[int(frame)] = (int(mode), int(stratum), int(version), transmit)
    analysis = analyze_paths([str(capture)], follow_all=True)
    seen = {
        s.frame: s.message
        for ex in analysis.ntp
        for s in (*ex.requests, *((ex.answer,) if ex.answer else ()))
    }
    assert sorted(seen) == sorted(expected) and len(seen) == 6
    for frame, msg in seen.items():
        mode, stratum, version, transmit = expected[frame]
        assert (msg.mode, msg.stratum, msg.version) == (mode, stratum, version)
        assert msg.transmit_ts is not None
        # "Jun 11, 2003 00:06:13.849817999 UTC": nanoseconds, which datetime cannot read
        whole, _, fraction = transmit.removesuffix(" UTC").partition(".")
        moment = datetime.strptime(whole, "%b %d, %Y %H:%M:%S").replace(tzinfo=UTC)
        assert msg.transmit_ts == pytest.approx(
            moment.timestamp() + float(f"0.{fraction}"), abs=1e-5
        ), (frame, transmit)
