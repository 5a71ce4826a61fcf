"""``analyze --jobs``: files apart in time analysed in parallel give the sequential result.

The promise of capinspect/parallel.py is that ``--jobs`` never changes a result: files that are
apart in time (each ends at least ``independence_gap`` before the next begins) are analysed in
worker processes, numbered as the merged stream would number them, and merged; anything else
is read as one merged stream.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from factories import assert_same_analysis
from locations import PCAPS, ROOT

from capinspect.analysis import Analysis
from capinspect.expectations import Expectations
from capinspect.limits import DEFAULT_LIMITS
from capinspect.parallel import CaptureSpan, apart, independence_gap, scan
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.protocols.tls.keys import load_tls_keys

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import generate  # noqa: E402

DAY = 86_400


def shifted(source: Path, target: Path, seconds: int) -> Path:
    """A copy of a little-endian classic pcap with every timestamp moved by ``seconds``."""
    data = bytearray(source.read_bytes())
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    offset = 24
    while offset + 16 <= len(data):
        sec, _usec, caplen, _orig = struct.unpack_from("<IIII", data, offset)
        struct.pack_into("<I", data, offset, sec + seconds)
        offset += 16 + caplen
    target.write_bytes(bytes(data))
    return target


def same(one: Analysis, other: Analysis) -> None:
    assert_same_analysis(one, other, anomaly_order=False)
    assert one.inputs == other.inputs


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three mirror-port captures of separate days, given out of time order."""
    folder = tmp_path_factory.mktemp("days")
    made = []
    for number, day in enumerate((2, 0, 1)):
        plain = folder / f"plain{number}.pcap"
        generate(4000, 2, 20 + number, plain)
        made.append(shifted(plain, folder / f"day{day}.pcap", day * DAY))
    return made


def test_files_apart_in_time_give_the_sequential_analysis(days: list[Path]) -> None:
    notes: list[str] = []
    paths = [str(p) for p in days]
    parallel = analyze_paths(paths, jobs=3, note=notes.append)
    assert notes == ["--jobs: 3 files analysed apart in up to 3 processes"]
    sequential = analyze_paths(paths)
    same(parallel, sequential)
    assert parallel.stats.frames == 12000
    one, other = evaluate(parallel, Expectations()), evaluate(sequential, Expectations())
    assert [d.verdict for d in one.devices] == [d.verdict for d in other.devices]
    assert [[f.check_id for f in d.findings] for d in one.devices] == [
        [f.check_id for f in d.findings] for d in other.devices
    ]


def test_files_that_overlap_are_read_as_one_stream(tmp_path: Path) -> None:
    first = PCAPS / "healthy-no-update.pcap"
    second = shifted(first, tmp_path / "an-hour-later.pcap", 30)  # within the gap
    notes: list[str] = []
    merged = analyze_paths([str(first), str(second)], jobs=2, note=notes.append)
    assert notes and "read as one merged stream" in notes[0]
    same(merged, analyze_paths([str(first), str(second)]))


def test_tls_keys_reach_the_worker_processes(tmp_path: Path) -> None:
    capture = PCAPS / "https-healthy.pcap"
    later = shifted(capture, tmp_path / "next-day.pcap", DAY)
    keys = load_tls_keys((str(PCAPS / "https-healthy.key.pem"),), None, None)
    paths = [str(capture), str(later)]
    parallel = analyze_paths(paths, tls_keys=keys, jobs=2)
    same(parallel, analyze_paths(paths, tls_keys=keys))
    assert sum(1 for ex in parallel.http if ex.request.path.endswith(".upx")) >= 2


def test_apart_needs_the_whole_gap() -> None:
    gap = independence_gap(DEFAULT_LIMITS)
    early = CaptureSpan("a", 1, 5, 0.0, 100.0)
    assert apart([early, CaptureSpan("b", 1, 5, 100.0 + gap, 200.0 + gap)], gap)
    assert not apart([early, CaptureSpan("b", 1, 5, 99.0 + gap, 200.0 + gap)], gap)
    assert not apart([early, CaptureSpan("b", 1, 5, 50.0, 60.0)], gap)  # overlap
    assert apart([early, CaptureSpan("empty", 24, 0, None, None)], gap)


def test_scan_counts_without_keeping(days: list[Path]) -> None:
    span = scan(str(days[1]))
    assert span.frames == 4000
    assert span.first_ts is not None and span.last_ts is not None
    assert span.last_ts > span.first_ts


def test_cli_jobs(days: list[Path]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "capinspect", "analyze", "-j", "2", *map(str, days)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode in (0, 1, 4), run.stderr
    assert "analysed apart in up to 2 processes" in run.stderr
    assert "Traceback" not in run.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "capinspect", "analyze", "--jobs", "-1", str(days[0])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
