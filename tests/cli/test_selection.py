"""``analyze --only/--phone/--format summary/--table-style`` as a user meets them.

(A file of its own beside test_analyze.py: the selection options, their one-line errors, and the
exit status that still judges every phone.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from locations import PCAPS

from capinspect.cli import main

MULTI = str(PCAPS / "multi-phone.pcapng")
FAILING = ("00:04:f2:aa:10:03", "00:04:f2:aa:10:04")
PASSING = ("00:21:63:1a:00:01", "00:04:f2:aa:10:02")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["analyze", "-q", MULTI, *args])
    return result.exit_code, result.stdout, result.stderr


def _order(text: str, macs: tuple[str, ...]) -> list[str]:
    return sorted(macs, key=text.index)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "summary", "json"])
def test_every_format_lists_failing_phones_first(fmt: str) -> None:
    code, out, err = run("--format", fmt)
    assert code == 1, err
    positions = {mac: out.index(mac) for mac in (*FAILING, *PASSING)}
    assert max(positions[m] for m in FAILING) < min(positions[m] for m in PASSING)


def test_only_shows_those_verdicts_and_the_exit_status_still_judges_all() -> None:
    code, out, _ = run("--only", "pass")
    assert code == 1  # the capture has failing phones, even if none is shown
    assert all(mac in out for mac in PASSING) and not any(mac in out for mac in FAILING)
    assert "showing 2 of 4 phones: --only pass (all phones: 2 fail, 2 pass)" in out
    code, out, _ = run("--only", "warn", "--only", "inconclusive,pass", "--format", "json")
    document = json.loads(out)
    assert document["summary"]["selection"] == {
        "only": ["warn", "inconclusive", "pass"],
        "phones": [],
        "shown": 2,
        "of": 4,
        "all": {"fail": 2, "warn": 0, "inconclusive": 0, "pass": 2},
    }
    assert [d["mac"] for d in document["devices"]] == list(PASSING)


def test_phone_by_mac_in_any_spelling_or_by_ip() -> None:
    code, out, _ = run("--phone", "0004F2AA1004", "--phone", "10.77.0.121", "--format", "summary")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(
        "showing 2 of 4 phones: --phone 00:04:f2:aa:10:04 --phone 10.77.0.121"
    )
    body = lines[4:]
    assert [line.split()[0] for line in body] == ["00:04:f2:aa:10:04", "00:21:63:1a:00:01"]
    assert "download.acl-denied" in body[0]


def test_phone_not_in_the_capture_is_a_note_not_an_error() -> None:
    result = CliRunner().invoke(main, ["analyze", MULTI, "--phone", "00-11-22-33-44-55"])
    assert result.exit_code == 1
    assert "no phone in the capture is 00:11:22:33:44:55" in result.stderr
    assert "showing 0 of 4 phones" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--only", "failed"), "unknown verdict 'failed' (one of fail, warn, inconclusive, pass)"),
        (("--phone", "phone-7"), "'phone-7' is neither a MAC address nor an IP address"),
        (("--format", "summary", "--table-style", "fancy"), "unknown --table-style 'fancy'"),
        (("--table-style", "grid"), "--table-style applies to --format summary only"),
    ],
)
def test_bad_values_are_one_line_errors(args: tuple[str, ...], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err


def test_summary_with_style_redact_and_output(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    code, out, err = run(
        "--format", "summary", "--table-style", "github", "--redact", "-o", str(target)
    )
    assert code == 1 and out == "", err
    text = target.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 4
    assert not any(mac in text for mac in (*FAILING, *PASSING))
    assert "00:04:f2:00:00:" in text  # pseudonyms, OUI kept
    assert "download.acl-denied" in text and "checkin.legacy-path-missing" in text


@pytest.mark.parametrize("fmt", ["text", "summary", "json", "markdown", "html"])
def test_redact_rewrites_the_phones_asked_for_too(fmt: str) -> None:
    code, out, err = run("--phone", "0004F2AA1004,10.77.0.121", "--redact", "--format", fmt)
    assert code == 1, err
    for original in ("00:04:f2:aa:10:04", "0004F2AA1004", "10.77.0.121", "00:21:63:1a:00:01"):
        assert original not in out, original
    if fmt == "json":
        phones = json.loads(out)["summary"]["selection"]["phones"]
        assert phones[0].startswith("00:04:f2:00:00:") and phones[1].startswith("192.0.2.")
    else:  # Markdown shows the MAC as a code span
        assert "2 of 4 phones: --phone 00:04:f2:00:00:" in out.replace("`", "")
