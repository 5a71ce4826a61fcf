"""The one pcapng writer (live ring and --evidence): blocks tshark and our reader accept."""

from __future__ import annotations

import struct
from pathlib import Path

from capinspect.sources.pcapfile import CaptureReader
from capinspect.sources.pcapng_writer import interface_block, packet_block, section_header


def _blocks(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    at = 0
    while at < len(data):
        kind, length = struct.unpack_from("<II", data, at)
        assert struct.unpack_from("<I", data, at + length - 4)[0] == length
        out.append((kind, data[at + 8 : at + length - 4]))
        at += length
    return out


def test_packet_block_pads_and_carries_comments() -> None:
    block = packet_block(0, 1.5, b"abcde", 60, ["one", "two"])
    assert len(block) % 4 == 0
    ((kind, body),) = _blocks(block)
    assert kind == 6
    interface, high, low, captured, original = struct.unpack_from("<IIIII", body)
    assert (interface, (high << 32) | low, captured, original) == (0, 1_500_000, 5, 60)
    assert b"one" in body and b"two" in body


def test_a_written_file_reads_back(tmp_path: Path) -> None:
    frame = bytes(range(64))
    path = tmp_path / "out.pcapng"
    path.write_bytes(
        section_header("capinspect test", "a comment")
        + interface_block(1, 0, "eth0")
        + interface_block(101)
        + packet_block(0, 10.25, frame, 64, ["capinspect frame 7"])
        + packet_block(1, 11.0, frame[:20], 20)
    )
    assert [kind for kind, _ in _blocks(path.read_bytes())] == [0x0A0D0D0A, 1, 1, 6, 6]
    with CaptureReader(str(path)) as reader:
        frames = list(reader)
    assert [(f.ts, f.linktype, f.data, f.orig_len) for f in frames] == [
        (10.25, 1, frame, 64),
        (11.0, 101, frame[:20], 20),
    ]
