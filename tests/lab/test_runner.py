"""How the lab runs tcpdump: the pieces that need neither root nor network namespaces.

The full runs that use them are in test_lab_scenarios.py (root + netns + the daemons).
"""

from __future__ import annotations

from pathlib import Path

from lab.runner import TCPDUMP_BUFFER_KIB, tcpdump_argv


def test_tcpdump_runs_unbuffered_with_a_32_mib_ring(tmp_path: Path) -> None:
    argv = tcpdump_argv("br0", tmp_path / "raw.pcap")
    assert argv[0] == "tcpdump"  # tests/cli/test_live.py recognises the capture by this
    assert argv[argv.index("-i") + 1] == "br0"
    assert argv[argv.index("-w") + 1] == str(tmp_path / "raw.pcap")
    assert {"-U", "--immediate-mode", "-n"} <= set(argv)
    assert argv[argv.index("-s") + 1] == "0"
    # -B counts KiB: 32 MiB, 512 ring frames instead of the default 2 MiB's 32.
    assert argv[argv.index("-B") + 1] == str(TCPDUMP_BUFFER_KIB) == "32768"
