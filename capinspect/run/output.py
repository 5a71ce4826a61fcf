"""Where a report goes: stdout, or atomically a file (never over an input); colour or not."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from capinspect.errors import CapinspectError

Written = str | Callable[[TextIO], None]
"""A rendered report: its text, or a function that writes it to a stream piece by piece (the
JSON report of many phones is written device by device, never held whole in memory)."""


def use_color(choice: str, stream: Any, output: str | None = None) -> bool:
    """Whether the text report carries colour (ANSI escapes).

    ``always`` means always: through a pipe (``| less -R``) and into ``-o FILE`` too, and over
    NO_COLOR (a flag on the command line outranks the environment, as no-color.org asks).
    ``auto`` colours only a terminal: stdout, no ``-o``, NO_COLOR unset."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR") or output not in (None, "-"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def write_output(text: Written, output: str | None, inputs: Sequence[str]) -> None:
    """Write the report to stdout or, atomically, to ``output`` (never over an input file)."""
    if output is None or output == "-":
        if callable(text):
            text(sys.stdout)
            sys.stdout.flush()
        else:
            # color=True: click would strip every ANSI escape when stdout is not a terminal,
            # and the report holds escapes only when --color asked for them (use_color).
            click.echo(text, nl=False, color=True)
        return
    write = text if callable(text) else (lambda out: out.write(text))
    target = Path(output)
    for given in inputs:
        if Path(given).exists() and target.exists() and target.resolve() == Path(given).resolve():
            raise CapinspectError(f"refusing to overwrite the input file {given} with the report")
    tmp = target.with_name(target.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as stream:
            write(stream)
        tmp.replace(target)
    except OSError as exc:
        raise CapinspectError(f"cannot write {output}: {exc.strerror or exc}") from None


def write_to_stderr(text: Written) -> None:
    """The report on stderr (``--events -`` without ``-o``: stdout carries the events alone)."""
    sys.stdout.flush()
    if callable(text):
        text(sys.stderr)
    else:
        sys.stderr.write(text)
    sys.stderr.flush()
