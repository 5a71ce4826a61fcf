"""Input captures are opened read-only and never modified (nor touched) by an analysis."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from locations import PCAPS, lab_captures

from capinspect.cli import main


def _state(path: Path) -> tuple[str, int, int]:
    info = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mtime_ns, info.st_size


def test_a_read_only_capture_is_analysed(tmp_path: Path) -> None:
    path = tmp_path / "readonly.pcap"
    path.write_bytes((PCAPS / "acl-denied.pcap").read_bytes())
    # 0444: opening it for writing fails for anyone but root (CI runs as root: the sha256 and
    # mtime comparison and test_the_reader_opens_files_read_only cover that case).
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    before = _state(path)
    for command in ("analyze", "timeline"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exit_code in (0, 1, 4), result.stderr
    assert _state(path) == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


@pytest.mark.parametrize("path", lab_captures(), ids=lambda p: p.name)
def test_lab_captures_are_not_modified(path: Path) -> None:
    before = _state(path)
    result = CliRunner().invoke(main, ["analyze", "--format", "json", str(path)])
    assert result.exit_code in (0, 1, 4), result.stderr
    assert _state(path) == before


def test_the_reader_opens_files_read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    modes: list[str] = []
    real_open = builtins.open

    def spy(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if str(file).endswith(".pcap"):
            modes.append(mode)
        return real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", spy)
    result = CliRunner().invoke(main, ["analyze", str(PCAPS / "acl-denied.pcap")])
    assert result.exit_code in (0, 1, 4)
    assert modes and all(m in ("rb", "r") for m in modes), modes
