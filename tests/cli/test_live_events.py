"""``capinspect live`` with events, over real sockets in network namespaces this test creates.

* A real rsyslog (the Debian package's ``rsyslogd``, run by the test in the namespace, with
  imtcp/imudp on loopback and an omfile template writing each raw message) receives the events
  of ``live`` over a tcpreplay of a lab capture: every event arrives, and the file parses back
  to the very events ``--events -`` wrote. With rsyslog stopped midway nothing blocks, the drops
  are counted, and delivery resumes when it is back.
* Two interfaces at once (``-i vb1 -i vb2``) give the same verdicts as each interface alone,
  and every phone's events name the interface it was seen on.

They need root, ``ip netns``, tcpdump and tcpreplay (and rsyslogd for the first) and skip with
the reason otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from locations import NETNS_REASON, PCAPS, ROOT, needs_netns

from .test_live import analyze_json, stop_live, verdicts

RSYSLOGD = shutil.which("rsyslogd") or (
    "/usr/sbin/rsyslogd" if os.path.exists("/usr/sbin/rsyslogd") else None
)
needs_rsyslog = pytest.mark.skipif(
    RSYSLOGD is None or NETNS_REASON is not None,
    reason=NETNS_REASON or "rsyslogd is not installed (Debian: apt-get install rsyslog)",
)
PORT = 1514
WHILE_DOWN = ("acl-denied.pcap", "dns-cname.pcap", "interim-upgrade.pcap", "https-healthy.pcap")
"""Captures replayed while rsyslog is stopped: 55 events, more than ``--syslog-queue 40``."""

RSYSLOG_CONF = """\
global(workDirectory="{dir}")
module(load="imtcp")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="{port}")
input(type="imudp" address="127.0.0.1" port="{port}")
template(name="raw" type="string" string="%rawmsg%\\n")
action(type="omfile" file="{dir}/received.log" template="raw")
"""


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"capi-ev-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        run = ["ip", "-n", name]
        subprocess.run([*run, "link", "set", "lo", "up"], check=True)
        for a, b in (("va", "vb"), ("va2", "vb2")):
            subprocess.run(
                [*run, "link", "add", a, "mtu", "65521", "type", "veth", "peer", "name", b]
                + ["mtu", "65521"],
                check=True,
            )
            subprocess.run([*run, "link", "set", a, "up"], check=True)
            subprocess.run([*run, "link", "set", b, "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


class Rsyslog:
    """rsyslogd run directly (-n: in the foreground) in the namespace, on loopback."""

    def __init__(self, ns: str, workdir: Path) -> None:
        self.ns = ns
        self.dir = workdir / "rsyslog"
        self.dir.mkdir(exist_ok=True)
        self.conf = self.dir / "rsyslog.conf"
        self.conf.write_text(RSYSLOG_CONF.format(dir=self.dir, port=PORT))
        self.received = self.dir / "received.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert RSYSLOGD is not None
        pidfile = self.dir / "rsyslogd.pid"
        pidfile.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, RSYSLOGD, "-n", "-f", str(self.conf)]
            + ["-i", str(pidfile)],
            stdout=open(self.dir / "rsyslogd.out", "ab"),  # noqa: SIM115 - closed with it
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while not self._listening():
            assert self.proc.poll() is None, (self.dir / "rsyslogd.out").read_text()
            assert time.monotonic() < deadline, "rsyslogd did not start listening"
            time.sleep(0.05)

    def _listening(self) -> bool:
        out = subprocess.run(
            ["ip", "netns", "exec", self.ns, "ss", "-Hltn", f"sport = :{PORT}"],
            capture_output=True,
            text=True,
        ).stdout
        return str(PORT) in out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.proc = None

    def events(self) -> list[dict[str, Any]]:
        """Each raw message rsyslog wrote, parsed back: the JSON after the structured data."""
        out = []
        for line in self.received.read_text().splitlines():
            header, sep, body = line.partition("] {")
            assert sep and header.startswith("<") and " capinspect " in header, line
            out.append(json.loads("{" + body))
        return out


def start_live(ns: str, workdir: Path, *args: str) -> subprocess.Popen[str]:
    err = workdir / "live.err"
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "capinspect", "live", *args]
        + ["--format", "json", "-o", str(workdir / "live.json"), "--sensor", "lab-sensor"],
        stdout=open(workdir / "events.jsonl", "w"),  # noqa: SIM115 - closed with the process
        stderr=open(err, "w"),  # noqa: SIM115
        text=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while "capturing on" not in err.read_text():
        assert proc.poll() is None, err.read_text()
        assert time.monotonic() < deadline, "capinspect live did not start"
        time.sleep(0.05)
    return proc


def replay(ns: str, iface: str, capture: Path) -> None:
    subprocess.run(
        ["ip", "netns", "exec", ns, "tcpreplay", "-q", "--topspeed", "-i", iface, str(capture)],
        check=True,
        capture_output=True,
    )


def written(workdir: Path) -> list[dict[str, Any]]:
    text = (workdir / "events.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


def settle(workdir: Path, at_least: int = 1, quiet: float = 2.0) -> int:
    """Wait until ``live`` wrote at least ``at_least`` events and then nothing for ``quiet`` s."""
    deadline = time.monotonic() + 60
    count, since = -1, time.monotonic()
    while True:
        now = len(written(workdir))
        if now != count:
            count, since = now, time.monotonic()
        if count >= at_least and time.monotonic() - since >= quiet:
            return count
        assert time.monotonic() < deadline, f"only {count} events"
        time.sleep(0.1)


@needs_rsyslog
@pytest.mark.lab
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rsyslog_receives_every_event(netns: str, tmp_path: Path, transport: str) -> None:
    rsyslog = Rsyslog(netns, tmp_path)
    rsyslog.start()
    capture = PCAPS / "multi-phone.pcapng"
    try:
        proc = start_live(
            netns, tmp_path, "-i", "vb", "--events", "-", "--syslog",
            f"{transport}://127.0.0.1:{PORT}",
        )  # fmt: skip
        try:
            replay(netns, "va", capture)
            settle(tmp_path, at_least=10)
        finally:
            code = stop_live(proc)
        events = written(tmp_path)
        deadline = time.monotonic() + 10
        while len(rsyslog.events()) < len(events) and time.monotonic() < deadline:
            time.sleep(0.1)  # rsyslog writes what it received
    finally:
        rsyslog.stop()
    errors = (tmp_path / "live.err").read_text()
    assert code in (0, 1), errors
    assert rsyslog.events() == events
    assert f"{len(events)} event(s) sent, 0 dropped" in errors
    # Every phone the report judged has its verdict among the events.
    report = json.loads((tmp_path / "live.json").read_text())
    judged = {
        e["capinspect"]["device"] for e in events if e["event"]["action"] == "verdict-changed"
    }
    assert judged == {d["mac"] for d in report["devices"]}
    assert {e["observer"]["ingress"]["interface"]["name"] for e in events} == {"vb"}
    assert report["live"]["events"] == len(events)
    assert verdicts(report) == verdicts(analyze_json(capture))


@needs_rsyslog
@pytest.mark.lab
def test_rsyslog_stopped_midway_nothing_blocks_and_delivery_resumes(
    netns: str, tmp_path: Path
) -> None:
    rsyslog = Rsyslog(netns, tmp_path)
    rsyslog.start()
    capture = PCAPS / "multi-phone.pcapng"
    try:
        proc = start_live(
            netns, tmp_path, "-i", "vb", "--events", "-",
            "--syslog", f"tcp://127.0.0.1:{PORT}", "--syslog-queue", "40",
        )  # fmt: skip
        try:
            replay(netns, "va", capture)
            before = settle(tmp_path, at_least=10)
            rsyslog.stop()  # the collector goes away
            started = time.monotonic()
            for name in WHILE_DOWN:  # other phones: more events than the queue holds
                replay(netns, "va", PCAPS / name)
                time.sleep(0.5)
            while_down = settle(tmp_path, at_least=before + 41)
            assert time.monotonic() - started < 30  # the capture was never held up
            rsyslog.start()  # back: what was queued goes first (after the sender's backoff)
            deadline = time.monotonic() + 60
            while len(rsyslog.events()) < before + 40:
                assert time.monotonic() < deadline, "the queued events never arrived"
                time.sleep(0.1)
            replay(netns, "va", PCAPS / "dns-nxdomain.pcap")
            settle(tmp_path, at_least=while_down + 1)
        finally:
            code = stop_live(proc)
        events = written(tmp_path)
        deadline = time.monotonic() + 10
        while len(rsyslog.events()) < before + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        rsyslog.stop()
    errors = (tmp_path / "live.err").read_text()
    assert code in (0, 1), errors
    total = len(events)  # with the end of the capture's own (dns-nxdomain's verdict)
    received = rsyslog.events()
    note = next(line for line in errors.splitlines() if line.startswith("syslog tcp://"))
    sent, dropped = (int(w) for w in note.replace(",", "").split() if w.isdigit())
    assert dropped >= while_down - before - 40, note  # the queue held 40, the rest dropped
    assert sent + dropped == len(events), note
    assert len(received) == sent, note  # nothing sent was lost on the way
    report = json.loads((tmp_path / "live.json").read_text())
    assert report["live"]["syslog"] == {
        "target": f"tcp://127.0.0.1:{PORT}",
        "sent": sent,
        "dropped": dropped,
    }
    # Before the stop: all of it, in order; after the return: everything new arrived.
    assert received[:before] == events[:before]
    assert received[-(total - while_down) :] == events[while_down:]
    positions = [events.index(e) for e in received]
    assert positions == sorted(positions)


@needs_netns
@pytest.mark.lab
def test_two_interfaces_give_the_verdicts_of_each_alone(netns: str, tmp_path: Path) -> None:
    one, two = PCAPS / "acl-denied.pcap", PCAPS / "interim-upgrade.pcap"
    alone = []
    for iface, peer, capture in (("vb", "va", one), ("vb2", "va2", two)):
        workdir = tmp_path / iface
        workdir.mkdir()
        proc = start_live(netns, workdir, "-i", iface, "--events", "-")
        try:
            replay(netns, peer, capture)
            settle(workdir, at_least=5)
        finally:
            stop_live(proc)
        alone += verdicts(json.loads((workdir / "live.json").read_text()))
    both = tmp_path / "both"
    both.mkdir()
    proc = start_live(netns, both, "-i", "vb", "-i", "vb2", "--events", "-")
    try:
        replayers = [
            subprocess.Popen(
                ["ip", "netns", "exec", netns, "tcpreplay", "-q", "--topspeed", "-i", peer]
                + [str(capture)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for peer, capture in (("va", one), ("va2", two))
        ]
        assert [r.wait(timeout=60) for r in replayers] == [0, 0]
        settle(both, at_least=10)
    finally:
        code = stop_live(proc)
    errors = (both / "live.err").read_text()
    report = json.loads((both / "live.json").read_text())
    assert code == 1, errors
    assert sorted(verdicts(report)) == sorted(alone)
    assert report["live"]["interfaces"] == ["vb", "vb2"]
    assert report["live"]["phone_interfaces"] == {
        "00:21:63:0f:44:10": "vb",
        "00:21:63:0f:20:7b": "vb2",
    }
    assert report["live"]["kernel_dropped"] == 0
    for event in written(both):
        iface = "vb" if event["capinspect"]["device"] == "00:21:63:0f:44:10" else "vb2"
        assert event["observer"]["ingress"]["interface"]["name"] == iface
    assert "capturing on vb,vb2" in errors


@needs_netns
@pytest.mark.lab
def test_sighup_reopens_the_events_file_for_log_rotation(netns: str, tmp_path: Path) -> None:
    log = tmp_path / "events.log"
    proc = start_live(netns, tmp_path, "-i", "vb", "--events", str(log))
    try:
        replay(netns, "va", PCAPS / "acl-denied.pcap")
        deadline = time.monotonic() + 30
        while "verdict-changed" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "no verdict event"
            time.sleep(0.1)
        rotated = log.rename(tmp_path / "events.log.1")  # logrotate's move, then its HUP
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while not log.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "not reopened"
            time.sleep(0.05)
        replay(netns, "va", PCAPS / "interim-upgrade.pcap")
        deadline = time.monotonic() + 30
        while "verdict-changed" not in log.read_text():
            assert time.monotonic() < deadline, "no verdict event after the rotation"
            time.sleep(0.1)
    finally:
        code = stop_live(proc, signal.SIGTERM)  # SIGTERM: the final report, then exit
    assert code == 1
    before = [json.loads(line) for line in rotated.read_text().splitlines()]
    after = [json.loads(line) for line in log.read_text().splitlines()]
    assert {e["capinspect"]["device"] for e in before} == {"00:21:63:0f:44:10"}
    assert {e["capinspect"]["device"] for e in after} == {"00:21:63:0f:20:7b"}
    sequences = [e["event"]["sequence"] for e in before + after]
    assert sequences == list(range(1, len(sequences) + 1))  # nothing lost or repeated
    report = json.loads((tmp_path / "live.json").read_text())
    assert len(report["devices"]) == 2
