"""Every anomaly code the source can emit is in docs/anomalies.md; every Limits field is in
docs/limits.md.

Anomaly codes are found as string literals (and the ``limit.`` f-strings' names) in the calls
that create anomalies: ``Anomaly(...)``, ``AnomalySink.note``, HTTP framing ``Problem``s and
the stages' ``_note``/``_record``/``_report_limit`` helpers, plus conditional expressions and
module-level constants feeding them. Check IDs (``dhcp.option43-missing``…) are not anomalies
and live in docs/checks.md.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

from capinspect.limits import Limits

ROOT = Path(__file__).resolve().parents[1]
CODE = re.compile(
    r"^(capture|pcapng|netmon|decode|ip|tcp|udp|arp|tls|dhcp|dns|http|limit|checkin|tunnel|ntp)\.[a-z0-9_.-]+$"
)
CREATORS = {"Anomaly", "Problem", "note", "_note", "_record", "_report_limit", "_truncated_anomaly"}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def emitted_codes() -> dict[str, set[str]]:
    """code → modules that create it."""
    found: dict[str, set[str]] = {}
    trees = {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "capinspect").rglob("*.py"))
    }
    # Codes named by a module-level constant (``KERNEL_DROPS_CODE = "capture.kernel-drops"``).
    constants = {
        target.id: node.value.value
        for tree in trees.values()
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and CODE.match(node.value.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or _name(node.func) not in CREATORS:
                continue
            candidates = {
                code
                for arg in node.args
                if isinstance(arg, ast.Constant | ast.IfExp)
                for code in _strings(arg)
                if CODE.match(code)
            } | {
                constants[arg.id]
                for arg in node.args
                if isinstance(arg, ast.Name) and arg.id in constants
            }
            if _name(node.func) == "_report_limit" and node.args:
                candidates |= {f"limit.{s}" for s in _strings(node.args[0])}
            for code in candidates:
                found.setdefault(code, set()).add(module)
        # Codes chosen before the call: ``code_name = "a" if … else "b"``.
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.IfExp):
                for code in _strings(node.value):
                    if CODE.match(code):
                        found.setdefault(code, set()).add(module)
    return found


def documented(doc: str) -> set[str]:
    return set(re.findall(r"`([a-z0-9]+\.[a-z0-9_.-]+)`", (ROOT / "docs" / doc).read_text()))


def test_the_scan_finds_codes_of_every_stage() -> None:
    codes = emitted_codes()
    prefixes = {code.split(".")[0] for code in codes}
    assert {"capture", "pcapng", "decode", "ip", "tcp", "dhcp", "dns", "http", "limit"} <= prefixes
    assert "limit.max_dns_pending" in codes  # via _report_limit("max_dns_pending", …)
    assert "dhcp.option-bad-length" in codes  # via code_name = … if … else …


def test_every_anomaly_code_is_documented() -> None:
    missing = {
        code: sorted(modules)
        for code, modules in emitted_codes().items()
        if code not in documented("anomalies.md")
    }
    assert not missing, f"add to docs/anomalies.md: {missing}"


def test_every_limits_field_is_documented() -> None:
    text = (ROOT / "docs" / "limits.md").read_text()
    missing = [f.name for f in dataclasses.fields(Limits) if f"`{f.name}`" not in text]
    assert not missing, f"add to docs/limits.md: {missing}"
    for field in dataclasses.fields(Limits):
        default = field.default
        shown = f"{default:_}" if isinstance(default, int) else str(default)
        row = next(line for line in text.splitlines() if line.startswith(f"| `{field.name}` |"))
        assert shown.replace("_", " ") in row.replace("_", " ") or str(default) in row, (
            field.name,
            row,
        )


def test_every_documented_anomaly_code_can_be_emitted() -> None:
    """The table lists what the code can emit, nothing more (check IDs it mentions in prose
    are not in its tables)."""
    text = (ROOT / "docs" / "anomalies.md").read_text()
    rows = set(re.findall(r"^\| `([a-z0-9]+\.[a-z0-9_.-]+)` \|", text, flags=re.MULTILINE))
    assert rows, "no table rows found"
    emitted = set(emitted_codes())
    assert not rows - emitted, f"documented but never emitted: {sorted(rows - emitted)}"
