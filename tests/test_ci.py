"""CI runs the README's test command, word for word (.ci/run, .ci/readme-test-command)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from locations import ROOT

CI_RUN = ROOT / ".ci" / "run"
READ_COMMAND = ROOT / ".ci" / "readme-test-command"


def _readme_command(root: Path) -> str:
    done = subprocess.run(
        [str(root / ".ci" / "readme-test-command")], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    """The command in .ci/run is the README's, and the full run executes it as written."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = CI_RUN.read_text()
    declared = re.search(r'^TEST_COMMAND="(.*)"$', script, re.MULTILINE)
    assert declared is not None, "no TEST_COMMAND=... line in .ci/run"
    command = _readme_command(ROOT)
    assert declared.group(1) == command
    assert re.search(rf"^{re.escape(command)} \|\| full=\$\?$", script, re.MULTILINE), (
        "the full run does not execute the README's command as written"
    )
    assert '.ci/bare bash -c "$TEST_COMMAND"' in script


def test_the_readme_command_is_read_from_its_place(tmp_path: Path) -> None:
    """readme-test-command prints the first line of the ```sh block after "Run the tests:"
    (so a changed README is seen, and .ci/run's check against it can fail)."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    (tmp_path / ".ci").mkdir()
    shutil.copy(READ_COMMAND, tmp_path / ".ci" / "readme-test-command")
    (tmp_path / "README.md").write_text(
        "Install:\n\n```sh\npip install x\n```\n\nRun the tests:\n\n```sh\nmake check\n```\n"
    )
    assert _readme_command(tmp_path) == "make check"
