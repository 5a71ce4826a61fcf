"""Capture files read as one merged stream through one engine: the sequential read.

Its own module so that ``pipeline.analyze_paths`` (which chooses between this and the parallel
read) and ``parallel`` (whose worker processes each read one file this way) both import it and
neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from capinspect.analysis import Analysis
from capinspect.engine import Engine
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.protocols.tls.keys import NO_KEYS, TlsKeys
from capinspect.sources.merge import iter_frames

Progress = Callable[[int, int], None]
"""Called with (bytes read so far, total bytes) while files are read."""


def read_captures(
    paths: Sequence[str],
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
    *,
    follow_all: bool = False,
    tls_keys: TlsKeys = NO_KEYS,
    first_index: int = 1,
) -> Analysis:
    """Read and analyse capture files merged in time order; raises InputError when unusable.

    ``first_index`` numbers the first frame of a single file (a worker of the parallel read
    gives the count of the files before it)."""
    stream = iter_frames(paths, first_index=first_index)
    engine = Engine(limits, follow_all=follow_all, tls_keys=tls_keys)
    total = stream.total_bytes
    count = 0
    feed = engine.feed_record
    for record in stream.records(engine.decoder.sieve):
        feed(*record)
        count += 1
        if progress is not None and count % 8192 == 0:
            progress(stream.bytes_read, total)
    if progress is not None:
        progress(total, total)
    return engine.finish(tuple(stream.inputs), tuple(stream.anomalies))
