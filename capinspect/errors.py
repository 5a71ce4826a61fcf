"""capinspect's small error hierarchy.

Two families, never mixed:

* :class:`CapinspectError` — the user's input cannot be used at all (no such file, not a
  capture, a bad ``--expect`` file). The CLI prints its message on one line and exits 2.
* :class:`Malformed` — bytes on the wire do not parse. Raised only *inside* a dissector and
  caught at its boundary, where it becomes an :class:`~capinspect.model.Anomaly`. ``Incomplete``
  is not an error: sans-IO parsers return ``None``/``NEED_DATA`` for "need more bytes".

The docstring of each class is its default message.
"""

from __future__ import annotations


class CapinspectError(Exception):
    """capinspect cannot use this input."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class InputError(CapinspectError):
    """The input file cannot be read as a capture."""


class ConfigError(CapinspectError):
    """The expectations file is not valid."""


class LiveCaptureError(CapinspectError):
    """The live interface cannot be opened."""


class Malformed(Exception):
    """The bytes do not follow the protocol's format."""

    def __init__(self, message: str | None = None, offset: int | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        self.offset = offset


class Truncated(Malformed):
    """The message ends before a length it announced."""
