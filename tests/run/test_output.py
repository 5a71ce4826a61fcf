"""Writing the report: stdout or atomically a file, never over an input; colour by the rules."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TextIO

import pytest

from capinspect.errors import CapinspectError
from capinspect.run.output import use_color, write_output


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_color_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color("auto", Tty()) and not use_color("auto", io.StringIO())
    assert not use_color("auto", Tty(), "report.txt") and use_color("auto", Tty(), "-")
    assert use_color("always", io.StringIO(), "report.txt") and not use_color("never", Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color("auto", Tty()) and use_color("always", Tty())


def test_a_file_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "report.json"

    def pieces(out: TextIO) -> None:
        out.write("{\n")
        out.write("}\n")

    write_output(pieces, str(target), ())
    assert target.read_text() == "{\n}\n" and not list(tmp_path.glob("*.tmp"))

    def broken(out: TextIO) -> None:
        out.write("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(CapinspectError, match="No space left"):
        write_output(broken, str(target), ())
    assert target.read_text() == "{\n}\n"


def test_never_over_an_input(tmp_path: Path) -> None:
    capture = tmp_path / "boot.pcap"
    capture.write_bytes(b"frames")
    with pytest.raises(CapinspectError, match="refusing to overwrite the input file"):
        write_output("report", str(capture), [str(capture)])
    assert capture.read_bytes() == b"frames"


def test_stdout_gets_the_text_or_the_writer(capsys: pytest.CaptureFixture[str]) -> None:
    write_output("text\n", None, ())
    write_output(lambda out: out.write("streamed\n"), "-", ())
    assert capsys.readouterr().out == "text\nstreamed\n"
