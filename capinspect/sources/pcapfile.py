"""Streaming reader for classic pcap and pcapng files, plain, gzip- or zstd-compressed.

Why our own reader: a struct-based record walk over 2 MiB chunks reads a million records a second
(performance.md, ``h2_own_reader_only``), ten times dpkt and a hundred times scapy, and keeps
memory flat whatever the file size. Only the record framing is done here; the frame bytes are
decoded by :mod:`capinspect.decode.decoder`.

Damage policy: :class:`~capinspect.errors.InputError` is raised only when nothing at all can be
read (no file, empty file, unknown magic). Once the header was good, every later problem — a
record cut by the end of the file, an absurd length, a corrupt compressed stream — becomes an
:class:`~capinspect.model.Anomaly` in :attr:`CaptureReader.anomalies` and iteration stops
cleanly, after yielding every frame read before the damage. A support engineer's capture that
was copied while tcpdump still wrote it is the normal case, not an error.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import BinaryIO, Literal, Protocol, cast

import numpy as np
import zstandard
from numpy.typing import NDArray

from capinspect.anomalies import AnomalySink
from capinspect.errors import InputError
from capinspect.model import Anomaly, RawFrame, Record, RecordBatch
from capinspect.sources import identify
from capinspect.sources.identify import describe

Sieve = Callable[[RecordBatch], "NDArray[np.intp]"]
"""A batch filter: the positions in a :class:`RecordBatch` worth yielding, in order."""

CHUNK_SIZE = 2 << 20
"""Bytes read from the (decompressed) stream at a time. 2 MiB (about 3,200 records of a mirror
port) halves the sieve's per-buffer numpy calls of 1 MiB: 7% less time on a million frames;
4 MiB and more leave the CPU's caches and gain nothing (docs/performance.md)."""
COMPRESSED_READ_SIZE = 64 << 10
"""Decompressed bytes asked for at a time (see ``_read_size``)."""
MAX_RECORD_BYTES = 256 << 20
"""A record or block longer than this is damage, not data: no link layer carries such frames."""

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D

# Classic pcap magic (as read little-endian) → (struct byte order, nanosecond timestamps).
_PCAP_MAGICS: dict[bytes, tuple[str, bool]] = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}

# pcapng block types that carry no packets and are skipped without comment.
_PCAPNG_KNOWN_SKIPPED = {
    4,  # Name Resolution Block
    5,  # Interface Statistics Block
    7,  # IRIG timestamp (obsolete)
    8,  # ARINC 429 (obsolete)
    9,  # systemd Journal Export Block
    10,  # Decryption Secrets Block
    0x00000BAD,  # Custom Block (copiable)
    0x40000BAD,  # Custom Block (not copiable)
}
_PCAPNG_IDB = 1
_PCAPNG_PB = 2
_PCAPNG_SPB = 3
_PCAPNG_EPB = 6
_IDB_OPT_TSRESOL = 9
_IDB_OPT_TSOFFSET = 14


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _HashingFile:
    """The raw file as the decompressor sees it, hashed and counted as it is read.

    Hashing here means the sha256 a ticket quotes costs no second pass over a multi-GB file.
    """

    def __init__(self, raw: BinaryIO, digest: bool = True) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.consumed = 0
        self.digest = digest
        # One worker hashes the chunks in order while the main thread parses: hashlib lets go
        # of the GIL for large buffers, so on two cores the hash costs no analysis time.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capinspect-sha256")

    def read(self, size: int = -1, /) -> bytes:
        data = self.raw.read(size)
        if data and self.digest:
            self._worker.submit(self.sha256.update, data)
        self.consumed += len(data)
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        """Hash whatever the decoder never needed (bytes after damage, trailing junk), and
        wait for the worker: ``sha256`` is complete when this returns."""
        while self.digest and self.read(CHUNK_SIZE):
            pass
        self._worker.shutdown(wait=True)


class _GzipStream:
    """A gzip stream read with ``read1``: ``GzipFile.read`` drops the bytes it had already
    decompressed when the file turns out to be cut, so a small cut ``.gz`` read as nothing."""

    def __init__(self, raw: BinaryIO) -> None:
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")

    def read(self, size: int = -1, /) -> bytes:
        return self._gzip.read1(size)


class _Interface:
    """What a pcapng Interface Description Block says about the packets that refer to it."""

    __slots__ = ("linktype", "snaplen", "divisor", "multiplier", "offset")

    def __init__(self, linktype: int, snaplen: int) -> None:
        self.linktype = linktype
        self.snaplen = snaplen
        # Timestamps are units of 10**-6 s unless if_tsresol says otherwise; dividing by a
        # power of ten keeps microsecond values exact where multiplying by 1e-6 would not.
        self.divisor: float | None = 1e6
        self.multiplier = 0.0
        self.offset = 0

    def seconds(self, units: int) -> float:
        if self.divisor is not None:
            return units / self.divisor + self.offset
        return units * self.multiplier + self.offset


class CaptureReader:
    """One capture file, iterated lazily as :class:`RawFrame` records.

    Use as a context manager; iterate once. ``format`` names the container (``pcap``,
    ``pcap-ns``, ``pcapng``, plus ``+gzip``/``+zstd``), ``anomalies`` collects damage,
    ``bytes_read`` counts *compressed* bytes consumed (what a progress bar over the file size
    needs), ``frames`` counts records yielded.
    """

    def __init__(
        self,
        path: str,
        *,
        source: int = 0,
        first_index: int = 1,
        digest: bool = True,
        stream: BinaryIO | None = None,
        container: str = "",
        position: Callable[[], int] | None = None,
    ) -> None:
        """``stream``, when given, is the capture's bytes when they are not the file at
        ``path`` itself (a zip member): ``path`` is then only hashed, in a pass of its own,
        ``container`` is added to ``format`` and ``position()`` is what ``bytes_read`` says."""
        self.path = path
        self.source = source
        self.first_index = first_index
        self.sink = AnomalySink(prefix=f"{path}: ")
        self.frames = 0
        self.finished = False
        self._digest: str | None = None
        self._position = position
        if stream is not None:
            raw = stream
            try:
                self.size = os.path.getsize(path)
            except OSError:
                raw.close()
                raise
            digest = False
        else:
            try:
                raw = open(path, "rb")  # noqa: SIM115 - closed by close()/__exit__
            except FileNotFoundError:
                raise InputError(f"{path}: no such file") from None
            except IsADirectoryError:
                raise InputError(f"{path}: is a directory, not a capture file") from None
            except OSError as exc:
                raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None
            self.size = os.fstat(raw.fileno()).st_size
        self._raw = raw
        self._hashing = _HashingFile(raw, digest)
        self._buf = b""
        self._pos = 0
        self._base = 0  # stream offset of self._buf[0]
        self._eof = False
        self._read_size = CHUNK_SIZE
        self._records: Iterator[Record | RecordBatch] = iter(())
        self._batches: Iterator[RecordBatch] | None = None
        try:
            self._stream, compression = self._open_stream()
            if compression or stream is not None:
                # Smaller reads from a decompressor: when it fails, only the last read's bytes
                # are lost, so more of a damaged file's frames survive.
                self._read_size = COMPRESSED_READ_SIZE
            self.format = self._read_header() + compression + container
        except BaseException:
            raw.close()
            raise

    # -- opening --------------------------------------------------------------------------

    def _open_stream(self) -> tuple[_Readable, str]:
        head = self._raw.read(4)
        self._raw.seek(0)
        if not head:
            raise InputError(f"{self.path}: empty file")
        if head.startswith(_GZIP_MAGIC):
            return _GzipStream(cast(BinaryIO, self._hashing)), "+gzip"
        if head == _ZSTD_MAGIC:
            reader = zstandard.ZstdDecompressor().stream_reader(
                cast(BinaryIO, self._hashing), read_across_frames=True
            )
            return reader, "+zstd"
        return self._hashing, ""

    def _read_header(self) -> str:
        try:
            self._fill(24)
        except _StreamDamaged as exc:
            raise InputError(f"{self.path}: cannot decompress ({exc})") from None
        magic = self._buf[:4]
        if len(magic) < 4:
            what = "empty file" if not magic else f"too short to be a capture ({len(magic)} bytes)"
            raise InputError(f"{self.path}: {what}")
        if struct.unpack("<I", magic)[0] == _PCAPNG_SHB:
            if len(self._buf) < 12:
                raise InputError(f"{self.path}: pcapng header cut short")
            bom = self._buf[8:12]
            if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                raise InputError(f"{self.path}: pcapng section header has no byte-order magic")
            self._records = self._pcapng_records()
            return "pcapng"
        order_ns = _PCAP_MAGICS.get(magic)
        if order_ns is None:
            raise InputError(describe(self.path, self._buf[: identify.SNIFF_SIZE]))
        if len(self._buf) < 24:
            raise InputError(f"{self.path}: pcap file header cut short ({len(self._buf)} bytes)")
        order, nanoseconds = order_ns
        _, _, _, _, snaplen, network = struct.unpack_from(order + "HHiIII", self._buf, 4)
        self._pos = 24
        self._batches = self._pcap_batches(order, nanoseconds, snaplen, network & 0x0FFFFFFF)
        return "pcap-ns" if nanoseconds else "pcap"

    # -- buffered stream ------------------------------------------------------------------

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``self._pos``; False when the stream ends first."""
        available = len(self._buf) - self._pos
        if available >= need:
            return True
        if self._eof:
            return False
        parts = [self._buf[self._pos :]]
        self._base += self._pos
        self._pos = 0
        while available < need:
            try:
                chunk = self._stream.read(max(self._read_size, need - available))
            except (OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
                self._eof = True
                self._buf = b"".join(parts)
                raise _StreamDamaged(str(exc) or type(exc).__name__) from None
            if not chunk:
                self._eof = True
                break
            parts.append(chunk)
            available += len(chunk)
        self._buf = b"".join(parts)
        return available >= need

    def _offset(self) -> int:
        return self._base + self._pos

    # -- anomalies ------------------------------------------------------------------------

    def _note(
        self, code: str, detail: str, frame: int | None = None, ts: float | None = None
    ) -> None:
        self.sink.note(code, f"{self.path}: {detail}", frame, ts)

    @property
    def anomalies(self) -> list[Anomaly]:
        """Its damage: what the sink kept, and once reading ended, one "N more like this" per
        code that went over the bound."""
        return list(self.sink.anomalies()) if self.finished else self.sink.kept

    # -- classic pcap ---------------------------------------------------------------------

    def _pcap_batches(
        self, order: str, nanoseconds: bool, snaplen: int, linktype: int
    ) -> Iterator[RecordBatch]:
        """Walk the records of the read buffer, a buffer at a time.

        The only per-record Python work is following the chain of lengths (one unpack and two
        additions a record): timestamps, lengths, the snaplen and time-order checks are then
        read for the whole buffer at once through a numpy view of it.
        """
        byteorder: Literal["little", "big"] = "little" if order == "<" else "big"
        word = np.dtype(order + "u4")
        scale = 1e9 if nanoseconds else 1e6
        from_bytes = int.from_bytes
        length_at = struct.Struct(order + "I").unpack_from  # cheaper than slicing 4 bytes
        index = self.first_index
        last_ts = float("-inf")
        damaged: _StreamDamaged | None = None
        bridged: tuple[bytes, int, int] | None = None
        while True:
            buf, pos = self._buf, self._pos
            size = len(buf)
            headers: list[int] = []
            append = headers.append
            last_header = size - 16
            while pos <= last_header:
                append(pos)
                (length,) = length_at(buf, pos + 8)
                pos += 16 + length
            if pos > size:  # the last record walked is not whole in the buffer
                pos = headers.pop()
            oversize = 0
            if headers:
                # words[i] is the 32-bit field starting at byte i (a strided view, no copy).
                words = np.ndarray((size - 3,), dtype=word, buffer=buf, strides=(1,))
                at = np.array(headers, dtype=np.int64)
                caplens = words[at + 8].astype(np.int64)
                absurd = np.flatnonzero(caplens > MAX_RECORD_BYTES)
                if len(absurd):
                    first = int(absurd[0])
                    oversize, pos = int(caplens[first]), headers[first]
                    at, caplens = at[:first], caplens[:first]
                self._pos = pos
                if len(at):
                    batch = self._pcap_columns(
                        buf, words, at, caplens, scale, index, linktype, snaplen, last_ts
                    )
                    last_ts = float(batch.ts[-1])
                    index += len(at)
                    self.frames += len(at)
                    yield batch
            elif size - pos >= 16:
                caplen = from_bytes(buf[pos + 8 : pos + 12], byteorder)
                if caplen > MAX_RECORD_BYTES:
                    oversize = caplen
            if oversize:
                self._note(
                    "capture.bad-record",
                    f"record at byte offset {self._offset()} claims {oversize} captured bytes;"
                    " the rest of the file is unreadable",
                    index,
                )
                return
            if damaged is not None:
                raise damaged
            # Read on: a whole record when none fitted, else top the buffer up to a chunk so
            # the next walk is long. A damaged compressed stream still yields what came before.
            if bridged is not None:
                # The bridge record is walked: go on in the chunk it was cut from.
                self._buf, self._pos, self._base = bridged
                bridged = None
                continue
            if size - pos < 16:
                need, what = 16, "record header"
            elif not headers:
                need, what = 16 + from_bytes(buf[pos + 8 : pos + 12], byteorder), "record"
            else:
                need, what = CHUNK_SIZE, ""
            try:
                if headers and self._read_size == CHUNK_SIZE:
                    bridged = self._next_chunk(byteorder)
                elif not self._fill(need) and what:
                    self._cut_short(what)
                    return
            except _StreamDamaged as exc:
                damaged = exc

    def _next_chunk(self, byteorder: Literal["little", "big"]) -> tuple[bytes, int, int] | None:
        """Read the next chunk of an uncompressed file without copying it into the buffer.

        Joining the unread tail of the buffer (part of one record) to each new megabyte was a
        copy of the whole file. Instead the new chunk becomes the buffer as it is; only the
        record cut between the two is copied, into a small *bridge* buffer that holds just it.
        Returns (chunk, offset of its first whole record, its stream offset) when the bridge is
        the buffer now, to be taken up once the bridge is walked; None when the chunk is.
        Falls back to joining when the cut record does not end inside the chunk.
        """
        tail = self._buf[self._pos :]
        chunk = self._read_chunk()
        chunk_base = self._base + len(self._buf)
        if not chunk:
            return None
        if not tail:
            self._buf, self._pos, self._base = chunk, 0, chunk_base
            return None
        header = tail + chunk[: max(0, 16 - len(tail))]
        if len(header) >= 16:
            rest = 16 + int.from_bytes(header[8:12], byteorder) - len(tail)
            if 0 < rest <= len(chunk) and rest <= MAX_RECORD_BYTES:
                self._base += self._pos
                self._buf, self._pos = tail + chunk[:rest], 0
                return (chunk, rest, chunk_base)
        self._base += self._pos
        self._buf, self._pos = tail + chunk, 0
        return None

    def _read_chunk(self) -> bytes:
        """One read of :data:`CHUNK_SIZE` bytes from the stream; empty at its end."""
        try:
            chunk = self._stream.read(CHUNK_SIZE)
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
            self._eof = True
            raise _StreamDamaged(str(exc) or type(exc).__name__) from None
        if not chunk:
            self._eof = True
        return chunk

    def _pcap_columns(
        self,
        buf: bytes,
        words: NDArray[np.uint32],
        at: NDArray[np.int64],
        caplens: NDArray[np.int64],
        scale: float,
        index: int,
        linktype: int,
        snaplen: int,
        last_ts: float,
    ) -> RecordBatch:
        """The batch of the whole records whose headers are at ``at``; notes records over the
        snap length and records older than the one before them."""
        stamps = words[at].astype(np.float64) + words[at + 4] / scale
        starts = at + 16
        batch = RecordBatch(
            buf, linktype, index, starts, starts + caplens, words[at + 12].astype(np.int64),
            stamps, self.source,
        )  # fmt: skip
        self._note_batch(
            index,
            caplens,
            caplens > snaplen if snaplen else np.zeros(len(caplens), dtype=bool),
            stamps,
            last_ts,
            lambda _: f"the file's snaplen {snaplen}",
        )
        return batch

    def _cut_short(self, what: str) -> None:
        left = len(self._buf) - self._pos
        if left:
            self._note(
                "capture.truncated-record",
                f"file ends inside a {what} at byte offset {self._offset()}"
                f" ({left} bytes left over)",
                self.first_index + self.frames,
            )

    def _note_batch(
        self,
        index: int,
        caplens: NDArray[np.int64],
        over: NDArray[np.bool_],
        stamps: NDArray[np.float64],
        last_ts: float,
        limit: Callable[[int], str],
    ) -> None:
        """The anomalies of a batch's records, in record order as reading one by one gives
        them: ``capture.snaplen-exceeded`` for each record marked in ``over`` (``limit(at)``
        names the snap length it went over), then :meth:`_time_backwards` for each record older
        than the one before it."""
        previous = np.empty_like(stamps)
        previous[0] = last_ts
        previous[1:] = stamps[:-1]
        backwards = stamps < previous
        for at in np.flatnonzero(over | backwards).tolist():
            if over[at]:
                self._note(
                    "capture.snaplen-exceeded",
                    f"record {index + at} holds {int(caplens[at])} bytes, more than {limit(at)}",
                    index + at,
                    float(stamps[at]),
                )
            if backwards[at]:
                self._time_backwards(index + at, float(stamps[at]), float(previous[at]))

    def _time_backwards(self, index: int, ts: float, last_ts: float) -> None:
        self._note(
            "capture.time-backwards",
            f"record {index} is {last_ts - ts:.6f} s older than the record before it",
            index,
            ts,
        )

    # -- pcapng ---------------------------------------------------------------------------

    def _pcapng_records(self) -> Iterator[Record | RecordBatch]:
        """Blocks one by one; runs of whole Enhanced Packet Blocks as batches (:meth:`_epb_run`)."""
        order = "<"
        interfaces: list[_Interface] = []
        unknown_seen: set[int] = set()
        index = self.first_index
        last_ts = float("-inf")
        last_good_ts = 0.0
        while True:
            if interfaces:
                batch = self._epb_run(order, interfaces, index, last_ts)
                if batch is not None:
                    last_ts = last_good_ts = float(batch.ts[-1])
                    index += len(batch)
                    self.frames += len(batch)
                    yield batch
                    continue
            if not self._fill(12):
                self._cut_short("block header")
                return
            buf, pos = self._buf, self._pos
            block_type = struct.unpack_from(order + "I", buf, pos)[0]
            if struct.unpack_from("<I", buf, pos)[0] == _PCAPNG_SHB:
                bom = buf[pos + 8 : pos + 12]
                if bom == b"\x4d\x3c\x2b\x1a":
                    order = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    order = ">"
                else:
                    self._note(
                        "capture.bad-record",
                        f"section header at byte offset {self._offset()} has no byte-order magic",
                        index,
                    )
                    return
                block_type = _PCAPNG_SHB
                interfaces = []
            total_len = struct.unpack_from(order + "I", buf, pos + 4)[0]
            if total_len > MAX_RECORD_BYTES:
                self._note(
                    "pcapng.oversize-block",
                    f"block of type 0x{block_type:x} at byte offset {self._offset()} claims"
                    f" {total_len} bytes; the rest of the file is unreadable",
                    index,
                )
                return
            if total_len < 12 or total_len % 4:
                self._note(
                    "capture.bad-record",
                    f"block of type 0x{block_type:x} at byte offset {self._offset()} has an"
                    f" impossible length {total_len}",
                    index,
                )
                return
            if not self._fill(total_len):
                self._cut_short("block")
                return
            buf, pos = self._buf, self._pos
            trailer = struct.unpack_from(order + "I", buf, pos + total_len - 4)[0]
            if trailer != total_len:
                self._note(
                    "capture.bad-record",
                    f"block at byte offset {self._offset()} says {total_len} bytes at its start"
                    f" and {trailer} at its end",
                    index,
                )
                return
            body = buf[pos + 8 : pos + total_len - 4]
            self._pos = pos + total_len
            if block_type == _PCAPNG_EPB or block_type == _PCAPNG_PB:
                frame = self._packet_block(block_type, order, body, interfaces, index)
            elif block_type == _PCAPNG_SPB:
                frame = self._simple_block(order, body, interfaces, index, last_good_ts)
            else:
                if block_type == _PCAPNG_IDB:
                    self._interface_block(order, body, interfaces, index)
                elif block_type != _PCAPNG_SHB and block_type not in _PCAPNG_KNOWN_SKIPPED:
                    if block_type not in unknown_seen:
                        unknown_seen.add(block_type)
                        self._note(
                            "pcapng.unknown-block",
                            f"skipped block type 0x{block_type:x} (first at byte offset"
                            f" {self._offset() - total_len})",
                            index,
                        )
                continue
            if frame is None:
                continue
            if frame.ts < last_ts:
                self._time_backwards(index, frame.ts, last_ts)
            last_ts = last_good_ts = frame.ts
            self.frames += 1
            yield (frame.index, frame.ts, frame.linktype, frame.data, frame.orig_len, frame.source)
            index += 1

    def _epb_run(
        self, order: str, interfaces: list[_Interface], index: int, last_ts: float
    ) -> RecordBatch | None:
        """The Enhanced Packet Blocks from the read position on that are whole in the buffer,
        sound, and of interfaces with one link type, as one batch; None when the block at the
        read position is not such a block (the block-by-block path then reads it, and says
        what is wrong with it). Rules and anomalies are :meth:`_packet_block`'s."""
        buf, pos = self._buf, self._pos
        size = len(buf)
        byteorder: Literal["little", "big"] = "little" if order == "<" else "big"
        from_bytes = int.from_bytes
        headers: list[int] = []
        append = headers.append
        while pos + 32 <= size and from_bytes(buf[pos : pos + 4], byteorder) == _PCAPNG_EPB:
            total = from_bytes(buf[pos + 4 : pos + 8], byteorder)
            if total < 32 or total % 4 or pos + total > size:
                break
            append(pos)
            pos += total
        if not headers:
            return None
        words = np.ndarray((size - 3,), dtype=np.dtype(order + "u4"), buffer=buf, strides=(1,))
        at = np.array(headers, dtype=np.int64)
        totals = words[at + 4].astype(np.int64)
        ids = words[at + 8].astype(np.int64)
        caplens = words[at + 20].astype(np.int64)
        # Stop before the first block the block-by-block path must speak about.
        unsound = (words[at + totals - 4] != totals) | (ids >= len(interfaces))
        unsound |= caplens > totals - 32
        linktypes = np.array([i.linktype for i in interfaces], dtype=np.int64)
        if not unsound[0]:
            unsound |= linktypes[np.minimum(ids, len(interfaces) - 1)] != linktypes[ids[0]]
        cut = int(unsound.argmax()) if unsound.any() else len(at)
        if cut == 0:
            return None
        at, totals, ids, caplens = at[:cut], totals[:cut], ids[:cut], caplens[:cut]
        units = (words[at + 12].astype(np.uint64) << np.uint64(32)) | words[at + 16]
        stamps = np.empty(cut, dtype=np.float64)
        for number in np.unique(ids).tolist():
            mine = ids == number
            interface = interfaces[number]
            if interface.divisor is not None:
                stamps[mine] = units[mine].astype(np.float64) / interface.divisor
            else:
                stamps[mine] = units[mine].astype(np.float64) * interface.multiplier
            stamps[mine] += interface.offset
        self._note_batch(
            index,
            caplens,
            caplens > _snaplens(interfaces)[ids],
            stamps,
            last_ts,
            lambda at: f"interface {ids[at]}'s snaplen {interfaces[ids[at]].snaplen}",
        )
        self._pos = int(at[-1] + totals[-1])
        starts = at + 28
        return RecordBatch(
            buf, interfaces[int(ids[0])].linktype, index, starts, starts + caplens,
            words[at + 24].astype(np.int64), stamps, self.source,
        )  # fmt: skip

    def _interface_block(
        self, order: str, body: bytes, interfaces: list[_Interface], index: int
    ) -> None:
        if len(body) < 8:
            self._note("capture.bad-record", "interface description block too short", index)
            interfaces.append(_Interface(-1, 0))
            return
        linktype, _, snaplen = struct.unpack_from(order + "HHI", body, 0)
        interface = _Interface(linktype, snaplen)
        for code, value in _pcapng_options(order, body, 8):
            if code == _IDB_OPT_TSRESOL and len(value) >= 1:
                resolution = value[0]
                if resolution & 0x80:
                    interface.divisor = None
                    interface.multiplier = 2.0 ** -(resolution & 0x7F)
                else:
                    interface.divisor = 10.0 ** (resolution & 0x7F)
            elif code == _IDB_OPT_TSOFFSET and len(value) >= 8:
                interface.offset = struct.unpack_from(order + "q", value, 0)[0]
        interfaces.append(interface)

    def _packet_block(
        self,
        block_type: int,
        order: str,
        body: bytes,
        interfaces: list[_Interface],
        index: int,
    ) -> RawFrame | None:
        if block_type == _PCAPNG_EPB:
            if len(body) < 20:
                self._note("capture.bad-record", "enhanced packet block too short", index)
                return None
            interface_id, ts_high, ts_low, caplen, orig_len = struct.unpack_from(
                order + "IIIII", body, 0
            )
            data_at = 20
        else:
            if len(body) < 20:
                self._note("capture.bad-record", "packet block too short", index)
                return None
            interface_id, _, ts_high, ts_low, caplen, orig_len = struct.unpack_from(
                order + "HHIIII", body, 0
            )
            data_at = 20
        if interface_id >= len(interfaces):
            self._note(
                "capture.bad-record",
                f"packet block refers to interface {interface_id}, but the section"
                f" describes {len(interfaces)}",
                index,
            )
            return None
        interface = interfaces[interface_id]
        if caplen > len(body) - data_at:
            self._note(
                "capture.bad-record",
                f"packet block claims {caplen} captured bytes but holds {len(body) - data_at}",
                index,
            )
            caplen = len(body) - data_at
        ts = interface.seconds((ts_high << 32) | ts_low)
        if interface.snaplen and caplen > interface.snaplen:
            self._note(
                "capture.snaplen-exceeded",
                f"record {index} holds {caplen} bytes, more than interface {interface_id}'s"
                f" snaplen {interface.snaplen}",
                index,
                ts,
            )
        data = body[data_at : data_at + caplen]
        return RawFrame(index, ts, interface.linktype, data, orig_len, self.source)

    def _simple_block(
        self,
        order: str,
        body: bytes,
        interfaces: list[_Interface],
        index: int,
        last_ts: float,
    ) -> RawFrame | None:
        """A Simple Packet Block has no timestamp: it gets the previous packet's time."""
        if len(body) < 4 or not interfaces:
            self._note("capture.bad-record", "simple packet block without interface", index)
            return None
        orig_len = struct.unpack_from(order + "I", body, 0)[0]
        interface = interfaces[0]
        caplen = min(orig_len, len(body) - 4)
        if interface.snaplen:
            caplen = min(caplen, interface.snaplen)
        data = body[4 : 4 + caplen]
        return RawFrame(index, last_ts, interface.linktype, data, orig_len, self.source)

    # -- iteration and lifetime -----------------------------------------------------------

    def __iter__(self) -> Iterator[RawFrame]:
        for record in self.records():
            yield RawFrame(*record)

    def records(self, sieve: Sieve | None = None) -> Iterator[Record]:
        """The records as plain tuples ``(index, ts, linktype, data, orig_len, source)``:
        the hot path's form (a frozen RawFrame costs about 0.7 µs to build, more than
        deciding that a frame does not matter).

        ``sieve(batch)``, when given, decides for a whole read buffer at once which records
        may matter and returns their positions (see :mod:`capinspect.decode.sieve`); the others are
        counted (``frames``) and numbered but never sliced out of the buffer. A pcapng block
        read on its own is always yielded (the decoder then decides about it)."""
        try:
            if self._batches is None:
                for item in self._records:
                    if isinstance(item, RecordBatch):
                        yield from sieved(item, sieve)
                    else:
                        yield item
            else:
                for batch in self._batches:
                    yield from sieved(batch, sieve)
        except _StreamDamaged as exc:
            self._damaged(exc)
        finally:
            self.finish()

    def batches(self) -> Iterator[RecordBatch]:
        """The records a read buffer at a time, unfiltered (for merging several files). In
        pcapng, a block read on its own (not in a run of Enhanced Packet Blocks) is a batch
        of one record."""
        try:
            if self._batches is not None:
                yield from self._batches
            else:
                for item in self._records:
                    yield item if isinstance(item, RecordBatch) else _batch_of_one(item)
        except _StreamDamaged as exc:
            self._damaged(exc)
        finally:
            self.finish()

    def _damaged(self, exc: _StreamDamaged) -> None:
        self._note(
            "capture.bad-compression",
            f"compressed stream is damaged near byte offset {self._offset()} ({exc})",
            self.first_index + self.frames,
        )

    def finish(self) -> None:
        """End reading: hash the unread tail, close the file.

        Called when iteration ends (or is abandoned); idempotent.
        """
        if self.finished:
            return
        self.finished = True
        if not self._raw.closed:
            try:
                self._hashing.drain()
                if self._hashing.digest:
                    self._digest = self._hashing.sha256.hexdigest()
            except OSError:
                self._digest = None
            self._raw.close()

    @property
    def bytes_read(self) -> int:
        if self._position is not None:
            return self._position()
        return self._hashing.consumed

    def sha256(self) -> str:
        """Hex sha256 of the file as stored (compressed bytes, not the capture inside).

        The bytes are hashed as the decompressor reads them, so a finished reader only hashed
        its unread tail; before that, the file is hashed in a separate pass.
        """
        if self._digest is not None:
            return self._digest
        digest = hashlib.sha256()
        with open(self.path, "rb") as separate:
            while chunk := separate.read(CHUNK_SIZE):
                digest.update(chunk)
        self._digest = digest.hexdigest()
        return self._digest

    def close(self) -> None:
        """Close the file without finishing (the hash then takes a separate pass)."""
        self._raw.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _StreamDamaged(Exception):
    """The compressed stream could not be decompressed further."""


def _pcapng_options(order: str, body: bytes, at: int) -> Iterator[tuple[int, bytes]]:
    """(code, value) pairs of a pcapng option list, stopping at opt_endofopt or damage."""
    header = struct.Struct(order + "HH")
    while at + 4 <= len(body):
        code, length = header.unpack_from(body, at)
        if code == 0:
            return
        value = body[at + 4 : at + 4 + length]
        if len(value) < length:
            return
        yield code, value
        at += 4 + length + (-length % 4)


def open_capture(
    path: str, *, source: int = 0, first_index: int = 1, digest: bool = True
) -> CaptureReader:
    """Open ``path`` read-only as a capture; raises InputError when nothing can be read.

    ``digest=False`` skips the sha256 (for a pass that only counts records)."""
    return CaptureReader(path, source=source, first_index=first_index, digest=digest)


SIEVE_RUN = 256
"""Batches of fewer records than this skip the sieve and go whole to the decoder, which decides
them record by record as cheaply: the sieve's numpy work (about a hundred calls) costs about as
much as deciding this many records one by one. The record cut between two reads comes as a
batch of one, so without this every read buffer cost the sieve twice."""


def sieved(batch: RecordBatch, sieve: Sieve | None) -> Iterator[Record]:
    """The records of ``batch`` the sieve keeps; all of them without a sieve, or when the
    batch is shorter than :data:`SIEVE_RUN`."""
    yield from batch.records(None if sieve is None or len(batch) < SIEVE_RUN else sieve(batch))


def _snaplens(interfaces: list[_Interface]) -> NDArray[np.int64]:
    """Each interface's snap length, 0 (no limit) as the largest value."""
    limit = np.iinfo(np.int64).max
    return np.array([i.snaplen or limit for i in interfaces], dtype=np.int64)


def _batch_of_one(record: Record) -> RecordBatch:
    index, ts, linktype, data, orig_len, source = record
    return RecordBatch(
        data,
        linktype,
        index,
        np.zeros(1, dtype=np.int64),
        np.full(1, len(data), dtype=np.int64),
        np.full(1, orig_len, dtype=np.int64),
        np.full(1, ts, dtype=np.float64),
        source,
    )
