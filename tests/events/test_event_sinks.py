"""``--events FILE|-`` as JSON lines (capinspect/events/sinks.py): one ASCII object a line,
appended, reopened for log rotation, and a file that cannot be written is a one-line error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from capinspect.errors import CapinspectError
from capinspect.events.sinks import JsonLines, dumps


def test_lines_are_appended_one_object_each(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"before":true}\n', encoding="ascii")
    sink = JsonLines(str(path))
    sink.emit({"a": 1})
    sink.emit({"b": "é\n"})
    sink.close()
    lines = path.read_text(encoding="ascii").splitlines()
    assert [json.loads(line) for line in lines] == [{"before": True}, {"a": 1}, {"b": "é\n"}]
    assert sink.written == 2 and sink.note() == f"events: 2 written to {path}"


def test_reopen_follows_a_rotated_file(tmp_path: Path) -> None:
    """logrotate's create mode: the file is renamed, a SIGHUP reopens the name."""
    path = tmp_path / "events.jsonl"
    sink = JsonLines(str(path))
    sink.emit({"n": 1})
    os.rename(path, tmp_path / "events.jsonl.1")
    sink.emit({"n": 2})  # still the old file, as a daemon writes until told
    sink.reopen()
    sink.emit({"n": 3})
    sink.close()
    rotated = (tmp_path / "events.jsonl.1").read_text(encoding="ascii").splitlines()
    assert [json.loads(x)["n"] for x in rotated] == [1, 2]
    assert [json.loads(x)["n"] for x in path.read_text(encoding="ascii").splitlines()] == [3]


def test_dash_is_stdout_and_never_closed(capsys: pytest.CaptureFixture[str]) -> None:
    sink = JsonLines("-")
    sink.emit({"x": 1})
    sink.reopen()
    sink.close()
    assert capsys.readouterr().out == '{"x":1}\n'
    assert sink.note() == "events: 1 written to stdout"


def test_an_unwritable_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CapinspectError) as raised:
        JsonLines(str(tmp_path / "missing-dir" / "events.jsonl"))
    assert "cannot write" in str(raised.value) and "\n" not in str(raised.value)


def test_dumps_is_ascii_in_key_order() -> None:
    line = dumps({"z": "\x1b[31m", "a": "\u2028"})
    assert line.isascii() and "\n" not in line
    assert line.index('"z"') < line.index('"a"')
