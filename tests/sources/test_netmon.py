"""Network Monitor captures: the same report as the pcap they were converted from, Wireshark's
frame times to the microsecond, every media type and version trailer, damage without a crash.

The lab captures are converted with ``editcap -F netmon2`` (and ``netmon1``) into tmp_path; the
tests that need editcap or tshark skip without them. Hand-made files (tests/netmon_files.py)
cover what editcap never writes: 2.2/2.3 trailers, NetMon-only media types, damage.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from locations import PCAPS, lab_captures
from netmon_files import EPOCH_1601, Frame, netmon_file
from scapy.layers.inet import IP, UDP, Ether
from streamfeed import with_junk

from capinspect.errors import InputError
from capinspect.expectations import Expectations
from capinspect.model import Anomaly
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.protocols.tls.keys import NO_KEYS, load_tls_keys
from capinspect.report.json import report_document
from capinspect.sources.capture import open_capture
from capinspect.sources.netmon import NetmonReader

needs_editcap = pytest.mark.skipif(
    shutil.which("editcap") is None, reason="editcap is not installed"
)
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")

ETH = bytes(Ether(src="00:21:63:0f:31:a2", dst="ff:ff:ff:ff:ff:ff") / IP() / UDP(dport=67) / b"x")
RAW_IP = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5353, dport=53) / b"q")


def convert(source: Path, target: Path, kind: str = "netmon2") -> Path:
    subprocess.run(["editcap", "-F", kind, str(source), str(target)], check=True)
    return target


def report(paths: list[Path], key: Path | None = None) -> dict[str, Any]:
    keys = load_tls_keys([str(key)]) if key is not None and key.exists() else NO_KEYS
    analysis = analyze_paths([str(p) for p in paths], tls_keys=keys)
    return report_document(evaluate(analysis, Expectations()))


def without_file_facts(doc: dict[str, Any], paths: list[Path]) -> str:
    """The report as text without what names the input file: its path, size, hash, format."""
    for entry in doc.get("inputs", []):
        for fact in ("path", "size", "sha256", "format"):
            entry.pop(fact, None)
    text = json.dumps(doc, sort_keys=True)
    for number, path in enumerate(paths):
        text = text.replace(str(path), f"<input {number}>")
    return text


def tshark_times(path: Path) -> list[tuple[int, int]]:
    """(frame number, epoch time in microseconds) of every frame, as tshark reads the file."""
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    return [(int(n), int((Decimal(t) * 1_000_000).to_integral_value())) for n, t in rows]


def our_times(path: Path) -> list[tuple[int, int]]:
    reader = open_capture(str(path))
    return [(r[0], round(r[1] * 1_000_000)) for r in reader.records()]


# -- the lab captures, converted by editcap ------------------------------------------------------


@needs_editcap
@pytest.mark.parametrize("capture", lab_captures(), ids=lambda p: p.name)
def test_report_of_the_netmon_copy_is_the_pcaps(capture: Path, tmp_path: Path) -> None:
    cap = convert(capture, tmp_path / (capture.stem + ".cap"))
    key = PCAPS / (capture.stem + ".key.pem")
    original, copy = report([capture], key), report([cap], key)
    assert copy["inputs"][0]["format"] == "netmon2.0"
    assert without_file_facts(copy, [cap]) == without_file_facts(original, [capture])


@needs_editcap
@needs_tshark
@pytest.mark.parametrize("capture", lab_captures(), ids=lambda p: p.name)
def test_frame_numbers_and_times_are_tsharks(capture: Path, tmp_path: Path) -> None:
    cap = convert(capture, tmp_path / (capture.stem + ".cap"))
    ours = our_times(cap)
    assert ours == tshark_times(cap)
    assert len(ours) == len(tshark_times(capture))


@needs_editcap
@needs_tshark
def test_netmon1_times_are_tsharks_to_the_millisecond(tmp_path: Path) -> None:
    cap = convert(PCAPS / "dns-cname.pcap", tmp_path / "one.cap", "netmon1")
    reader = open_capture(str(cap))
    times = [(r[0], round(r[1] * 1_000_000)) for r in reader.records()]
    assert reader.format == "netmon1.1"
    assert times == tshark_times(cap)
    assert all(us % 1000 == 0 for _, us in times)


@needs_editcap
@needs_tshark
def test_start_time_is_local_time_as_wireshark_reads_it(tmp_path: Path) -> None:
    """The header's SYSTEMTIME has no zone: Wireshark (mktime) and capinspect both read it as
    the reading machine's local time, so in another zone both move by the same hours."""
    cap = convert(PCAPS / "dns-cname.pcap", tmp_path / "zone.cap")
    env = {**os.environ, "TZ": "America/New_York", "LC_ALL": "C"}
    code = (
        "import sys; from capinspect.sources.capture import open_capture;"
        "rows = open_capture(sys.argv[1]).records();"
        "print('\\n'.join(f'{r[0]} {round(r[1] * 1e6)}' for r in rows))"
    )
    ours = subprocess.run(
        [sys.executable, "-c", code, str(cap)], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    theirs = subprocess.run(
        ["tshark", "-r", str(cap), "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pairs = [line.split("\t") for line in theirs]
    expected = [f"{n} {int(Decimal(t) * 1_000_000)}" for n, t in pairs]
    assert [line for line in ours if line] == expected
    utc = our_times(cap)
    assert int(ours[0].split()[1]) - utc[0][1] in (4 * 3600 * 10**6, 5 * 3600 * 10**6)


@needs_editcap
def test_merge_and_jobs_take_netmon_files_like_pcaps(tmp_path: Path) -> None:
    first, second = PCAPS / "dns-cname.pcap", PCAPS / "acl-denied.pcap"
    cap = convert(first, tmp_path / "first.cap")
    mixed = report([cap, second])
    assert without_file_facts(mixed, [cap, second]) == without_file_facts(
        report([first, second]), [first, second]
    )
    parallel = analyze_paths([str(cap), str(second)], jobs=2)
    serial = analyze_paths([str(first), str(second)])
    assert parallel.stats == serial.stats


# -- versions, trailers and media types (hand-made) ----------------------------------------------


def test_media_types_handed_on_skipped_and_numbered_as_wireshark(tmp_path: Path) -> None:
    path = tmp_path / "media.cap"
    path.write_bytes(
        netmon_file(
            [
                Frame(ETH, 0, media=1),
                Frame(b"\x01" * 40, 10, media=0xFFE0),  # NetEvent: shown by Wireshark
                Frame(b"\x02" * 12, 20, media=0xFFFE),  # DNS cache: not a frame in Wireshark
                Frame(RAW_IP, 30, media=9),
                Frame(ETH, 40, media=0xE001),  # a converted pcap's LINKTYPE_ETHERNET
                Frame(ETH, 50, media=0),
            ]
        )
    )
    reader = open_capture(str(path))
    records = list(reader.records())
    assert [(r[0], r[2]) for r in records] == [(1, 1), (3, 101), (4, 1), (5, 1)]
    assert reader.frames == 5
    skipped = sorted(a.detail for a in reader.anomalies if a.code == "netmon.media-skipped")
    assert len(skipped) == 2
    assert "0xffe0" in skipped[0] and "numbered as Wireshark does" in skipped[0]
    assert "0xfffe" in skipped[1] and "not numbered" in skipped[1]
    analysis = analyze_paths([str(path)])
    assert analysis.stats.frames == 4
    assert analysis.stats.linktypes == (1, 101)


@needs_tshark
def test_hand_made_versions_agree_with_tshark(tmp_path: Path) -> None:
    """2.0 (no trailer), 2.1, 2.2 (+process index) and 2.3 (+UTC FILETIME) all read as tshark
    reads them, including a NetEvent frame Wireshark numbers and a negative time offset."""
    utc = EPOCH_1601 + 1_795_930_294 * 10_000_000
    frames = [
        Frame(ETH, 0, filetime=utc + 7_282_031),
        Frame(b"\x01" * 40, 1_500, media=0xFFE0, filetime=utc + 9_000_000),
        Frame(ETH, (1 << 64) - 2_000_000, filetime=utc + 12_345_670),  # 2 s before the start
        Frame(RAW_IP, 3_000_001, media=9, filetime=utc + 30_000_010),
    ]
    for minor in (1, 2, 3):
        path = tmp_path / f"v2{minor}.cap"
        path.write_bytes(netmon_file(frames, minor=minor))
        theirs = tshark_times(path)
        ours = our_times(path)
        assert len(theirs) == 4
        assert ours == [row for row in theirs if row[0] != 2], minor
    path = tmp_path / "v20.cap"
    path.write_bytes(netmon_file([f for f in frames if f.media != 0xFFE0], minor=0))
    assert our_times(path) == tshark_times(path)


def test_version_2_3_uses_the_frames_utc_time(tmp_path: Path) -> None:
    path = tmp_path / "v23.cap"
    stamp = EPOCH_1601 + 1_700_000_000 * 10_000_000 + 1_234_567
    path.write_bytes(netmon_file([Frame(ETH, 999_999_999, filetime=stamp)], minor=3))
    (record,) = list(open_capture(str(path)).records())
    assert record[1] == 1_700_000_000 + 0.1234567


def test_microsecond_times_are_the_pcap_readers_floats(tmp_path: Path) -> None:
    """Seconds plus microseconds over 1e6, as the pcap reader builds them: the same capture in
    both formats has bit-identical times (the report comparison above relies on it)."""
    path = tmp_path / "float.cap"
    path.write_bytes(netmon_file([Frame(ETH, 123_456), Frame(ETH, 7_000_001)], minor=0))
    start = int(time.mktime((2026, 11, 29, 6, 39, 44, 0, 0, -1)))  # the header's local time
    times = [r[1] for r in open_capture(str(path)).records()]
    assert times == [start + 373_456 / 1e6, start + 7 + 250_001 / 1e6]


def test_undecodable_file_media_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "tr.cap"
    path.write_bytes(netmon_file([Frame(ETH, 0)], minor=0, media=2))
    with pytest.raises(InputError, match="media type 2 \\(Token Ring\\)"):
        open_capture(str(path))


# -- damage ---------------------------------------------------------------------------------------


def codes(reader: NetmonReader) -> list[str]:
    return [a.code for a in reader.anomalies]


def test_short_header_and_unknown_version_are_input_errors(tmp_path: Path) -> None:
    path = tmp_path / "short.cap"
    path.write_bytes(b"GMBU\x00\x02\x01\x00")
    with pytest.raises(InputError, match="header cut short"):
        open_capture(str(path))
    good = netmon_file([Frame(ETH, 0)])
    path.write_bytes(good[:5] + b"\x07" + good[6:])
    with pytest.raises(InputError, match="version 7.1"):
        open_capture(str(path))


def test_missing_frame_table_walks_the_frames_in_file_order(tmp_path: Path) -> None:
    frames = [Frame(ETH, i * 1000) for i in range(5)]
    path = tmp_path / "untabled.cap"
    path.write_bytes(netmon_file(frames, table=False))
    reader = open_capture(str(path))
    assert len(list(reader.records())) == 5
    assert codes(reader) == ["capture.netmon-frame-table"]
    # Cut inside the last frame, with the table offset past the end: four frames, and why.
    whole = netmon_file(frames, table_at=10**6, table_len=20)
    path.write_bytes(whole[: 128 + 4 * (16 + len(ETH) + 2) + 10])
    reader = open_capture(str(path))
    assert len(list(reader.records())) == 4
    assert codes(reader) == ["capture.netmon-frame-table", "capture.truncated-record"]


def test_capture_of_no_frames_is_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "empty.cap"
    path.write_bytes(netmon_file([], table=False))
    reader = open_capture(str(path))
    assert list(reader.records()) == [] and reader.anomalies == []


def test_frame_table_cut_and_offsets_out_of_range(tmp_path: Path) -> None:
    frames = [Frame(ETH, i * 1000) for i in range(4)]
    whole = netmon_file(frames)
    path = tmp_path / "cut.cap"
    path.write_bytes(whole[:-6])  # the table loses its last entry and a half
    reader = open_capture(str(path))
    assert [r[0] for r in reader.records()] == [1, 2]
    assert codes(reader) == ["capture.netmon-frame-table"]
    size = len(whole)
    path.write_bytes(netmon_file(frames, offsets=[128, size + 50, 10**9, 5, 128]))
    reader = open_capture(str(path))
    records = list(reader.records())
    assert [r[0] for r in records] == [1, 2]
    assert codes(reader) == ["capture.bad-record"] * 3
    assert "past the end" in reader.anomalies[0].detail
    assert "inside the file header" in reader.anomalies[2].detail


def test_frame_cut_by_the_end_and_absurd_length(tmp_path: Path) -> None:
    frames = [Frame(ETH, 0), Frame(ETH, 10)]
    data = bytearray(netmon_file(frames))
    second = 128 + 16 + len(ETH) + 2
    struct.pack_into("<I", data, second + 12, 1 << 30)
    path = tmp_path / "absurd.cap"
    path.write_bytes(bytes(data))
    reader = open_capture(str(path))
    assert len(list(reader.records())) == 1
    assert codes(reader) == ["capture.bad-record"]
    struct.pack_into("<I", data, second + 12, 100_000)
    path.write_bytes(bytes(data))
    reader = open_capture(str(path))
    assert len(list(reader.records())) == 1
    assert codes(reader) == ["capture.truncated-record"]


def test_damaged_netmon_through_the_cli_keeps_the_frames_before(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from capinspect.cli import main

    frames = [Frame(ETH, i) for i in range(3)]
    path = tmp_path / "cli.cap"
    path.write_bytes(netmon_file(frames, table=False)[:-10])
    result = CliRunner().invoke(main, ["analyze", "--format", "json", str(path)])
    assert result.exit_code in (0, 1, 4), result.output
    doc = json.loads(result.stdout)
    assert doc["inputs"][0]["frames"] == 2
    assert "capture.damaged" in {f["id"] for f in doc["capture_findings"]}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(min_value=0, max_value=600),
    flips=st.lists(st.tuples(st.integers(0, 599), st.integers(0, 255)), max_size=6),
    minor=st.integers(0, 4),
)
def test_any_damage_is_an_anomaly_or_one_input_error(
    tmp_path: Path, cut: int, flips: list[tuple[int, int]], minor: int
) -> None:
    frames = [Frame(ETH, i * 7, media=m) for i, m in enumerate((1, 0xFFE0, 9, 0xFFFD, 1))]
    data = bytearray(netmon_file(frames, minor=minor))
    for at, value in flips:
        if at < len(data):
            data[at] = value
    path = tmp_path / "fuzz.cap"
    path.write_bytes(bytes(data[: max(cut, 4)]))
    try:
        reader = open_capture(str(path))
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    records = list(reader.records())
    assert all(isinstance(a, Anomaly) for a in reader.anomalies)
    assert [r[0] for r in records] == sorted({r[0] for r in records})
    assert reader.frames >= len(records)


@pytest.mark.parametrize("table", [True, False], ids=["frame-table", "walked"])
def test_bytes_after_the_last_frame(tmp_path: Path, table: bool) -> None:
    # NetMon is read by offset (the header points at the frame table), never as a stream: of
    # streamfeed's three feedings only the junk case applies.
    frames = [Frame(ETH, i * 1000) for i in range(3)]

    def read(data: bytes) -> tuple[list[tuple[int, float, bytes]], list[str]]:
        path = tmp_path / "junk.cap"
        path.write_bytes(data)
        reader = open_capture(str(path))
        return [(r[0], r[1], bytes(r[3])) for r in reader.records()], codes(reader)

    (clean, clean_codes), (after, after_codes) = with_junk(read, netmon_file(frames, table=table))
    assert len(clean) == 3 and clean_codes == ([] if table else ["capture.netmon-frame-table"])
    # With a frame table the junk is never looked at; walked, it is a frame cut short.
    assert after == clean
    assert after_codes == clean_codes + ([] if table else ["capture.truncated-record"])
