"""One HTTP body as its bytes arrive: counted, kept up to a budget, hashed.

:func:`body_budget` says how much of a body is worth keeping: a check-in all of it (up to
``Limits.max_body_kept``), a text or error page 64 KiB, a firmware image nothing — it is counted
and hashed, so a 4 GB download costs no memory.
"""

from __future__ import annotations

import hashlib

from capinspect.protocols.http.messages import HttpBody


class BodyAccumulator:
    """Counts, keeps (up to a bound) and hashes one body as its bytes arrive."""

    __slots__ = ("_kept", "_limit", "_hash", "size", "expected", "chunked", "had_gap")

    def __init__(self, limit: int, expected: int | None, chunked: bool) -> None:
        self._kept = bytearray()
        self._limit = limit
        self._hash = hashlib.sha256()
        self.size = 0
        self.expected = expected
        self.chunked = chunked
        self.had_gap = False

    def add(self, data: bytes | bytearray | memoryview) -> None:
        room = self._limit - len(self._kept)
        if room > 0:
            self._kept += data[:room]
        self._hash.update(data)
        self.size += len(data)

    def build(self, complete: bool, cut: str | None) -> HttpBody:
        if self.had_gap:
            complete, cut = False, cut or "gap"
        return HttpBody(
            data=bytes(self._kept),
            size=self.size,
            expected=self.expected,
            chunked=self.chunked,
            complete=complete,
            kept_all=len(self._kept) == self.size,
            cut=cut,
            sha256=None if self.had_gap else self._hash.hexdigest(),
        )


def empty_body() -> HttpBody:
    """The body of a message that has none (HEAD, 204, 304): empty, complete, hashed."""
    return HttpBody(sha256=hashlib.sha256().hexdigest())


TEXT_BODY_KEPT = 64 * 1024
"""Bytes kept of a text body (an IIS error page, a web page): enough to read a sub-status."""
_TEXT_TYPES = ("xml", "text", "html", "json", "form")


def body_budget(head_target: str, status: int | None, content_type: str, limit: int) -> int:
    """How many bytes of a body are worth keeping for analysis.

    A check-in (``…/ucdevice.upx``) keeps up to ``limit`` (``Limits.max_body_kept``); an
    error answer, a text body or one whose type is not declared keeps up to
    :data:`TEXT_BODY_KEPT`; a body declared binary — a firmware image, a bulk download —
    keeps nothing: its bytes are counted and hashed, which is all a download check needs, and
    many of them must not fill memory.
    """
    path = head_target.split("?", 1)[0].lower()
    if path.endswith(".upx"):
        return limit
    ctype = content_type.strip().lower()
    if not ctype or (status is not None and status >= 300) or any(t in ctype for t in _TEXT_TYPES):
        return min(limit, TEXT_BODY_KEPT)
    return 0
