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


class FileSources:
    """A stand-in for :class:`capinspect.sources.live.LiveSources`: each "interface" is a
    capture file; their frames come merged in time order, each tagged with its interface's
    position, numbered across all of them; when they are all read, Ctrl-C."""

    def __init__(self, interfaces: Any, bpf_filter: str | None = None, **_: Any) -> None:
        self.interfaces = tuple(interfaces)
        tagged = [
            (frame.ts, position, frame)
            for position, name in enumerate(self.interfaces)
            for frame in iter_frames([name])
        ]
        tagged.sort(key=lambda item: (item[0], item[1]))
        self.counts = [sum(1 for _, p, _ in tagged if p == i) for i in range(len(self.interfaces))]
        self.source = FileSource.__new__(FileSource)
        self.source.frames = [
            RawFrame(index, f.ts, f.linktype, f.data, f.orig_len, position)
            for index, (_, position, f) in enumerate(tagged, 1)
        ]
        self.source.frames_read = 0

    def __enter__(self) -> FileSources:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @property
    def frames_read(self) -> int:
        return self.source.frames_read

    def read(self, timeout: float = 0.5) -> list[RawFrame]:
        return self.source.read(timeout)

    def now(self) -> float:
        return self.source.now()

    def stats(self) -> KernelStats:
        return self.source.stats()

    def stats_by_interface(self) -> dict[str, KernelStats]:
        return {
            name: KernelStats(received=count, dropped=0)
            for name, count in zip(self.interfaces, self.counts, strict=True)
        }
