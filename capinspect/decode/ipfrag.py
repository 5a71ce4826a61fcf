"""IP fragment reassembly (IPv4, and IPv6 fragment headers, which work the same way).

Why it matters here: a DHCPACK carrying a long option 43 plus option 120, or a DNS answer over
UDP with many records, can exceed the MTU; without reassembly the phone's configuration would be
invisible. Only the decoder uses this, and only for UDP/TCP datagrams.

Theory of operation: fragments are grouped by (source, destination, identification, protocol).
Each group keeps its pieces by byte offset; the first copy of any byte wins (a later
overlapping fragment that disagrees is recorded as ``ip.fragment-overlap`` — overlapping
fragments are an evasion trick, not something a phone does). The group is complete once the
last fragment (MF clear) fixed the total length and the pieces cover it without a hole.

Bounds (limits.py): at most ``max_ip_fragments`` datagrams are held; the oldest is dropped when
a new one would exceed that (``limit.max_ip_fragments``). A datagram not completed within
``fragment_timeout`` seconds of packet time is dropped as ``ip.fragment-incomplete``. A datagram
can never be longer than 65535 bytes (the IP length field's range), so one group's memory is
bounded too.
"""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import Anomaly

MAX_DATAGRAM = 65_535 + 8
"""Largest reassembled payload: IPv4's 16-bit total length (an IPv6 jumbogram is never
fragmented). Eight bytes of slack accept the last fragment of a maximal IPv6 datagram."""

FragmentKey = tuple[bytes, bytes, int, int]
"""(source address bytes, destination address bytes, identification, protocol)."""


@dataclass(frozen=True, slots=True)
class Reassembled:
    """A complete datagram's payload (the transport header onwards) and its fragments."""

    payload: bytes
    frames: tuple[int, ...]
    """Frame numbers of every fragment, in arrival order."""


class _Pending:
    __slots__ = ("pieces", "total", "frames", "first_ts", "size")

    def __init__(self, first_ts: float) -> None:
        self.pieces: list[tuple[int, bytes]] = []
        self.total: int | None = None
        self.frames: list[int] = []
        self.first_ts = first_ts
        self.size = 0


class IpDefragmenter:
    """Collects fragments; :meth:`add` returns the datagram once its last hole is filled."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.anomalies: list[Anomaly] = []
        # Insertion order is arrival order of each datagram's first fragment, so expiry only
        # ever looks at the front.
        self._pending: dict[FragmentKey, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self,
        key: FragmentKey,
        offset: int,
        more_fragments: bool,
        data: bytes,
        frame: int,
        ts: float,
    ) -> Reassembled | None:
        """Add one fragment (``offset`` in bytes); return the datagram when it is complete.

        A fragment cut by the snap length leaves a hole that never fills: its datagram ends as
        ``ip.fragment-incomplete`` rather than being handed on with invented bytes.
        """
        self.expire(ts)
        end = offset + len(data)
        if end > MAX_DATAGRAM:
            self.anomalies.append(
                Anomaly(
                    "ip.fragment-too-large",
                    f"fragment at offset {offset} with {len(data)} bytes ends beyond the largest"
                    f" possible datagram ({MAX_DATAGRAM} bytes); dropped",
                    frame,
                    ts,
                )
            )
            return None
        group = self._pending.get(key)
        if group is None:
            if len(self._pending) >= self.limits.max_ip_fragments:
                oldest_key = next(iter(self._pending))
                oldest = self._pending.pop(oldest_key)
                self.anomalies.append(
                    Anomaly(
                        "limit.max_ip_fragments",
                        f"{len(self._pending) + 1} datagrams in reassembly; dropped the oldest"
                        f" (fragments in frames {_frame_list(oldest.frames)})",
                        frame,
                        ts,
                    )
                )
            group = self._pending[key] = _Pending(ts)
        group.frames.append(frame)
        if not more_fragments:
            if group.total is not None and group.total != end:
                self.anomalies.append(
                    Anomaly(
                        "ip.fragment-overlap",
                        f"two last fragments disagree on the datagram length ({group.total} vs"
                        f" {end}); keeping the first",
                        frame,
                        ts,
                    )
                )
            elif group.total is None:
                group.total = end
        self._insert(group, offset, data, frame, ts)
        if group.total is None or group.size < group.total:
            return None
        payload = self._assemble(group)
        if payload is None:
            return None
        del self._pending[key]
        return Reassembled(payload, tuple(group.frames))

    def _insert(self, group: _Pending, offset: int, data: bytes, frame: int, ts: float) -> None:
        """Keep only the bytes of ``data`` no earlier fragment supplied; compare the rest."""
        pieces: list[tuple[int, bytes]] = [(offset, data)]
        for start, existing in group.pieces:
            stop = start + len(existing)
            remaining: list[tuple[int, bytes]] = []
            for new_start, new_data in pieces:
                new_stop = new_start + len(new_data)
                if new_stop <= start or new_start >= stop:
                    remaining.append((new_start, new_data))
                    continue
                lo, hi = max(start, new_start), min(stop, new_stop)
                if existing[lo - start : hi - start] != new_data[lo - new_start : hi - new_start]:
                    self.anomalies.append(
                        Anomaly(
                            "ip.fragment-overlap",
                            f"fragment bytes {lo}..{hi} differ from an earlier fragment's;"
                            " keeping the first",
                            frame,
                            ts,
                        )
                    )
                if new_start < start:
                    remaining.append((new_start, new_data[: start - new_start]))
                if new_stop > stop:
                    remaining.append((stop, new_data[stop - new_start :]))
            pieces = remaining
            if not pieces:
                return
        for piece in pieces:
            if piece[1]:
                group.pieces.append(piece)
                group.size += len(piece[1])

    @staticmethod
    def _assemble(group: _Pending) -> bytes | None:
        total = group.total
        assert total is not None
        group.pieces.sort()
        position = 0
        for start, data in group.pieces:
            if start != position:
                return None
            position += len(data)
        if position < total:
            return None
        return b"".join(data for _, data in group.pieces)[:total]

    def expire(self, now: float) -> None:
        """Drop datagrams older than ``fragment_timeout`` (packet time) as incomplete."""
        timeout = self.limits.fragment_timeout
        while self._pending:
            key = next(iter(self._pending))
            group = self._pending[key]
            if now - group.first_ts <= timeout:
                return
            del self._pending[key]
            self._incomplete(group, f"not complete after {timeout:g} s")

    def finish(self) -> None:
        """End of capture: every datagram still held is incomplete."""
        for group in self._pending.values():
            self._incomplete(group, "capture ended first")
        self._pending.clear()

    def _incomplete(self, group: _Pending, why: str) -> None:
        self.anomalies.append(
            Anomaly(
                "ip.fragment-incomplete",
                f"fragmented datagram (frames {_frame_list(group.frames)}) dropped: {why}",
                group.frames[0] if group.frames else None,
                group.first_ts,
            )
        )


Ipv4Defragmenter = IpDefragmenter
"""The name the design uses; the same class serves IPv6 fragment headers."""


def _frame_list(frames: list[int]) -> str:
    shown = ", ".join(str(f) for f in frames[:8])
    return shown + (f", … ({len(frames)} in all)" if len(frames) > 8 else "")
