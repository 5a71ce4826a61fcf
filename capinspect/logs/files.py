"""Reading a server log file: encodings Windows writes, one problem type for bad lines.

IIS writes ASCII/UTF-8; a log saved from Excel or Notepad may be UTF-16 with a byte-order mark.
Lines are yielded one at a time so a large IIS log is never held whole in memory.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

from capinspect.errors import CapinspectError

DASHES = {"\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212"}
"""Characters blog and ticket software substitute for ``-`` (the seed's comments show ``–``)."""

QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00a0": " "})
"""Curly quotes and non-breaking spaces from word processors, back to what the server wrote."""


@dataclass(frozen=True, slots=True)
class LogProblem:
    """A line (or file) that could not be used; reported, never fatal while something reads."""

    source: str
    line: int | None
    code: str
    """``iis-log.unparsed-line``, ``audit-log.bad-date``… (listed in docs/logs.md)."""
    detail: str


class LogFileError(CapinspectError):
    """The log file cannot be read."""


def iter_lines(path: str) -> Iterator[str]:
    """The file's lines without line endings, decoded by its BOM (UTF-8 otherwise)."""
    target = Path(path)
    try:
        with target.open("rb") as fh:
            head = fh.read(4)
            if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                encoding = "utf-16"
            else:
                encoding = "utf-8-sig"
            fh.seek(0)
            text = io.TextIOWrapper(fh, encoding=encoding, errors="replace", newline="")
            for line in text:
                yield line.rstrip("\r\n")
    except IsADirectoryError:
        raise LogFileError(f"{path} is a directory, not a log file") from None
    except OSError as exc:
        raise LogFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def expand_paths(paths: tuple[str, ...] | list[str]) -> list[str]:
    """Files as given; a directory stands for its ``*.log`` files (IIS's W3SVC1 folder)."""
    out: list[str] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            out.extend(str(f) for f in sorted(p.glob("*.log")) if f.is_file())
        else:
            out.append(given)
    return out


def file_label(path: str) -> str:
    """A log file's name without its folders (``u_ex090306.log``), as findings cite a line.

    Both ``/`` and ``\\`` are folder separators here, whatever the platform: the logs come from a
    Windows server and are named by Windows paths (``C:\\inetpub\\logs\\...``) as often as
    by POSIX ones."""
    return PureWindowsPath(path).name or path


def undash(token: str) -> str:
    """A token made only of dash-like characters is IIS's empty value ``-``."""
    if token and all(ch in DASHES or ch == "-" for ch in token):
        return "-"
    return token
