"""No capture makes capinspect crash: third-party traces, lab captures, and damaged copies.

Every file is analysed whole through the CLI (exit 0 or 1, never a traceback), then cut at
random offsets and with random bit flips (exit 0, 1 or 2 with a one-line message). Damage is
seeded, so a failure is reproducible from the test id.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from locations import corpus_files, lab_captures

from capinspect.cli import main

FILES = corpus_files() + lab_captures()
DAMAGED_COPIES = 100
MAX_SECONDS = 5.0
"""Wall time any one analysis (whole, cut or flipped file) may take: damage must never make
capinspect spin (a corrupt length read as a huge loop count, a quadratic resync)."""


def _analyze(path: Path) -> tuple[int, str]:
    started = time.monotonic()
    result = CliRunner().invoke(main, ["analyze", "--format", "json", str(path)])
    elapsed = time.monotonic() - started
    assert elapsed < MAX_SECONDS, f"{path.name}: {elapsed:.1f} s"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_file_is_analysed_without_error(path: Path) -> None:
    code, err = _analyze(path)
    assert code in (0, 1, 4), err
    assert err == ""


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_cut_and_flipped_copies_never_crash(path: Path, tmp_path: Path) -> None:
    data = path.read_bytes()
    rng = random.Random(path.name)
    damaged = tmp_path / path.name
    for _ in range(DAMAGED_COPIES):
        cut = rng.randrange(len(data))
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(flipped))
            flipped[pos] ^= 1 << rng.randrange(8)
        for variant in (data[:cut], bytes(flipped)):
            damaged.write_bytes(variant)
            code, err = _analyze(damaged)
            assert code in (0, 1, 2, 4), err
            if code == 2:
                assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
            assert "internal error" not in err


def test_damage_is_reported_and_earlier_frames_kept(tmp_path: Path) -> None:
    source = next(p for p in lab_captures() if p.name == "interim-upgrade.pcap")
    data = source.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])
    result = CliRunner().invoke(main, ["analyze", str(cut)])
    assert result.exit_code in (0, 1, 4)
    assert "capture.damaged" in result.stdout
    assert "00:21:63:0f:20:7b" in result.stdout
