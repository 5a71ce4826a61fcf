"""The live source: BPF compiled by libpcap, frames off an AF_PACKET socket as a file has them.

The socket tests replay committed captures with tcpreplay onto one end of a veth pair inside a
network namespace this test creates, and read the other end with LiveSource in a child process
(``ip netns exec``). The receiving veth takes the 802.1Q tag out of each frame (the kernel's
rx path does that with or without the 8021q module), so the multi-phone capture, whose phones
are on tagged voice VLANs, checks that the source puts the tags back where they were.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from locations import PCAPS, ROOT, needs_netns

from capinspect.errors import LiveCaptureError
from capinspect.model import RawFrame
from capinspect.sources import bpf
from capinspect.sources.bpf import pack_filter
from capinspect.sources.live import DEFAULT_FILTER, LiveSource, compile_filter
from capinspect.sources.merge import iter_frames
from capinspect.sources.pcapfile import open_capture
from capinspect.sources.ring import FrameRing

needs_tcpdump = pytest.mark.skipif(bpf.tcpdump() is None, reason="tcpdump is not installed")
needs_compiler = pytest.mark.skipif(
    bpf.libpcap() is None and bpf.tcpdump() is None,
    reason="compiling a filter needs libpcap or tcpdump, neither is installed",
)


@pytest.fixture
def veth_ns() -> Iterator[str]:
    """A namespace holding veth pair va <-> vb (MTU large enough for the lab's GSO frames)."""
    name = f"capi-lv-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (
            "link add va mtu 65521 type veth peer name vb mtu 65521",
            "link set va up",
            "link set vb up",
        ):
            subprocess.run(["ip", "-n", name, *cmd.split()], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


_READER = """
import json, subprocess, sys, time
from capinspect.sources.live import LiveSource
src = LiveSource("vb", sys.argv[2] if len(sys.argv) > 2 else None)
src.open()
subprocess.run(["tcpreplay", "-q", "--topspeed", "-i", "va", sys.argv[1]],
               check=True, capture_output=True)
frames, quiet = [], 0
while quiet < 3:
    batch = src.read(0.2)
    quiet = 0 if batch else quiet + 1
    frames.extend(batch)
stats = src.stats()
src.close()
print(json.dumps({"frames": [[f.index, f.ts, f.data.hex(), f.orig_len] for f in frames],
                  "received": stats.received, "dropped": stats.dropped}))
"""


def replay_and_read(ns: str, capture: Path, bpf: str | None = None) -> dict[str, object]:
    argv = ["ip", "netns", "exec", ns, sys.executable, "-c", _READER, str(capture)]
    if bpf is not None:
        argv.append(bpf)
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


# -- filter -----------------------------------------------------------------------------------


def test_default_filter_compiles_to_classic_bpf() -> None:
    program = compile_filter(DEFAULT_FILTER)
    assert 20 < len(program) < 4096
    assert program[-1][0] == 0x06  # BPF_RET
    assert len(pack_filter(program)) == 8 * len(program)


@needs_compiler
def test_bad_filter_is_a_one_line_error() -> None:
    with pytest.raises(LiveCaptureError, match="bad capture filter 'udp port nope'"):
        compile_filter("udp port nope")


def _eth(ethertype: int, payload: bytes, tags: tuple[tuple[int, int], ...] = ()) -> bytes:
    head = bytes.fromhex("ffffffffffff0021630f207b")
    for tpid, vid in tags:
        head += struct.pack("!HH", tpid, vid)
    return head + struct.pack("!H", ethertype) + payload


def _ipv4_udp(sport: int, dport: int, frag: int = 0) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + 4, 0) + b"abcd"
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, frag, 64, 17, 0, bytes(4), bytes(4)
    )
    return ip + udp


@needs_tcpdump
@pytest.mark.parametrize(
    ("frame", "kept"),
    [
        (_eth(0x0800, _ipv4_udp(68, 67)), True),
        (_eth(0x0800, _ipv4_udp(68, 67), ((0x8100, 100),)), True),
        (_eth(0x0800, _ipv4_udp(5000, 53), ((0x88A8, 10), (0x8100, 100))), True),
        (_eth(0x0800, _ipv4_udp(5004, 5004), ((0x8100, 100),)), False),
        (_eth(0x0800, _ipv4_udp(5004, 5004)), False),
        (_eth(0x0800, _ipv4_udp(5004, 5004, frag=0x0010)), True),  # later fragment
        (_eth(0x0806, bytes(28)), True),
        (_eth(0x0806, bytes(28), ((0x8100, 100),)), True),
    ],
)
def test_default_filter_keeps_dhcp_dns_arp_fragments_tagged_or_not(
    tmp_path: Path, frame: bytes, kept: bool
) -> None:
    """Run the default filter over a one-frame file with tcpdump: libpcap's own semantics."""
    path = tmp_path / "one.pcap"
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    path.write_bytes(header + struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame)
    proc = subprocess.run(
        [str(bpf.tcpdump()), "-r", str(path), "-n", DEFAULT_FILTER], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert bool(proc.stdout.strip()) is kept


# -- errors -----------------------------------------------------------------------------------


def test_missing_interface_names_the_fix() -> None:
    with pytest.raises(LiveCaptureError, match="no network interface named 'capi-nosuch0'"):
        LiveSource("capi-nosuch0", None).open()


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) not installed")
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop CAP_NET_RAW from")
def test_without_cap_net_raw_the_error_says_how_to_get_it() -> None:
    code = "from capinspect.sources.live import LiveSource; LiveSource('lo', None).open()"
    proc = subprocess.run(
        ["setpriv", "--bounding-set=-net_raw", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode != 0
    assert "LiveCaptureError: capturing on lo needs privilege" in proc.stderr
    assert "CAP_NET_RAW" in proc.stderr


# -- frames off the wire ----------------------------------------------------------------------


@needs_netns
@pytest.mark.parametrize("name", ["multi-phone.pcapng", "interim-upgrade.pcap"])
def test_frames_off_the_socket_are_the_frames_of_the_file(veth_ns: str, name: str) -> None:
    capture = PCAPS / name
    expected = list(iter_frames([str(capture)]))
    result = replay_and_read(veth_ns, capture, DEFAULT_FILTER)
    frames = result["frames"]
    assert isinstance(frames, list)
    assert [bytes.fromhex(f[2]) for f in frames] == [f.data for f in expected]
    assert [f[3] for f in frames] == [f.orig_len for f in expected]
    assert [f[0] for f in frames] == list(range(1, len(expected) + 1))
    stamps = [f[1] for f in frames]
    assert stamps == sorted(stamps) and stamps[0] > 1e9  # kernel receive times
    assert result["received"] == len(expected) and result["dropped"] == 0


@needs_netns
def test_the_kernel_filter_drops_what_cannot_matter(veth_ns: str, tmp_path: Path) -> None:
    frames = [
        _eth(0x0800, _ipv4_udp(5004, 5004)),
        _eth(0x0800, _ipv4_udp(68, 67), ((0x8100, 100),)),
        _eth(0x0800, _ipv4_udp(5004, 5004), ((0x8100, 100),)),
        _eth(0x0800, _ipv4_udp(1024, 53), ((0x88A8, 10), (0x8100, 100))),
    ]
    path = tmp_path / "mix.pcap"
    body = b"".join(struct.pack("<IIII", 1, i, len(f), len(f)) + f for i, f in enumerate(frames))
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1) + body)
    result = replay_and_read(veth_ns, path, DEFAULT_FILTER)
    got = result["frames"]
    assert isinstance(got, list)
    # Tags re-inserted, QinQ's 802.1ad outer tag with its own TPID.
    assert [bytes.fromhex(f[2]) for f in got] == [frames[1], frames[3]]


# -- evidence ring ----------------------------------------------------------------------------


def test_ring_keeps_the_newest_frames_within_its_budget(tmp_path: Path) -> None:
    ring = FrameRing(max_bytes=1000)
    for i in range(1, 51):
        ring.add(RawFrame(i, 1_700_000_000 + i / 10, 1, bytes([i]) * 100, 100))
    assert len(ring) == 10 and ring.size == 1000 and ring.evicted == 40
    out = tmp_path / "evidence.pcapng"
    assert ring.write_pcapng(out, "eth1", "capinspect test") == 10
    read = list(open_capture(str(out)))
    assert [f.data for f in read] == [f.data for f in ring.frames()]
    assert [round(f.ts, 6) for f in read] == [round(f.ts, 6) for f in ring.frames()]
    if shutil.which("tshark"):
        proc = subprocess.run(
            ["tshark", "-r", str(out), "-T", "fields", "-e", "frame.comment"],
            capture_output=True,
            text=True,
        )
        assert proc.stdout.split("\n")[0] == "capinspect frame 41"


@pytest.mark.parametrize("platform", ["win32", "darwin", "freebsd14"])
def test_not_linux_is_refused_in_one_line(platform: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Off Linux there is no AF_PACKET socket: the source refuses before touching anything,
    saying what to do instead."""
    monkeypatch.setattr(sys, "platform", platform)
    with pytest.raises(LiveCaptureError) as caught:
        LiveSource("Ethernet 2")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("live capture needs Linux")
    assert "pktmon" in message and "capinspect analyze" in message
