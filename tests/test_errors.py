"""The two error families: input the user must fix (one line, exit 2) and bytes that do not
parse (caught inside a dissector, never reaching the user as an exception)."""

from __future__ import annotations

from pathlib import Path

import pytest

from capinspect.errors import (
    CapinspectError,
    ConfigError,
    InputError,
    LiveCaptureError,
    Malformed,
    Truncated,
)
from capinspect.sources.capture import open_capture


@pytest.mark.parametrize("error", [CapinspectError, InputError, ConfigError, LiveCaptureError])
def test_default_message_is_the_docstring_on_one_line(error: type[CapinspectError]) -> None:
    message = str(error())
    assert message and "\n" not in message
    assert message == (error.__doc__ or "").strip()
    assert str(error("custom")) == "custom"


def test_the_families_never_mix() -> None:
    assert issubclass(InputError, CapinspectError) and not issubclass(InputError, Malformed)
    assert issubclass(Truncated, Malformed) and not issubclass(Malformed, CapinspectError)


def test_malformed_keeps_where_the_bytes_went_wrong() -> None:
    error = Truncated(offset=12)
    assert error.offset == 12 and str(error) == "The message ends before a length it announced."
    assert Malformed("bad label").offset is None


def test_a_file_that_is_no_capture_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a capture\n")
    with pytest.raises(InputError) as caught:
        open_capture(str(path))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
