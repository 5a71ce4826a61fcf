"""`capinspect explain` and `capinspect checks` as a user meets them: pasted terms, one-line
errors, and the severities they give agreeing with the check specs and docs/checks.md."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from capinspect.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_explain_and_checks_commands() -> None:
    code, out, _ = run("explain", "0x2f7d/200")
    assert code == 0 and "SECURITY_CHANNEL" in out
    code, _, err = run("explain", "what")
    assert code == 2 and "cannot explain" in err and "Last Update Status" in err
    assert len(err.strip().splitlines()) == 1
    code, out, _ = run("explain", "500 19 5 62")
    assert code == 0 and "ERROR_ACCESS_DENIED" in out
    code, out, _ = run("explain", "0×00/0")
    assert code == 0 and "healthy" in out
    code, out, _ = run("explain", "--help")
    assert "0x80070005" in out and "500 19 5 62" in out
    code, out, _ = run("checks")
    assert code == 0 and "download.acl-denied" in out


def test_checks_explain_specs_and_docs_agree_on_every_severity() -> None:
    """`capinspect checks`, `capinspect explain ID`, the CheckSpec and docs/checks.md (its table
    and its section) give every check the same severity."""
    import re

    from capinspect.checks import ALL_SPECS

    code, listing, _ = run("checks")
    assert code == 0
    listed = {line.split()[0]: line.split()[1] for line in listing.splitlines() if line.strip()}
    docs = (Path(__file__).resolve().parents[2] / "docs" / "checks.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| \[`([^`]+)`\]\([^)]*\) \| (\w+) \|", docs, re.M))
    sections = dict(re.findall(r"^## `([^`]+)`\n\n\*\*(\w+)\*\*", docs, re.M))
    assert set(listed) == set(table) == set(sections) == {spec.id for spec in ALL_SPECS}
    for spec in ALL_SPECS:
        code, explained, _ = run("explain", spec.id)
        assert code == 0
        said = explained.split("\n", 1)[0]
        assert said.startswith(f"{spec.id} ({spec.severity}):"), said
        assert listed[spec.id] == table[spec.id] == sections[spec.id] == str(spec.severity)
