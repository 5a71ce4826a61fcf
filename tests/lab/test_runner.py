"""How the lab runs tcpdump: the pieces that need neither root nor network namespaces.

The full runs that use them are in test_lab_scenarios.py (root + netns + the daemons).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab.runner import (
    SETTLE_LIMIT,
    SETTLE_QUIET,
    TCPDUMP_BUFFER_KIB,
    tcpdump_argv,
    wait_until_stable,
)


def test_tcpdump_runs_unbuffered_with_a_32_mib_ring(tmp_path: Path) -> None:
    argv = tcpdump_argv("br0", tmp_path / "raw.pcap")
    assert argv[0] == "tcpdump"  # tests/cli/test_live.py recognises the capture by this
    assert argv[argv.index("-i") + 1] == "br0"
    assert argv[argv.index("-w") + 1] == str(tmp_path / "raw.pcap")
    assert {"-U", "--immediate-mode", "-n"} <= set(argv)
    assert argv[argv.index("-s") + 1] == "0"
    # -B counts KiB: 32 MiB, 512 ring frames instead of the default 2 MiB's 32.
    assert argv[argv.index("-B") + 1] == str(TCPDUMP_BUFFER_KIB) == "32768"


class FakeTime:
    """A clock that advances only when slept on, and a writer that appends to the capture file
    on every sleep until `writes_until` (the tcpdump -U file of a run whose traffic ends then)."""

    def __init__(self, path: Path, writes_until: float) -> None:
        self.now = 100.0
        self.path = path
        self.writes_until = 100.0 + writes_until
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        if self.now <= self.writes_until:
            with self.path.open("ab") as f:
                f.write(b"x" * 60)


def test_settle_waits_for_the_capture_to_stop_growing(tmp_path: Path) -> None:
    cap = tmp_path / "raw.pcap"
    cap.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(20))
    t = FakeTime(cap, writes_until=1.2)
    assert wait_until_stable(cap, clock=t.clock, sleep=t.sleep) is True
    waited = t.now - 100.0
    # Returned one quiet period after the last write, not before, and not much later.
    assert 1.2 + SETTLE_QUIET <= waited < 1.2 + SETTLE_QUIET + 0.1
    assert (SETTLE_QUIET, SETTLE_LIMIT) == (0.3, 5.0)


def test_settle_a_quiet_capture_costs_one_quiet_period(tmp_path: Path) -> None:
    cap = tmp_path / "raw.pcap"
    cap.write_bytes(bytes(24))
    t = FakeTime(cap, writes_until=0.0)
    assert wait_until_stable(cap, clock=t.clock, sleep=t.sleep) is True
    assert t.now - 100.0 == pytest.approx(SETTLE_QUIET, abs=0.06)


def test_settle_gives_up_at_the_limit_when_the_capture_keeps_growing(tmp_path: Path) -> None:
    cap = tmp_path / "raw.pcap"
    cap.write_bytes(bytes(24))
    t = FakeTime(cap, writes_until=60.0)
    assert wait_until_stable(cap, clock=t.clock, sleep=t.sleep) is False
    assert t.now - 100.0 == pytest.approx(SETTLE_LIMIT, abs=0.06)


def test_settle_counts_the_file_appearing_as_growth(tmp_path: Path) -> None:
    cap = tmp_path / "raw.pcap"  # not there yet: tcpdump has not written its header
    t = FakeTime(cap, writes_until=0.5)
    assert wait_until_stable(cap, clock=t.clock, sleep=t.sleep) is True
    assert t.now - 100.0 >= 0.5 + SETTLE_QUIET


def test_settle_on_the_real_clock(tmp_path: Path) -> None:
    cap = tmp_path / "raw.pcap"
    cap.write_bytes(bytes(24))
    start = time.monotonic()
    assert wait_until_stable(cap, quiet=0.1, limit=2.0) is True
    assert 0.1 <= time.monotonic() - start < 2.0
