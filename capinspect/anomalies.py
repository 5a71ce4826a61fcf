"""The one place every stage records its anomalies: bounded, counted per code.

Like Zeek's weird framework, a stage never decides on its own how many anomalies to keep: it
hands each one to an :class:`AnomalySink`, which keeps the first
:data:`~capinspect.limits.MAX_ANOMALIES_PER_CODE` of each code with their frame numbers and
counts every one. A capture of garbage therefore costs a bounded amount of memory, and the
report can still say exactly how many of each code were met: :meth:`AnomalySink.anomalies`
ends with one "N more like this" anomaly per code that went over the bound, whose ``count`` is
N.

The engine gives one sink to every stage it wires (decoder, reassembler, DHCP, DNS, HTTP, TLS,
ARP bindings); a capture reader keeps one per file. A stage built alone (a test) makes its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from capinspect.limits import MAX_ANOMALIES_PER_CODE
from capinspect.model import Anomaly


class AnomalySink:
    """Anomalies as they are met: the first ``keep`` of each code kept, all of them counted.

    ``prefix`` starts the detail of the "more like this" anomalies (a reader names its file).
    """

    __slots__ = ("_kept_per_code", "counts", "keep", "kept", "prefix")

    def __init__(self, keep: int = MAX_ANOMALIES_PER_CODE, *, prefix: str = "") -> None:
        self.keep = keep
        self.prefix = prefix
        self.kept: list[Anomaly] = []
        """The anomalies kept, in the order they were met."""
        self.counts: dict[str, int] = {}
        """Every anomaly met, per code (kept or not): exact."""
        self._kept_per_code: dict[str, int] = {}

    def add(self, anomaly: Anomaly) -> None:
        """Count ``anomaly``; keep it while its code is under the bound.

        An anomaly that already stands for several (``count`` > 1, a "more like this" from
        another sink) is counted, never kept: it has no frame of its own to show.
        """
        code = anomaly.code
        self.counts[code] = self.counts.get(code, 0) + anomaly.count
        kept = self._kept_per_code.get(code, 0)
        if anomaly.count == 1 and kept < self.keep:
            self._kept_per_code[code] = kept + 1
            self.kept.append(anomaly)

    def note(
        self, code: str, detail: str, frame: int | None = None, ts: float | None = None
    ) -> None:
        """Record an anomaly given by its fields."""
        self.add(Anomaly(code, detail, frame, ts))

    def extend(self, anomalies: Iterable[Anomaly]) -> None:
        for anomaly in anomalies:
            self.add(anomaly)

    def __iter__(self) -> Iterator[Anomaly]:
        return iter(self.kept)

    def __len__(self) -> int:
        return len(self.kept)

    @property
    def total(self) -> int:
        """Every anomaly met, kept or counted."""
        return sum(self.counts.values())

    def anomalies(self) -> tuple[Anomaly, ...]:
        """The anomalies kept, then for each code over the bound one anomaly of that code
        standing for the rest (``count`` = how many were counted but not kept)."""
        more = tuple(
            Anomaly(
                code,
                f"{self.prefix}{count - self._kept_per_code.get(code, 0)} more like this "
                f"({count} in all)",
                count=count - self._kept_per_code.get(code, 0),
            )
            for code, count in self.counts.items()
            if count > self._kept_per_code.get(code, 0)
        )
        return (*self.kept, *more)


def bounded(
    anomalies: Iterable[Anomaly], keep: int = MAX_ANOMALIES_PER_CODE
) -> tuple[Anomaly, ...]:
    """``anomalies`` (from several sinks: files, worker processes) under one bound, the counts
    of the "more like this" anomalies carried over."""
    sink = AnomalySink(keep)
    sink.extend(anomalies)
    return sink.anomalies()


def count_by_code(anomalies: Iterable[Anomaly]) -> dict[str, int]:
    """How many anomalies of each code ``anomalies`` stand for (a "more like this" counts N)."""
    counts: dict[str, int] = {}
    for anomaly in anomalies:
        counts[anomaly.code] = counts.get(anomaly.code, 0) + anomaly.count
    return counts
