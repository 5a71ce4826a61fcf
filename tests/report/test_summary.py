"""``analyze --format summary``: one line per phone, failing first, drawn by tabulate."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from locations import PCAPS
from tabulate import tabulate_formats

from capinspect.checks.base import Verdict
from capinspect.cli import main
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.model import Report, select_devices, verdict_rank
from capinspect.report.summary import (
    HEADERS,
    TABLE_STYLES,
    check_style,
    first_sentence,
    render_summary,
)

SIMPLE_HEADER_LINES = 4
"""Counts line, blank line, column heads and the dashes under them."""


@pytest.fixture(scope="module")
def multi() -> Report:
    return evaluate(analyze_paths([str(PCAPS / "multi-phone.pcapng")]), DEFAULT_EXPECTATIONS)


def _verdict_column(lines: list[str]) -> list[str]:
    return [
        word
        for line in lines
        for word in line.split()
        if word in ("FAIL", "WARN", "INCONCLUSIVE", "PASS")
    ]


def test_two_hundred_phones_give_two_hundred_lines_failures_first(bench_report: Report) -> None:
    text = render_summary(bench_report)
    lines = text.splitlines()
    assert len(lines) == SIMPLE_HEADER_LINES + 200
    assert lines[0].startswith("200 phone(s): ")
    assert lines[2].split() == [w for head in HEADERS for w in head.split()]
    body = lines[SIMPLE_HEADER_LINES:]
    verdicts = _verdict_column(body)
    assert len(verdicts) == 200
    ranks = [verdict_rank(Verdict(v.lower())) for v in verdicts]
    assert ranks == sorted(ranks) and verdicts[0] == "FAIL"
    # Each line is its phone: MAC first, and a failing phone names its root cause and a fix.
    for line, item in zip(body, bench_report.devices, strict=True):
        assert line.startswith(item.session.mac or item.session.key)
        root = item.verdict.root_cause
        if root is not None:
            assert root.check_id in line
            assert first_sentence(root.remediation) in line


def test_the_command_writes_the_same_two_hundred_lines(
    bench_capture: Path, bench_report: Report, tmp_path: Path
) -> None:
    target = tmp_path / "summary.txt"
    result = CliRunner().invoke(
        main, ["analyze", "-q", "--format", "summary", "-o", str(target), str(bench_capture)]
    )
    assert result.exit_code == 1, result.stderr  # the capture has failing phones
    written = target.read_text(encoding="utf-8").splitlines()
    assert len(written) == SIMPLE_HEADER_LINES + 200
    assert written[1:] == render_summary(bench_report).splitlines()[1:]


def test_selection_is_said_in_the_summary(bench_report: Report) -> None:
    only = select_devices(bench_report, (Verdict.FAIL,))
    text = render_summary(only, "plain")
    lines = text.splitlines()
    counts = bench_report.verdict_counts()
    assert lines[0].startswith(f"showing {counts[Verdict.FAIL]} of 200 phones: --only fail")
    assert len(lines) == 3 + counts[Verdict.FAIL]  # counts, blank, heads (plain: no dashes)
    assert set(_verdict_column(lines[3:])) == {"FAIL"}


def test_every_offered_style_renders_and_unsafe_ones_are_refused(multi: Report) -> None:
    assert "github" in TABLE_STYLES and "grid" in TABLE_STYLES and "plain" in TABLE_STYLES
    assert "unsafehtml" in tabulate_formats and "unsafehtml" not in TABLE_STYLES
    for style in TABLE_STYLES:
        assert (multi.devices[0].session.mac or "") in render_summary(multi, style), style
    with pytest.raises(ValueError, match=r"unknown --table-style 'nope'; one of: .*github"):
        check_style("nope")
    with pytest.raises(ValueError):
        check_style("unsafehtml")


def test_github_table_is_valid_markdown_and_one_row_per_phone(multi: Report) -> None:
    lines = render_summary(multi, "github").splitlines()
    rows = [line for line in lines if line.startswith("|")]
    assert len(rows) == 2 + len(multi.devices)
    assert lines[1] == ""  # a blank line before the table: it is not part of a paragraph
    widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
    assert widths == {len(HEADERS) + 1}


def test_hostile_values_stay_on_their_line_and_in_their_cell(multi: Report) -> None:
    item = multi.devices[0]
    identity = dataclasses.replace(item.session.identity, model="evil|x\nFAIL\tz\x1b[2J")
    session = dataclasses.replace(item.session, identity=identity)
    report = dataclasses.replace(multi, devices=(dataclasses.replace(item, session=session),))
    for style in ("simple", "github", "tsv"):
        text = render_summary(report, style)
        body = [line for line in text.splitlines()[2:] if "evil" in line]
        assert len(body) == 1, (style, text)
        assert "\x1b" not in text and "\\x1b" in text
    assert "evil\\|x FAIL z" in render_summary(report, "github")


def test_first_sentence() -> None:
    assert first_sentence("Fix the ACL. Then reboot the phone.") == "Fix the ACL."
    assert first_sentence("Publish it, e.g. ucupdates-r2.contoso.com. Then retry.") == (
        "Publish it, e.g. ucupdates-r2.contoso.com."
    )
    assert first_sentence("Upgrade to 1.0.522.101 first.\nThen 3.5.") == (
        "Upgrade to 1.0.522.101 first."
    )
    assert first_sentence("One sentence only") == "One sentence only"


def test_pass_and_inconclusive_phones_have_no_root_cause(multi: Report) -> None:
    text = render_summary(multi)
    for line, item in zip(text.splitlines()[SIMPLE_HEADER_LINES:], multi.devices, strict=True):
        if item.verdict.verdict == Verdict.PASS:
            assert line.rstrip().endswith("—")
