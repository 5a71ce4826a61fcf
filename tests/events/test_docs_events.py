"""docs/events.md is held to the code: its examples are what the code writes, and its field
table lists exactly the fields the events carry."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from locations import PCAPS, ROOT, lab_captures
from test_builder import live_events

from capinspect import __version__
from capinspect.cli import main
from capinspect.events.syslog import format_message
from capinspect.sources.merge import iter_frames

DOC = (ROOT / "docs" / "events.md").read_text()
DOC_VERSION = "0.1.0"
"""The capinspect version the examples show; the code's is put in its place to compare."""


def events_of(path: Path, *, sensor: str = "site1-sensor") -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        main, ["analyze", "--events", "-", "--sensor", sensor, "-o", "/dev/null", str(path)]
    )
    assert result.exit_code in (0, 1, 4), result.output
    text = result.stdout.replace(f'"version":"{__version__}"', f'"version":"{DOC_VERSION}"')
    return [json.loads(line) for line in text.splitlines()]


def flat(value: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, item in value.items():
        if isinstance(item, dict):
            out |= flat(item, f"{prefix}{key}.")
        else:
            out.add(prefix + key)
    return out


def test_the_json_examples_are_what_the_code_writes() -> None:
    examples = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", DOC, re.DOTALL)]
    assert len(examples) == 3
    events = events_of(PCAPS / "acl-denied.pcap")
    assert f"writes {len(events)} events" in DOC
    for example in examples:
        assert example == events[example["event"]["sequence"] - 1]


def test_the_syslog_example_is_what_the_code_sends() -> None:
    line = next(line for line in DOC.splitlines() if line.startswith("<131>1 "))
    event = events_of(PCAPS / "acl-denied.pcap")[7]
    sent = format_message(event, procid=4242).decode()
    assert sent.replace(f'swVersion="{__version__}"', f'swVersion="{DOC_VERSION}"') == line


def test_the_field_table_lists_every_field_and_only_those() -> None:
    documented = set(re.findall(r"^\| `([@a-z0-9_.]+)` \| (?:yes|no) \|", DOC, re.MULTILINE))
    seen: set[str] = set()
    for capture in lab_captures():
        for event in events_of(capture):
            seen |= flat(event)
    frames = list(iter_frames([str(PCAPS / "healthy-no-update.pcap")]))
    for event in live_events(frames, tail=120.0):  # live: the interface, phone-idle
        seen |= flat(event)
    assert seen == documented, (seen - documented, documented - seen)


def test_every_action_is_documented() -> None:
    from capinspect.events.builder import ACTIONS

    for action in ACTIONS:
        assert f"| `{action}` |" in DOC
