"""The progress bar lives on stderr: never a byte of it in the report, on stdout or in ``-o``.

The commands run in a subprocess with the bar's size threshold lowered to nothing (the bundled
captures are small), stdout to a file, and stderr either a pseudo-terminal or a pipe.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from locations import PCAPS, ROOT

MULTI = PCAPS / "multi-phone.pcapng"
PRELUDE = (
    "import capinspect.cli.common as common\n"
    "common.PROGRESS_MIN_BYTES = 0\n"
    "from capinspect.cli import main\n"
    "main()\n"
)


def environment() -> dict[str, str]:
    environ = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm-256color", COLUMNS="100")
    environ.pop("NO_COLOR", None)
    return environ


def run_with_stderr_on_a_pty(args: list[str], stdout: Path) -> tuple[int, bytes]:
    """Run the CLI with stderr on a pseudo-terminal and stdout to ``stdout``; (status, what the
    terminal received)."""
    import pty  # POSIX-only: imported here so the module loads on Windows

    controller, terminal = pty.openpty()
    with stdout.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", PRELUDE, *args],
            cwd=ROOT,
            env=environment(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=terminal,
        )
    os.close(terminal)
    received = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        received += chunk
    os.close(controller)
    return proc.wait(timeout=120), bytes(received)


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX-only")
@pytest.mark.parametrize("command", ["analyze", "timeline"])
def test_bar_on_the_terminal_report_clean_in_the_file(command: str, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    status, terminal = run_with_stderr_on_a_pty([command, str(MULTI)], report)
    assert status in (0, 1, 4)
    assert b"reading" in terminal and b"kB" in terminal  # the bar, drawn on stderr
    text = report.read_bytes()
    assert text.startswith(b"capinspect ")  # the report first: no stray newline, no escape
    assert b"\x1b" not in text and b"reading" not in text


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX-only")
def test_bar_on_the_terminal_report_clean_with_output_option(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    status, terminal = run_with_stderr_on_a_pty(
        ["analyze", str(MULTI), "--format", "json", "-o", str(report)], tmp_path / "stdout"
    )
    assert status == 1
    assert b"reading" in terminal
    assert (tmp_path / "stdout").read_bytes() == b""
    assert report.read_bytes().startswith(b"{")


def test_no_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    with report.open("wb") as out:
        done = subprocess.run(
            [sys.executable, "-c", PRELUDE, "analyze", str(MULTI)],
            cwd=ROOT,
            env=environment(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr == b""
    assert report.read_bytes().startswith(b"capinspect ")
