"""How the lab runs tcpdump: its command line, the wait for the capture to settle and the check
of tcpdump's counts need neither root nor network namespaces; one `lab` test (root + netns) runs
a scenario whose tcpdump falls behind and gets the error. The full scenario reruns are in
test_lab_scenarios.py.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from lab.runner import (
    SETTLE_LIMIT,
    SETTLE_QUIET,
    TCPDUMP_BUFFER_KIB,
    CaptureStats,
    Lab,
    LabError,
    check_capture,
    parse_tcpdump_stats,
    preflight,
    tcpdump_argv,
    wait_until_stable,
)
from lab.scenarios import by_name


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


LISTENING = "tcpdump: listening on br0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n"


def summary(captured: int, received: int, dropped: int) -> str:
    """tcpdump's stderr after SIGINT, as the runner's tcpdump.out holds it."""
    return (
        f"{LISTENING}{captured} packets captured\n{received} packets received by filter\n"
        f"{dropped} packets dropped by kernel\n"
    )


def test_stats_parsed_from_tcpdump_stderr() -> None:
    assert parse_tcpdump_stats(summary(147, 147, 0)) == CaptureStats(147, 147, 0)
    # tcpdump says "packet" for one; the last line may lack its newline.
    one = f"{LISTENING}1 packet captured\n1 packet received by filter\n0 packets dropped by kernel"
    assert parse_tcpdump_stats(one) == CaptureStats(1, 1, 0)


def test_stats_missing_when_tcpdump_never_summed_up() -> None:
    assert parse_tcpdump_stats(LISTENING) is None  # killed, not interrupted
    assert parse_tcpdump_stats("") is None
    assert parse_tcpdump_stats(LISTENING + "24 packets captured\n") is None


def test_a_complete_capture_passes_with_its_counts() -> None:
    assert check_capture(summary(24, 24, 0)) == CaptureStats(24, 24, 0)


def test_kernel_drops_fail_loudly_with_the_counts() -> None:
    # Seen on a loaded host with the default 2 MiB ring (lpe-update-rsa).
    with pytest.raises(LabError) as err:
        check_capture(summary(134, 136, 2))
    msg = str(err.value)
    assert "134 packets captured, 136 received by filter, 2 dropped by kernel" in msg
    assert "overflowed" in msg


def test_a_short_capture_fails_loudly_with_the_counts() -> None:
    # Frames still in the ring when SIGINT arrived: received, never written, not "dropped".
    with pytest.raises(LabError, match="2 packets captured, 32 received by filter, 0 dropped"):
        check_capture(summary(2, 32, 0))
    with pytest.raises(LabError, match="still growing after 5 s"):
        check_capture(summary(2, 32, 0), settled=False)


def test_no_counts_fail_loudly_with_what_tcpdump_said() -> None:
    with pytest.raises(LabError, match="(?s)no packet counts.*listening on br0"):
        check_capture(LISTENING)


# --- in namespaces ------------------------------------------------------------------------------

_MISSING = preflight()


@pytest.mark.lab
@pytest.mark.skipif(bool(_MISSING), reason="lab needs: " + ", ".join(_MISSING))
def test_a_run_whose_tcpdump_fell_behind_raises_with_the_counts() -> None:
    class StalledLab(Lab):
        """tcpdump is frozen once listening, so every frame of the run waits in its ring."""

        dump: subprocess.Popen[bytes] | None = None

        def spawn(
            self, ns: str, argv: list[str], log: str, env: dict[str, str] | None = None
        ) -> subprocess.Popen[bytes]:
            proc = super().spawn(ns, argv, log, env)
            if argv[:1] == ["tcpdump"]:
                self.dump = proc
            return proc

        def wait_for(self, what: str, check: Any, timeout: float = 8.0) -> None:
            super().wait_for(what, check, timeout)
            if what == "tcpdump" and self.dump is not None:
                os.kill(self.dump.pid, signal.SIGSTOP)

        def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
            if proc is self.dump and proc.poll() is None:
                proc.send_signal(sig)  # handled first when it runs again: the ring is not read
                proc.send_signal(signal.SIGCONT)
            super().stop(proc, sig)

    tmp = Path(tempfile.mkdtemp(prefix="capi-lab-stalled-"))
    lab = StalledLab(by_name("healthy-no-update"), tmp)
    try:
        with pytest.raises(LabError) as err:
            lab.run()
    finally:
        lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
    # The counts, and why: the frames waiting in the ring were received but never written.
    msg = str(err.value)
    counts = re.fullmatch(
        r"incomplete capture: (\d+) packets captured, (\d+) received by filter, "
        r"0 dropped by kernel \(tcpdump was stopped before it wrote every frame\)",
        msg,
    )
    assert counts is not None, msg
    assert int(counts[1]) < int(counts[2])
