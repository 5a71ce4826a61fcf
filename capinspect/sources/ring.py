"""The live mode's evidence: a bounded ring of recent frames, written out as pcapng.

Why a ring: a mirror port runs for hours; keeping every frame would fill the disk, and a
ticket needs only the frames around the failure. The ring holds the newest frames up to a
byte budget (oldest dropped first) and is written whole, atomically (temporary file, then
rename), each time a verdict is given and when the capture ends, so the file on disk is always
a complete, readable capture even if the process is killed.

Each frame carries a pcapng comment ``capinspect frame N``: N is the frame number the live
report cites, while Wireshark numbers the (shorter) evidence file from 1.

The writer is deliberately small (section header, one Ethernet interface with microsecond
timestamps, enhanced packet blocks); it depends on nothing so the live mode does not wait for
the report modules.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from pathlib import Path

from capinspect.errors import CapinspectError
from capinspect.model import LinkType, RawFrame

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Default byte budget of the ring (frame bytes; the file adds 32-60 bytes per frame)."""

_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_OPT_END = 0
_OPT_COMMENT = 1
_IF_NAME = 2
_SHB_USERAPPL = 4
_IF_TSRESOL = 9
_SNAPLEN = 262_144


def _pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def section_header(application: str) -> bytes:
    options = _option(_SHB_USERAPPL, application.encode()) + _option(_OPT_END, b"")
    body = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1) + options
    return _block(_SHB, body)


def interface_block(name: str, snaplen: int, linktype: int = LinkType.ETHERNET) -> bytes:
    options = (
        _option(_IF_NAME, name.encode()) + _option(_IF_TSRESOL, b"\x06") + _option(_OPT_END, b"")
    )
    return _block(_IDB, struct.pack("<HHI", linktype, 0, snaplen) + options)


def packet_block(frame: RawFrame, comment: str | None = None) -> bytes:
    """An enhanced packet block on interface 0, timestamp in microseconds."""
    micros = round(frame.ts * 1_000_000)
    micros = max(0, min(micros, (1 << 64) - 1))
    head = struct.pack(
        "<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(frame.data), frame.orig_len
    )
    options = b""
    if comment:
        options = _option(_OPT_COMMENT, comment.encode()) + _option(_OPT_END, b"")
    return _block(_EPB, head + _pad(frame.data) + options)


class FrameRing:
    """The newest frames up to ``max_bytes`` of frame data."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise CapinspectError("the evidence ring needs a positive size")
        self.max_bytes = max_bytes
        self._frames: deque[RawFrame] = deque()
        self._bytes = 0
        self.evicted = 0
        """Frames dropped to stay within the budget since the ring was created."""

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def size(self) -> int:
        return self._bytes

    def add(self, frame: RawFrame) -> None:
        self._frames.append(frame)
        self._bytes += len(frame.data)
        while self._bytes > self.max_bytes and len(self._frames) > 1:
            old = self._frames.popleft()
            self._bytes -= len(old.data)
            self.evicted += 1

    def frames(self) -> tuple[RawFrame, ...]:
        return tuple(self._frames)

    def write_pcapng(self, path: str | Path, interface: str, application: str) -> int:
        """Write the ring to ``path`` atomically; returns the number of frames written."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        frames = tuple(self._frames)
        try:
            with open(tmp, "wb") as out:
                out.write(section_header(application))
                out.write(interface_block(interface, _SNAPLEN))
                for frame in frames:
                    out.write(packet_block(frame, f"capinspect frame {frame.index}"))
            os.replace(tmp, target)
        except OSError as exc:
            raise CapinspectError(f"cannot write {path}: {exc.strerror or exc}") from None
        return len(frames)
