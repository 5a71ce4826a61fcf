"""A live source that replays a capture file: ``capinspect live`` tested without a socket."""

from __future__ import annotations

from typing import Any

from capinspect.model import RawFrame
from capinspect.sources.live import KernelStats
from capinspect.sources.merge import iter_frames


class FileSource:
    """A stand-in for :class:`capinspect.sources.live.LiveSource`: the "interface" is a capture
    file whose frames come as a mirror port would deliver them; when they are all read, Ctrl-C.
    """

    def __init__(self, interface: str, bpf_filter: str | None = None, **_: Any) -> None:
        self.frames: list[RawFrame] = list(iter_frames([interface]))
        self.frames_read = 0

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self, timeout: float = 0.5) -> list[RawFrame]:
        if self.frames_read >= len(self.frames):
            raise KeyboardInterrupt
        batch = self.frames[self.frames_read : self.frames_read + 32]
        self.frames_read += len(batch)
        return batch

    def now(self) -> float:
        return self.frames[self.frames_read - 1].ts if self.frames_read else 0.0

    def stats(self) -> KernelStats:
        return KernelStats(received=len(self.frames), dropped=0)
