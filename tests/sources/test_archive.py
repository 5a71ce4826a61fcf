"""A zip given as a capture: one capture inside is read in place, anything else is one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from locations import PCAPS
from netmon_files import Frame, netmon_file
from scapy.layers.inet import IP, UDP, Ether

from capinspect.cli import main
from capinspect.errors import InputError
from capinspect.sources.capture import open_capture
from capinspect.sources.merge import expand_inputs

CAPTURE = PCAPS / "dns-cname.pcap"
ETH = bytes(Ether() / IP() / UDP(dport=67) / b"z")


def zipped(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def analyze(path: Path) -> tuple[int, dict[str, object] | None, str]:
    result = CliRunner().invoke(main, ["analyze", "--format", "json", str(path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, (json.loads(result.stdout) if result.stdout else None), result.stderr


def strip_inputs(doc: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in doc.items() if key != "inputs"}


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_one_pcap_in_a_zip_is_read_in_place(tmp_path: Path, method: int) -> None:
    archive = zipped(tmp_path / "ticket.zip", {"capture/phone.pcap": CAPTURE.read_bytes()}, method)
    code, doc, _ = analyze(archive)
    plain_code, plain, _ = analyze(CAPTURE)
    assert doc is not None and plain is not None
    assert code == plain_code
    assert strip_inputs(doc) == strip_inputs(plain)
    (entry,) = doc["inputs"]  # type: ignore[misc]
    assert entry["path"] == str(archive) and entry["format"] == "pcap+zip"
    assert entry["size"] == archive.stat().st_size
    assert entry["frames"] == plain["inputs"][0]["frames"]  # type: ignore[index]
    assert list(tmp_path.iterdir()) == [archive]  # nothing extracted to disk


@pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap is not installed")
def test_one_netmon_capture_in_a_zip(tmp_path: Path) -> None:
    cap = tmp_path / "netmon.cap"
    subprocess.run(["editcap", "-F", "netmon2", str(CAPTURE), str(cap)], check=True)
    archive = zipped(
        tmp_path / "netmon.zip", {"readme.txt": b"hello", "netmon.cap": cap.read_bytes()}
    )
    _, doc, _ = analyze(archive)
    _, plain, _ = analyze(CAPTURE)
    assert doc is not None and plain is not None
    assert strip_inputs(doc) == strip_inputs(plain)
    assert doc["inputs"][0]["format"] == "netmon2.0+zip"  # type: ignore[index]


def test_hand_made_netmon_in_a_zip_with_frames_out_of_file_order(tmp_path: Path) -> None:
    """The frame table sends the reader backwards in the member (a seek in a deflate stream)."""
    frames = [Frame(ETH, i * 100) for i in range(3)]
    plain = netmon_file(frames)
    size = 16 + len(ETH) + 2
    reordered = netmon_file(frames, offsets=[128 + 2 * size, 128, 128 + size])
    assert plain != reordered
    archive = zipped(tmp_path / "order.zip", {"order.cap": reordered})
    plain_path = tmp_path / "plain.cap"
    plain_path.write_bytes(plain)
    times = [r[1] for r in open_capture(str(plain_path)).records()]
    reader = open_capture(str(archive))
    assert [r[1] for r in reader.records()] == [times[2], times[0], times[1]]
    assert [a.code for a in reader.anomalies] == ["capture.time-backwards"]


def test_several_captures_say_how_to_extract(tmp_path: Path) -> None:
    data = CAPTURE.read_bytes()
    archive = zipped(tmp_path / "two.zip", {"a.pcap": data, "b.pcapng.gz": b"\x1f\x8b" + data})
    code, _, err = analyze(archive)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "2 captures (a.pcap, b.pcapng.gz)" in err
    assert f"Expand-Archive -Path {archive}" in err and f"unzip {archive}" in err


def test_no_capture_inside_names_what_is(tmp_path: Path) -> None:
    one = zipped(tmp_path / "etl.zip", {"NetTrace.etl": b"\x00" * 100})
    code, _, err = analyze(one)
    assert code == 2 and "pktmon etl2pcap NetTrace.etl --out NetTrace.pcapng" in err
    many = zipped(tmp_path / "logs.zip", {"a.txt": b"x", "b/c.log": b"y"})
    assert "holding no capture (2 files: a.txt, c.log)" in analyze(many)[2]
    empty = zipped(tmp_path / "empty.zip", {})
    assert "an empty zip archive" in analyze(empty)[2]


def test_damaged_and_encrypted_zips_are_one_line(tmp_path: Path) -> None:
    good = zipped(tmp_path / "good.zip", {"a.pcap": CAPTURE.read_bytes()}).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good[: len(good) // 2])
    code, _, err = analyze(cut)
    assert code == 2 and "zip archive that cannot be read" in err
    encrypted = bytearray(good)
    encrypted[6] |= 1  # the local header's flag; the central directory's too
    central = encrypted.rfind(b"PK\x01\x02")
    encrypted[central + 8] |= 1
    path = tmp_path / "locked.zip"
    path.write_bytes(bytes(encrypted))
    code, _, err = analyze(path)
    assert code == 2 and "is encrypted" in err and "Expand-Archive" in err


def test_corrupt_member_data_is_an_anomaly_after_the_frames_before(tmp_path: Path) -> None:
    data = CAPTURE.read_bytes()
    archive = zipped(tmp_path / "bad.zip", {"a.pcap": data}, zipfile.ZIP_STORED)
    raw = bytearray(archive.read_bytes())
    at = raw.find(data[-2000:])
    raw[at + 500 : at + 520] = bytes(20)  # stored bytes changed: the CRC fails at the end
    archive.write_bytes(bytes(raw))
    reader = open_capture(str(archive))
    records = list(reader.records())
    assert records
    assert "capture.bad-compression" in {a.code for a in reader.anomalies}


def test_a_directory_picks_up_zips(tmp_path: Path) -> None:
    zipped(tmp_path / "a.zip", {"a.pcap": CAPTURE.read_bytes()})
    assert expand_inputs([str(tmp_path)]) == [str(tmp_path / "a.zip")]


def test_open_capture_of_a_zip_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty zip"):
        open_capture(str(zipped(tmp_path / "e.zip", {})))
