"""The live mode's evidence ring: newest frames within a byte budget, written as pcapng that
our reader, scapy and (when installed) tshark all read back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from scapy.utils import PcapNgReader

from capinspect.errors import CapinspectError
from capinspect.model import LinkType, RawFrame
from capinspect.sources.pcapfile import open_capture
from capinspect.sources.ring import FrameRing


def _frame(index: int, size: int, ts: float | None = None) -> RawFrame:
    data = bytes([index % 256]) * size
    return RawFrame(index, 1_700_000_000.0 + index / 8 if ts is None else ts,
                    LinkType.ETHERNET, data, size + 4)  # fmt: skip


def test_ring_keeps_the_newest_frames_within_the_budget() -> None:
    ring = FrameRing(max_bytes=250)
    for index in range(1, 11):
        ring.add(_frame(index, 60))
    assert [f.index for f in ring.frames()] == [7, 8, 9, 10]
    assert ring.size == 240 and ring.evicted == 6 and len(ring) == 4


def test_a_frame_larger_than_the_budget_is_still_kept_alone() -> None:
    ring = FrameRing(max_bytes=100)
    ring.add(_frame(1, 50))
    ring.add(_frame(2, 500))
    assert [f.index for f in ring.frames()] == [2] and ring.evicted == 1


def test_a_ring_needs_a_positive_size() -> None:
    with pytest.raises(CapinspectError):
        FrameRing(0)


def test_written_pcapng_reads_back_with_times_lengths_and_frame_comments(tmp_path: Path) -> None:
    ring = FrameRing()
    frames = [_frame(5, 61), _frame(9, 64, ts=1_700_000_001.456789), _frame(12, 1)]
    for frame in frames:
        ring.add(frame)
    path = tmp_path / "evidence.pcapng"
    assert ring.write_pcapng(path, "eth1", "capinspect test") == 3
    assert not (tmp_path / "evidence.pcapng.tmp").exists()
    with open_capture(str(path)) as reader:
        back = list(reader)
        assert reader.anomalies == [] and reader.format == "pcapng"
    assert [(f.data, f.orig_len) for f in back] == [(f.data, f.orig_len) for f in frames]
    assert [f.ts for f in back] == pytest.approx([f.ts for f in frames], abs=1e-6)
    with PcapNgReader(str(path)) as scapy_reader:
        comments = [bytes(p.comment or b"").decode() for p in scapy_reader]
    assert comments == ["capinspect frame 5", "capinspect frame 9", "capinspect frame 12"]
    if shutil.which("tshark"):
        out = subprocess.run(
            ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.comment", "-e", "frame.len"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        rows = [line.split("\t") for line in out.splitlines()]
        assert [row[-1] for row in rows] == ["65", "68", "5"]


def test_an_unwritable_path_is_a_one_line_error(tmp_path: Path) -> None:
    ring = FrameRing()
    ring.add(_frame(1, 10))
    with pytest.raises(CapinspectError, match="cannot write"):
        ring.write_pcapng(tmp_path / "no" / "such" / "dir.pcapng", "eth0", "capinspect")
