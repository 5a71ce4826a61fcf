"""A 200-phone mirror-port capture from the benchmark generator, analysed once per test run.

It is what a support desk meets (issue: the failing phones sat around row 90 of 5,000 lines):
the summary and HTML tests check the report of it puts the failures where a reader starts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from locations import PCAPS

from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.model import Report

BENCH_PHONES = 200


@pytest.fixture(scope="session")
def bench_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    capture = tmp_path_factory.mktemp("bench200") / "mirror.pcap"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.generate",
            "--phones",
            str(BENCH_PHONES),
            "--packets",
            "100k",
            "-o",
            str(capture),
        ],
        check=True,
        capture_output=True,
        cwd=PCAPS.parent,
    )
    return capture


@pytest.fixture(scope="session")
def bench_report(bench_capture: Path) -> Report:
    report = evaluate(analyze_paths([str(bench_capture)]), DEFAULT_EXPECTATIONS)
    assert len(report.devices) == BENCH_PHONES
    return report
