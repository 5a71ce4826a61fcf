"""The live mode's evidence: a bounded ring of recent frames, written out as pcapng.

Why a ring: a mirror port runs for hours; keeping every frame would fill the disk, and a
ticket needs only the frames around the failure. The ring holds the newest frames up to a
byte budget (oldest dropped first) and is written whole, atomically (temporary file, then
rename), each time a verdict is given and when the capture ends, so the file on disk is always
a complete, readable capture even if the process is killed.

Each frame carries a pcapng comment ``capinspect frame N``: N is the frame number the live
report cites, while Wireshark numbers the (shorter) evidence file from 1.

The file is written by :mod:`capinspect.sources.pcapng_writer` (one Ethernet interface,
microsecond timestamps), the writer ``analyze --evidence`` uses too.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

from capinspect.errors import CapinspectError
from capinspect.model import LinkType, RawFrame
from capinspect.sources.pcapng_writer import interface_block, packet_block, section_header

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Default byte budget of the ring (frame bytes; the file adds 32-60 bytes per frame)."""

_SNAPLEN = 262_144


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
                out.write(interface_block(LinkType.ETHERNET, _SNAPLEN, interface))
                for frame in frames:
                    comment = f"capinspect frame {frame.index}"
                    out.write(packet_block(0, frame.ts, frame.data, frame.orig_len, [comment]))
            os.replace(tmp, target)
        except OSError as exc:
            raise CapinspectError(f"cannot write {path}: {exc.strerror or exc}") from None
        return len(frames)
