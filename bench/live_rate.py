"""How fast can ``capinspect live`` read a mirror port without kernel drops, and does its memory
stay flat over a long run? (``python -m bench.live_rate``; root; not a CI test.)

Why a separate script: the file benchmark (bench/run.py) measures reading speed; live mode is
bound by something else — a Python loop that must keep up with the kernel socket buffer. This
replays a large synthetic mirror-port capture (``bench.generate``; unrelated bulk TCP, TLS, RTP
with phones booting inside) with tcpreplay onto one end of a veth pair in a network namespace it
creates, runs ``capinspect live`` with the default filter on the other end, and reads the kernel
counters from its JSON report:

1. top speed: what tcpreplay manages, and how much the kernel dropped;
2. a ladder of fixed rates (packets/s on the wire): the highest rate with no drop is the rate the
   live mode sustains on this machine;
3. a long run at a sustainable rate (the capture looped), sampling the live process' RSS once a
   second: memory should stay flat (bounded engine state, bounded evidence ring).

Results go to stdout (and ``--json FILE``); docs/live.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVIDENCE_MB = 4
"""A small evidence ring, so it fills early in the long run and its share of memory is flat."""


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class Veth:
    """A namespace with veth va <-> vb; deleted on exit."""

    def __init__(self) -> None:
        self.ns = f"capi-bench-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Veth:
        sh("ip", "netns", "add", self.ns)
        for cmd in (
            "link add va mtu 65521 type veth peer name vb mtu 65521",
            "link set va up",
            "link set vb up",
        ):
            sh("ip", "-n", self.ns, *cmd.split())
        return self

    def __exit__(self, *_: object) -> None:
        sh("ip", "netns", "del", self.ns, check=False)


def rss_kib(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) if match else None


def queued_bytes(veth: Veth) -> int:
    """Bytes waiting in packet sockets of the namespace (/proc/net/packet Rmem column)."""
    table = sh("ip", "netns", "exec", veth.ns, "cat", "/proc/net/packet", check=False).stdout
    total = 0
    for line in table.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 7 and cols[6].isdigit():
            total += int(cols[6])
    return total


def run_once(
    veth: Veth, capture: Path, work: Path, rate: str, loops: int = 1, sample: bool = False
) -> dict[str, Any]:
    """One live run while tcpreplay sends ``capture`` at ``rate`` (``top`` or packets/s)."""
    report = work / "live.json"
    err = work / "live.err"
    live = subprocess.Popen(
        ["ip", "netns", "exec", veth.ns, sys.executable, "-m", "capinspect", "live", "-i", "vb"]
        + ["--format", "json", "-o", str(report), "--evidence", str(work / "ev.pcapng")]
        + ["--evidence-mb", str(EVIDENCE_MB)],
        stdout=subprocess.DEVNULL,
        stderr=open(err, "w"),  # noqa: SIM115 - closed with the process
        cwd=ROOT,
    )
    while "capturing on" not in err.read_text():
        if live.poll() is not None:
            raise SystemExit(err.read_text())
        time.sleep(0.05)
    speed = ["--topspeed"] if rate == "top" else [f"--pps={rate}"]
    replay_argv = ["ip", "netns", "exec", veth.ns, "tcpreplay", "-i", "va", *speed]
    if loops > 1:
        replay_argv.append(f"--loop={loops}")
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    replay = subprocess.Popen([*replay_argv, str(capture)], stdout=subprocess.PIPE, text=True)
    while replay.poll() is None:
        if sample:
            kib = rss_kib(live.pid)
            if kib is not None:
                samples.append((round(time.monotonic() - started, 1), kib))
        time.sleep(1.0 if sample else 0.1)
    sent_for = time.monotonic() - started
    out = replay.stdout.read() if replay.stdout else ""
    # The socket buffer absorbs a burst: the live process is done only once it is empty.
    deadline = time.monotonic() + 600
    while queued_bytes(veth) and time.monotonic() < deadline:
        time.sleep(0.05)
    drained_at = time.monotonic() - started
    time.sleep(0.5)
    live.send_signal(signal.SIGINT)
    live.wait(timeout=120)
    document = json.loads(report.read_text())
    sent = re.search(r"Actual: (\d+) packets", out)
    wire = int(sent.group(1)) if sent else 0
    counters = document["live"]
    return {
        "rate": rate,
        "wire_packets": wire,
        "seconds": round(sent_for, 2),
        "wire_pps": round(wire / sent_for) if sent_for else 0,
        "matched": counters["kernel_received"],
        "matched_pps": round(counters["kernel_received"] / sent_for) if sent_for else 0,
        "dropped": counters["kernel_dropped"],
        "read": counters["frames_read"],
        "drained_after": round(drained_at, 2),
        "processed_pps": round(counters["frames_read"] / drained_at) if drained_at else 0,
        "lag_s": round(drained_at - sent_for, 2),
        "phones": document["summary"]["devices"],
        "rss_kib": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", default="200k", help="size of the generated capture")
    parser.add_argument("--capture", help="use this capture instead of generating one")
    parser.add_argument(
        "--rates", default="20000,40000,80000,120000,160000", help="packets/s ladder"
    )
    parser.add_argument("--ladder-loops", type=int, default=3, help="loops per ladder step")
    parser.add_argument("--long-loops", type=int, default=10, help="loops of the long run")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench.live_rate needs root (network namespace, AF_PACKET, tcpreplay)")
    for tool in ("ip", "tcpdump", "tcpreplay"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench.live_rate needs {tool}")
    work = Path(tempfile.mkdtemp(prefix="capi-live-bench-"))
    try:
        capture = Path(args.capture) if args.capture else work / "mirror.pcap"
        if not args.capture:
            generate = [sys.executable, "-m", "bench.generate", "--packets", args.packets]
            sh(*generate, "-o", str(capture))
        results: dict[str, Any] = {
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "kernel": platform.release(),
            },
            "capture": str(capture),
        }
        with Veth() as veth:
            top = run_once(veth, capture, work, "top")
            print(
                f"top speed: {top['wire_pps']} pkt/s on the wire, {top['matched_pps']} pkt/s "
                f"matched the filter, {top['dropped']} of {top['matched']} dropped, "
                f"{top['phones']} phones; the live process read them all "
                f"{top['lag_s']} s after the replay ended: {top['processed_pps']} matched pkt/s "
                "processed"
            )
            ladder = []
            for rate in args.rates.split(","):
                step = run_once(veth, capture, work, rate, loops=args.ladder_loops)
                ladder.append(step)
                print(
                    f"{int(rate):>7} pkt/s asked: {step['wire_pps']:>7} sent, "
                    f"{step['matched_pps']:>6} matched/s, dropped {step['dropped']} of "
                    f"{step['matched']}, lag at the end {step['lag_s']} s"
                )
            # Sustained: no drop, and the process kept up (its backlog at the end is under 1 s).
            clean = [s for s in ladder if s["dropped"] == 0 and s["lag_s"] < 1.0]
            best = max(clean, key=lambda s: s["wire_pps"]) if clean else None
            if best:
                print(
                    f"sustained without drops: {best['wire_pps']} pkt/s on the wire "
                    f"({best['matched_pps']} pkt/s through the default filter)"
                )
            long_rate = str(int(best["rate"]) // 2) if best else "5000"
            long = run_once(veth, capture, work, long_rate, loops=args.long_loops, sample=True)
            rss = [kib for _, kib in long["rss_kib"]]
            if rss:
                print(
                    f"long run: {long['wire_packets']} packets in {long['seconds']} s at "
                    f"{long_rate} pkt/s, dropped {long['dropped']}; RSS first "
                    f"{rss[0] // 1024} MiB, after 10% {rss[len(rss) // 10] // 1024} MiB, "
                    f"max {max(rss) // 1024} MiB, last {rss[-1] // 1024} MiB"
                )
        results.update(top=top, ladder=ladder, sustained=best, long=long)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
