"""A zip archive given as a capture: the one capture inside is read straight from it.

Captures reach support by mail, and mail wants them zipped (Windows' "Send to > Compressed
folder"). Extracting first is a step a first-hour admin should not need: when the archive holds
exactly one capture (pcap, pcapng, Network Monitor, gzip/zstd, told by its first bytes, never
its name), it is streamed out of the archive by :mod:`zipfile` and read as if it were the file,
nothing is written to disk. The input is still the zip: its path, size and sha256 are what the
report shows, and ``format`` gains ``+zip``. With several captures (or none) the one-line error
lists the members and says how to extract them.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from typing import BinaryIO, cast

from capinspect.errors import InputError
from capinspect.sources import identify
from capinspect.sources.netmon import MAGIC_1X, MAGIC_2X, NetmonReader
from capinspect.sources.pcapfile import CaptureReader

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
"""A local file header, or the end record of an empty archive (PKWARE APPNOTE.TXT 4.3)."""
CAPTURE_MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",
    MAGIC_1X,
    MAGIC_2X,
    b"\x28\xb5\x2f\xfd",
)
MAX_MEMBERS_SNIFFED = 1000
"""Members whose first bytes are looked at; an archive of more is not a ticket's capture."""
_SHOWN = 6


def is_capture_head(head: bytes) -> bool:
    return head[:4] in CAPTURE_MAGICS or head.startswith(b"\x1f\x8b")


class _Member:
    """A zip member as the readers want a file: damage inside the deflate stream, or a wrong
    CRC at its end, becomes OSError (what the readers turn into an anomaly)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._handle.read(size)
        except _ZIP_DAMAGE as exc:
            raise OSError(str(exc) or type(exc).__name__) from None

    def seek(self, offset: int, whence: int = 0, /) -> int:
        try:
            return self._handle.seek(offset, whence)
        except _ZIP_DAMAGE as exc:
            raise OSError(str(exc) or type(exc).__name__) from None

    def tell(self) -> int:
        return self._handle.tell()

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        self._handle.close()


_ZIP_DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    EOFError,
    NotImplementedError,
    ValueError,
    IndexError,
    KeyError,
    OverflowError,
    struct.error,
)
"""What Python's zipfile raises on a damaged archive (its metadata is read trustingly)."""


def _shown(name: str) -> str:
    """A member name as a one-line message may carry it: control characters escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in name)


def open_zip(
    path: str, *, source: int = 0, first_index: int = 1, digest: bool = True
) -> CaptureReader | NetmonReader:
    """The reader of the one capture in the zip at ``path``; InputError when there is not
    exactly one, or the archive cannot be read."""
    del digest  # the zip is hashed in a pass of its own (its bytes are not read in order)
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_DAMAGE as exc:
        # NotImplementedError: a zip version or feature Python's zipfile does not read.
        raise InputError(f"{path}: a zip archive that cannot be read ({exc})") from None
    try:
        return _open_member(archive, path, source, first_index)
    except _ZIP_DAMAGE as exc:
        # zipfile trusts its central directory: a damaged one surfaces as any of these.
        raise InputError(f"{path}: a zip archive that cannot be read ({exc!r})") from None
    finally:
        # The members opened stay readable: the archive's file is closed with the last of them.
        archive.close()


def _open_member(
    archive: zipfile.ZipFile, path: str, source: int, first_index: int
) -> CaptureReader | NetmonReader:
    members = [info for info in archive.infolist() if not info.is_dir()]
    captures: list[tuple[zipfile.ZipInfo, bytes]] = []
    heads: dict[str, bytes] = {}
    for info in members[:MAX_MEMBERS_SNIFFED]:
        head = _head(archive, info, path)
        heads[info.filename] = head
        if is_capture_head(head):
            captures.append((info, head))
    if len(captures) != 1:
        raise InputError(_not_one(path, members, captures, heads))
    info, head = captures[0]
    name = f"{path}: {_shown(info.filename)}"
    raw = archive.fp
    assert raw is not None

    def position() -> int:
        return info.compress_size if raw.closed else max(0, raw.tell() - info.header_offset)

    def opener() -> BinaryIO:
        return cast(BinaryIO, _Member(cast(BinaryIO, archive.open(info))))

    if head[:4] in (MAGIC_1X, MAGIC_2X):
        return NetmonReader(
            path, source=source, first_index=first_index, opener=opener,
            data_size=info.file_size, container="+zip", position=position,
        )  # fmt: skip
    try:
        return CaptureReader(
            path, source=source, first_index=first_index, stream=opener(), container="+zip",
            position=position,
        )  # fmt: skip
    except InputError as exc:
        raise InputError(f"{name}{str(exc)[len(path) :]}") from None


def _head(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> bytes:
    """The first bytes of a member (decompressing only those)."""
    where = f"{path}: {_shown(info.filename)}"
    extract = (
        f"extract it (Expand-Archive -Path {path} -DestinationPath DIR on Windows,"
        f" unzip {path} -d DIR elsewhere)"
    )
    if info.flag_bits & 0x1:
        raise InputError(
            f"{where} is encrypted; {extract} with its password and give capinspect the capture"
        )
    try:
        with archive.open(info) as member:
            return member.read(identify.SNIFF_SIZE)
    except NotImplementedError:
        raise InputError(
            f"{where} is compressed with a method Python's zipfile cannot read"
            f" (compress_type {info.compress_type}; Windows uses Deflate64 for large files);"
            f" {extract}"
        ) from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise InputError(f"{where} cannot be decompressed ({exc})") from None


def _not_one(
    path: str,
    members: list[zipfile.ZipInfo],
    captures: list[tuple[zipfile.ZipInfo, bytes]],
    heads: dict[str, bytes],
) -> str:
    extract = (
        f"extract it (Expand-Archive -Path {path} -DestinationPath DIR on Windows,"
        f" unzip {path} -d DIR elsewhere) and give capinspect"
    )
    if captures:
        names = ", ".join(_shown(info.filename) for info, _ in captures[:_SHOWN])
        more = f" and {len(captures) - _SHOWN} more" if len(captures) > _SHOWN else ""
        return (
            f"{path}: a zip archive holding {len(captures)} captures ({names}{more}); a zip is"
            f" read directly only when it holds one; {extract} the folder DIR (its captures"
            " are merged by time)"
        )
    if not members:
        return f"{path}: an empty zip archive"
    if len(members) == 1:
        only = _shown(members[0].filename)
        inner = identify.describe(only, heads.get(only, b""))
        return f"{path}: a zip archive holding {inner}"
    names = ", ".join(_shown(os.path.basename(info.filename)) for info in members[:_SHOWN])
    more = f" and {len(members) - _SHOWN} more" if len(members) > _SHOWN else ""
    return f"{path}: a zip archive holding no capture ({len(members)} files: {names}{more})"
