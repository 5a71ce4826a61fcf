"""Command line: `python -m lab list | run --scenario NAME --out DIR | run --all --out DIR | check`.

`check` is what keeps the committed captures honest: it reruns every scenario into a temporary
directory and compares the protocol facts of the fresh capture with the committed one and with
the committed facts file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and dispatch; lab failures exit 2 with the reason."""
    ap = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list scenarios")
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
