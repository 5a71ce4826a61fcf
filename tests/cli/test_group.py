"""The command group (capinspect/cli/__init__.py): each command's module is imported only when
that command runs, and every command is still there, in order, for --help and for running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from capinspect.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]


def test_analyze_does_not_import_the_other_commands() -> None:
    capture = ROOT / "pcaps" / "acl-denied.pcap"
    code = (
        "import sys\n"
        "from capinspect.cli import main\n"
        "try:\n"
        f"    main(['analyze', '-q', '--format', 'json', '-o', '/dev/null', {str(capture)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('capinspect.cli.')"
        " or m == 'capinspect.live'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = done.stdout.strip().splitlines()[-1]
    assert "capinspect.cli.analyze" in loaded
    for other in ("capinspect.cli.live", "capinspect.live", "capinspect.cli.logs"):
        assert f"'{other}'" not in loaded, loaded


def test_every_command_is_listed_and_runs_help() -> None:
    ctx = click.Context(main)
    assert main.list_commands(ctx) == list(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, (name, result.output)
    listing = CliRunner().invoke(main, ["--help"]).output
    assert [line.split()[0] for line in listing.split("Commands:")[1].splitlines()[1:8]] == list(
        COMMANDS
    )


def test_an_unknown_command_is_a_usage_error() -> None:
    assert main.get_command(click.Context(main), "analyse") is None
    result = CliRunner().invoke(main, ["analyse", "x.pcap"])
    assert result.exit_code == 2 and "No such command 'analyse'" in result.output
