"""The fuzz targets: every kept input replayed (no atheris needed), and a short atheris run.

``corpus/<target>/seed-*`` are starting inputs (tests/fuzz/make_seeds.py); ``crash-*`` are
inputs a fuzzer once crashed on, kept after the fix so the bug stays fixed. The atheris run is
bounded (``-max_total_time``); docs/robustness.md says how to run it for hours.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import fuzz_targets
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CORPUS = HERE / "corpus"
KEPT = sorted(p for p in CORPUS.glob("*/*") if p.is_file())
FUZZ_SECONDS = 2
"""Per harness in the normal suite; the eight run in parallel, ~10-15 s with start-up."""

needs_atheris = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris is not installed (pip install -e '.[test]'); the kept inputs still replay",
)


def test_every_target_has_a_harness_and_inputs() -> None:
    for target in fuzz_targets.TARGETS:
        assert (HERE / f"fuzz_{target}.py").is_file(), target
        assert any((CORPUS / target).glob("seed-*")), target


@pytest.mark.parametrize("path", KEPT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_kept_input_replays_cleanly(path: Path) -> None:
    fuzz_targets.TARGETS[path.parent.name](path.read_bytes())


@needs_atheris
def test_atheris_finds_no_crash(tmp_path: Path) -> None:
    """Every harness at once (in parallel: the suite pays ~FUZZ_SECONDS plus start-up)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    running: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    for target in sorted(fuzz_targets.TARGETS):
        work = tmp_path / target
        work.mkdir()
        command = [
            sys.executable,
            str(HERE / f"fuzz_{target}.py"),
            f"-max_total_time={FUZZ_SECONDS}",
            "-rss_limit_mb=2048",
            "-timeout=10",
            f"-artifact_prefix={work}/",
            str(work),
            str(CORPUS / target),
        ]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        running[target] = (process, work)
    failures: dict[str, str] = {}
    for target, (process, work) in running.items():
        _, stderr = process.communicate(timeout=180)
        found = sorted(p.name for p in work.iterdir() if p.name.startswith(("crash-", "timeout-")))
        if process.returncode != 0 or found or "Done" not in stderr:
            failures[target] = f"exit {process.returncode}, {found}: {stderr[-2000:]}"
    assert not failures, failures
