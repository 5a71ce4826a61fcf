"""Several capture files read as one time-ordered stream, as mergecap would write them.

A ticket often comes with one capture per switch port or per rotation (``-C``/``-G`` files);
the phone's boot spans them. Frames are merged by timestamp (a heap over the per-file readers,
so memory stays one frame per file) and renumbered 1..N in merged order: those are the frame
numbers a support engineer sees after ``mergecap -w all.pcap *.pcap`` in Wireshark.
"""

from __future__ import annotations

import glob
import heapq
import os
from collections.abc import Iterator, Sequence

import numpy as np

from capinspect.errors import InputError
from capinspect.model import Anomaly, InputFile, RawFrame, Record, RecordBatch
from capinspect.sources.capture import CaptureSource, open_capture
from capinspect.sources.pcapfile import SIEVE_RUN, Sieve, sieved

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz", ".zst", ".zip")
"""File name endings picked up when a directory is given."""

_GLOB_CHARS = frozenset("*?[")


def expand_inputs(paths: Sequence[str]) -> list[str]:
    """Turn the user's arguments into capture file paths, in the order given.

    A directory contributes its capture files (by suffix, sorted by name); a pattern its
    matches (sorted); a plain path itself. A path or pattern that names nothing raises
    InputError, so a typo is not silently an empty analysis.
    """
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            inside = sorted(
                os.path.join(path, name)
                for name in os.listdir(path)
                if name.lower().endswith(CAPTURE_SUFFIXES)
                and os.path.isfile(os.path.join(path, name))
            )
            if not inside:
                raise InputError(f"{path}: directory holds no capture files")
            files.extend(inside)
        elif os.path.exists(path):
            files.append(path)
        elif _GLOB_CHARS.intersection(path):
            matches = sorted(m for m in glob.glob(path) if os.path.isfile(m))
            if not matches:
                raise InputError(f"{path}: pattern matches no file")
            files.extend(matches)
        else:
            raise InputError(f"{path}: no such file")
    if not files:
        raise InputError("no capture file given")
    return files


class FrameStream:
    """Iterable of :class:`RawFrame` merged across files; iterate once.

    ``inputs`` describes every file (size, sha256, format, frames read, its anomalies);
    ``anomalies`` gathers every reader's anomalies; ``bytes_read``/``total_bytes`` drive a
    progress bar. All files are opened up front so an unusable one fails before any work.
    """

    def __init__(self, paths: Sequence[str], *, first_index: int = 1) -> None:
        """``first_index`` numbers a single file's first frame (``analyze --jobs`` reads files
        that follow each other in time apart, each numbered on from the ones before it)."""
        self.paths = expand_inputs(paths)
        if first_index != 1 and len(self.paths) != 1:
            raise ValueError("first_index is for one file; several files are numbered merged")
        self._readers: list[CaptureSource] = []
        try:
            for source, path in enumerate(self.paths):
                self._readers.append(open_capture(path, source=source, first_index=first_index))
        except BaseException:
            self.close()
            raise
        self.total_bytes = sum(reader.size for reader in self._readers)

    def __iter__(self) -> Iterator[RawFrame]:
        for record in self.records():
            yield RawFrame(*record)

    def records(self, sieve: Sieve | None = None) -> Iterator[Record]:
        """The merged records as plain tuples (see :data:`capinspect.model.Record`), numbered in
        merged order; ``sieve`` filters them as in :meth:`CaptureReader.records`. With several
        files the sieve sees runs of one file's records that no other file's record comes
        between (whole buffers when the files follow each other in time); shorter runs than
        :data:`~capinspect.sources.pcapfile.SIEVE_RUN` are yielded whole, for the decoder to
        decide record by record."""
        try:
            if len(self._readers) == 1:
                # One file: its own numbering is already the merged numbering.
                yield from self._readers[0].records(sieve)
                return
            for item in self._merged_batches():
                if isinstance(item, RecordBatch):
                    yield from sieved(item, sieve)
                else:
                    yield item
        finally:
            for reader in self._readers:
                reader.finish()

    def _merged_batches(self) -> Iterator[RecordBatch | Record]:
        """The records of every file in merged order, as runs.

        The order is ``mergecap``'s: each file's records in file order, the files merged by
        time, equal times in the order the files were given. Each file's next record waits in a
        heap by (time, file); the file at the top gives the
        longest run of its records that still sort before every other file's next one. A run of
        at least :data:`SIEVE_RUN` records comes as a batch (for the sieve); a shorter one as
        single records, because files that interleave record by record (two ports captured at
        once) would otherwise cost a whole batch's numpy work per record.
        """
        heap: list[tuple[float, int]] = []
        pending: dict[int, _Cursor] = {}
        for reader in self._readers:
            cursor = _Cursor(reader.batches())
            if cursor.batch is not None:
                pending[reader.source] = cursor
                heap.append((cursor.stamps[0], reader.source))
        heapq.heapify(heap)
        index = 1
        pop, push = heapq.heappop, heapq.heappush
        while heap:
            _, source = pop(heap)
            cursor = pending[source]
            start = cursor.position
            stop = cursor.run_end(heap[0] if heap else None, source)
            count = stop - start
            if count == 1:  # files interleaving record by record: the common short run
                yield cursor.record(start, index)
            elif count < SIEVE_RUN:
                yield from cursor.records(start, stop, index)
            else:
                assert cursor.batch is not None
                yield cursor.batch.part(start, stop, index)
            index += count
            if stop < cursor.size:
                cursor.position = stop
            elif not cursor.next_batch():
                del pending[source]
                continue
            push(heap, (cursor.stamps[cursor.position], source))

    @property
    def anomalies(self) -> list[Anomaly]:
        """Every reader's anomalies; with several files, per-file record numbers are not merged
        frame numbers, so ``frame`` is dropped (the detail names the file and record)."""
        if len(self._readers) == 1:
            return list(self._readers[0].anomalies)
        return [Anomaly(a.code, a.detail, None, a.ts) for r in self._readers for a in r.anomalies]

    @property
    def inputs(self) -> list[InputFile]:
        return [
            InputFile(
                path=reader.path,
                size=reader.size,
                sha256=reader.sha256(),
                format=reader.format,
                frames=reader.frames,
                anomalies=tuple(reader.anomalies),
            )
            for reader in self._readers
        ]

    @property
    def bytes_read(self) -> int:
        return sum(reader.bytes_read for reader in self._readers)

    def close(self) -> None:
        for reader in self._readers:
            reader.close()

    def __enter__(self) -> FrameStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def iter_frames(paths: Sequence[str], *, first_index: int = 1) -> FrameStream:
    """Open every capture named by ``paths`` (files, directories, patterns) for merged reading."""
    return FrameStream(paths, first_index=first_index)


class _Cursor:
    """One file's place in the merge: its current batch, the position in it, the batch's
    timestamps as Python floats and, for each position, the latest timestamp from there on."""

    def __init__(self, batches: Iterator[RecordBatch]) -> None:
        self._batches = batches
        self.batch: RecordBatch | None = None
        self.position = 0
        self.size = 0
        self.stamps: list[float] = []
        self._latest: list[float] = []
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._orig_lens: list[int] = []
        self._load(next(batches, None))

    def next_batch(self) -> bool:
        """Go on to the file's next batch; False when the file has no record left."""
        return self._load(next(self._batches, None))

    def _load(self, batch: RecordBatch | None) -> bool:
        self.batch, self.position = batch, 0
        if batch is None:
            return False
        self.stamps = batch.ts.tolist()
        self.size = len(self.stamps)
        self._latest = np.maximum.accumulate(batch.ts[::-1])[::-1].tolist()
        self._starts, self._ends = batch.starts.tolist(), batch.ends.tolist()
        self._orig_lens = batch.orig_lens.tolist()
        return True

    def record(self, at: int, index: int) -> Record:
        """Record ``at`` of the current batch as a tuple, numbered ``index``."""
        batch = self.batch
        assert batch is not None
        data = batch.buf[self._starts[at] : self._ends[at]]
        return (index, self.stamps[at], batch.linktype, data, self._orig_lens[at], batch.source)

    def records(self, start: int, stop: int, first_index: int) -> Iterator[Record]:
        """Records ``start:stop`` of the current batch, numbered from ``first_index``."""
        for offset, at in enumerate(range(start, stop)):
            yield self.record(at, first_index + offset)

    def run_end(self, other: tuple[float, int] | None, source: int) -> int:
        """Where this file's run from the current position ends: before its first record that
        sorts after ``other`` (the next file's (time, file)); the first record always goes."""
        stamps, start = self.stamps, self.position
        if other is None:
            return len(stamps)
        other_ts, other_source = other
        if self._latest[start] < other_ts:
            return len(stamps)  # nothing from here on sorts after the other file's record
        for end in range(start + 1, len(stamps)):
            ts = stamps[end]
            if ts > other_ts or (ts == other_ts and source > other_source):
                return end
        return len(stamps)
