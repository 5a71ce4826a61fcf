"""Microsoft Network Monitor captures (the ``.cap`` files NetMon 2.x and 3.x write), read natively.

A Windows administrator's capture of a phone's boot is as often a NetMon ``.cap`` as a pcap: a
server has Network Monitor 3.4 on it, not Wireshark. The layout, as Wireshark's
``wiretap/netmon.c`` reads it (from the file format in the Network Monitor 3.x help files):

* a 128-byte header: magic ``GMBU`` (2.x) or ``RTSS`` (1.x), minor and major version, a media
  type, the capture start as a SYSTEMTIME (local wall-clock time, with milliseconds), and the
  offset and length of the *frame table*, normally at the end of the file;
* the frame table: one little-endian uint32 file offset per frame, in frame order (frames need
  not follow one another in the file);
* each frame: a header (2.x: uint64 microseconds since the start, uint32 wire length, uint32
  captured length; 1.x: uint32 milliseconds, uint16, uint16), the frame bytes, and from version
  2.1 on a trailer with the frame's own media type (2.2 adds a process index, 2.3 a UTC
  FILETIME that replaces the start-plus-offset time).

Times are Wireshark's to the nanosecond: the start SYSTEMTIME is read as local time of the
machine reading the file (``mktime``), the 2.x offset is multiplied by ten into 100 ns units
and read as a signed number (how NetMon writes times before the start), and a 2.3 frame's
FILETIME wins. A float is built exactly as the pcap reader builds it (seconds plus microseconds
over 1e6), so the same capture in both formats gives bit-identical packet times.

Which frames are handed on: Ethernet (media 0 and 1) and raw IP (7, 8, 9), plus a converted
pcap's own link type (0xE000 + LINKTYPE). Frames of the other media (Token Ring, FDDI, 802.11,
ETW events embedded by NetMon 3.4, WFP captures, filter strings…) carry nothing capinspect
decodes: they are skipped and counted (one ``netmon.media-skipped`` anomaly per media type),
but keep their frame numbers where Wireshark shows them as frames, so every later frame number
is the one Wireshark shows. The adapter list, DNS cache and reassembly headers NetMon writes as
frames are not frames in Wireshark either: they are skipped without a number.

Memory is bounded: the frame table is read 64 Ki entries at a time and the frames through a
2 MiB window (``CHUNK_SIZE``), each on its own handle, so a multi-GB file is never held whole.
A file copied while NetMon still wrote it has no frame table yet: its frames are then walked in
file order from byte 128 (``capture.netmon-frame-table``) until the first record that cannot be one.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import BinaryIO

import numpy as np

from capinspect.anomalies import AnomalySink
from capinspect.errors import InputError
from capinspect.model import Anomaly, RawFrame, Record, RecordBatch
from capinspect.sources.pcapfile import (
    CHUNK_SIZE,
    MAX_RECORD_BYTES,
    Sieve,
    sieved,
)

MAGIC_1X = b"RTSS"
MAGIC_2X = b"GMBU"
HEADER_SIZE = 128
"""The file header, magic included, is padded to 128 bytes; frames start after it."""
_HEADER = struct.Struct("<4sBBH8HII")  # magic, minor, major, media, SYSTEMTIME, table off/len
TABLE_CHUNK = 1 << 16
"""Frame-table entries read at a time."""

_EPOCH_1601 = 116_444_736_000_000_000
"""1970-01-01 as a FILETIME (100 ns units since 1601-01-01 UTC)."""
_TICKS = 10_000_000
_MASK64 = (1 << 64) - 1

_ETHERNET, _RAW = 1, 101
# Media types Wireshark shows as frames but capinspect does not decode (name for the anomaly).
_SHOWN_UNDECODED = {
    2: "Token Ring",
    3: "FDDI",
    4: "NDIS WAN / ATM",
    6: "802.11 with NetMon radio header",
    0xE080: "WiFi message",
    0xE083: "WFP capture (IPv4)",
    0xE084: "WFP capture (IPv6)",
    0xE085: "WFP capture v2 (IPv4)",
    0xE086: "WFP capture v2 (IPv6)",
    0xE087: "WFP auth capture (IPv4)",
    0xE088: "WFP auth capture (IPv6)",
    0xFFE0: "NetEvent (an embedded ETW event)",
    0xFFFB: "network info (extended)",
    0xFFFF: "NetMon filter string",
}
# NetMon bookkeeping written as frames that Wireshark does not show as frames.
_HIDDEN = {
    0xFFFC: "payload header (NetMon reassembly)",
    0xFFFD: "network info (adapter list)",
    0xFFFE: "DNS cache",
}


def media_linktype(media: int) -> int | None:
    """The LINKTYPE a frame of NetMon media type ``media`` is handed on as; None to skip it."""
    if media in (0, 1):  # NetMon 3.4 VPN captures write 0 for Ethernet frames (netmon.c)
        return _ETHERNET
    if media in (7, 8, 9):  # tunnel, wireless WAN and raw IP frames: IP without a link header
        return _RAW
    if (media & 0xF000) == 0xE000 and not 0xE080 <= media <= 0xE08A:
        return media & 0x0FFF  # a converted pcap: its own link type
    return None


def media_name(media: int) -> str:
    return _SHOWN_UNDECODED.get(media) or _HIDDEN.get(media) or "unknown"


Opener = Callable[[], BinaryIO]


class NetmonReader:
    """One Network Monitor capture, iterated lazily; the interface of
    :class:`~capinspect.sources.pcapfile.CaptureReader` (records, batches, anomalies, inputs).

    ``opener`` opens a new handle on the capture's bytes (several are used: the frame table and
    the frames are read apart); by default the file at ``path``. ``data_size`` is the size of
    those bytes when they are not the file itself (a zip member), ``container`` a suffix for
    ``format`` and ``position`` what progress reports as bytes read.
    """

    def __init__(
        self,
        path: str,
        *,
        source: int = 0,
        first_index: int = 1,
        opener: Opener | None = None,
        data_size: int | None = None,
        container: str = "",
        position: Callable[[], int] | None = None,
    ) -> None:
        self.path = path
        self.source = source
        self.first_index = first_index
        self.sink = AnomalySink(prefix=f"{path}: ")
        self.frames = 0
        self.finished = False
        self._skipped: dict[int, int] = {}
        self._digest: str | None = None
        self._opener: Opener = opener or (lambda: open(path, "rb"))  # noqa: SIM115
        self._position = position
        self._handles: list[BinaryIO] = []
        self.size = _file_size(path)
        self._data_size = self.size if data_size is None else data_size
        # Both handles now: a zip member can only be opened while its archive is open.
        self._frames_fh = self._open()
        self._table_fh = self._open()
        self._buf = b""
        self._base = 0
        self._read_to = 0
        self._last_length: int | None = None
        self._walking = False
        try:
            head = self._frames_fh.read(HEADER_SIZE)
        except OSError as exc:
            self.close()
            raise InputError(f"{path}: cannot read ({exc})") from None
        self._read_to = len(head)
        try:
            self._parse_header(head)
        except BaseException:
            self.close()
            raise
        self.format = f"netmon{self.version[0]}.{self.version[1]}{container}"

    # -- opening --------------------------------------------------------------------------

    def _open(self) -> BinaryIO:
        try:
            handle = self._opener()
        except OSError as exc:
            self.close()
            raise InputError(f"{self.path}: cannot open ({exc.strerror or exc})") from None
        self._handles.append(handle)
        return handle

    def _parse_header(self, head: bytes) -> None:
        if len(head) < _HEADER.size:
            raise InputError(
                f"{self.path}: Network Monitor header cut short ({len(head)} of {_HEADER.size}"
                " bytes)"
            )
        _magic, minor, major, media, *systime, table_at, table_len = _HEADER.unpack_from(head)
        if major not in (1, 2):  # the version, not the magic, decides the layout (netmon.c)
            raise InputError(
                f"{self.path}: Network Monitor file of version {major}.{minor}, which no"
                " Network Monitor writes (1.x and 2.x are read)"
            )
        self.version = (major, minor)
        self._per_packet = major == 2 and minor >= 1
        self._trailer = 0 if not self._per_packet else 2 if minor == 1 else 6 if minor == 2 else 15
        self._record = struct.Struct("<IHH" if major == 1 else "<QII")
        self._file_linktype = media_linktype(media) if media < 12 else None
        if not self._per_packet and self._file_linktype is None:
            raise InputError(
                f"{self.path}: Network Monitor capture of media type {media}"
                f" ({media_name(media)}), which capinspect does not decode"
            )
        self._start = self._start_ticks(systime)
        self._table_at, self._table_len = table_at, table_len

    def _start_ticks(self, systime: list[int]) -> int:
        """The header's start time in 100 ns units since 1970: local time, as mktime reads it."""
        year, month, _dow, day, hour, minute, second, msec = systime
        try:
            secs = int(time.mktime((year, month, day, hour, minute, second, 0, 0, -1)))
        except (OverflowError, ValueError) as exc:
            self._note(
                "capture.bad-record",
                f"capture start time {year}-{month}-{day} {hour}:{minute}:{second} cannot be"
                f" read ({exc}); frame times are counted from 1970",
            )
            secs = 0
        return secs * _TICKS + msec * 10_000

    # -- frame table ----------------------------------------------------------------------

    def _offsets(self) -> Iterator[int]:
        """The frame offsets: from the frame table, or by walking the file when it has none."""
        entries, rest = divmod(self._table_len, 4)
        if not self._table_len and self._data_size <= HEADER_SIZE:
            return  # a capture of no frames: nothing after the header, nothing missing
        usable = (
            entries and self._table_at >= _HEADER.size and self._table_at + 4 <= self._data_size
        )
        if not usable:
            why = (
                "the header names no frame table"
                if not self._table_len or not self._table_at
                else f"the frame table's offset {self._table_at} is outside the file's"
                f" {self._data_size} bytes"
            )
            self._note(
                "capture.netmon-frame-table",
                f"{why} (a capture copied while Network Monitor still wrote it?); frames are"
                " read in file order from the first",
            )
            self._walking = True
            yield from self._walk()
            return
        if rest:
            self._note(
                "capture.netmon-frame-table",
                f"frame table length {self._table_len} is not a multiple of 4; the last"
                f" {rest} bytes are ignored",
            )
        present = (self._data_size - self._table_at) // 4
        if present < entries:
            self._note(
                "capture.netmon-frame-table",
                f"frame table of {entries} entries at byte offset {self._table_at} is cut by"
                f" the end of the file after {present}; only those frames are read",
            )
            entries = present
        table = self._table_fh
        try:
            table.seek(self._table_at)
            while entries > 0:
                want = min(entries, TABLE_CHUNK)
                chunk = table.read(want * 4)
                got = len(chunk) // 4
                if got:
                    yield from np.frombuffer(chunk, dtype="<u4", count=got).tolist()
                entries -= got
                if got < want:
                    break
        except OSError as exc:
            self._note("capture.bad-compression", f"frame table unreadable ({exc})")

    def _walk(self) -> Iterator[int]:
        """Offsets of the frames one after the other from byte 128 (files without a table)."""
        offset = HEADER_SIZE
        header = self._record.size
        while offset + header <= self._data_size:
            yield offset
            if self._last_length is None:
                return
            offset += header + self._last_length + self._trailer
        if offset < self._data_size:
            self._note(
                "capture.truncated-record",
                f"file ends inside a frame header at byte offset {offset}"
                f" ({self._data_size - offset} bytes left over)",
                self.first_index + self.frames,
            )

    # -- window over the frames -----------------------------------------------------------

    def _window(self, offset: int, size: int) -> bool:
        """Make bytes ``offset:offset+size`` of the capture available in ``self._buf``
        (at ``offset - self._base``); False when the capture ends first.

        The window only moves forward in the normal case (frames in file order), so a zip
        member is decompressed once; a frame before the window costs a seek."""
        end = offset + size
        if self._base <= offset and end <= self._base + len(self._buf):
            return True
        if end > self._data_size:
            return False
        keep = b""
        if self._base <= offset <= self._base + len(self._buf):
            keep = self._buf[offset - self._base :]
            start = self._base + len(self._buf)
        else:
            start = offset
        if start != self._read_to:
            self._frames_fh.seek(start)
        data = self._frames_fh.read(max(CHUNK_SIZE, end - start))
        self._read_to = start + len(data)
        self._buf, self._base = keep + data, offset
        return end <= self._base + len(self._buf)

    # -- records --------------------------------------------------------------------------

    def _batches(self) -> Iterator[RecordBatch]:
        header = self._record.size
        trailer = self._trailer
        unpack = self._record.unpack_from
        major, minor = self.version
        utc = major == 2 and minor >= 3
        start = self._start
        index = self.first_index
        last_ts = float("-inf")
        starts: list[int] = []
        ends: list[int] = []
        origs: list[int] = []
        stamps: list[float] = []
        run_buf = b""
        run_linktype = -1
        run_index = index

        def flush() -> Iterator[RecordBatch]:
            if starts:
                yield RecordBatch(
                    run_buf, run_linktype, run_index, np.array(starts, dtype=np.int64),
                    np.array(ends, dtype=np.int64), np.array(origs, dtype=np.int64),
                    np.array(stamps, dtype=np.float64), self.source,
                )  # fmt: skip
                starts.clear()
                ends.clear()
                origs.clear()
                stamps.clear()

        for number, offset in enumerate(self._offsets(), 1):
            self._last_length = None
            if offset < _HEADER.size:
                self._note(
                    "capture.bad-record",
                    f"frame table entry {number} points at byte offset {offset}, inside the"
                    " file header",
                    index,
                )
                continue
            if not self._window(offset, header):
                self._note(
                    "capture.bad-record"
                    if offset >= self._data_size
                    else "capture.truncated-record",
                    f"frame table entry {number} points at byte offset {offset}, past the end"
                    f" of the capture ({self._data_size} bytes)"
                    if offset >= self._data_size
                    else f"file ends inside the header of the frame at byte offset {offset}",
                    index,
                )
                continue
            at = offset - self._base
            stamp, orig_len, caplen = unpack(self._buf, at)
            if caplen > MAX_RECORD_BYTES:
                self._note(
                    "capture.bad-record",
                    f"frame at byte offset {offset} claims {caplen} captured bytes; skipped",
                    index,
                )
                continue
            whole = header + caplen + trailer
            if not self._window(offset, whole):
                self._note(
                    "capture.truncated-record",
                    f"file ends inside the frame at byte offset {offset} ({whole} bytes"
                    f" announced, {self._data_size - offset} left)",
                    index,
                )
                continue
            if self._walking and caplen > orig_len:
                self._note(
                    "capture.bad-record",
                    f"record at byte offset {offset} holds {caplen} bytes of a {orig_len}-byte"
                    " frame: not a frame; the rest of the file is not read",
                    index,
                )
                return
            self._last_length = caplen
            at = offset - self._base
            buf = self._buf
            end = at + header + caplen
            if self._per_packet:
                media = buf[end] | buf[end + 1] << 8
                linktype = media_linktype(media)
            else:
                media, linktype = -1, self._file_linktype
            if major == 1:
                ticks = start + stamp * 10_000
            elif utc:
                ticks = int.from_bytes(buf[end + 6 : end + 14], "little") - _EPOCH_1601
            else:
                delta = (stamp * 10) & _MASK64
                ticks = start + (delta - (1 << 64) if delta >> 63 else delta)
            secs, rest = divmod(ticks, _TICKS)
            ts = secs + (rest // 10) / 1e6 if rest % 10 == 0 else secs + rest * 100 / 1e9
            if linktype is None:
                self._skipped[media] = self._skipped.get(media, 0) + 1
                if media in _SHOWN_UNDECODED:  # Wireshark numbers it: so do we
                    yield from flush()
                    index += 1
                    self.frames += 1
                continue
            if starts and (buf is not run_buf or linktype != run_linktype):
                yield from flush()
            if not starts:
                run_buf, run_linktype, run_index = buf, linktype, index
            if ts < last_ts:
                self._note(
                    "capture.time-backwards",
                    f"record {index} is {last_ts - ts:.6f} s older than the record before it",
                    index,
                    ts,
                )
            last_ts = ts
            starts.append(at + header)
            ends.append(end)
            origs.append(orig_len)
            stamps.append(ts)
            index += 1
            self.frames += 1
        yield from flush()

    def __iter__(self) -> Iterator[RawFrame]:
        for record in self.records():
            yield RawFrame(*record)

    def records(self, sieve: Sieve | None = None) -> Iterator[Record]:
        """The records as tuples, ``sieve`` deciding a batch at a time (see CaptureReader)."""
        try:
            for batch in self._guarded():
                yield from sieved(batch, sieve)
        finally:
            self.finish()

    def batches(self) -> Iterator[RecordBatch]:
        """The records a run at a time (one window, one link type, consecutive numbers)."""
        try:
            yield from self._guarded()
        finally:
            self.finish()

    def _guarded(self) -> Iterator[RecordBatch]:
        try:
            yield from self._batches()
        except (OSError, EOFError) as exc:  # a zip member whose deflate stream is damaged
            self._note(
                "capture.bad-compression",
                f"the capture's bytes cannot be read further ({exc})",
                self.first_index + self.frames,
            )

    # -- anomalies and lifetime -----------------------------------------------------------

    def _note(
        self, code: str, detail: str, frame: int | None = None, ts: float | None = None
    ) -> None:
        self.sink.note(code, f"{self.path}: {detail}", frame, ts)

    def finish(self) -> None:
        """End reading: count skipped media, close the handles."""
        if self.finished:
            return
        self.finished = True
        for media, count in sorted(self._skipped.items()):
            kind = "numbered as Wireshark does" if media in _SHOWN_UNDECODED else "not numbered"
            self.sink.add(
                Anomaly(
                    "netmon.media-skipped",
                    f"{self.path}: {count} frame(s) of Network Monitor media type 0x{media:04x}"
                    f" ({media_name(media)}) skipped, {kind}",
                )
            )
        self.close()

    @property
    def anomalies(self) -> list[Anomaly]:
        """Its damage: what the sink kept, and once reading ended, one "N more like this" per
        code that went over the bound."""
        return list(self.sink.anomalies()) if self.finished else self.sink.kept

    @property
    def bytes_read(self) -> int:
        if self._position is not None:
            return self._position()
        return min(self._read_to, self.size)

    def sha256(self) -> str:
        """Hex sha256 of the file as stored, in a pass of its own (NetMon files are read out
        of order, so the bytes cannot be hashed as they are read)."""
        if self._digest is None:
            digest = hashlib.sha256()
            with open(self.path, "rb") as separate:
                while chunk := separate.read(CHUNK_SIZE):
                    digest.update(chunk)
            self._digest = digest.hexdigest()
        return self._digest

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._buf = b""

    def __enter__(self) -> NetmonReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _file_size(path: str) -> int:
    try:
        with open(path, "rb") as probe:
            return probe.seek(0, 2)
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None
