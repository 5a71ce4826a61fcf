"""Command line: `python -m lab list | run --scenario NAME --out DIR | run --all --out DIR | check`.

`check` is what keeps the committed captures honest: it reruns every scenario into a temporary
directory and compares the protocol facts of the fresh capture with the committed one and with
the committed facts file.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from lab.facts import compare_captures, compare_with_facts
from lab.runner import REPO, LabError, preflight, run_scenario
from lab.scenarios import SCENARIOS, by_name

PCAPS = REPO / "pcaps"


def cmd_list() -> int:
    """Print every scenario with its expected outcome."""
    for sc in SCENARIOS:
        print(f"{sc.name:20} {sc.capture_name:26} {sc.outcome}")
    return 0


def run_one(name: str, out: Path, keep_tmp: bool) -> list[str]:
    """Run a scenario and self-check the capture against the facts it just wrote."""
    sc = by_name(name)
    capture = run_scenario(sc, out, keep_tmp=keep_tmp)
    facts = json.loads((out / f"{sc.name}.facts.json").read_text())
    return compare_with_facts(capture, facts)


def cmd_run(names: list[str], out: Path, keep_tmp: bool) -> int:
    """Run scenarios; exit non-zero if any capture disagrees with its own facts."""
    failed = 0
    for name in names:
        problems = run_one(name, out, keep_tmp)
        status = "ok" if not problems else "MISMATCH"
        print(f"{name}: {status} -> {out / by_name(name).capture_name}")
        for p in problems:
            print(f"  {p}")
        failed += bool(problems)
    return 1 if failed else 0


def check_one(name: str, tmp: Path) -> list[str]:
    """Rerun one scenario and compare with the committed capture and facts."""
    sc = by_name(name)
    committed_cap = PCAPS / sc.capture_name
    committed_facts = PCAPS / f"{sc.name}.facts.json"
    if not committed_cap.exists() or not committed_facts.exists():
        return [f"missing committed {committed_cap.name} or {committed_facts.name}"]
    problems = run_one(name, tmp, keep_tmp=False)
    facts = json.loads(committed_facts.read_text())
    fresh_facts = json.loads((tmp / f"{sc.name}.facts.json").read_text())
    problems += [f"committed capture: {p}" for p in compare_with_facts(committed_cap, facts)]
    macs = [p["mac"] for p in facts["phones"]]
    problems += compare_captures(tmp / sc.capture_name, committed_cap, macs)
    if strip_volatile(fresh_facts) != strip_volatile(facts):
        problems.append("fresh facts.json differs from the committed one")
    return problems


def strip_volatile(facts: dict[str, object]) -> dict[str, object]:
    """Facts contain no times or ports already; this hook keeps the comparison explicit."""
    return facts


def cmd_check() -> int:
    """Rerun everything into a temp dir and compare with pcaps/."""
    failed = 0
    with tempfile.TemporaryDirectory(prefix="capi-lab-check-") as tmp:
        for sc in SCENARIOS:
            problems = check_one(sc.name, Path(tmp))
            print(f"{sc.name}: {'ok' if not problems else 'DIFFERS'}")
            for p in problems:
                print(f"  {p}")
            failed += bool(problems)
    return 1 if failed else 0


README_HEAD = """# Lab captures

Every file here was produced by the lab in `lab/` (see `docs/lab.md`): real dnsmasq answering DHCP
and DNS (or, where a section says so, ISC Kea or ISC dhcpd answering DHCP with dnsmasq for DNS
only), a Python stand-in for IIS 7 answering the Device Update check-in and serving fake firmware,
and phone emulators using the kernel's UDP/TCP stack, all in Linux network namespaces, captured by
tcpdump on the switch bridge (a mirror of every port). VLAN tags are added afterwards to the frames
of the phones marked as tagged, because the lab kernel cannot tag.

Each `<name>.pcap` / `.pcapng` has a `<name>.facts.json` holding what the lab put in: per phone its
MAC, xids, identity, versions per check-in, leased IP, option 43/120/15 as served, DNS answers,
check-in paths and responses, downloads with IIS status/sub-status, VLANs, and the expected outcome.
Regenerate with `python -m lab run --all --out pcaps`, then `python -m lab readme`; verify with
`python -m lab check`. Only timestamps and TCP ports/sequence numbers change between runs (DHCP
xids and DNS ids are seeded). Network: 10.77.0.0/24, server 10.77.0.1 (DHCP, DNS, HTTP), option 3
router 10.77.0.254 (does not exist; everything is on-link).

Lync Phone Edition captures (`lpe-*`): the phones are Polycom CX500/CX600/CX3000 and Aastra
6721ip/6725ip, the models Microsoft's "IP Phone Inventory Report" (Lync Server 2013) lists with
those manufacturer and hardware-version strings. What such a phone sends in its check-in is not
published: the vendor/model spelling in the check-in (`Polycom`, as the article's CX700 paths
show, not the registration's `POLYCOM`), the revision (`A` here), the locale, the update file's
sub-path (`.../CPE/CPE.nbt` here) and the XML are the lab's stand-ins (UNKNOWN). The HTTP
user agent is UNKNOWN too: the lab's LPE phones send the SIP user agent's form from the same
Microsoft page (`CPE/<version> OCPhone/<version> (Microsoft Lync 2010 Phone Edition)`). HP
4110/4120 are not emulated: their check-in vendor and model strings are unpublished. The
phone's clock before NTP (2000-01-01 00:00 UTC) and its NTPv3 client request are assumptions;
what follows a successful sign-in handshake (a PIN and the certificate request) is not emulated:
the phone fetches the service URL once.

This file is generated from the facts files by `python -m lab readme`.
"""


def _phone_line(p: dict[str, Any]) -> str:
    vlan = p["vlan"]
    if vlan is None:
        tag = "untagged"
    elif "vid" in vlan:
        tag = f"VLAN {vlan['vid']}"
    else:
        tag = f"QinQ {vlan['outer_vid']}/{vlan['inner_vid']}"
    versions = " -> ".join(p["versions_reported"])
    return (
        f"| {p['name']} | {p['mac']} | {p['vendor']} {p['model']} | {p['serial']} | "
        f"{versions} | {p['leased_ip']} | {tag} | {p['expected_outcome']} |"
    )


def _served_line(served: dict[str, Any]) -> str:
    """One sentence on a Kea/dhcpd scenario's DHCP server and the exact option bytes it sent."""
    text = (
        f"DHCP by {served['server']}, DNS by {served['dns_server']}; vendor class test "
        f"`{served['vendor_class_test']}` "
        + ("(matches)" if served["vendor_class_matches"] else "(never matches `MS-UC-Client`)")
        + ("" if served["answers_inform"] else "; not authoritative, so DHCPINFORM is ignored")
    )
    for code, key in ((43, "option43_raw_hex"), (120, "option120_raw_hex")):
        if served[key] is not None:
            text += f"; option {code} sent as `{served[key]}`"
    return text + "."


def _lpe_lines(facts: dict[str, Any], lpe: dict[str, Any]) -> str:
    """What a Lync Phone Edition capture adds: time, the sign-in connection, its TLS alerts."""
    ntp = {
        "answered": "chronyd answers the phone's NTP request (option 42)",
        "ignored": "chronyd drops the phone's two NTP requests (option 42) unanswered",
        "none": "no option 42, no NTP",
    }[lpe["ntp"]]
    validity = facts["https"]["server_cert_validity"]
    alerts = [
        f"{a['from']} {a['level']} {a['description']} (SNI {c['sni']})"
        for c in facts["tls_connections"]
        for a in c["alerts"]
    ]
    return (
        f"\nLync Phone Edition: {ntp}; the phone's clock before NTP is "
        f"{lpe['phone_default_clock']} (the lab's assumption); sign-in connection to "
        f"`{lpe['signin_url']}`; certificate valid {validity['not_before']} to "
        f"{validity['not_after']}; TLS alerts on the wire: "
        + (", ".join(alerts) or "none")
        + f". HTTP user agent `{lpe['user_agent_form']}` (the lab's choice, see above)."
    )


def cmd_readme() -> int:
    """Render pcaps/README.md from the committed facts so docs cannot drift from captures."""
    parts = [README_HEAD]
    for sc in SCENARIOS:
        facts = json.loads((PCAPS / f"{sc.name}.facts.json").read_text())
        served = facts["dhcp_served"]
        zone = facts["dns_zone"]
        parts.append(f"## {sc.capture_name} - {facts['title']}\n")
        parts.append(f"{facts['shows']}\n")
        parts.append(f"**Expected outcome:** {facts['expected_outcome']}\n")
        parts.append(
            f"Domain `{facts['domain']}`, web FQDN `{facts['web_fqdn']}`, "
            f"ucupdates-r2: {zone['type']}"
            + (f" -> {zone['target']}" if zone["type"] == "CNAME" else "")
            + f"; option 43: {served['option43_mode']}; option 120: "
            + (", ".join(served["option120_names"]) or "not served")
            + f"; server target {facts['server']['target_version']}.\n"
        )
        parts.append(
            "| phone | MAC | device | serial | versions reported | IP | VLAN | outcome |\n"
            "|---|---|---|---|---|---|---|---|"
        )
        parts += [_phone_line(p) for p in facts["phones"]]
        if served["server"] != "dnsmasq":
            parts.append("\n" + _served_line(served))
        tls = facts.get("https")
        if tls:
            fx = tls["fixtures"]
            parts.append(
                f"\nCheck-ins over HTTPS (port {tls['port']}): server "
                f"{'/'.join(tls['server_versions'])} with {', '.join(tls['server_ciphers'])} only "
                + (
                    "(ECDHE key exchange: the server key cannot decrypt it, the phone's key log "
                    "can)"
                    if tls.get("key_exchange") == "ecdhe"
                    else "(RSA key exchange)"
                )
                + "; certificate names "
                + ", ".join(f"`{n}`" for n in tls["server_cert_names"])
                + "; the phone "
                + ("trusts" if tls["phone_trusts_ca"] else "does **not** trust")
                + f" the issuing lab CA. Lab key material: `{fx['key']}` (server key), "
                f"`{fx['chain']}` (server certificate + CA), `{fx['keylog']}` (the phone's NSS "
                "key log)."
            )
        lpe = facts.get("lync_phone_edition")
        if lpe:
            parts.append(_lpe_lines(facts, lpe))
        if facts.get("background"):
            parts.append(
                f"\nBackground PC {facts['background']['mac']} ({facts['background']['ip']}): "
                "gratuitous ARP, DNS A/SRV queries (two NXDOMAIN), `GET /` with a browser "
                "User-Agent, and a TCP connection to 443 carrying a TLS ClientHello answered by a "
                "fatal alert."
            )
        parts.append("")
    (PCAPS / "README.md").write_text("\n".join(parts))
    print(f"wrote {PCAPS / 'README.md'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and dispatch; lab failures exit 2 with the reason."""
    ap = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list scenarios")
    sub.add_parser("readme", help="regenerate pcaps/README.md from the facts files")
    run = sub.add_parser("run", help="run scenarios and write captures + facts")
    group = run.add_mutually_exclusive_group(required=True)
    group.add_argument("--scenario", action="append", help="scenario name (repeatable)")
    group.add_argument("--all", action="store_true", help="every scenario")
    run.add_argument("--out", type=Path, default=PCAPS)
    run.add_argument("--keep-tmp", action="store_true", help="keep logs of the run")
    sub.add_parser("check", help="rerun every scenario and compare with pcaps/")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        return cmd_list()
    if args.cmd == "readme":
        return cmd_readme()
    # SIGTERM must unwind through the runner's finally blocks so namespaces get deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    missing = preflight()
    if missing:
        print("lab cannot run here, missing: " + ", ".join(missing), file=sys.stderr)
        return 2
    try:
        if args.cmd == "run":
            names = [s.name for s in SCENARIOS] if args.all else args.scenario
            return cmd_run(names, args.out, args.keep_tmp)
        return cmd_check()
    except (LabError, KeyError) as exc:
        print(f"lab error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
