"""Per-phone state changes as self-contained events (schema ``events@1``, docs/events.md).

The builder reads what the live monitor (:mod:`capinspect.live`) says — the timeline steps not
shown before, and a verdict each time a phone's sequence ends or a stage times out — plus each
phone as the monitor's latest evaluation saw it, and emits one event per change:

* ``phone-first-seen`` — the first time a phone is known (before its first step);
* ``stage-reached`` — the first step of each stage (``dhcp``, ``inform``, ``dns``, ``tls``,
  ``checkin``, ``download``) in each boot of the phone;
* ``finding-raised`` — a fail or warn finding not raised before (by check ID and first frame),
  when the verdict that rests on it is given;
* ``verdict-changed`` — a verdict (the live monitor gives one only when what it rests on
  changed), and at the end of the capture the final report's verdict where it differs from the
  last one given;
* ``phone-idle`` — a judged phone sent nothing for :data:`IDLE_AFTER` seconds of packet time.

Every event carries the phone's context (MAC, addresses, VLANs, model, firmware, latest
verdict), the sensor and the interface, so a log pipeline needs no join. Times are packet
times; nothing here reads the wall clock, so the same frames give the same events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from capinspect import __version__
from capinspect.checks.base import Finding, Severity
from capinspect.devices import DeviceSession
from capinspect.live import LiveEvent, StepEvent, VerdictEvent
from capinspect.report.json_values import iso
from capinspect.report.model import DeviceReport, Report
from capinspect.report.timeline import step_summary

SCHEMA = "events@1"
"""Written into every event as ``capinspect.schema``; a change of meaning bumps the number."""
ECS_VERSION = "8.11.0"
"""The Elastic Common Schema version whose field names the events use."""
IDLE_AFTER = 60.0
"""Seconds of packet time without a frame from a judged phone before ``phone-idle``: a phone
whose update went through (or failed) is quiet after it, one still working is not."""
MAX_FRAMES = 32
"""Frame numbers listed in one event at most (a finding may cite hundreds)."""
MAX_TEXT = 1024
"""Characters of one text field at most (summaries quote the capture); syslog receivers cut
long messages (rsyslog's default is 8 KiB)."""

ACTIONS = (
    "phone-first-seen",
    "stage-reached",
    "finding-raised",
    "verdict-changed",
    "phone-idle",
)
STAGES = ("dhcp", "inform", "dns", "tls", "checkin", "download")

SYSLOG_SEVERITY = {"fail": 3, "warn": 4, "inconclusive": 5, "pass": 6, "info": 6}
"""``event.severity`` (and the syslog severity): RFC 5424's numbers, lower is worse — error
for fail, warning for warn, notice for inconclusive, informational otherwise."""
_OUTCOME = {"pass": "success", "warn": "success", "fail": "failure", "inconclusive": "unknown"}

InterfaceOf = Callable[[DeviceSession], str | None]


def ecs_mac(mac: str | None) -> str | None:
    """ECS spells MAC addresses ``00-21-63-0F-44-10``."""
    return mac.replace(":", "-").upper() if mac else None


def _text(value: str) -> str:
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def milestone(stage: str, summary: str) -> str | None:
    """Which stage a timeline step reaches (``None``: a step that is not one of them)."""
    if stage == "dhcp":
        return "inform" if summary.startswith("DHCPINFORM") else "dhcp"
    return stage if stage in STAGES else None


def boot_of(session: DeviceSession, ts: float) -> int:
    """Which boot of the phone (0 before the first DHCP lease exchange seen) a time falls in."""
    return sum(1 for start in session.boots if start <= ts)


@dataclass(slots=True)
class _Phone:
    """What was already said about one phone."""

    item: DeviceReport
    stages: set[tuple[str, int]] = field(default_factory=set)
    findings: set[tuple[str, int]] = field(default_factory=set)
    verdict: str | None = None
    verdict_ts: float = 0.0
    signature: tuple[object, ...] | None = None
    idle_reported: float | None = None
    """The ``last_ts`` whose idleness was reported (a new frame makes the phone active)."""


class EventBuilder:
    """Live monitor output in, event dictionaries out (in the order things happened)."""

    def __init__(
        self,
        sensor: str,
        interface_of: InterfaceOf | None = None,
        idle_after: float = IDLE_AFTER,
    ) -> None:
        self.sensor = sensor
        self.interface_of = interface_of
        self.idle_after = idle_after
        self.sequence = 0
        self._phones: dict[str, _Phone] = {}

    # -- from the live monitor ----------------------------------------------------------------

    def observe(
        self, events: Iterable[LiveEvent], devices: Mapping[str, DeviceReport]
    ) -> list[dict[str, Any]]:
        """The events for what one call of the monitor said; ``devices`` is its latest view."""
        out: list[dict[str, Any]] = []
        for event in events:
            if isinstance(event, StepEvent):
                item = devices.get(event.device)
                if item is None:
                    continue
                phone = self._phone(item, event.ts, out)
                self._step(phone, event.stage, event.summary, event.ts, event.frame, out)
            elif isinstance(event, VerdictEvent):
                phone = self._phone(event.report, event.ts, out)
                # A sequence that ended did so with the phone's last frame (not when the
                # monitor happened to look); a timeout when the monitor saw it pass.
                last = event.report.session.last_ts
                at = last if event.cause == "complete" and last <= event.ts else event.ts
                self._verdict(phone, at, event.cause, event.reason, out)
        return out

    def idle(self, now: float, devices: Mapping[str, DeviceReport]) -> list[dict[str, Any]]:
        """``phone-idle`` for judged phones quiet for :attr:`idle_after` seconds by ``now``."""
        out: list[dict[str, Any]] = []
        due = []
        for key, phone in self._phones.items():
            item = devices.get(key, phone.item)
            phone.item = item
            last = item.session.last_ts
            if phone.verdict is None or phone.idle_reported == last:
                continue
            at = max(last + self.idle_after, phone.verdict_ts)
            if now >= at:
                due.append((at, key, phone))
        for at, _, phone in sorted(due, key=lambda d: (d[0], d[1])):
            phone.idle_reported = phone.item.session.last_ts
            out.append(
                self._event(
                    phone,
                    at,
                    "phone-idle",
                    "event",
                    f"no frame for {self.idle_after:g} s after its verdict",
                    severity=SYSLOG_SEVERITY["info"],
                )
            )
        return out

    def finish(self, report: Report) -> list[dict[str, Any]]:
        """End of the capture: what the final report adds (steps never evaluated live, and
        each phone's final verdict where it differs from the last one given)."""
        out: list[dict[str, Any]] = []
        last = report.analysis.stats.last_ts
        end = last if last is not None else 0.0
        items = sorted(report.devices, key=lambda d: (d.session.first_ts, d.session.key))
        for item in items:
            phone = self._phone(item, item.session.first_ts, out)
            for step in item.session.timeline:
                summary = step_summary(step, final=False)  # as live worded it
                self._step(phone, step.stage, summary, step.ts, step.frame, out)
            self._verdict(phone, max(end, item.session.last_ts), "end", "end of capture", out)
        return out

    # -- the pieces ---------------------------------------------------------------------------

    def _phone(self, item: DeviceReport, ts: float, out: list[dict[str, Any]]) -> _Phone:
        phone = self._phones.get(item.session.key)
        if phone is not None:
            phone.item = item
            return phone
        phone = self._phones[item.session.key] = _Phone(item)
        session = item.session
        label = " ".join(p for p in (session.identity.vendor, session.identity.model) if p)
        out.append(
            self._event(
                phone,
                min(ts, session.first_ts),
                "phone-first-seen",
                "event",
                f"phone {session.key} first seen" + (f" ({label})" if label else ""),
                severity=SYSLOG_SEVERITY["info"],
            )
        )
        return phone

    def _step(
        self,
        phone: _Phone,
        stage: str,
        summary: str,
        ts: float,
        frame: int,
        out: list[dict[str, Any]],
    ) -> None:
        reached = milestone(stage, summary)
        if reached is None:
            return
        key = (reached, boot_of(phone.item.session, ts))
        if key in phone.stages:
            return
        phone.stages.add(key)
        event = self._event(
            phone,
            ts,
            "stage-reached",
            "event",
            f"{reached}: {summary}",
            severity=SYSLOG_SEVERITY["info"],
            frames=(frame,),
        )
        event["capinspect"]["stage"] = reached
        event["capinspect"]["boot"] = key[1]
        out.append(event)

    def _verdict(
        self, phone: _Phone, ts: float, cause: str, reason: str, out: list[dict[str, Any]]
    ) -> None:
        item = phone.item
        verdict = str(item.verdict.verdict)
        raised = [f for f in item.findings if f.severity != Severity.INFO]
        signature = (verdict, tuple(sorted(f.check_id for f in raised)))
        if cause == "end" and signature == phone.signature:
            return
        phone.verdict = verdict  # the findings' events carry the verdict they belong to
        phone.verdict_ts = ts
        for finding in raised:
            fkey = (finding.check_id, finding.frames[0] if finding.frames else 0)
            if fkey in phone.findings:
                continue
            phone.findings.add(fkey)
            out.append(self._finding(phone, finding, ts))
        phone.signature = signature
        root = item.verdict.root_cause
        event = self._event(
            phone,
            ts,
            "verdict-changed",
            "state",
            f"{verdict.upper()}: {item.verdict.reason}",
            severity=SYSLOG_SEVERITY[verdict],
            frames=root.frames if root is not None else (),
        )
        event["event"]["outcome"] = _OUTCOME[verdict]
        event["event"]["reason"] = _text(reason)
        event["capinspect"]["cause"] = cause
        event["capinspect"]["findings"] = sorted({f.check_id for f in raised})
        if root is not None:
            event["rule"] = {
                "id": root.check_id,
                "name": root.title,
                "category": root.check_id.split(".", 1)[0],
            }
            event["capinspect"]["severity"] = str(root.severity)
        out.append(event)

    def _finding(self, phone: _Phone, finding: Finding, ts: float) -> dict[str, Any]:
        severity = str(finding.severity)
        event = self._event(
            phone,
            finding.ts if finding.ts is not None else ts,
            "finding-raised",
            "alert",
            finding.summary,
            severity=SYSLOG_SEVERITY[severity],
            frames=finding.frames,
        )
        event["event"]["outcome"] = "failure" if severity == "fail" else "unknown"
        event["rule"] = {
            "id": finding.check_id,
            "name": finding.title,
            "category": finding.check_id.split(".", 1)[0],
        }
        event["capinspect"]["severity"] = severity
        event["capinspect"]["remediation"] = _text(finding.remediation)
        return event

    def _event(
        self,
        phone: _Phone,
        ts: float,
        action: str,
        kind: str,
        message: str,
        *,
        severity: int,
        frames: Iterable[int] = (),
    ) -> dict[str, Any]:
        """One event with the phone's whole context (ECS names; ``capinspect.*`` the rest)."""
        self.sequence += 1
        session = phone.item.session
        observer: dict[str, Any] = {
            "hostname": self.sensor,
            "product": "capinspect",
            "type": "sensor",
            "version": __version__,
        }
        interface = self.interface_of(session) if self.interface_of is not None else None
        if interface is not None:
            observer["ingress"] = {"interface": {"name": interface}}
        event: dict[str, Any] = {
            "@timestamp": iso(ts),
            "message": _text(message),
            "ecs": {"version": ECS_VERSION},
            "event": {
                "kind": kind,
                "category": ["network"],
                "type": ["info"],
                "action": action,
                "severity": severity,
                "sequence": self.sequence,
                "module": "capinspect",
                "dataset": "capinspect.events",
            },
            "host": {"name": self.sensor},
            "observer": observer,
        }
        source: dict[str, Any] = {}
        if session.mac:
            source["mac"] = ecs_mac(session.mac)
        if session.ips:
            source["ip"] = session.ips[0]
        if source:
            event["source"] = source
        if session.vlans:
            event["network"] = {"vlan": {"id": str(session.vlans[0])}}
        identity = session.identity
        if identity.vendor or identity.model:
            device: dict[str, Any] = {}
            if identity.vendor:
                device["manufacturer"] = _text(identity.vendor)
            if identity.model:
                device["model"] = {"name": _text(identity.model)}
            event["device"] = device
        firmware = phone.item.firmware_versions
        event["capinspect"] = {
            "schema": SCHEMA,
            "device": session.key,
            "ips": list(session.ips[:8]),
            "vlans": list(session.vlans[:8]),
            "firmware": firmware[-1] if firmware else None,
            "verdict": phone.verdict,
            "frames": list(frames)[:MAX_FRAMES],
        }
        return event
