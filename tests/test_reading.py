"""The sequential read: files merged in time order through one engine, numbered from
``first_index``, with progress reported in bytes."""

from __future__ import annotations

from locations import PCAPS

from capinspect.reading import read_captures

ACL = str(PCAPS / "acl-denied.pcap")


def test_frames_are_numbered_from_first_index_and_progress_ends_whole() -> None:
    seen: list[tuple[int, int]] = []
    first = read_captures([ACL], progress=lambda done, total: seen.append((done, total)))
    later = read_captures([ACL], first_index=1001)
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert [f + 1000 for ex in first.dhcp for f in ex.frames] == [
        f for ex in later.dhcp for f in ex.frames
    ]
    assert first.stats == later.stats
