"""The shape of the source tree, held by tests (docs/testing.md, "Structure guards").

* **No import cycle** in ``capinspect/``, neither between modules nor between packages (``checks/``
  importing ``logs/`` importing ``checks/`` is one even when no two modules import each
  other): every import counts, at module level, inside a function or under
  ``TYPE_CHECKING`` (a cycle hidden in a function is still a cycle in the design). Found with
  Tarjan's strongly connected components over an ``ast`` walk.
* **No module above** :data:`MAX_LINES` **lines** outside the measured hot path
  (:data:`HOT_PATH`), where one long loop is faster than a call per frame (performance.md).
* **``build_devices`` stays simple**: cyclomatic complexity under :data:`MAX_COMPLEXITY`.
* **Every module has a test module** mirroring it (:func:`mirroring_tests`).

``KNOWN_CYCLE_EDGES``, ``KNOWN_PACKAGE_CYCLE_EDGES``, ``KNOWN_LONG_MODULES`` and
``PENDING_TESTS`` list the offenders of the day; each guard asserts that the offenders are a
subset of its set *and* that the set has no stale entry, so a fix must shrink the set in the
same commit and the set can only shrink.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from locations import ROOT

PACKAGE = ROOT / "capinspect"
TESTS = ROOT / "tests"

MAX_LINES = 600
MAX_COMPLEXITY = 15
HOT_PATH = ("capinspect/decode*", "capinspect/sources/pcapfile.py", "capinspect/flows/tcp.py")
"""Where per-frame speed was measured to need long functions (performance.md): the decoder
(``decode.py`` or a ``decode/`` package), the capture reader and TCP reassembly."""

# Offenders tolerated, each edge or module with its reason beside it. All three are empty: the
# "one house" work removed every cycle between modules and between packages (the sieve returns
# its counts, pipeline and parallel share reading.py, log checks are capture checks, the
# engine's Analysis sits in analysis.py above the stages) and split every long module. The
# guards fail on a new offender, and on an entry that no longer offends.
KNOWN_CYCLE_EDGES: frozenset[str] = frozenset()
KNOWN_PACKAGE_CYCLE_EDGES: frozenset[str] = frozenset()
KNOWN_LONG_MODULES: frozenset[str] = frozenset()

WITHOUT_TESTS = frozenset({"__init__.py", "__main__.py"})
"""Package markers and the ``python -m`` entry: no behaviour of their own to test (``py.typed``
is no Python module at all)."""

# Modules without a mirroring test module (see mirroring_tests): empty, every module has one
# now; the guard fails on a new offender and on an entry that no longer offends.
PENDING_TESTS: frozenset[str] = frozenset()


def modules() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def dotted(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# -- imports ------------------------------------------------------------------------------------


def imported_modules(path: Path, known: set[str], name: str | None = None) -> set[str]:
    """The capinspect modules ``path`` imports anywhere in its body, as dotted names.

    ``from capinspect.x import y`` is the module ``capinspect.x.y`` when there is one, else
    the package ``capinspect.x`` (whose ``__init__`` defines ``y``); relative imports are
    resolved against the importing module's package (``name``, by default the path's)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    name = name or dotted(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                found.add(candidate if candidate in known else module)
    out = set()
    for imported in found:
        # ``import capinspect.a.b.c`` where c is a name: the longest module prefix.
        while imported and imported not in known:
            imported = imported.rpartition(".")[0]
        if imported:
            out.add(imported)
    out.discard(name)
    return out


def import_graph() -> dict[str, set[str]]:
    paths = list(modules())
    known = {dotted(p) for p in paths}
    return {dotted(p): imported_modules(p, known) for p in paths}


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (no recursion limit whatever the tree's depth)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: set[str] = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def cycle_edges(graph: dict[str, set[str]]) -> set[str]:
    """Every import edge that lies on a cycle: both ends in one strongly connected component."""
    out = set()
    for component in strongly_connected(graph):
        if len(component) > 1:
            for source in component:
                out.update(f"{source} -> {target}" for target in graph[source] & component)
    return out


def test_tarjan_finds_cycles_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    components = sorted(sorted(c) for c in strongly_connected(graph))
    assert components == [["a", "b", "c"], ["d", "e"], ["f"]]
    assert cycle_edges(graph) == {"a -> b", "b -> c", "c -> a", "d -> e", "e -> d"}
    assert cycle_edges({"a": {"b"}, "b": set()}) == set()


def test_imports_are_read_at_every_level(tmp_path: Path) -> None:
    known = {"capinspect", "capinspect.x", "capinspect.x.y", "capinspect.z", "capinspect.w"}
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from capinspect.x import y\n"
        "if TYPE_CHECKING:\n    from capinspect.z import Thing\n"
        "def f():\n    import capinspect.w\n"
        "from .x.y import name\n",
        encoding="utf-8",
    )
    assert imported_modules(source, known, "capinspect.m") == {
        "capinspect.x.y",
        "capinspect.z",
        "capinspect.w",
    }


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """``graph`` between packages: ``capinspect.checks.dns`` counts as ``capinspect.checks``."""

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    out: dict[str, set[str]] = {}
    for source, targets in graph.items():
        edges = out.setdefault(package(source), set())
        edges.update(package(t) for t in targets if package(t) != package(source))
    return out


def _hold_to_known(edges: set[str], known: frozenset[str], name: str) -> None:
    new = sorted(edges - known)
    assert not new, "import edges on a cycle:\n" + "\n".join(new)
    stale = sorted(known - edges)
    assert not stale, f"no longer on a cycle, remove from {name}:\n" + "\n".join(stale)


def test_no_import_cycle_between_modules() -> None:
    _hold_to_known(cycle_edges(import_graph()), KNOWN_CYCLE_EDGES, "KNOWN_CYCLE_EDGES")


def test_no_import_cycle_between_packages() -> None:
    edges = cycle_edges(package_graph(import_graph()))
    _hold_to_known(edges, KNOWN_PACKAGE_CYCLE_EDGES, "KNOWN_PACKAGE_CYCLE_EDGES")


def test_package_graph() -> None:
    graph = {"capinspect.a.x": {"capinspect.b.y"}, "capinspect.b.y": {"capinspect.a.z"}}
    graph["capinspect.a.z"] = set()
    assert cycle_edges(graph) == set()
    assert cycle_edges(package_graph(graph)) == {
        "capinspect.a -> capinspect.b",
        "capinspect.b -> capinspect.a",
    }


# -- size ---------------------------------------------------------------------------------------


def in_hot_path(module: str) -> bool:
    """``module`` (``capinspect/…/x.py``) matches a :data:`HOT_PATH` pattern (``*`` crosses
    ``/``, so ``capinspect/decode*`` covers a ``decode/`` package too)."""
    return any(fnmatch.fnmatchcase(module, pattern) for pattern in HOT_PATH)


def test_hot_path_patterns() -> None:
    assert in_hot_path("capinspect/decode.py") and in_hot_path("capinspect/decode/walk.py")
    assert in_hot_path("capinspect/flows/tcp.py")
    assert not in_hot_path("capinspect/flows/tcp_extra.py")
    assert not in_hot_path("capinspect/report/decode.py")


def test_no_module_above_the_line_limit_outside_the_hot_path() -> None:
    long = {
        rel(path)
        for path in modules()
        if len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES
        and not in_hot_path(rel(path))
    }
    new = sorted(long - KNOWN_LONG_MODULES)
    assert not new, f"modules above {MAX_LINES} lines: {new}"
    stale = sorted(KNOWN_LONG_MODULES - long)
    assert not stale, f"no longer above {MAX_LINES} lines, remove from KNOWN_LONG_MODULES: {stale}"


# -- complexity ---------------------------------------------------------------------------------


def cyclomatic_complexity(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """McCabe's number as mccabe and ruff's C901 count it: 1, plus one per ``if``/``elif``,
    loop, ``except`` clause, ``case`` and nested function (with its own branches). Branches
    inside expressions (``and``/``or``, conditional expressions, comprehensions) do not count,
    as they do not for those tools."""
    return 1 + _branches(function.body)


def _branches(body: list[ast.stmt]) -> int:
    count = 0
    for node in body:
        if isinstance(node, ast.If):
            count += 1 + _branches(node.body) + _branches(node.orelse)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.While):
            count += 1 + _branches(node.body) + _branches(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            count += len(node.handlers) + _branches(node.body) + _branches(node.orelse)
            count += _branches(node.finalbody)
            count += sum(_branches(handler.body) for handler in node.handlers)
        elif isinstance(node, ast.Match):
            count += sum(1 + _branches(case.body) for case in node.cases)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            count += 1 + _branches(node.body)
        elif isinstance(node, ast.With | ast.AsyncWith | ast.ClassDef):
            count += _branches(node.body)
    return count


def functions_named(name: str) -> list[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                found.append((path, node))
    return found


def test_complexity_counts_branches() -> None:
    source = (
        "def f(x):\n"
        "    if x and x > 1 or x < -1:\n        return [i for i in x if i]\n"
        "    elif x:\n        pass\n"
        "    for i in x:\n        while i:\n            i -= 1\n"
        "    try:\n        pass\n    except ValueError:\n        pass\n"
        "    except KeyError:\n        pass\n"
        "    def g():\n        if x:\n            pass\n"
        "    return 1 if x else 2\n"
    )
    function = ast.parse(source).body[0]
    assert isinstance(function, ast.FunctionDef)
    # 1 + if + elif + for + while + 2 except + g + g's if
    assert cyclomatic_complexity(function) == 1 + 1 + 1 + 1 + 1 + 2 + 1 + 1


def test_complexity_agrees_with_ruff() -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff not installed")
    path = PACKAGE / "checks" / "capture.py"
    out = subprocess.run(
        [ruff, "check", "--no-cache", "--select", "C901", "--config",
         "lint.mccabe.max-complexity=1", "--output-format", "concise", str(path)],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    theirs = {m[0]: int(m[1]) for m in re.findall(r"`(\w+)` is too complex \((\d+) > 1\)", out)}
    assert theirs, out
    ours = {
        node.name: cyclomatic_complexity(node)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in theirs
    }
    assert ours == theirs


def test_build_devices_is_simple() -> None:
    found = functions_named("build_devices")
    assert found, "build_devices is gone: point this guard at what replaced it"
    for path, function in found:
        complexity = cyclomatic_complexity(function)
        assert complexity < MAX_COMPLEXITY, f"{rel(path)}: build_devices is {complexity}"


# -- a test module for every module ---------------------------------------------------------------


def mirroring_tests(module: Path) -> list[Path]:
    """The test modules that mirror ``module`` (a path under capinspect/).

    The rule: ``capinspect/<pkg>/<name>.py`` is tested in ``tests/<pkg>/`` by
    ``test_<name>.py``, or by ``test_<word>_<name>.py`` / ``test_<name>_<word>.py`` with one
    qualifying word (``tests/`` has no ``__init__.py``, so pytest imports test files by their
    base name and two ``test_model.py`` would clash: ``tests/devices/test_devices_model.py``,
    ``tests/logs/test_audit_log.py``). Top-level modules are tested in ``tests/``.
    """
    directory = TESTS / module.parent.relative_to(PACKAGE)
    name = re.escape(module.stem)
    pattern = re.compile(rf"test_(?:{name}|[a-z0-9]+_{name}|{name}_[a-z0-9]+)\.py")
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("test_*.py") if pattern.fullmatch(p.name))


def test_the_mapping_rule() -> None:
    assert mirroring_tests(PACKAGE / "protocols" / "dhcp" / "parser.py") == [
        TESTS / "protocols" / "dhcp" / "test_dhcp_parser.py"
    ]
    assert TESTS / "logs" / "test_audit_log.py" in mirroring_tests(PACKAGE / "logs" / "audit.py")
    assert mirroring_tests(PACKAGE / "wire.py") == [TESTS / "test_wire.py"]
    # Only in the mirrored directory: tests/test_wire.py does not test a knowledge/wire.py.
    assert mirroring_tests(PACKAGE / "knowledge" / "wire.py") == []


def test_every_module_has_a_test_module() -> None:
    untested = {
        rel(path)
        for path in modules()
        if path.name not in WITHOUT_TESTS and not mirroring_tests(path)
    }
    missing = sorted(untested - PENDING_TESTS)
    assert not missing, "modules without a test module (see mirroring_tests):\n" + "\n".join(
        missing
    )
    stale = sorted(PENDING_TESTS - untested)
    assert not stale, f"entries that are gone or have a test module now: {stale}"


def test_no_merge_conflict_marker_is_left_in_a_tracked_text_file() -> None:
    """A merge's ``<<<<<<<`` / ``>>>>>>>`` lines once reached docs/architecture.md unseen."""
    marker = re.compile(r"^(<{7} |>{7} |={7}$)", re.M)
    paths = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "pyproject.toml"]
    for folder in ("capinspect", "docs", "tests", "lab", "bench", ".ci"):
        paths += [p for p in (ROOT / folder).rglob("*") if p.is_file()]
    texts = [p for p in paths if p.suffix in {".py", ".md", ".toml", ".json", ""}]
    offenders = [
        str(p.relative_to(ROOT))
        for p in texts
        if "corpus" not in p.parts
        and marker.search(p.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not offenders, offenders
