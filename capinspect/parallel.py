"""``analyze --jobs N``: capture files that are apart in time, analysed in parallel processes.

Why: a ticket may bring several captures of separate events (one per morning, one per site),
and on a two-core laptop the second core is idle while the first reads. Each file is read by its
own process with its own engine; the results are merged into one :class:`Analysis`, and the
per-phone grouping (devices.py) then merges each phone's DHCP, DNS, check-ins and downloads
across files, by MAC, as it does within one file.

When: only if the files are *independent*. Sorted by time, each must end at least
:func:`independence_gap` seconds (the longest time any stage waits for the rest of something:
a TCP flow's idle timeout, the DHCP exchange window, the DNS timeout) before the next begins.
Then nothing can span two files, and numbering each file's frames on from the files before it
gives exactly the frame numbers of the merged stream (what ``mergecap`` and the sequential read
give). Files that overlap or follow closely (ring-buffer rotations, two switch ports of one
event) are not: :func:`analyze_in_parallel` returns None and they are read as one merged
stream, so ``--jobs`` never changes a result.

One difference is inherent: what the engine learns in one file about which addresses belong to
phones (to decide which DNS lookups and connections to follow) is not carried into the next;
each file is analysed as if it had been given alone. docs/performance.md has the measurements.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from itertools import accumulate
from multiprocessing.context import BaseContext

import numpy as np
from numpy.typing import NDArray

from capinspect.analysis import Analysis, ArpBinding
from capinspect.anomalies import bounded
from capinspect.limits import MAX_ARP_PER_IP, Limits
from capinspect.model import CaptureStats, RecordBatch
from capinspect.protocols.dhcp.messages import DhcpBackground, DhcpBinding
from capinspect.protocols.tls.keys import TlsKeys
from capinspect.reading import Progress, read_captures
from capinspect.sources.capture import open_capture


@dataclass(frozen=True, slots=True)
class CaptureSpan:
    """How many frames a file holds and the packet time they cover (None when empty)."""

    path: str
    size: int
    frames: int
    first_ts: float | None
    last_ts: float | None


def independence_gap(limits: Limits) -> float:
    """Seconds between two files beyond which no exchange, lookup or flow joins them."""
    return max(limits.flow_idle_timeout, limits.dhcp_exchange_window, limits.dns_timeout)


def scan(path: str) -> CaptureSpan:
    """Count a file's frames and find its earliest and latest packet time, keeping nothing."""
    low, high = float("inf"), float("-inf")

    def sieve(batch: RecordBatch) -> NDArray[np.intp]:
        nonlocal low, high
        low, high = min(low, float(batch.ts.min())), max(high, float(batch.ts.max()))
        return np.empty(0, dtype=np.intp)

    reader = open_capture(path, digest=False)
    for record in reader.records(sieve):  # only pcapng blocks read on their own come out
        low, high = min(low, record[1]), max(high, record[1])
    if reader.frames == 0:
        return CaptureSpan(path, reader.size, 0, None, None)
    return CaptureSpan(path, reader.size, reader.frames, low, high)


def first_time(path: str) -> float | None:
    """The packet time of a file's first record (None when it has none): a cheap peek."""
    reader = open_capture(path, digest=False)
    try:
        first = next(reader.records(), None)
    finally:
        reader.finish()
    return None if first is None else first[1]


def apart(spans: Sequence[CaptureSpan], gap: float) -> bool:
    """Whether files, in time order, each end ``gap`` seconds before the next begins."""
    timed = [span for span in spans if span.first_ts is not None]
    for earlier, later in zip(timed, timed[1:], strict=False):
        assert earlier.last_ts is not None and later.first_ts is not None
        if later.first_ts - earlier.last_ts < gap:
            return False
    return True


def analyze_in_parallel(
    files: Sequence[str],
    limits: Limits,
    jobs: int,
    progress: Progress | None,
    follow_all: bool,
    tls_keys: TlsKeys,
) -> Analysis | None:
    """Analyse ``files`` in up to ``jobs`` processes and merge; None when they are not
    independent (see the module docstring) and must be read as one stream.

    Frame numbers need the frame counts of the files before: every file but the last in time
    (by its first record) is counted first, in parallel, which also says whether they are apart;
    then all are analysed. The last file is never counted: its analysis says where it ends.
    """
    heads = [first_time(path) for path in files]
    order = sorted(range(len(files)), key=lambda i: (heads[i] is None, heads[i] or 0.0, i))
    total = sum(os.path.getsize(path) for path in files)
    gap = independence_gap(limits)
    with ProcessPoolExecutor(max_workers=min(jobs, len(files)), mp_context=_context()) as pool:
        spans = list(pool.map(scan, [files[i] for i in order[:-1]]))
        last = order[-1]
        if not apart([*spans, CaptureSpan(files[last], 0, 0, heads[last], heads[last])], gap):
            return None
        firsts = accumulate((span.frames for span in spans), initial=1)
        analyses = {
            pool.submit(_analyze_one, files[i], limits, follow_all, tls_keys, first): i
            for i, first in zip(order, firsts, strict=True)
        }
        parts: dict[int, Analysis] = {}
        done = 0
        for future in as_completed(analyses):
            position = analyses[future]
            parts[position] = future.result()
            done += os.path.getsize(files[position])
            if progress is not None:
                progress(done, total)
    if any(a.code == "capture.time-backwards" for a in parts[last].anomalies):
        return None  # its first record may not be its earliest: the check above may be wrong
    return merge_analyses([parts[i] for i in range(len(files))])


def _context() -> BaseContext:
    """Fork when this process has no other thread (workers start at once, with every module
    already imported); else a fork server that imported the sequential read once, since forking a
    process with threads can leave a lock held forever in the child."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        forkserver = multiprocessing.get_context("forkserver")
        forkserver.set_forkserver_preload(["capinspect.reading"])
        return forkserver
    return multiprocessing.get_context("spawn")


def _analyze_one(
    path: str, limits: Limits, follow_all: bool, tls_keys: TlsKeys, first_index: int
) -> Analysis:
    return read_captures(
        [path], limits, follow_all=follow_all, tls_keys=tls_keys, first_index=first_index
    )


def merge_analyses(parts: Sequence[Analysis]) -> Analysis:
    """One Analysis of files analysed apart, their frames already numbered as one stream."""
    return Analysis(
        inputs=tuple(item for part in parts for item in part.inputs),
        stats=merge_stats([part.stats for part in parts]),
        dhcp=tuple(
            sorted((ex for part in parts for ex in part.dhcp), key=lambda ex: min(ex.frames))
        ),
        dns=tuple(
            sorted(
                (lookup for part in parts for lookup in part.dns),
                key=lambda lookup: min((*lookup.query_frames, *lookup.response_frames)),
            )
        ),
        http=tuple(
            sorted(
                (ex for part in parts for ex in part.http),
                key=lambda ex: (ex.request.frame, ex.index),
            )
        ),
        other_flows=tuple(
            sorted((flow for part in parts for flow in part.other_flows), key=lambda f: f.frame)
        ),
        arp=_merge_arp([part.arp for part in parts]),
        anomalies=bounded(anomaly for part in parts for anomaly in part.anomalies),
        tls=tuple(sorted((c for part in parts for c in part.tls), key=lambda c: c.frame)),
        dhcp_background=_merge_background([part.dhcp_background for part in parts]),
        checkins=tuple(
            sorted(
                (c for part in parts for c in part.checkins),
                key=lambda c: (c.exchange.request.frame, c.exchange.index),
            )
        ),
        ntp=tuple(sorted((ex for part in parts for ex in part.ntp), key=lambda ex: ex.frame)),
        connects=tuple(sorted((c for part in parts for c in part.connects), key=lambda c: c.frame)),
    )


def merge_stats(parts: Sequence[CaptureStats]) -> CaptureStats:
    """Counters added, times widened, link types and VLANs united."""
    firsts = [s.first_ts for s in parts if s.first_ts is not None]
    lasts = [s.last_ts for s in parts if s.last_ts is not None]
    return CaptureStats(
        frames=sum(s.frames for s in parts),
        bytes=sum(s.bytes for s in parts),
        frames_kept=sum(s.frames_kept for s in parts),
        first_ts=min(firsts) if firsts else None,
        last_ts=max(lasts) if lasts else None,
        linktypes=tuple(sorted({t for s in parts for t in s.linktypes})),
        vlans=tuple(sorted({v for s in parts for v in s.vlans})),
        udp_frames=sum(s.udp_frames for s in parts),
        tcp_frames=sum(s.tcp_frames for s in parts),
        tcp443_frames=sum(s.tcp443_frames for s in parts),
        tcp80_frames=sum(s.tcp80_frames for s in parts),
        dhcp_frames=sum(s.dhcp_frames for s in parts),
        dns_frames=sum(s.dns_frames for s in parts),
        other_frames=sum(s.other_frames for s in parts),
        tunnels=_merge_counts(s.tunnels for s in parts),
        tunnels_not_decoded=_merge_counts(s.tunnels_not_decoded for s in parts),
    )


def _merge_counts(
    parts: Iterable[tuple[tuple[str, int], ...]],
) -> tuple[tuple[str, int], ...]:
    """Per-kind counts added, in the decoder's order (by kind)."""
    total: Counter[str] = Counter()
    for part in parts:
        total.update(dict(part))
    return tuple(sorted(total.items()))


def _merge_arp(parts: Sequence[tuple[ArpBinding, ...]]) -> tuple[ArpBinding, ...]:
    """As one engine keeps them: per address in order of first sight, a binding only when the
    MAC changed, at most ``MAX_ARP_PER_IP`` per address."""
    by_ip: dict[str, list[ArpBinding]] = {}
    for binding in sorted((b for part in parts for b in part), key=lambda b: b.frame):
        kept = by_ip.setdefault(binding.ip, [])
        if (not kept or kept[-1].mac != binding.mac) and len(kept) < MAX_ARP_PER_IP:
            kept.append(binding)
    return tuple(b for kept in by_ip.values() for b in kept)


def _merge_background(parts: Sequence[DhcpBackground]) -> DhcpBackground:
    classes: Counter[str] = Counter()
    for part in parts:
        classes.update(dict(part.vendor_classes))
    return DhcpBackground(
        clients=sum(p.clients for p in parts),
        exchanges=sum(p.exchanges for p in parts),
        messages=sum(p.messages for p in parts),
        vendor_classes=tuple(classes.most_common()),
        bindings=_changes_of_hands(
            sorted((b for p in parts for b in p.bindings), key=lambda b: b.ts)
        ),
    )


def _changes_of_hands(bindings: list[DhcpBinding]) -> tuple[DhcpBinding, ...]:
    """Only the bindings that gave an address to another MAC than the one before."""
    owner: dict[str, str] = {}
    kept = []
    for binding in bindings:
        if owner.get(binding.ip) != binding.mac:
            owner[binding.ip] = binding.mac
            kept.append(binding)
    return tuple(kept)
