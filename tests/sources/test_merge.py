"""Merging several captures in time order, input expansion and file identity."""

from __future__ import annotations

import gzip
import hashlib
import heapq
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capinspect.errors import InputError
from capinspect.model import RecordBatch
from capinspect.sources import merge
from capinspect.sources.merge import expand_inputs, iter_frames
from capinspect.sources.pcapfile import open_capture


def pcap_with(times: list[float], marker: bytes) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, ts in enumerate(times):
        data = marker + bytes([i % 256]) * 20
        sec, usec = int(ts), round((ts - int(ts)) * 1e6)
        out += struct.pack("<IIII", sec, usec, len(data), len(data)) + data
    return out


def test_frames_merge_in_time_order_and_are_renumbered(tmp_path: Path) -> None:
    (tmp_path / "a.pcap").write_bytes(pcap_with([1.0, 3.0, 5.0], b"A"))
    (tmp_path / "b.pcap.gz").write_bytes(gzip.compress(pcap_with([2.0, 3.0, 4.0], b"B")))
    stream = iter_frames([str(tmp_path / "a.pcap"), str(tmp_path / "b.pcap.gz")])
    frames = list(stream)
    assert [f.index for f in frames] == [1, 2, 3, 4, 5, 6]
    assert [f.ts for f in frames] == [1.0, 2.0, 3.0, 3.0, 4.0, 5.0]
    # Equal timestamps keep the order the files were given in.
    assert [(f.data[:1], f.source) for f in frames] == [
        (b"A", 0),
        (b"B", 1),
        (b"A", 0),
        (b"B", 1),
        (b"B", 1),
        (b"A", 0),
    ]
    inputs = stream.inputs
    assert [i.format for i in inputs] == ["pcap", "pcap+gzip"]
    assert [i.frames for i in inputs] == [3, 3]
    for info in inputs:
        raw = Path(info.path).read_bytes()
        assert info.size == len(raw)
        assert info.sha256 == hashlib.sha256(raw).hexdigest()
    assert stream.bytes_read == stream.total_bytes


def test_single_file_keeps_its_numbering_and_anomalies(tmp_path: Path) -> None:
    content = pcap_with([1.0, 2.0], b"A")
    (tmp_path / "cut.pcap").write_bytes(content[:-5])
    stream = iter_frames([str(tmp_path / "cut.pcap")])
    frames = list(stream)
    assert [f.index for f in frames] == [1]
    assert [(a.code, a.frame) for a in stream.anomalies] == [("capture.truncated-record", 2)]
    assert stream.inputs[0].anomalies == tuple(stream.anomalies)


def test_several_files_drop_per_file_frame_numbers_from_anomalies(tmp_path: Path) -> None:
    (tmp_path / "a.pcap").write_bytes(pcap_with([1.0], b"A"))
    (tmp_path / "b.pcap").write_bytes(pcap_with([2.0, 3.0], b"B")[:-3])
    stream = iter_frames([str(tmp_path / "a.pcap"), str(tmp_path / "b.pcap")])
    assert len(list(stream)) == 2
    [anomaly] = stream.anomalies
    assert anomaly.frame is None and "b.pcap" in anomaly.detail


def test_sha256_before_iteration_takes_a_separate_pass(tmp_path: Path) -> None:
    path = tmp_path / "a.pcap"
    path.write_bytes(pcap_with([1.0, 2.0], b"A"))
    stream = iter_frames([str(path)])
    assert stream.inputs[0].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(list(stream)) == 2


def test_expand_inputs_directories_globs_and_errors(tmp_path: Path) -> None:
    for name in ("b.pcapng", "a.pcap", "c.cap", "d.pcap.gz", "e.zst", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    names = [Path(p).name for p in expand_inputs([str(tmp_path)])]
    assert names == ["a.pcap", "b.pcapng", "c.cap", "d.pcap.gz", "e.zst"]
    assert [Path(p).name for p in expand_inputs([str(tmp_path / "*.pcap*")])] == [
        "a.pcap",
        "b.pcapng",
        "d.pcap.gz",
    ]
    with pytest.raises(InputError, match="pattern matches no file"):
        expand_inputs([str(tmp_path / "*.nothing")])
    with pytest.raises(InputError, match="no such file"):
        expand_inputs([str(tmp_path / "missing.pcap")])
    with pytest.raises(InputError, match="no capture files"):
        expand_inputs([str(tmp_path / "sub")])


def test_unusable_file_among_several_raises_before_reading(tmp_path: Path) -> None:
    (tmp_path / "a.pcap").write_bytes(pcap_with([1.0], b"A"))
    (tmp_path / "b.pcap").write_bytes(b"not a capture at all")
    with pytest.raises(InputError, match="b.pcap: not a pcap or pcapng file"):
        iter_frames([str(tmp_path / "a.pcap"), str(tmp_path / "b.pcap")])


def _all(batch: RecordBatch) -> np.ndarray:
    return np.arange(len(batch), dtype=np.intp)


def mergecap_order(paths: list[str]) -> list[tuple[int, float, int, bytes, int, int]]:
    """The reference merge, independent of FrameStream: each file read alone, merged by time
    with ``heapq.merge`` (stable: equal times keep the order the files were given), numbered."""
    files = []
    for source, path in enumerate(paths):
        with open_capture(path, source=source) as reader:
            files.append(list(reader.records()))
    merged = heapq.merge(*files, key=lambda record: record[1])
    return [(number, *record[1:]) for number, record in enumerate(merged, 1)]


def pcapng_with(times: list[float], marker: bytes) -> bytes:
    """A pcapng file: one Ethernet interface, an Enhanced Packet Block per time, and a Simple
    Packet Block after every fifth (a block read on its own amid the runs)."""

    def block(block_type: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        return (
            struct.pack("<II", block_type, len(body) + 12)
            + body
            + struct.pack("<I", len(body) + 12)
        )

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 1, 0, 0))
    for i, ts in enumerate(times):
        data = marker + bytes([i]) * 20
        units = round(ts * 1e6)
        out += block(6, struct.pack("<IIIII", 0, units >> 32, units & 0xFFFFFFFF, 21, 21) + data)
        if i % 5 == 4:
            out += block(3, struct.pack("<I", 21) + marker + b"s" * 20)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(0, 12).map(lambda t: t / 4), min_size=0, max_size=30),
            st.booleans(),
        ),
        min_size=2,
        max_size=4,
    ),
    st.sampled_from([1, 2, 5, merge.SIEVE_RUN]),
)
def test_merged_runs_are_the_record_by_record_merge(
    files: list[tuple[list[float], bool]], sieve_run: int
) -> None:
    """Files going back in time, equal timestamps across files, empty files, pcap and pcapng
    mixed, runs short and long: the records handed on, to the sieve in runs or one by one,
    are exactly the records, numbers and order of the record-by-record merge."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for number, (stamps, ng) in enumerate(files):
            path = Path(folder) / f"{number}.{'pcapng' if ng else 'pcap'}"
            write = pcapng_with if ng else pcap_with
            path.write_bytes(write(stamps, bytes([65 + number])))
            paths.append(str(path))
        expected = mergecap_order(paths)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(merge, "SIEVE_RUN", sieve_run)
            runs = list(iter_frames(paths).records(sieve=_all))
            plain = list(iter_frames(paths).records())
    assert runs == expected
    assert plain == expected


def test_files_that_follow_each_other_merge_in_whole_buffers(tmp_path: Path) -> None:
    for name, start in (("late.pcap", 1000.0), ("early.pcap", 1.0)):
        (tmp_path / name).write_bytes(pcap_with([start + i for i in range(300)], name[:1].encode()))
    sizes: list[int] = []

    def sieve(batch: RecordBatch) -> np.ndarray:
        sizes.append(len(batch))
        return _all(batch)

    paths = [str(tmp_path / "late.pcap"), str(tmp_path / "early.pcap")]
    records = list(iter_frames(paths).records(sieve=sieve))
    assert sizes == [300, 300]
    assert [r[0] for r in records] == list(range(1, 601))
    assert [r[5] for r in records[:300]] == [1] * 300  # the early file comes first


def test_files_that_interleave_skip_the_sieve(tmp_path: Path) -> None:
    """Two ports captured at once: runs of one record are handed on as they are (the decoder
    decides), not to a sieve call each."""
    for name, offset in (("a.pcap", 0.0), ("b.pcap", 0.5)):
        stamps = [offset + i for i in range(300)]
        (tmp_path / name).write_bytes(pcap_with(stamps, name[:1].encode()))
    paths = [str(tmp_path / "a.pcap"), str(tmp_path / "b.pcap")]
    sieved: list[int] = []

    def sieve(batch: RecordBatch) -> np.ndarray:
        sieved.append(len(batch))
        return _all(batch)

    records = list(iter_frames(paths).records(sieve))
    assert sieved == []
    assert records == mergecap_order(paths)
    assert [r[1] for r in records[:4]] == [0.0, 0.5, 1.0, 1.5]
