"""Every string capinspect shows a user cites its sources by title, never by an internal name.

The project's notes call the troubleshooting article "the seed", number its readers' comments
and number Microsoft's documents S1…S61 in a protocol reference no user ever sees. A user who
reads "seed step 10; comment 11" or "protocol.md §2.1, S24" cannot follow it. This test
collects what a user can see — every check's words, the knowledge tables' entries, ``explain``
for every check ID and a sample of codes, ``checks``, every command's ``--help``, and the
text, Markdown, HTML and JSON reports of every bundled capture (with and without its server
logs) — and fails on any internal name or source path.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import click
import pytest
from bundled import CAPTURES, bundled_report
from click.testing import CliRunner
from locations import PCAPS

import capinspect.knowledge
from capinspect.checks import ALL_SPECS
from capinspect.cli import main
from capinspect.devices import build_devices
from capinspect.report.html import render_html
from capinspect.report.json import dumps, report_document, timeline_document
from capinspect.report.markdown import render_markdown
from capinspect.report.text import render_analyze, render_timeline

FORBIDDEN: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("the project's name for the article", re.compile(r"\bseed\b", re.I)),
    ("a numbered comment", re.compile(r"\bcomments? \d+", re.I)),
    ("the internal protocol reference", re.compile(r"protocol\.md", re.I)),
    ("a section sign", re.compile("§")),
    ("a numbered internal source", re.compile(r"\bS\d{1,2}\b")),
    # A module path (capinspect/protocols/http/iis.py, capinspect/checks/); the JSON schema
    # name "capinspect/report@1" is a name, not a path.
    (
        "a source path",
        re.compile(r"\bcapinspect/(?:\w+/)*\w+\.py\b|\bcapinspect/(?:\w+/)+"),
    ),
)

# Codes and statuses a user pastes into ``capinspect explain``.
EXPLAIN_SAMPLES = (
    "0x2f7d/200",
    "(0x0/200)",
    "0x00/0",
    "12007",
    "0x2ee7",
    "12157",
    "500",
    "500.19",
    "403.4",
    "404",
    "404.0",
    "401.3",
    "503",
    "banana",
)


def violations(where: str, text: str) -> list[str]:
    """``where: what (…context…)`` for every forbidden name in ``text``."""
    found = []
    for what, pattern in FORBIDDEN:
        for match in pattern.finditer(text):
            start, end = max(0, match.start() - 50), match.end() + 50
            context = text[start:end].replace("\n", " ")
            found.append(f"{where}: {what} {match.group(0)!r} in …{context}…")
    return found


def assert_clean(texts: list[tuple[str, str]]) -> None:
    problems = [v for where, text in texts for v in violations(where, text)]
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} in all)"


def test_the_scanner_catches_every_internal_name() -> None:
    """Each pattern fires on the words this test exists to keep out, and not on their fixes."""
    bad = (
        "seed step 10",
        "the Seed's word",
        "comment 11",
        "Comments 15 and 16",
        "protocol.md",
        "§2.1",
        "S24",
        "(S9, Cisco)",
        "capinspect/protocols/http/iis.py",
        "see capinspect/checks/ for the rules",
    )
    for text in bad:
        assert violations("sample", text), text
    good = (
        "the Device Update troubleshooting article (step 10)",
        "a reader's comment on the article",
        "Microsoft, 'DNS requirements for Front End pools' (Lync Server 2013)",
        "see docs/capturing.md",
        "SSL 128 required",
        "Windows Server 2008 SP2",
        '"schema": "capinspect/report@1"',
    )
    for text in good:
        assert not violations("sample", text), text


def test_check_specs() -> None:
    assert_clean(
        [
            (f"{spec.id}.{field}", getattr(spec, field))
            for spec in ALL_SPECS
            for field in ("id", "title", "explanation", "remediation", "source")
        ]
    )


def _strings(value: object, depth: int = 0) -> Iterator[str]:
    """Every string inside a table value: dict keys and values, tuples, dataclass fields."""
    if depth > 6:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key, depth + 1)
            yield from _strings(item, depth + 1)
    elif isinstance(value, (tuple, list, set, frozenset)):
        for item in value:
            yield from _strings(item, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _strings(getattr(value, field.name), depth + 1)


def _knowledge_modules() -> list[ModuleType]:
    package = capinspect.knowledge
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    ]


def test_knowledge_tables() -> None:
    """Every value a knowledge module holds (not its docstrings): what explain and reports print."""
    texts = []
    modules = _knowledge_modules()
    assert len(modules) >= 6
    for module in modules:
        for name, value in vars(module).items():
            if name.startswith("__") or callable(value) or isinstance(value, ModuleType):
                continue
            texts.extend((f"{module.__name__}.{name}", s) for s in _strings(value))
    assert len(texts) > 300  # the IIS and WinInet tables alone hold more
    assert_clean(texts)


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.output


def test_explain_every_check_and_sample_codes() -> None:
    texts = [(f"explain {spec.id}", _invoke("explain", spec.id)) for spec in ALL_SPECS]
    texts += [(f"explain {term}", _invoke("explain", term)) for term in EXPLAIN_SAMPLES]
    assert all(text.strip() for _, text in texts)
    assert_clean(texts)


def test_checks_listing() -> None:
    text = _invoke("checks")
    assert all(spec.id in text for spec in ALL_SPECS)
    assert_clean([("checks", text)])


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the lazy group imports each command here
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_help_text() -> None:
    commands = list(_commands(main))
    assert len(commands) >= 8
    texts = [(" ".join(("capinspect", *c, "--help")), _invoke(*c, "--help")) for c in commands]
    assert all("Usage" in text for _, text in texts)
    assert_clean(texts)


def rendered_reports(capture: Path) -> list[tuple[str, str]]:
    """The text (80 and 160 columns), Markdown, HTML, JSON and timeline of one capture."""
    report = bundled_report(capture)
    analysis = report.analysis
    return [
        (f"{capture.name} text", render_analyze(report, width=80)),
        (f"{capture.name} text wide", render_analyze(report, width=160)),
        (f"{capture.name} markdown", render_markdown(report)),
        (f"{capture.name} html", render_html(report)),
        (f"{capture.name} json", dumps(report_document(report))),
        (f"{capture.name} timeline", render_timeline(analysis, build_devices(analysis))),
        (
            f"{capture.name} timeline json",
            dumps(timeline_document(analysis, build_devices(analysis))),
        ),
    ]


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name.split(".")[0])
def test_reports_of_every_bundled_capture(capture: Path) -> None:
    assert_clean(rendered_reports(capture))


LOGGED = sorted(p for p in CAPTURES if (PCAPS / f"{p.stem}.iis.log").exists())


@pytest.mark.parametrize("capture", LOGGED, ids=lambda p: p.stem)
def test_reports_with_server_logs(capture: Path) -> None:
    """The log checks' words: ``analyze`` with the capture's logs, and ``logs`` alone."""
    logs = ["--iis-log", str(PCAPS / f"{capture.stem}.iis.log")]
    logs += ["--audit-log", str(PCAPS / f"{capture.stem}.audit.log")]
    texts = []
    for fmt in ("text", "json", "markdown", "html"):
        out = _invoke("analyze", "-q", "--format", fmt, *logs, str(capture))
        texts.append((f"analyze {capture.stem} {fmt} with logs", out))
    for fmt in ("text", "json"):
        texts.append((f"logs {capture.stem} {fmt}", _invoke("logs", "--format", fmt, *logs)))
    assert all(text.strip() for _, text in texts)
    assert_clean(texts)


def test_every_bundled_capture_is_scanned() -> None:
    assert len(CAPTURES) >= 20
    assert len(LOGGED) >= 2
