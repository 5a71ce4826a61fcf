"""Capture files → Analysis → per-phone sessions → findings → Report.

The CLI, the live mode and the tests all go through these three functions, so a file and a live
interface share every stage after the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from capinspect.analysis import Analysis
from capinspect.checks import ALL_CHECKS
from capinspect.checks.base import SEVERITY_ORDER, CheckContext, Finding
from capinspect.checks.capture import check_capture
from capinspect.checks.verdict import judge
from capinspect.devices import build_population
from capinspect.engine import Engine
from capinspect.expectations import Expectations
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.logs.audit import AuditRecord
from capinspect.logs.fill import fill_population
from capinspect.model import RawFrame
from capinspect.parallel import analyze_in_parallel, independence_gap
from capinspect.protocols.tls.keys import NO_KEYS, TlsKeys
from capinspect.reading import Progress, read_captures
from capinspect.report.model import DeviceReport, Report, order_devices
from capinspect.sources.merge import expand_inputs

__all__ = ["Progress", "analyze_frames", "analyze_paths", "evaluate"]


def analyze_frames(frames: Iterable[RawFrame], limits: Limits = DEFAULT_LIMITS) -> Analysis:
    """Analyse frames from any source (tests, fuzzing): the same engine as files and live."""
    engine = Engine(limits)
    for frame in frames:
        engine.feed(frame)
    return engine.finish()


def analyze_paths(
    paths: Sequence[str],
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
    *,
    follow_all: bool = False,
    tls_keys: TlsKeys = NO_KEYS,
    jobs: int = 1,
    first_index: int = 1,
    note: Callable[[str], None] | None = None,
) -> Analysis:
    """Read and analyse capture files (merged in time order); raises InputError when unusable.

    ``follow_all`` keeps every HTTP exchange and DNS lookup, not only a phone's (Engine).
    ``jobs`` > 1 analyses files that are apart in time in parallel processes and merges the
    results (capinspect/parallel.py); files that are not are read as one merged stream.
    ``first_index`` numbers the first frame of a single file (see ``reading``); ``note``
    is told in one line how ``jobs`` was used."""
    if jobs > 1:
        files = expand_inputs(paths)
        if len(files) > 1:
            merged = analyze_in_parallel(files, limits, jobs, progress, follow_all, tls_keys)
            if note is not None:
                note(
                    f"--jobs: {len(files)} files analysed apart in up to {min(jobs, len(files))}"
                    " processes"
                    if merged is not None
                    else "--jobs: the files overlap in time or follow each other within"
                    f" {independence_gap(limits):.0f} s; read as one merged stream"
                )
            if merged is not None:
                return merged
    return read_captures(
        paths,
        limits,
        progress,
        follow_all=follow_all,
        tls_keys=tls_keys,
        first_index=first_index,
    )


def _sort_key(finding: Finding) -> tuple[int, float, str]:
    return (SEVERITY_ORDER[finding.severity], finding.ts or 0.0, finding.check_id)


def evaluate(
    analysis: Analysis,
    expect: Expectations,
    elapsed: float | None = None,
    limits: Limits = DEFAULT_LIMITS,
    audit: Sequence[AuditRecord] = (),
) -> Report:
    """Build the phones' sessions, run every check and judge each phone; the phones come in
    the order every report lists them (failing first, see ``report.model.order_devices``).

    ``audit``: Device Update audit-log rows (``--audit-log``) that fill in the encrypted
    check-ins no key opened (``logs/fill.py``)."""
    population = fill_population(build_population(analysis, expect, limits), audit)
    devices = population.phones
    ctx = CheckContext(
        expect=expect,
        analysis=analysis,
        capture_end=analysis.stats.last_ts,
        population=population,
    )
    reports: list[DeviceReport] = []
    for device in devices:
        findings: list[Finding] = []
        for check in ALL_CHECKS:
            findings.extend(check.run(device, ctx))
        findings.sort(key=_sort_key)
        reports.append(DeviceReport(device, tuple(findings), judge(device, findings)))
    capture = sorted(check_capture(devices, ctx), key=_sort_key)
    return Report(
        analysis,
        order_devices(reports),
        tuple(capture),
        expect,
        elapsed,
        other_clients=population.other_clients,
        other_clients_dropped=population.other_clients_dropped,
    )
