"""Hostile inputs cost bounded memory: each is run in a fresh interpreter under tracemalloc.

Each scenario below runs in a subprocess (``python tests/test_resource_bounds.py NAME``) so that
its peak is its own, and prints what it measured as JSON; the test asserts the peak (Python
allocations, tracemalloc) stays under the bound stated next to it and that the bound that was
hit is visible (an anomaly, or the value's ``problems``/``kept_all``). docs/limits.md lists the
bounds and what going over each one does.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
MB = 1 << 20

# -- scenarios (run in the child) ----------------------------------------------------------------


def xml_bombs() -> dict[str, Any]:
    """Check-in bodies built to blow up a naive XML parser, each at most max_xml_bytes."""
    from capinspect.protocols.upx import parse_checkin_request

    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
            for i in range(1, 10)
        )
        + b"]><Request><Model>&lol9;</Model></Request>"
    )
    levels = 74_000  # 7 bytes a level: just under max_xml_bytes (512 KiB)
    nested = b"<a>" * levels + b"x" + b"</a>" * levels
    wide = b"<Request>" + b'<F a="1" b="2"/>' * 30_000 + b"</Request>"
    huge = b"<Request><Model>" + b"A" * (64 * MB) + b"</Model></Request>"
    out: dict[str, Any] = {}
    for name, body in (("laughs", laughs), ("nested", nested), ("wide", wide)):
        tracemalloc.start()
        request = parse_checkin_request(body)
        out[name] = {
            "peak": tracemalloc.get_traced_memory()[1],
            "problems": list(request.problems),
            "fields": len(request.fields),
            "size": len(body),
        }
        tracemalloc.stop()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]  # the 64 MB body itself is the caller's
    request = parse_checkin_request(huge)
    out["huge"] = {
        "peak": tracemalloc.get_traced_memory()[1] - base,
        "problems": list(request.problems),
        "fields": len(request.fields),
        "size": len(huge),
    }
    tracemalloc.stop()
    return out


def endless_download() -> dict[str, Any]:
    """A 4 GB Content-Length download, 200 MB of which arrive, through HttpTracker."""
    from capinspect.model import Direction, FlowKey, FlowOpened, StreamData
    from capinspect.protocols.http.tracker import HttpTracker

    flow = FlowKey("10.0.0.23", 49152, "10.0.0.5", 80)
    tracker = HttpTracker()
    chunk = bytes(range(256)) * 256  # 64 KiB, one object fed again and again
    total = 200 * MB
    tracemalloc.start()
    tracker.feed(FlowOpened(flow, 1, 0.0, None, (), "http", True))
    request = b"GET /DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt HTTP/1.1\r\nHost: ocs\r\n\r\n"
    tracker.feed(StreamData(flow, Direction.TO_SERVER, request, 2, 0.0, 2))
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 4294967296\r\n\r\n"
    tracker.feed(StreamData(flow, Direction.TO_CLIENT, head, 3, 0.0, 3))
    for n in range(total // len(chunk)):
        tracker.feed(StreamData(flow, Direction.TO_CLIENT, chunk, 4 + n, 0.001 * n, 4 + n))
    exchanges = tracker.finish()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    body = exchanges[0].response.body if exchanges and exchanges[0].response else None
    return {
        "peak": peak,
        "fed": total,
        "size": body.size if body else None,
        "kept": len(body.data) if body else None,
        "kept_all": body.kept_all if body else None,
        "expected": body.expected if body else None,
        "complete": body.complete if body else None,
    }


def _rss_peak() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def million_flows() -> dict[str, Any]:
    """A million half-open TCP flows into the engine: SYN only, or one request-looking segment.

    Measured as peak RSS (tracemalloc would triple the run time): a million SYNs cost ~1 s,
    a request-looking segment opens a followed flow (~100 µs), so one in 25 is a request:
    40 000, twice ``max_flows``, enough to reach the steady state where flows are evicted.
    """
    from capinspect.anomalies import count_by_code
    from capinspect.engine import Engine
    from capinspect.model import Packet

    engine = Engine()
    flows = int(os.environ.get("CAPINSPECT_FLOWS", 1_000_000))
    before = _rss_peak()
    for n in range(flows):
        ip = f"10.{(n >> 16) & 0xFF}.{(n >> 8) & 0xFF}.{n & 0xFF}"
        port = 1024 + n % 60000
        if n % 25:
            pkt = Packet(n, n * 1e-4, None, None, (), ip, "10.255.0.1", 6, port, 80, b"", 1, 0, 2)
        else:
            pkt = Packet(
                n, n * 1e-4, None, None, (), ip, "10.255.0.1", 6, port, 80, b"GET / HTTP/1.1\r\n",
                1, 0, 0x18,
            )  # fmt: skip
        engine._route_packet(pkt)
    analysis = engine.finish()
    codes = count_by_code(analysis.anomalies)
    return {
        "rss_before": before,
        "rss_peak": _rss_peak(),
        "flows": flows,
        "requests": flows // 25,
        "max_flows": engine.limits.max_flows,
        "codes": codes,
        "anomalies": len(analysis.anomalies),
    }


def undecided_flows() -> dict[str, Any]:
    """Twice ``max_undecided_flows`` flows, each sending ``max_classify_segments`` one-byte
    segments of text that never becomes a request line: the most the reassembler can hold
    while it decides (flows/tcp.py, ``_Undecided``). Measured as the tracemalloc peak."""
    from capinspect.flows.tcp import TcpReassembler
    from capinspect.limits import DEFAULT_LIMITS
    from capinspect.model import Packet

    limits = DEFAULT_LIMITS
    flows = 2 * limits.max_undecided_flows
    reassembler = TcpReassembler()
    tracemalloc.start()
    most = 0
    for segment in range(limits.max_classify_segments - 1):
        for n in range(flows):
            ip = f"10.1.{n >> 8}.{n & 0xFF}"
            reassembler.feed(
                Packet(n, 0.0, None, None, (), ip, "10.255.0.1", 6, 40000, 80, b"x", 1 + segment,
                       1, 0x18)
            )  # fmt: skip
        most = max(most, len(reassembler._undecided))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "peak": peak,
        "flows": flows,
        "most_undecided": most,
        "max_undecided_flows": limits.max_undecided_flows,
        "segments": limits.max_classify_segments,
    }


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "xml_bombs": xml_bombs,
    "endless_download": endless_download,
    "million_flows": million_flows,
    "undecided_flows": undecided_flows,
}


def measure(name: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, __file__, name], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    measured: dict[str, Any] = json.loads(result.stdout)
    print(name, json.dumps(measured))  # shown with -s: the numbers docs/limits.md quotes
    return measured


# -- tests ---------------------------------------------------------------------------------------


def test_xml_bombs_are_refused_or_cut_within_bounded_memory() -> None:
    got = measure("xml_bombs")
    laughs, nested, wide, huge = got["laughs"], got["nested"], got["wide"], got["huge"]
    assert laughs["peak"] < 2 * MB and laughs["fields"] == 0
    assert any("unsafe XML refused" in p for p in laughs["problems"])
    # max_xml_bytes (512 KiB) of nested tags: parsed as a tree, walked only 64 levels deep.
    assert nested["size"] <= 512 * 1024
    assert nested["peak"] < 64 * MB
    assert any("deeper than 64 levels" in p for p in nested["problems"])
    assert wide["peak"] < 64 * MB and wide["fields"] == 5_000
    assert any("more than 5000 fields" in p for p in wide["problems"])
    assert huge["peak"] < 1 * MB and huge["fields"] == 0
    assert any("over the 524288-byte limit" in p for p in huge["problems"])


def test_endless_download_is_counted_not_kept() -> None:
    got = measure("endless_download")
    assert got["size"] == got["fed"] == 200 * MB
    assert got["expected"] == 4 * 1024 * MB and got["complete"] is False
    assert got["kept"] <= 1 * MB and got["kept_all"] is False
    assert got["peak"] < 8 * MB  # max_body_kept (1 MiB) + one chunk + bookkeeping


def test_flows_being_judged_hold_bounded_memory() -> None:
    got = measure("undecided_flows")
    assert got["most_undecided"] == got["max_undecided_flows"]
    assert got["peak"] < 64 * MB  # measured ~36 MB (4096 flows x 31 segments held)


@pytest.mark.slow
def test_a_million_half_open_flows_stay_within_max_flows() -> None:
    got = measure("million_flows")
    assert got["codes"].get("limit.max_flows", 0) >= 1
    # The sink keeps 20 of each code and counts the rest exactly.
    assert got["anomalies"] <= 21 * len(got["codes"])
    assert got["codes"]["limit.max_flows"] > 20
    assert got["rss_peak"] - got["rss_before"] < 256 * MB  # measured ~155 MB (20 000 flows)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(SCENARIOS[sys.argv[1]]()))
