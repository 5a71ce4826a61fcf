"""Build the namespace topology for one scenario, run real servers and phones, capture, clean up.

Topology (all names carry a per-run tag so parallel runs never collide):

    capi-srv-<tag>  eth0 10.77.0.1  dnsmasq (DHCP+DNS) + lab.iis (HTTP 80, TLS sink 443)
          |
    capi-sw-<tag>   br0  <- tcpdump here, like a switch mirror port
          |
    capi-ph<N>-<tag> eth0 (phone MAC)  lab.phone          [capi-pc-<tag>: lab.background]
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from lab.dhcpconf import DHCPD_BIN, KEA_BIN, dhcpd_conf, kea_conf_text
from lab.dhcpwire import CERT_PROV_PATH, MS_UC_CLIENT, encode_option43, encode_option120
from lab.pcapio import read_pcap, tag_frames, write_pcap, write_pcapng
from lab.scenarios import DEFAULT_CLOCK, Scenario

REPO = Path(__file__).resolve().parent.parent
SERVER_IP = "10.77.0.1"
SERVER_MAC = "00:15:5d:4d:00:01"
ROUTER_IP = "10.77.0.254"
PC_IP = "10.77.0.50"
PC_MAC = "00:1a:a0:5c:00:50"
BRIDGE_MAC = "02:00:00:00:0b:01"
PHONE_TIMEOUT = 20.0
CHRONYD_BIN = "/usr/sbin/chronyd"
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
# tcpdump's capture buffer in KiB (-B). In immediate mode libpcap uses a TPACKET_V2 ring with one
# 65632-byte frame per 128 KiB block (the bridge offloads, so frames are sized for 64 KiB
# packets): the default 2 MiB holds 32 frames, which a download burst on a busy host overflows.
# 32 MiB holds 512.
TCPDUMP_BUFFER_KIB = 32768
# Before tcpdump is stopped its file must stop growing: quiet for SETTLE_QUIET seconds, waiting at
# most SETTLE_LIMIT. (SIGINT ends tcpdump's loop at once; frames still in the ring are lost.)
SETTLE_QUIET = 0.3
SETTLE_LIMIT = 5.0
_counter = itertools.count()


class LabError(RuntimeError):
    """The lab could not produce a trustworthy capture (setup failure or inconsistent run)."""


def sh(*args: str, timeout: float = 10.0) -> None:
    """Run a setup command, failing loudly: a half-built topology gives misleading captures."""
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise LabError(f"{' '.join(args)} failed: {proc.stderr.strip()}")


def tcpdump_argv(iface: str, out: Path) -> list[str]:
    """tcpdump writing every frame seen on `iface` to `out`, whole, unbuffered, in a large ring."""
    return [
        "tcpdump",
        "-i",
        iface,
        "-w",
        str(out),
        "-U",
        "-s",
        "0",
        "-n",
        "--immediate-mode",
        "-B",
        str(TCPDUMP_BUFFER_KIB),
        "-Z",
        "root",
    ]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def wait_until_stable(
    path: Path,
    quiet: float = SETTLE_QUIET,
    limit: float = SETTLE_LIMIT,
    poll: float = 0.05,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Wait until `path`'s size has not changed for `quiet` seconds (True), or `limit` seconds
    have passed (False). tcpdump -U writes each frame as it reads it, so a file that stopped
    growing means tcpdump has emptied its ring."""
    start = last_change = clock()
    last = _size(path)
    while True:
        now = clock()
        if now - last_change >= quiet:
            return True
        if now - start >= limit:
            return False
        sleep(poll)
        size = _size(path)
        if size != last:
            last, last_change = size, clock()


class CaptureStats(NamedTuple):
    """tcpdump's closing summary. On Linux "received by filter" counts every frame the filter
    passed, dropped ones included; "captured" those tcpdump read from the ring and wrote."""

    captured: int
    received: int
    dropped: int

    def __str__(self) -> str:
        return (
            f"{self.captured} packets captured, {self.received} received by filter, "
            f"{self.dropped} dropped by kernel"
        )


_STAT_RE = re.compile(
    r"^\s*(\d+) packets? (captured|received by filter|dropped by kernel)\s*$", re.MULTILINE
)


def parse_tcpdump_stats(text: str) -> CaptureStats | None:
    """The counts tcpdump prints on stderr when it stops (None when they are not all there)."""
    found = {what: int(n) for n, what in _STAT_RE.findall(text)}
    try:
        return CaptureStats(
            found["captured"], found["received by filter"], found["dropped by kernel"]
        )
    except KeyError:
        return None


def check_capture(tcpdump_output: str, settled: bool = True) -> CaptureStats:
    """Refuse a capture tcpdump did not complete: a missing frame would make a scenario's
    capture disagree with its facts, or worse, be analysed as if the phone never sent it."""
    stats = parse_tcpdump_stats(tcpdump_output)
    if stats is None:
        tail = "\n".join(tcpdump_output.strip().splitlines()[-5:])
        raise LabError(f"tcpdump printed no packet counts; it said:\n{tail}")
    if stats.dropped:
        raise LabError(
            f"incomplete capture: {stats} (the kernel's capture ring of "
            f"{TCPDUMP_BUFFER_KIB} KiB overflowed; rerun the scenario)"
        )
    if stats.captured < stats.received:
        why = "tcpdump was stopped before it wrote every frame"
        if not settled:
            why += f"; the capture was still growing after {SETTLE_LIMIT:g} s"
        raise LabError(f"incomplete capture: {stats} ({why})")
    return stats


def preflight() -> list[str]:
    """List what is missing for the lab to run (empty when everything is available)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root privileges")
    for tool in ("ip", "tcpdump", "tshark"):
        if shutil.which(tool) is None:
            missing.append(tool)
    if not (shutil.which("dnsmasq") or Path("/usr/sbin/dnsmasq").exists()):
        missing.append("dnsmasq")
    if not missing:
        probe = f"capi-probe-{os.getpid()}"
        ok = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
        if not ok:
            missing.append("working `ip netns`")
    return missing


def missing_dhcp_server(server: str) -> str | None:
    """What is missing to run `server` as the lab's DHCP server (None when it can run)."""
    if server == "kea" and not os.access(KEA_BIN, os.X_OK):
        return f"kea-dhcp4 ({KEA_BIN}, Debian kea-dhcp4-server)"
    if server == "dhcpd" and not os.access(DHCPD_BIN, os.X_OK):
        return f"ISC dhcpd ({DHCPD_BIN}, Debian isc-dhcp-server)"
    return None


def missing_lpe_tools(sc: Scenario) -> str | None:
    """What is missing to run a Lync Phone Edition scenario (None when it can run)."""
    if not any(p.lpe for p in sc.phones):
        return None
    if sc.ntp != "none" and not os.access(CHRONYD_BIN, os.X_OK):
        return f"chronyd ({CHRONYD_BIN}, Debian chrony)"
    if not os.path.exists(LIBFAKETIME):
        return f"libfaketime ({LIBFAKETIME}, Debian faketime)"
    return None


def chrony_conf(sc: Scenario, tmp: Path) -> str:
    """chronyd as the site's NTP server: its own clock as a stratum-8 reference (`local`), never
    touching the host clock (`-x`), no command port. `answered` allows the phones' subnet;
    `ignored` allows only another one (10.77.1.0/24, a data VLAN), so chronyd listens but drops
    the phones' requests without an answer. (With no `allow` line at all chronyd would not open
    port 123, and the kernel would answer ICMP port unreachable instead.)"""
    lines = [
        f"pidfile {tmp / 'chronyd.pid'}",
        "cmdport 0",
        "local stratum 8",
        f"bindaddress {SERVER_IP}",
    ]
    lines.append("allow 10.77.0.0/24" if sc.ntp == "answered" else "allow 10.77.1.0/24")
    return "\n".join(lines) + "\n"


def option43_bytes(sc: Scenario) -> tuple[list[tuple[int, str]], bytes | None]:
    """The sub-options the scenario serves and, for raw mode, the exact (truncated) bytes."""
    subs = [
        (1, MS_UC_CLIENT),
        (2, "https"),
        (3, sc.web_fqdn),
        (4, "443"),
        (5, CERT_PROV_PATH),
    ]
    if sc.option43 == "raw-truncated":
        return subs, encode_option43(subs)[:90]
    return subs, None


def dnsmasq_conf(sc: Scenario, tmp: Path) -> str:
    """Render dnsmasq's configuration: authoritative DNS for the scenario's domain, and DHCP too
    unless the scenario has Kea or dhcpd answer DHCP (then dnsmasq is a DNS server only)."""
    d = sc.domain
    dhcp = sc.dhcp_server == "dnsmasq"
    lines = [
        "no-resolv",
        "no-hosts",
        "no-poll",
        "user=root",
        "group=root",
        "interface=eth0",
        "bind-interfaces",
        f"domain={d}",
        f"local=/{d}/",
    ]
    if dhcp:
        lines += [
            "dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,1h",
            "dhcp-authoritative",
            "no-ping",
        ]
    lines += [f"log-facility={tmp / 'dnsmasq.log'}"]
    if dhcp:
        lines.append("log-dhcp")
    lines.append("log-queries")
    if dhcp:
        lines += [
            f"dhcp-option=3,{ROUTER_IP}",
            f"dhcp-option=6,{SERVER_IP}",
            f"dhcp-option=15,{d}",
            f"dhcp-vendorclass=set:ucc,{MS_UC_CLIENT}",
        ]
        if sc.ntp != "none":
            lines.append(f"dhcp-option=42,{SERVER_IP}")
    lines.append(f"host-record={sc.web_fqdn},{SERVER_IP}")
    if dhcp:
        for p in sc.phones:
            lines.append(f"dhcp-host={p.mac},{p.ip}")
        subs, raw = option43_bytes(sc)
        if sc.option43 == "vendor":
            for code, value in subs:
                lines.append(f'dhcp-option=vendor:{MS_UC_CLIENT},{code},"{value}"')
        elif raw is not None:
            lines.append("dhcp-option-force=tag:ucc,43," + ":".join(f"{b:02x}" for b in raw))
        if sc.option120:
            hexed = ":".join(f"{b:02x}" for b in encode_option120([sc.web_fqdn]))
            lines.append(f"dhcp-option-force=tag:ucc,120,{hexed}")
    name = f"ucupdates-r2.{d}"
    if sc.ucupdates == "A":
        lines.append(f"host-record={name},{SERVER_IP}")
    elif sc.ucupdates == "CNAME":
        pool = f"{sc.cname_target_host}.{d}"
        lines.append(f"host-record={pool},{SERVER_IP}")
        lines.append(f"cname={name},{pool}")
    for host, ip in sc.extra_hosts:
        lines.append(f"host-record={host}.{d},{ip}")
    return "\n".join(lines) + "\n"


def iis_conf(sc: Scenario, tmp: Path) -> dict[str, Any]:
    """Configuration handed to `python -m lab.iis` in the server namespace."""
    return {
        "listen": SERVER_IP,
        "web_fqdn": sc.web_fqdn,
        "ext_fqdn": sc.ext_fqdn,
        "target_version": sc.target_version,
        "target_timestamp": sc.target_timestamp,
        "catalog": [list(c) for c in sc.catalog],
        "missing_files": list(sc.missing_files),
        "faults": [
            {"prefix": f.prefix, "status": f.status, "substatus": f.substatus, "win32": f.win32}
            for f in sc.faults
        ],
        "response_dialect": sc.response_dialect,
        "omit_versions": sc.omit_versions,
        "force_no_downloads": sc.force_no_downloads,
        "tls_sink": sc.background,
        "https": (
            {
                "cert": str(tmp / "server.crt.pem"),
                "key": str(tmp / "server.key.pem"),
                "key_exchange": sc.tls_key_exchange,
            }
            if sc.https
            else None
        ),
        "cert_prov_path": CERT_PROV_PATH,
        "log_dir": str(tmp),
        "ready_file": str(tmp / "iis.ready"),
    }


class Lab:
    """Owns every namespace and process of one run; `close()` undoes all of it."""

    def __init__(self, sc: Scenario, tmp: Path) -> None:
        self.sc = sc
        self.tmp = tmp
        self.tag = f"{os.getpid()}-{next(_counter)}"
        self.sw = f"capi-sw-{self.tag}"
        self.srv = f"capi-srv-{self.tag}"
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    def ns_for(self, index: int) -> str:
        """Namespace name of phone `index`."""
        return f"capi-ph{index}-{self.tag}"

    def _add_ns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        # IPv6 off everywhere: router solicitations and MLD reports would only be noise.
        for key in ("all", "default"):
            sh("ip", "netns", "exec", name, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def _attach(self, name: str, port: str, mac: str) -> None:
        veth = ["type", "veth", "peer", "name", port, "netns", self.sw]
        sh("ip", "link", "add", "eth0", "netns", name, *veth)
        sh("ip", "-n", name, "link", "set", "eth0", "address", mac)
        sh("ip", "-n", self.sw, "link", "set", port, "master", "br0")
        sh("ip", "-n", self.sw, "link", "set", port, "up")
        sh("ip", "-n", name, "link", "set", "eth0", "up")

    def build(self) -> None:
        """Create switch, server and phone namespaces and wire them to the bridge."""
        self._add_ns(self.sw)
        # No STP delay and no multicast snooping: the bridge itself must stay silent on the wire.
        opts = ["forward_delay", "0", "stp_state", "0", "mcast_snooping", "0"]
        sh("ip", "-n", self.sw, "link", "add", "br0", "type", "bridge", *opts)
        sh("ip", "-n", self.sw, "link", "set", "br0", "address", BRIDGE_MAC)
        sh("ip", "-n", self.sw, "link", "set", "br0", "up")
        self._add_ns(self.srv)
        self._attach(self.srv, "psrv", SERVER_MAC)
        sh("ip", "-n", self.srv, "addr", "add", f"{SERVER_IP}/24", "dev", "eth0")
        for i, phone in enumerate(self.sc.phones):
            self._add_ns(self.ns_for(i))
            self._attach(self.ns_for(i), f"pph{i}", phone.mac)
        if self.sc.background:
            pc = f"capi-pc-{self.tag}"
            self._add_ns(pc)
            self._attach(pc, "ppc", PC_MAC)
            sh("ip", "-n", pc, "addr", "add", f"{PC_IP}/24", "dev", "eth0")

    def spawn(
        self, ns: str, argv: list[str], log: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a process inside a namespace, remembering it for cleanup."""
        out = open(self.tmp / log, "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
        out.close()
        self.procs.append(proc)
        return proc

    def wait_for(self, what: str, check: Any, timeout: float = 8.0) -> None:
        """Poll `check()` until true; bounded so a broken daemon fails the run, not hangs it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise LabError(f"timed out waiting for {what}")

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        """Signal one of our processes and reap it, escalating to SIGKILL after a bound."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def close(self) -> None:
        """Stop every process we started and delete every namespace we created."""
        for proc in reversed(self.procs):
            self.stop(proc)
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        self.namespaces.clear()

    def start_dhcp_server(self) -> None:
        """Run Kea or dhcpd in the foreground in the server namespace with a rendered config.

        Their Debian services are never used: config, leases, pid and lock files all live in the
        run's temp dir, so a run leaves nothing behind and never touches the host's DHCP state.
        """
        sc, tmp = self.sc, self.tmp
        missing = missing_dhcp_server(sc.dhcp_server)
        if missing:
            raise LabError(f"{sc.name} needs {missing}")
        if sc.dhcp_server == "kea":
            conf = tmp / "kea-dhcp4.json"
            conf.write_text(kea_conf_text(sc, tmp, SERVER_IP, ROUTER_IP))
            env = {"KEA_PIDFILE_DIR": str(tmp), "KEA_LOCKFILE_DIR": str(tmp)}
            self.spawn(self.srv, [KEA_BIN, "-c", str(conf)], "kea.out", env=env)
            out = tmp / "kea.out"
            self.wait_for("kea-dhcp4", lambda: "DHCP4_STARTED" in out.read_text(errors="replace"))
        elif sc.dhcp_server == "dhcpd":
            conf = tmp / "dhcpd.conf"
            conf.write_text(dhcpd_conf(sc, SERVER_IP, ROUTER_IP))
            leases = tmp / "dhcpd.leases"
            leases.touch()
            argv = [DHCPD_BIN, "-f", "-d", "-4", "-cf", str(conf), "-lf", str(leases)]
            argv += ["-pf", str(tmp / "dhcpd.pid"), "eth0"]
            self.spawn(self.srv, argv, "dhcpd.out")
            out = tmp / "dhcpd.out"
            self.wait_for("dhcpd", lambda: "Sending on" in out.read_text(errors="replace"))
        else:
            raise LabError(f"unknown dhcp_server {sc.dhcp_server!r}")

    def run(self) -> dict[str, Any]:
        """Execute the scenario; returns raw results (phone reports, server logs, capture)."""
        sc, tmp = self.sc, self.tmp
        missing = missing_lpe_tools(sc)
        if missing:
            raise LabError(f"{sc.name} needs {missing}")
        self.build()
        if sc.https:
            from lab.tlscerts import make_pki

            pki = make_pki(tmp, sc.server_cert_names, validity=sc.cert_validity)
            trusted = pki.ca_cert if sc.phone_trusts_ca else pki.other_ca_cert
        dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        (tmp / "dnsmasq.conf").write_text(dnsmasq_conf(sc, tmp))
        argv = [
            dnsmasq,
            "--no-daemon",
            f"--conf-file={tmp / 'dnsmasq.conf'}",
            f"--pid-file={tmp / 'dnsmasq.pid'}",
        ]
        if sc.dhcp_server == "dnsmasq":
            argv.append(f"--dhcp-leasefile={tmp / 'dnsmasq.leases'}")
        self.spawn(self.srv, [*argv, "--port=53"], "dnsmasq.out")
        log = tmp / "dnsmasq.log"
        self.wait_for("dnsmasq", lambda: log.exists() and "started" in log.read_text())
        if sc.dhcp_server != "dnsmasq":
            self.start_dhcp_server()
        if sc.ntp != "none":
            (tmp / "chrony.conf").write_text(chrony_conf(sc, tmp))
            argv = [CHRONYD_BIN, "-d", "-x", "-u", "root", "-f", str(tmp / "chrony.conf")]
            self.spawn(self.srv, argv, "chronyd.out")
            out = tmp / "chronyd.out"
            self.wait_for("chronyd", lambda: "starting" in out.read_text(errors="replace"))
        (tmp / "iis.json").write_text(json.dumps(iis_conf(sc, tmp)))
        self.spawn(
            self.srv,
            [sys.executable, "-m", "lab.iis", "--config", str(tmp / "iis.json")],
            "iis.out",
        )
        self.wait_for("lab.iis", lambda: (tmp / "iis.ready").exists())
        raw_cap = tmp / "raw.pcap"
        dump = self.spawn(self.sw, tcpdump_argv("br0", raw_cap), "tcpdump.out")
        self.wait_for(
            "tcpdump", lambda: "listening on" in (tmp / "tcpdump.out").read_text(errors="replace")
        )
        phones = []
        for i, p in enumerate(sc.phones):
            cfg = {
                "scenario": sc.name,
                "name": p.name,
                "iface": "eth0",
                "mac": p.mac,
                "serial": p.serial,
                "vendor": p.vendor,
                "model": p.model,
                "revision": p.revision,
                "locale": p.locale,
                "user": p.user,
                "version": p.version,
                "request_dialect": p.request_dialect,
                "checkin_path": p.checkin_path,
                "start_delay": p.start_delay,
                "idle_seconds": 1.0,
                "max_boots": 4,
                "result_file": str(tmp / f"phone{i}.result.json"),
            }
            if sc.https:
                cfg["https"] = {"ca_file": str(trusted), "keylog": str(tmp / f"phone{i}.keylog")}
            env = None
            if p.lpe:
                # The phone's clock: libfaketime starts it at DEFAULT_CLOCK and the phone rewrites
                # the file when an NTP answer sets it (lab/phone.py: Phone.ntp).
                clock = tmp / f"phone{i}.clock"
                clock.write_text(f"@{DEFAULT_CLOCK}\n")
                cfg["lpe"] = {"clock_file": str(clock), "default_clock": DEFAULT_CLOCK}
                env = {
                    "LD_PRELOAD": LIBFAKETIME,
                    "FAKETIME_TIMESTAMP_FILE": str(clock),
                    "FAKETIME_NO_CACHE": "1",
                    "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                }
            (tmp / f"phone{i}.json").write_text(json.dumps(cfg))
            argv = [sys.executable, "-m", "lab.phone", "--config", str(tmp / f"phone{i}.json")]
            if env is None:
                phones.append(self.spawn(self.ns_for(i), argv, f"phone{i}.out"))
            else:
                phones.append(self.spawn(self.ns_for(i), argv, f"phone{i}.out", env=env))
        background = None
        if sc.background:
            bcfg = {
                "iface": "eth0",
                "ip": PC_IP,
                "mac": PC_MAC,
                "server": SERVER_IP,
                "http_host": f"intranet.{sc.domain}",
                "queries": [
                    [f"intranet.{sc.domain}", "A"],
                    [f"mail.{sc.domain}", "A"],
                    [f"wpad.{sc.domain}", "A"],
                    [f"_ldap._tcp.dc._msdcs.{sc.domain}", "SRV"],
                ],
                "result_file": str(tmp / "background.result.json"),
            }
            (tmp / "background.json").write_text(json.dumps(bcfg))
            time.sleep(0.5)
            background = self.spawn(
                f"capi-pc-{self.tag}",
                [sys.executable, "-m", "lab.background", "--config", str(tmp / "background.json")],
                "background.out",
            )
        deadline = time.monotonic() + PHONE_TIMEOUT
        for proc in [*phones, *([background] if background else [])]:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired as exc:
                raise LabError("a phone did not finish in time") from exc
        # Let the last FIN/ACKs reach the mirror port and tcpdump write them.
        settled = wait_until_stable(raw_cap)
        self.stop(dump, signal.SIGINT)
        check_capture((tmp / "tcpdump.out").read_text(errors="replace"), settled)
        results = []
        for i in range(len(sc.phones)):
            path = tmp / f"phone{i}.result.json"
            if not path.exists():
                out = (tmp / f"phone{i}.out").read_text(errors="replace")
                raise LabError(f"phone {i} wrote no result:\n{out}")
            results.append(json.loads(path.read_text()))
        bg = None
        if background is not None:
            bg = json.loads((tmp / "background.result.json").read_text())
        return {"phones": results, "background": bg, "raw_capture": raw_cap}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read one of lab.iis's JSON-lines logs (absent file = nothing logged)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def copy_tls_fixtures(sc: Scenario, tmp: Path, out_dir: Path) -> None:
    """Put the lab server's key, its chain and the phones' key log next to the capture.

    They are lab keys made for this run, so committing them is the point: capinspect's tests and
    tshark decrypt the committed capture with them.
    """
    shutil.copyfile(tmp / "server.key.pem", out_dir / f"{sc.name}.key.pem")
    shutil.copyfile(tmp / "server.crt.pem", out_dir / f"{sc.name}.crt.pem")
    lines: list[str] = []
    for i in range(len(sc.phones)):
        log = tmp / f"phone{i}.keylog"
        if log.exists():
            lines += [ln for ln in log.read_text().splitlines() if ln and not ln.startswith("#")]
    (out_dir / f"{sc.name}.keylog").write_text("".join(ln + "\n" for ln in lines))


def run_scenario(sc: Scenario, out_dir: Path, keep_tmp: bool = False) -> Path:
    """Run one scenario into `out_dir`: writes the capture and its facts file, returns capture."""
    from lab.facts import build_facts

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"capi-lab-{sc.name}-"))
    lab = Lab(sc, tmp)
    try:
        try:
            raw = lab.run()
        finally:
            lab.close()
        _, snaplen, frames = read_pcap(raw["raw_capture"])
        vlans = {p.mac: p.vlan for p in sc.phones}
        ips = {p.ip: p.mac for p in sc.phones}
        tag_frames(frames, vlans, ips)
        # Facts first: a run that contradicts its configuration must not overwrite a capture.
        facts = build_facts(
            sc,
            raw["phones"],
            raw["background"],
            read_jsonl(tmp / "audit.jsonl"),
            read_jsonl(tmp / "requests.jsonl"),
            option43_bytes(sc),
        )
        if any(p.lpe for p in sc.phones):
            from lab.facts import add_wire_tls

            add_wire_tls(facts, raw["raw_capture"])
        capture = out_dir / sc.capture_name
        if sc.pcapng:
            write_pcapng(capture, frames, "br0", snaplen)
        else:
            write_pcap(capture, frames, snaplen)
        facts_path = out_dir / f"{sc.name}.facts.json"
        facts_path.write_text(json.dumps(facts, indent=2) + "\n")
        if sc.https:
            copy_tls_fixtures(sc, tmp, out_dir)
        return capture
    finally:
        if not keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
