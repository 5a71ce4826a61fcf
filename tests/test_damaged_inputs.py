"""Damaged capture files through the CLI: what is readable is analysed, the damage is reported.

Exit 2 (with exactly one line on stderr) only when nothing at all can be read; otherwise the
phones found before the damage get their verdicts (0/1) and ``capture.damaged`` names the damage.
The reader-level details (byte orders, every block type) are in tests/sources/test_pcapfile.py.
"""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from locations import PCAPS

from capinspect.cli import main

HEALTHY = PCAPS / "healthy-no-update.pcap"
PHONE = "00:21:63:0f:31:a2"
"""The phone of healthy-no-update.pcap."""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def analyze_json(path: Path) -> tuple[int, dict[str, Any], str]:
    code, out, err = run("analyze", "--format", "json", str(path))
    return code, (json.loads(out) if out else {}), err


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], lines[0]


def anomaly_codes(doc: dict[str, Any]) -> set[str]:
    return {a["code"] for a in doc["anomalies"]}


def damage_finding(doc: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in doc["capture_findings"] if f["id"] == "capture.damaged")


def phones(doc: dict[str, Any]) -> list[str]:
    return [d["mac"] for d in doc["devices"]]


# -- classic pcap records ------------------------------------------------------------------------


def records(path: Path) -> tuple[bytes, list[tuple[int, int, bytes, int]]]:
    """(file header, [(sec, usec, data, orig_len)]) of a little-endian microsecond pcap."""
    raw = path.read_bytes()
    assert raw[:4] == b"\xd4\xc3\xb2\xa1"
    out, at = [], 24
    while at < len(raw):
        sec, usec, caplen, orig = struct.unpack_from("<IIII", raw, at)
        out.append((sec, usec, raw[at + 16 : at + 16 + caplen], orig))
        at += 16 + caplen
    return raw[:24], out


def pcap(
    header: bytes, recs: list[tuple[int, int, bytes, int]], snaplen: int | None = None
) -> bytes:
    if snaplen is not None:
        header = header[:16] + struct.pack("<I", snaplen) + header[20:]
    body = b"".join(struct.pack("<IIII", s, u, len(d), o) + d for s, u, d, o in recs)
    return header + body


def record_offsets(path: Path) -> list[int]:
    _, recs = records(path)
    offsets, at = [], 24
    for _, _, data, _ in recs:
        offsets.append(at)
        at += 16 + len(data)
    return offsets


# -- nothing readable: exit 2, one line ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ("empty",)),
        (b"\xd4\xc3", ("too short",)),
        (b"GIF89a" + b"\x00" * 100, ("not a pcap or pcapng", "magic")),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00" + b"\x00" * 20, ("byte-order magic",)),
        (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\x00" * 4, ("header cut short",)),
        (gzip.compress(b""), ("empty",)),
        (b"\x1f\x8b\x08\x00garbage-not-deflate", ("cannot decompress",)),
    ],
    ids=[
        "empty",
        "4-bytes",
        "wrong-magic",
        "pcapng-no-bom",
        "pcap-header-cut",
        "gzip-empty",
        "gzip-bad",
    ],
)
def test_nothing_readable_exits_2_with_one_line(
    tmp_path: Path, content: bytes, words: tuple[str, ...]
) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    for command in ("analyze", "timeline"):
        code, out, err = run(command, str(path))
        assert_one_line_error(code, err, str(path), *words)
        assert out == ""


def test_missing_file_and_directory_exit_2_with_one_line(tmp_path: Path) -> None:
    code, _, err = run("analyze", str(tmp_path / "nope.pcap"))
    assert_one_line_error(code, err, "no such file")
    (tmp_path / "empty-dir").mkdir()
    code, _, err = run("analyze", str(tmp_path / "empty-dir"))
    assert code == 2 and len(err.strip().splitlines()) == 1


# -- cut at any byte -----------------------------------------------------------------------------


def test_cut_at_every_byte_of_the_header_and_around_every_record(tmp_path: Path) -> None:
    """Cut before 24 bytes: exit 2. Cut later: the records before the cut are analysed."""
    data = HEALTHY.read_bytes()
    offsets = record_offsets(HEALTHY)
    cuts = set(range(0, 25)) | {o + d for o in offsets for d in (-1, 0, 1, 9, 16, 17)}
    path = tmp_path / "cut.pcap"
    for cut in sorted(c for c in cuts if 0 <= c < len(data)):
        path.write_bytes(data[:cut])
        code, doc, err = analyze_json(path)
        if cut < 24:
            assert_one_line_error(code, err)
            continue
        assert code in (0, 1, 4) and err == "", (cut, err)
        complete = sum(1 for o in offsets[1:] + [len(data)] if o <= cut)
        assert doc["capture"]["frames"] == complete, cut
        if cut not in offsets:
            assert "capture.truncated-record" in anomaly_codes(doc), cut
            assert damage_finding(doc)["frames"] or complete == 0


def test_cut_capture_still_gives_the_phone_its_verdict(tmp_path: Path) -> None:
    data = HEALTHY.read_bytes()
    last = record_offsets(HEALTHY)[-1]
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[: last + 20])
    code, doc, _ = analyze_json(path)
    assert code in (0, 1, 4)
    assert PHONE in phones(doc)
    assert "capture.truncated-record" in damage_finding(doc)["observed"] + json.dumps(doc)


# -- compressed ----------------------------------------------------------------------------------


def test_gzip_of_a_pcap_is_analysed_like_the_pcap(tmp_path: Path) -> None:
    path = tmp_path / "healthy.pcap.gz"
    path.write_bytes(gzip.compress(HEALTHY.read_bytes()))
    plain_code, plain, _ = analyze_json(HEALTHY)
    code, doc, err = analyze_json(path)
    assert (code, err) == (plain_code, "")
    assert doc["inputs"][0]["format"] == "pcap+gzip"
    assert doc["capture"] == plain["capture"]
    assert [(d["mac"], d["verdict"]) for d in doc["devices"]] == [
        (d["mac"], d["verdict"]) for d in plain["devices"]
    ]


def test_gzip_cut_in_the_middle_keeps_the_frames_before(tmp_path: Path) -> None:
    packed = gzip.compress(HEALTHY.read_bytes() * 1)
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(packed[: len(packed) * 3 // 4])
    code, doc, err = analyze_json(path)
    assert code in (0, 1, 4) and err == ""
    assert doc["capture"]["frames"] > 0
    assert anomaly_codes(doc) & {"capture.bad-compression", "capture.truncated-record"}
    assert damage_finding(doc)


# -- pcapng blocks -------------------------------------------------------------------------------


def block(block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def pcapng(*blocks: bytes) -> bytes:
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack("<HHI", 1, 0, 0))
    return shb + idb + b"".join(blocks)


def epb(sec: int, usec: int, data: bytes, orig: int | None = None) -> bytes:
    units = sec * 1_000_000 + usec
    head = struct.pack("<IIIII", 0, units >> 32, units & 0xFFFFFFFF, len(data), orig or len(data))
    return block(6, head + data)


def healthy_epbs() -> list[bytes]:
    return [epb(s, u, d, o) for s, u, d, o in records(HEALTHY)[1]]


def test_pcapng_unknown_block_is_skipped_and_reported(tmp_path: Path) -> None:
    epbs = healthy_epbs()
    path = tmp_path / "unknown.pcapng"
    path.write_bytes(pcapng(epbs[0], block(0x1234, b"mystery"), *epbs[1:]))
    code, doc, err = analyze_json(path)
    assert code in (0, 1, 4) and err == ""
    assert doc["capture"]["frames"] == len(epbs)
    assert "pcapng.unknown-block" in anomaly_codes(doc)
    assert PHONE in phones(doc)


def test_pcapng_oversize_block_stops_reading_and_is_reported(tmp_path: Path) -> None:
    epbs = healthy_epbs()
    half = len(epbs) // 2
    oversize = struct.pack("<II", 6, 0x7FFFFFF0) + b"\x00" * 64
    path = tmp_path / "oversize.pcapng"
    path.write_bytes(pcapng(*epbs[:half], oversize, *epbs[half:]))
    code, doc, err = analyze_json(path)
    assert code in (0, 1, 4) and err == ""
    assert doc["capture"]["frames"] == half
    assert "pcapng.oversize-block" in anomaly_codes(doc)
    assert damage_finding(doc)


def test_pcapng_with_nothing_but_a_header_is_readable_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "header-only.pcapng"
    path.write_bytes(pcapng())
    code, doc, err = analyze_json(path)
    assert code == 4 and err == ""  # analysed, nothing judged
    assert doc["capture"]["frames"] == 0
    no_phone = next(f for f in doc["capture_findings"] if f["id"] == "capture.no-phone-traffic")
    assert "nothing readable" in no_phone["observed"]


# -- odd records ---------------------------------------------------------------------------------


def test_records_longer_than_the_snap_length_are_kept_and_reported(tmp_path: Path) -> None:
    header, recs = records(HEALTHY)
    path = tmp_path / "snaplen.pcap"
    path.write_bytes(pcap(header, recs, snaplen=64))
    code, doc, err = analyze_json(path)
    plain_code, plain, _ = analyze_json(HEALTHY)
    assert (code, err) == (plain_code, "")
    assert "capture.snaplen-exceeded" in anomaly_codes(doc)
    assert [(d["mac"], d["verdict"]) for d in doc["devices"]] == [
        (d["mac"], d["verdict"]) for d in plain["devices"]
    ]


def test_timestamps_going_backwards_are_reported_and_analysed(tmp_path: Path) -> None:
    header, recs = records(HEALTHY)
    sec, usec, data, orig = recs[3]
    recs[3] = (sec - 3600, usec, data, orig)
    path = tmp_path / "backwards.pcap"
    path.write_bytes(pcap(header, recs))
    code, doc, err = analyze_json(path)
    assert code in (0, 1, 4) and err == ""
    assert "capture.time-backwards" in anomaly_codes(doc)
    assert doc["capture"]["frames"] == len(recs)
    assert PHONE in phones(doc)


def test_unknown_link_type_is_reported_not_fatal(tmp_path: Path) -> None:
    header, recs = records(HEALTHY)
    header = header[:20] + struct.pack("<I", 147)  # LINKTYPE_USER0
    path = tmp_path / "user0.pcap"
    path.write_bytes(pcap(header, recs))
    for command in ("analyze", "timeline"):
        code, out, err = run(command, str(path))
        assert code in (0, 1, 4) and err == "" and out
    code, doc, _ = analyze_json(path)
    assert "decode.unsupported-linktype" in anomaly_codes(doc)
    assert doc["capture"]["frames"] == len(recs) and doc["devices"] == []


def test_absurd_record_length_stops_reading_after_the_good_records(tmp_path: Path) -> None:
    header, recs = records(HEALTHY)
    data = pcap(header, recs[:5]) + struct.pack("<IIII", 1, 0, 0xFFFFFFF0, 60) + b"x" * 100
    path = tmp_path / "absurd.pcap"
    path.write_bytes(data)
    code, doc, err = analyze_json(path)
    assert code in (0, 1, 4) and err == ""
    assert doc["capture"]["frames"] == 5
    assert "capture.bad-record" in anomaly_codes(doc)


def test_one_good_and_one_damaged_file_together(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(HEALTHY.read_bytes()[:300])
    code, doc, err = analyze_json(cut)
    assert code in (0, 1, 4) and err == ""
    code, out, err = run("analyze", "--format", "json", str(HEALTHY), str(cut))
    assert code in (0, 1, 4) and err == ""
    assert PHONE in phones(json.loads(out))
