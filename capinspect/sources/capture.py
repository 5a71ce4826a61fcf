"""Open any capture file capinspect reads, by its first bytes: the one entry point for files.

pcap, pcapng (plain, gzip or zstd) go to :class:`~capinspect.sources.pcapfile.CaptureReader`,
Microsoft Network Monitor files to :class:`~capinspect.sources.netmon.NetmonReader`, a zip to
the capture inside it (:mod:`capinspect.sources.archive`). Anything else is an InputError that
says what the file is (:mod:`capinspect.sources.identify`). The readers share one interface,
:data:`CaptureSource`, so merging, ``--jobs`` and the engine never ask which one they have.
"""

from __future__ import annotations

from capinspect.sources.archive import ZIP_MAGICS, open_zip
from capinspect.sources.netmon import MAGIC_1X, MAGIC_2X, NetmonReader
from capinspect.sources.pcapfile import CaptureReader

CaptureSource = CaptureReader | NetmonReader
"""A reader of one capture file (records, batches, anomalies, size, sha256, format)."""


def open_capture(
    path: str, *, source: int = 0, first_index: int = 1, digest: bool = True
) -> CaptureSource:
    """Open ``path`` read-only as a capture; raises InputError when nothing can be read.

    ``digest=False`` skips the sha256 where it would cost work while reading (for a pass that
    only counts records)."""
    head = _peek(path)
    if head in (MAGIC_1X, MAGIC_2X):
        return NetmonReader(path, source=source, first_index=first_index)
    if head in ZIP_MAGICS:
        return open_zip(path, source=source, first_index=first_index, digest=digest)
    return CaptureReader(path, source=source, first_index=first_index, digest=digest)


def _peek(path: str) -> bytes:
    """The file's first four bytes; empty when it cannot be opened (CaptureReader then says
    why, in the words it always used)."""
    try:
        with open(path, "rb") as probe:
            return probe.read(4)
    except OSError:
        return b""
