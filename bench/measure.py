"""Run one command and report its wall time and peak RSS (`python -m bench.measure -- CMD...`).

Why a wrapper process: ``ru_maxrss`` of ``RUSAGE_CHILDREN`` is the maximum over every child a
process has ever waited for, so measuring several commands from the runner itself would report
the largest one each time. A fresh wrapper has exactly one child, so its RUSAGE_CHILDREN peak is
that child's. The wrapper's own start-up is outside the timed region.

Prints one JSON line: ``{"wall_s", "user_s", "sys_s", "max_rss_kb", "returncode"}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Run the command with stdout to a file (or /dev/null) and print the measurement."""
    ap = argparse.ArgumentParser(prog="python -m bench.measure")
    ap.add_argument("--stdout", default="/dev/null", help="where the command's stdout goes")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command")
    args = ap.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command given")
    with open(args.stdout, "wb") as out:
        started = time.perf_counter()
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, check=False)
        wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "wall_s": round(wall, 4),
                "user_s": round(usage.ru_utime, 3),
                "sys_s": round(usage.ru_stime, 3),
                "max_rss_kb": usage.ru_maxrss,
                "returncode": done.returncode,
                "stderr_tail": done.stderr.decode("utf-8", "replace")[-2000:],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
