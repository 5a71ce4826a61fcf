"""Verdicts as they happen: the incremental side of ``capinspect live``.

A :class:`LiveMonitor` is fed frames (from :mod:`capinspect.sources.live`, or from a file in
tests). It hands every frame to the same :class:`~capinspect.engine.Engine` that ``analyze``
uses, and, when something that can concern a phone completed (a phone's DHCP message, an HTTP
exchange) or at most once per second of packet time, it looks at the engine's state so far with
the same ``evaluate`` as ``analyze`` (devices, every check, the verdict). From that it emits:

* :class:`StepEvent` — a phone's timeline step not shown before (DHCP, DNS, check-in, download);
* :class:`VerdictEvent` — a phone's verdict, when its sequence reached an end (the check-in
  answered with nothing to fetch, every offered file fetched, or a fetch failed) or a stage
  timed out (:class:`Timeouts`). A phone that goes on (reboots into new firmware and checks in
  again) gets a new verdict when that next sequence ends.

The final report is not built from these snapshots: :meth:`LiveMonitor.finish` runs
``Engine.finish`` and ``evaluate`` exactly as ``analyze`` does, so a live run and a file of the
same frames give the same report. Timeouts are in packet time (the frames' timestamps, or the
capture clock via :meth:`LiveMonitor.tick` when the interface is quiet), never the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from capinspect.devices import DeviceSession
from capinspect.engine import Engine
from capinspect.expectations import DEFAULT_EXPECTATIONS, Expectations
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import Anomaly, InputFile, RawFrame
from capinspect.pipeline import evaluate
from capinspect.protocols.dhcp.messages import DhcpSeen
from capinspect.protocols.tls.keys import NO_KEYS, TlsKeys
from capinspect.report.model import DeviceReport, Report
from capinspect.report.timeline import step_summary

EVAL_INTERVAL = 1.0
"""Seconds of packet time between two looks at the engine's state when nothing phone-related
completed (catches DNS lookups, which complete inside the engine, and timeouts)."""
URGENT_INTERVAL = 0.2
"""Seconds of packet time at least between two looks when phone transactions complete: a
burst of them (a download's many exchanges) costs one evaluation, not one each."""
COST_FACTOR = 10.0
"""An evaluation grows with the phones' transactions kept for the final report; the next one
waits at least this many times as long as the last took, so judging stays under about a tenth
of the time and the socket keeps being read (bench/live_rate.py, docs/live.md)."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long, in packet time, a stage may take before the live mode gives its verdict.

    Documented in docs/live.md; ``capinspect live`` exposes each as an option.
    """

    checkin_after_dhcp: float = 60.0
    """No check-in this long after the phone's last DHCP message: judge what was seen. A
    healthy phone checks in within seconds of its DHCPINFORM; 60 s leaves room for a slow
    sign-in screen."""
    response_after_checkin: float = 30.0
    """A check-in with no response this long after it was sent (WinInet gives up sooner)."""
    download_after_offer: float = 300.0
    """Files offered but not (all) fetched this long after the check-in: the seed says a phone
    downloads once it has been idle five minutes, so waiting longer than that is pointless."""


@dataclass(frozen=True, slots=True)
class StepEvent:
    """A step of a phone's boot, as the timeline shows it."""

    device: str
    """The device key (its MAC, or ``ip:<address>``)."""
    ts: float
    frame: int
    stage: str
    direction: str
    peer: str
    summary: str


@dataclass(frozen=True, slots=True)
class VerdictEvent:
    """A phone's verdict at the end of a sequence or after a stage timed out."""

    device: str
    ts: float
    """Packet time at which the verdict was reached."""
    cause: str
    """``complete`` or ``timeout``."""
    reason: str
    """Which end was reached, or which stage timed out and after how long."""
    report: DeviceReport


DEFAULT_TIMEOUTS = Timeouts()

LiveEvent = StepEvent | VerdictEvent


def sequence_state(
    session: DeviceSession, now: float, timeouts: Timeouts
) -> tuple[str, str] | None:
    """Has this phone's current sequence ended (``complete``) or stalled (``timeout``)?

    Returns ``(cause, reason)``, or ``None`` while the phone is still expected to go on. The
    sequence is the last check-in and what follows it, or, before any check-in, the last DHCP.
    """
    last_dhcp = max((seen.ts for ex in session.dhcp for seen in ex.messages), default=None)
    last = session.checkins[-1] if session.checkins else None
    if last is None or (last_dhcp is not None and last_dhcp > last.ts):
        # Before the first check-in, or the phone booted again (into new firmware): the
        # sequence is this boot's, and the next step expected is a check-in.
        started = last_dhcp if last_dhcp is not None else session.first_ts
        if now - started >= timeouts.checkin_after_dhcp:
            return "timeout", f"no check-in within {timeouts.checkin_after_dhcp:g} s after DHCP"
        return None
    if last.exchange.response is None:
        if now - last.ts >= timeouts.response_after_checkin:
            return "timeout", (
                f"no response to the check-in (frame {last.frame}) within "
                f"{timeouts.response_after_checkin:g} s"
            )
        return None
    offered = last.offered
    if last.status != 200 or not offered:
        return "complete", f"check-in answered {last.status}, nothing to download"
    fetched = [d for d in session.downloads if d.offered_by == last.frame]
    if any(not d.ok for d in fetched):
        return "complete", "a firmware download failed"
    if len({d.file_name for d in fetched}) >= len({m.url or m.file_name for m in offered}):
        return "complete", f"{len(fetched)} offered file(s) downloaded"
    if now - last.ts >= timeouts.download_after_offer:
        return "timeout", (
            f"{len(offered)} file(s) offered, {len(fetched)} fetched within "
            f"{timeouts.download_after_offer:g} s of the check-in"
        )
    return None


@dataclass(slots=True)
class _Shown:
    """What was already printed for one device."""

    steps: set[tuple[str, str, int]] = field(default_factory=set)
    signature: tuple[object, ...] | None = None
    """What the last verdict given rested on; a new one is given when this changes."""
    settled: bool = False
    """The device's current sequence has ended or timed out (no need to look again)."""


class LiveMonitor:
    """Frames in, :data:`LiveEvent` values out, the full :class:`Report` at the end."""

    def __init__(
        self,
        expect: Expectations = DEFAULT_EXPECTATIONS,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        *,
        tls_keys: TlsKeys = NO_KEYS,
        cost_factor: float = COST_FACTOR,
    ) -> None:
        """``tls_keys`` decrypt HTTPS check-ins, as in ``analyze``; ``cost_factor`` 0 spaces
        evaluations in packet time only (``analyze --events``: the same frames always give the
        same events, however long an evaluation takes)."""
        self.engine = Engine(limits, tls_keys=tls_keys)
        self.expect = expect
        self.limits = limits
        self.timeouts = timeouts
        self.cost_factor = cost_factor
        self.now: float | None = None
        self._dirty = False
        self._urgent = False
        self._last_eval: float | None = None
        self._eval_cost = 0.0
        self._shown: dict[str, _Shown] = {}
        self.verdicts: dict[str, VerdictEvent] = {}
        """The latest verdict given for each device."""
        self.last_report: Report | None = None
        """The report of the latest look at the engine's state (what the events came from)."""
        self.devices: dict[str, DeviceReport] = {}
        """Each device as the latest evaluation saw it (capinspect/events reads it)."""

    def feed(self, frame: RawFrame) -> list[LiveEvent]:
        """One frame through the engine; the events it (or the time it carries) caused.

        An evaluation that was held back (see :meth:`_maybe_evaluate`) and is due by this
        frame's time runs *before* the frame is fed: it judges the state the earlier frames
        left (a finished download) before this one changes it (the phone's reboot DHCP).
        """
        events: list[LiveEvent] = []
        if (self._urgent or self._dirty) and self.now is not None and frame.ts > self.now:
            self.now = frame.ts
            events.extend(self._maybe_evaluate())
        kept = self.engine.decoder.frames_kept
        for done in self.engine.feed(frame):
            if not isinstance(done, DhcpSeen) or done.message.chaddr in self.engine.interest.macs:
                self._urgent = True
        if self.engine.decoder.frames_kept != kept:
            self._dirty = True
        if self.now is None or frame.ts > self.now:
            self.now = frame.ts
        events.extend(self._maybe_evaluate())
        return events

    def feed_all(self, frames: Iterable[RawFrame]) -> list[LiveEvent]:
        out: list[LiveEvent] = []
        for frame in frames:
            out.extend(self.feed(frame))
        return out

    def tick(self, now: float) -> list[LiveEvent]:
        """Packet time went on with no frame (a quiet interface): look for stage timeouts."""
        if self.now is not None and now > self.now:
            self.now = now
            return self._maybe_evaluate()
        return []

    @property
    def all_settled(self) -> bool:
        """Every device seen has a verdict for its current sequence (``--until-verdict``)."""
        return bool(self._shown) and all(shown.settled for shown in self._shown.values())

    def _maybe_evaluate(self, *, force: bool = False) -> list[LiveEvent]:
        """Evaluate when a phone's transaction completed (at most every
        :data:`URGENT_INTERVAL`) or, otherwise, every :data:`EVAL_INTERVAL` if a frame was kept
        or a device awaits its verdict; never sooner than :data:`COST_FACTOR` times the last
        evaluation's cost."""
        now = self.now
        if now is None:
            return []
        if not force:
            since = None if self._last_eval is None else now - self._last_eval
            spacing = URGENT_INTERVAL if self._urgent else EVAL_INTERVAL
            if since is not None and since < max(spacing, self.cost_factor * self._eval_cost):
                return []
        if not self._urgent and not self._dirty:
            if all(shown.settled for shown in self._shown.values()):
                return []
        self._urgent = self._dirty = False
        self._last_eval = now
        started = time.perf_counter()
        events = self._evaluate(now)
        self._eval_cost = time.perf_counter() - started
        return events

    def flush(self) -> list[LiveEvent]:
        """Evaluate now what is pending (end of a burst, end of the capture)."""
        return self._maybe_evaluate(force=True)

    def _evaluate(self, now: float) -> list[LiveEvent]:
        report = evaluate(self.engine.snapshot(), self.expect, limits=self.limits)
        self.last_report = report
        events: list[LiveEvent] = []
        for item in report.devices:
            session = item.session
            self.devices[session.key] = item
            shown = self._shown.setdefault(session.key, _Shown())
            for step in session.timeline:
                key = (step.stage, step.direction, step.frame)
                if key in shown.steps:
                    continue
                shown.steps.add(key)
                summary = step_summary(step, final=False)  # a query may still be answered
                events.append(
                    StepEvent(
                        session.key,
                        step.ts,
                        step.frame,
                        step.stage,
                        step.direction,
                        step.peer,
                        summary,
                    )
                )
            state = sequence_state(session, now, self.timeouts)
            shown.settled = state is not None
            if state is None:
                continue
            cause, reason = state
            signature = (
                item.verdict.verdict,
                cause,
                reason,
                len(session.checkins),
                len(session.downloads),
                tuple(f.check_id for f in item.findings),
            )
            if signature == shown.signature:
                continue
            shown.signature = signature
            event = VerdictEvent(session.key, now, cause, reason, item)
            self.verdicts[session.key] = event
            events.append(event)
        return events

    def finish(
        self,
        inputs: tuple[InputFile, ...] = (),
        source_anomalies: Iterable[Anomaly] = (),
        elapsed: float | None = None,
    ) -> Report:
        """End of capture: the whole report, built exactly as ``analyze`` builds it."""
        analysis = self.engine.finish(inputs, source_anomalies)
        return evaluate(analysis, self.expect, elapsed=elapsed, limits=self.limits)
