"""Benchmark runner (`python -m bench.run --sizes 100k,1m --runs 3`).

Why: capinspect promises to be usable on multi-GB mirror-port captures on a 2-core laptop, which
only means something next to the tool people would use otherwise (tshark with a display filter)
and next to the floor (reading the bytes at all). Each measurement runs in a fresh
``bench.measure`` wrapper so its peak RSS is that command's alone.

Speed without correctness is worthless, so the run also checks capinspect's JSON report
against the generator's ``<capture>.truth.json`` (every planted phone found with the right MAC,
VLANs, firmware, check-ins, downloads and verdict, an HTTPS check-in's handshake with the right
version, cipher suite, SNI, certificate names and record sizes, no phantom devices) and that
the bigger capture's report says the same about the phones both captures share. Exit status 1
when a check fails or a command fails, 0 otherwise.

``--noisy`` runs the same on captures whose background PCs also touch the update service
(``bench.generate --noisy-pcs``): lookups of ucupdates-r2 and the pool's names, TLS to the pool
with certificates for other names, browser GETs of the update files, Windows DHCPINFORMs and
Android leases. None of them is a phone, so none may be reported as a device or get a verdict;
the run prints how many did ("non-phone devices with a verdict: N").

``--variant plain,ipv6,tls,erspan2,vxlan`` measures the same sizes in several traffic mixes
(``bench.generate.VARIANTS``): 13% of the PCs' TLS and DNS over IPv6, TLS as 30% of the
frames, every frame inside ERSPAN II or VXLAN. The planted phones are the same in every
variant, so the same correctness checks apply; tshark decodes both encapsulations by default.

``--profile SIZE`` instead runs capinspect once under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.generate import NOISY_PCS, VARIANTS, PcNoise, Variant, parse_count

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
PHONES_PER_100K = 5
TSHARK_FIELDS = (
    "frame.number",
    "ip.src",
    "dhcp.option.dhcp",
    "dns.qry.name",
    "http.request.uri",
    "http.response.code",
)
TOOLS = ("capinspect", "tshark", "floor")


@dataclass
class Size:
    """One capture size: its label (100k), packet and phone counts, and file paths."""

    label: str
    packets: int
    phones: int
    path: Path
    pc_noise: PcNoise = PcNoise()
    variant: Variant = Variant()
    group: str = ""
    """Captures of one group (noise and variant) differ only in size: their reports must say
    the same about the phones they share."""

    @property
    def truth_path(self) -> Path:
        return self.path.with_name(self.path.name + ".truth.json")


@dataclass
class Result:
    """All runs of one tool on one capture."""

    walls: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.walls) if self.walls else float("nan")

    @property
    def peak_mb(self) -> float:
        return max(self.rss_kb) / 1024 if self.rss_kb else float("nan")


def size_of(label: str, seed: int, noisy: bool = False, variant: str = "plain") -> Size:
    """100k → 5 phones, 1m → 50: the phone density stays that of performance.md's captures.
    ``noisy`` adds the ``--noisy-pcs`` background (its own file names: cap100k-noisy.pcap),
    ``variant`` one of :data:`VARIANTS` (cap100k-ipv6.pcap; plain adds nothing)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r} (one of {', '.join(VARIANTS)})")
    packets = parse_count(label)
    phones = max(1, packets * PHONES_PER_100K // 100_000)
    name = label.lower() if label[-1:].lower() in "km" else str(packets)
    group = ""
    if noisy:
        group += "-noisy"
    if variant != "plain":
        group += f"-{variant}"
    name += group
    suffix = "" if seed == 1 else f"-s{seed}"
    return Size(
        name,
        packets,
        phones,
        OUT / f"cap{name}{suffix}.pcap",
        NOISY_PCS if noisy else PcNoise(),
        VARIANTS[variant],
        group,
    )


def ensure_capture(size: Size, seed: int) -> None:
    """Generate the capture unless an identical one (same generator version/params) exists."""
    from bench.generate import GENERATOR_VERSION, generate, source_digest

    want = {
        "version": GENERATOR_VERSION,
        "source_sha256": source_digest(),
        "packets": size.packets,
        "phones": size.phones,
        "seed": seed,
        "noise": size.pc_noise.as_dict(),
        **({"variant": size.variant.as_dict()} if size.variant.enabled else {}),
    }
    if size.path.exists() and size.truth_path.exists():
        try:
            have = json.loads(size.truth_path.read_text())["generator"]
        except (OSError, ValueError, KeyError):
            have = None
        if (
            have == want
            and size.path.stat().st_size
            == json.loads(size.truth_path.read_text())["capture"]["bytes"]
        ):
            return
    print(f"generating {size.path} ({size.packets} packets, {size.phones} phones) ...", flush=True)
    generate(size.packets, size.phones, seed, size.path, size.pc_noise, size.variant)


def command(tool: str, capture: Path) -> list[str]:
    """The measured command line of each tool."""
    if tool == "capinspect":
        return [
            sys.executable,
            "-m",
            "capinspect",
            "analyze",
            "--format",
            "json",
            "-q",
            str(capture),
        ]
    if tool == "tshark":
        cmd = ["tshark", "-r", str(capture), "-Y", "dhcp or dns or http", "-T", "fields"]
        for name in TSHARK_FIELDS:
            cmd += ["-e", name]
        return cmd
    return [sys.executable, "-m", "bench.floor", str(capture)]


WARM_READ = 8 << 20


def warm_page_cache(path: Path) -> int:
    """Read ``path`` once, untimed, and return the bytes read: every tool then starts with the
    capture in the page cache as far as the machine keeps it. Without this a VM that reclaims
    its cache (the bench machine kept ~3.4 GB of the 4 GB of 1M captures) gave whichever tool
    ran first on a capture a partly cold read: capinspect's first runs took 2.3–2.9 s beside
    1.4–1.9 s for the next ones, and tshark, run second, always found the file cached."""
    total = 0
    with path.open("rb", buffering=0) as capture:
        while chunk := capture.read(WARM_READ):
            total += len(chunk)
    return total


def measure(cmd: list[str], stdout: Path | None) -> dict[str, Any]:
    """Run `cmd` in a fresh bench.measure wrapper and return its JSON measurement."""
    wrapper = [sys.executable, "-m", "bench.measure"]
    if stdout is not None:
        wrapper += ["--stdout", str(stdout)]
    done = subprocess.run(
        [*wrapper, "--", *cmd], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- correctness ----------------------------------------------------------------------------


def device_facts(dev: dict[str, Any]) -> dict[str, Any]:
    """What a report says about one phone, reduced to what the truth file can state."""
    offered = sorted(
        f.get("internal_url") or f.get("url") or ""
        for c in dev.get("checkins", [])
        for f in (c.get("response_fields") or {}).get("files", [])
    )
    return {
        "mac": dev.get("mac"),
        "ips": sorted(dev.get("ips", [])),
        "vlans": list(dev.get("vlans", [])),
        "firmware_reported": [f.get("version") for f in dev.get("firmware_seen", [])],
        "checkins": len(dev.get("checkins", [])),
        "offered": offered,
        "downloads": [
            {
                "url": d.get("url"),
                "status": d.get("status"),
                "bytes": d.get("bytes_received"),
                "complete": d.get("complete"),
            }
            for d in dev.get("downloads", [])
        ],
        "verdict": dev.get("verdict"),
        "tls_checkin": tls_checkin_facts(dev),
    }


TLS_CHECKIN_FACTS = (
    "version",
    "cipher_suite",
    "sni",
    "certificate_names",
    "application_bytes_to_server",
    "application_bytes_to_client",
)
"""What the truth's ``tls_checkin`` states that a report can show without keys."""


def tls_checkin_facts(dev: dict[str, Any]) -> dict[str, Any] | None:
    """The handshake of the phone's first TLS connection to an update name (SNI
    ucupdates-r2.*), as the truth's ``tls_checkin`` states it; None when it made none."""
    for conn in dev.get("tls", []):
        if not str(conn.get("sni") or "").lower().startswith("ucupdates-r2."):
            continue
        hello = conn.get("server_hello") or {}
        certs = conn.get("certificates") or [{}]
        return {
            "version": hello.get("version"),
            "cipher_suite": hello.get("cipher_suite"),
            "sni": conn.get("sni"),
            "certificate_names": list(certs[0].get("dns_names", [])),
            "application_bytes_to_server": conn.get("application_bytes_to_server"),
            "application_bytes_to_client": conn.get("application_bytes_to_client"),
        }
    return None


def truth_facts(phone: dict[str, Any]) -> dict[str, Any]:
    """The same shape as device_facts, from the generator's truth record."""
    return {
        "mac": phone["mac"],
        "ips": [phone["ip"]],
        "vlans": phone["vlans"],
        "firmware_reported": phone["firmware_reported"],
        "checkins": phone["checkins"],
        "offered": sorted(o["url"] for o in phone["offered"]),
        "downloads": [
            {"url": d["url"], "status": d["status"], "bytes": d["bytes"], "complete": d["complete"]}
            for d in phone["downloads"]
        ],
        "verdict": phone["expected_verdict"],
        "tls_checkin": (
            {key: phone["tls_checkin"][key] for key in TLS_CHECKIN_FACTS}
            if phone.get("tls_checkin")
            else None
        ),
    }


def check_against_truth(report: dict[str, Any], truth: dict[str, Any]) -> list[str]:
    """Every difference between capinspect's report and the planted phones, one line each."""
    problems: list[str] = []
    frames = report.get("capture", {}).get("frames")
    if frames != truth["capture"]["packets"]:
        problems.append(f"capture.frames {frames} != {truth['capture']['packets']} packets")
    devices = {d.get("key"): d for d in report.get("devices", [])}
    for phone in truth["phones"]:
        dev = devices.pop(phone["mac"], None)
        if dev is None:
            problems.append(f"phone {phone['mac']} ({phone['kind']}) missing from the report")
            continue
        got, want = device_facts(dev), truth_facts(phone)
        for key, value in want.items():
            if got[key] != value:
                problems.append(
                    f"phone {phone['mac']} ({phone['kind']}) {key}: {got[key]!r} "
                    f"!= expected {value!r}"
                )
    for extra in non_phone_devices(report, truth):
        problems.append(
            f"device {extra['key']} reported but not planted ({extra['host']}): verdict "
            f"{extra['verdict']}, findings {extra['findings']}"
        )
    if "noisy_hosts" in truth:
        problems += check_other_clients(report, truth)
    summary = report.get("summary", {})
    want_counts = {v: 0 for v in ("pass", "warn", "fail", "inconclusive")}
    for phone in truth["phones"]:
        want_counts[phone["expected_verdict"]] += 1
    got_counts = {v: summary.get(v) for v in want_counts}
    if got_counts != want_counts:
        problems.append(f"summary {got_counts} != expected {want_counts}")
    return problems


def non_phone_devices(report: dict[str, Any], truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Every reported device that is not a planted phone, with what the generator had that
    host do (for --noisy captures, which names it looked up, whom it talked TLS to) and the
    verdict and finding IDs capinspect gave it."""
    planted = {p["mac"] for p in truth["phones"]}
    hosts = truth.get("noisy_hosts", [])
    by_mac = {h["mac"]: h for h in hosts}
    by_ip = {h["ip"]: h for h in hosts}
    out = []
    for dev in report.get("devices", []):
        key = str(dev.get("key"))
        if key in planted:
            continue
        host = by_mac.get(key) or by_ip.get(key.removeprefix("ip:"))
        if host is None:
            what = "a background host the generator did not plant as a phone"
        else:
            what = f"noisy {host['kind']} {host['mac']}: {', '.join(host['activities'])}"
        out.append(
            {
                "key": key,
                "host": what,
                "verdict": dev.get("verdict"),
                "findings": sorted({f.get("id") for f in dev.get("findings", [])}),
            }
        )
    return out


def _listed_clients(report: dict[str, Any], truth: dict[str, Any]) -> dict[str, str] | None:
    """The report's other clients of the update service, each as the truth's MAC for it (by
    MAC, else by address) or as its own key; None when the report has no such list."""
    section = report.get("other_update_clients")
    if not isinstance(section, dict):
        return None
    hosts = truth.get("noisy_hosts", []) + [
        {"mac": p["mac"], "ip": p["ip"]} for p in truth.get("phones", [])
    ]
    by_mac = {h["mac"]: h["mac"] for h in hosts}
    by_ip = {h["ip"]: h["mac"] for h in hosts}
    out: dict[str, str] = {}
    for client in section.get("listed", []):
        key = str(client.get("key"))
        mac = by_mac.get(str(client.get("mac")))
        for ip in client.get("ips", []):
            mac = mac or by_ip.get(ip)
        out[key] = mac or key
    return out


def check_other_clients(report: dict[str, Any], truth: dict[str, Any]) -> list[str]:
    """A noisy capture's other clients of the update service against the truth: every host
    that looked up its names, sent it a ClientHello or fetched its files is listed; nothing
    else is (a planted phone, an Android lease, a PC that only did DHCP), except the hosts that
    only used pool names no phone was told, which may be either way. Nothing to check when the
    report has no such list (a capinspect older than that list)."""
    listed = _listed_clients(report, truth)
    if listed is None:
        return []
    expected = truth.get("expected", {})
    must = set(expected.get("other_update_service_clients", []))
    maybe = set(expected.get("may_be_listed", []))
    phones = {p["mac"] for p in truth["phones"]}
    got = set(listed.values())
    problems = []
    dropped = report["other_update_clients"].get("not_listed", 0)
    if not dropped:
        for mac in sorted(must - got):
            problems.append(f"other client {mac} (touched the update service) not listed")
    for key, mac in sorted(listed.items()):
        if mac in phones:
            problems.append(f"planted phone {mac} listed as an other client ({key})")
        elif mac not in must | maybe:
            problems.append(f"{key} listed as an other client but did not touch the service")
    return problems


def noise_summary(report: dict[str, Any], truth: dict[str, Any]) -> str:
    """One line for --noisy runs: how many non-phones capinspect reported and judged, and how
    many of the hosts that touched the update service it listed as other clients."""
    extra = non_phone_devices(report, truth)
    judged = [d for d in extra if d["verdict"] is not None or d["findings"]]
    expected = truth.get("expected", {})
    must = set(expected.get("other_update_service_clients", []))
    maybe = set(expected.get("may_be_listed", []))
    listed = _listed_clients(report, truth)
    if listed is None:
        other = "the report lists no other clients"
    else:
        got = set(listed.values())
        other = (
            f"other clients listed: {len(got & must)} of {len(must)} expected, "
            f"{len(got & maybe)} of {len(maybe)} pool-name-only, {len(got - must - maybe)} others"
        )
    return (
        f"non-phone devices with a verdict: {len(judged)} (non-phone devices reported: "
        f"{len(extra)}; {other})"
    )


def compare_scaled(small: dict[str, Any], big: dict[str, Any]) -> list[str]:
    """Phones present in both captures must get the same facts, verdict and finding IDs."""
    problems: list[str] = []
    big_devices = {d.get("key"): d for d in big.get("devices", [])}
    for dev in small.get("devices", []):
        other = big_devices.get(dev.get("key"))
        if other is None:
            problems.append(f"device {dev.get('key')} of the small capture missing in the big one")
            continue
        a, b = device_facts(dev), device_facts(other)
        a["findings"] = sorted(f["id"] for f in dev.get("findings", []))
        b["findings"] = sorted(f["id"] for f in other.get("findings", []))
        a["verdict_reason"], b["verdict_reason"] = (
            dev.get("verdict_reason"),
            other.get("verdict_reason"),
        )
        for key in a:
            if a[key] != b[key]:
                problems.append(
                    f"device {dev.get('key')} {key}: {a[key]!r} (small) != {b[key]!r} (big)"
                )
    return problems


# --- machine, table, profile ----------------------------------------------------------------


def compile_bytecode() -> None:
    """Byte-compile capinspect's modules before timing it, as ``pip install`` does.

    Why: an editable install run with ``PYTHONDONTWRITEBYTECODE`` set (as in some CI and
    sandbox environments) never writes its ``.pyc`` files, so every run would compile its ~160
    modules from source again (about 0.2 s here) — a cost no installed copy pays. Reading
    existing bytecode is not affected by that variable; writing it here is explicit."""
    compileall.compile_dir(str(ROOT / "capinspect"), quiet=1)


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    tshark = "absent"
    if shutil.which("tshark"):
        out = subprocess.run(["tshark", "--version"], capture_output=True, text=True, check=False)
        tshark = (out.stdout.splitlines() or ["?"])[0]
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "capinspect"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return {
        "capinspect": f"{rev or 'unknown'}{' + uncommitted changes' if dirty else ''}",
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "tshark": tshark,
    }


def print_table(sizes: list[Size], results: dict[tuple[str, str], Result]) -> None:
    """Markdown table: medians, ratios, peak RSS."""
    print()
    print("| capture | packets | MB | tool | runs | median s | min s | pkt/s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        mb = size.path.stat().st_size / 1e6
        for tool in TOOLS:
            res = results.get((size.label, tool))
            if res is None or not res.walls:
                continue
            print(
                f"| {size.path.name} | {size.packets:,} | {mb:.0f} | {tool} | {len(res.walls)} | "
                f"{res.median:.2f} | {min(res.walls):.2f} | {size.packets / res.median:,.0f} | "
                f"{res.peak_mb:.0f} |"
            )
    print()
    print("| capture | capinspect vs tshark (tshark s / capinspect s) | capinspect / floor |")
    print("|---|---|---|")
    for size in sizes:
        cap = results.get((size.label, "capinspect"))
        tsh = results.get((size.label, "tshark"))
        flo = results.get((size.label, "floor"))
        if cap is None or not cap.walls:
            continue
        vs_tshark = f"{tsh.median / cap.median:.1f}× faster" if tsh and tsh.walls else "—"
        vs_floor = f"{cap.median / flo.median:.1f}× the floor" if flo and flo.walls else "—"
        print(f"| {size.path.name} | {vs_tshark} | {vs_floor} |")
    measured = [
        (size, results[(size.label, "capinspect")])
        for size in sizes
        if (size.label, "capinspect") in results and results[(size.label, "capinspect")].rss_kb
    ]
    if len(measured) > 1:
        (small, small_res), (big, big_res) = measured[0], measured[-1]
        growth = big_res.peak_mb / small_res.peak_mb - 1
        print()
        print(
            f"capinspect peak RSS {big.path.name} / {small.path.name}: {big_res.peak_mb:.1f} MB /"
            f" {small_res.peak_mb:.1f} MB ({growth:+.1%}; the issue asks for within 10%)"
        )


def profile(size: Size, top: int = 25) -> None:
    """Run capinspect once under cProfile and print the top functions both ways."""
    prof = OUT / f"profile-{size.label}.prof"
    cmd = [
        sys.executable,
        "-m",
        "cProfile",
        "-o",
        str(prof),
        "-m",
        "capinspect",
        "analyze",
        "--format",
        "json",
        "-q",
        str(size.path),
    ]
    print(f"profiling: {' '.join(cmd)}", flush=True)
    with open(os.devnull, "wb") as null:
        done = subprocess.run(cmd, stdout=null, cwd=ROOT, check=False)
    if done.returncode not in (0, 1, 4):
        raise SystemExit(f"capinspect exited {done.returncode} under the profiler")
    stats = pstats.Stats(str(prof))
    stats.strip_dirs()
    for key in ("cumulative", "tottime"):
        print(f"\n=== top {top} by {key} ===")
        stats.sort_stats(key).print_stats(top)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100k,1m", help="comma-separated, e.g. 100k,1m")
    ap.add_argument("--runs", type=int, default=3, help="runs per tool and size")
    ap.add_argument(
        "--runs-large",
        type=int,
        default=None,
        help="runs for captures of 500k packets and more (default: --runs)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--noisy",
        action="store_true",
        help="captures with PCs touching the update service (bench.generate --noisy-pcs)",
    )
    ap.add_argument(
        "--variant",
        default="plain",
        help=f"comma-separated traffic mixes, of {','.join(VARIANTS)} (default: plain)",
    )
    ap.add_argument("--tools", default=",".join(TOOLS), help="subset of capinspect,tshark,floor")
    ap.add_argument("--profile", metavar="SIZE", help="profile capinspect on this size and exit")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)

    variants = [v.strip() for v in args.variant.split(",") if v.strip()]
    unknown_variants = set(variants) - set(VARIANTS)
    if unknown_variants:
        ap.error(f"unknown variants: {', '.join(sorted(unknown_variants))}")
    if args.profile:
        size = size_of(args.profile, args.seed, args.noisy, variants[0] if variants else "plain")
        ensure_capture(size, args.seed)
        compile_bytecode()
        profile(size)
        return 0

    sizes = [
        size_of(s.strip(), args.seed, args.noisy, variant)
        for variant in variants
        for s in args.sizes.split(",")
        if s.strip()
    ]
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        ap.error(f"unknown tools: {', '.join(sorted(unknown))}")
    if "tshark" in tools and shutil.which("tshark") is None:
        print("tshark not found; skipping it", file=sys.stderr)
        tools.remove("tshark")
    for size in sizes:
        ensure_capture(size, args.seed)

    compile_bytecode()
    info = machine()
    print(" | ".join(f"{k}: {v}" for k, v in info.items()), flush=True)
    results: dict[tuple[str, str], Result] = {}
    reports: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    for size in sizes:
        runs = args.runs_large if args.runs_large and size.packets >= 500_000 else args.runs
        truth = json.loads(size.truth_path.read_text())
        report_path = OUT / f"report-{size.label}.json"
        for run in range(runs):
            for tool in tools:
                res = results.setdefault((size.label, tool), Result())
                stdout = report_path if tool == "capinspect" and run == 0 else None
                if tool == "floor":
                    stdout = OUT / f"floor-{size.label}.txt"
                warm_page_cache(size.path)
                m = measure(command(tool, size.path), stdout)
                ok_codes = (0, 1, 4) if tool == "capinspect" else (0,)
                if m["returncode"] not in ok_codes:
                    msg = f"{tool} on {size.path.name} exited {m['returncode']}: {m['stderr_tail']}"
                    res.errors.append(msg)
                    failures.append(msg)
                    continue
                res.walls.append(m["wall_s"])
                res.rss_kb.append(m["max_rss_kb"])
                print(
                    f"{size.path.name} run {run + 1}/{runs} {tool:10s} {m['wall_s']:8.2f} s "
                    f"{m['max_rss_kb'] / 1024:7.0f} MB",
                    flush=True,
                )
                if tool == "floor":
                    counted = int((OUT / f"floor-{size.label}.txt").read_text().strip() or 0)
                    if counted != size.packets:
                        failures.append(f"floor counted {counted} records in {size.path.name}")
        if "capinspect" in tools and report_path.exists():
            try:
                report = json.loads(report_path.read_text())
            except ValueError as exc:
                failures.append(f"capinspect's report for {size.path.name} is not JSON: {exc}")
                continue
            reports[size.label] = report
            problems = check_against_truth(report, truth)
            failures += [f"{size.path.name}: {p}" for p in problems]
            print(
                f"correctness {size.path.name}: "
                + ("OK" if not problems else f"{len(problems)} problem(s)"),
                flush=True,
            )
            if "noisy_hosts" in truth:
                print(f"  {noise_summary(report, truth)}", flush=True)

    labels = [(s.group, s.label) for s in sizes if s.label in reports]
    for (group, small), (other, big) in zip(labels, labels[1:], strict=False):
        if group != other:
            continue
        problems = compare_scaled(reports[small], reports[big])
        failures += [f"{small} vs {big}: {p}" for p in problems]
        print(
            f"scaled {small} vs {big}: "
            + ("OK" if not problems else f"{len(problems)} problem(s)"),
            flush=True,
        )

    print_table(sizes, results)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "results": {
                        f"{label}/{tool}": {
                            "walls": r.walls,
                            "rss_kb": r.rss_kb,
                            "errors": r.errors,
                        }
                        for (label, tool), r in results.items()
                    },
                    "failures": failures,
                },
                indent=2,
            )
        )
    if failures:
        print("\nCORRECTNESS/RUN FAILURES:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("\nall correctness checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
