"""From findings to one verdict per phone, its root cause, and what the capture did not cover.

The policy (docs/verdicts.md):

* ``fail`` — at least one fail finding: the capture shows the phone cannot complete a step of
  its boot, sign-in or update flow, or a required checklist item is violated; the admin must
  change something.
* ``warn`` — at least one warn finding and no fail: the phone completes, but something is risky
  or unproven.
* ``inconclusive`` — nothing wrong was seen, but the capture does not reach the stage that
  decides (no check-in, or an encrypted one; or it ends right after an offer, or the download
  may be inside TLS): the verdict says which stage and what capture to take instead.
* ``pass`` — the boot reached a healthy end: a check-in answered 200 with nothing wrong, and
  every offered file downloaded whole.

A failing (or warned) phone gets one *root cause*: the finding of the earliest stage of the
boot (``STAGE_ORDER``), the earliest in packet time within a stage. The other findings of that
severity are shown after it as what follows from it or fails besides.
"""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.checks import ALL_SPECS
from capinspect.checks.base import Finding, Severity, Verdict, severity_verdict
from capinspect.checks.checkin import offered_not_fetched
from capinspect.devices import DeviceSession
from capinspect.devices.encrypted import INFERRED
from capinspect.knowledge.capturing import capture_advice
from capinspect.knowledge.phone import is_update_name

UNDECIDED_ID = "download.not-attempted"
"""Its info findings mean the capture cannot tell whether the phone fetches the offer."""


@dataclass(frozen=True, slots=True)
class StageCoverage:
    stage: str
    seen: bool
    note: str


@dataclass(frozen=True, slots=True)
class DeviceVerdict:
    verdict: Verdict
    reason: str
    coverage: tuple[StageCoverage, ...]
    advice: str | None = None
    root_cause: Finding | None = None
    """The one finding to fix first (fail and warn verdicts)."""
    consequences: tuple[Finding, ...] = ()
    """The other findings of the verdict's severity, in boot order: they follow from the root
    cause or fail besides it."""
    basis: tuple[str, ...] | None = None
    """Set when the verdict rests on an encrypted check-in judged without keys: the facts of
    that inference (JSON ``verdict_inferred`` and ``verdict_basis``)."""

    @property
    def inferred(self) -> bool:
        return self.basis is not None

    @property
    def label(self) -> str:
        """``PASS``, or ``PASS (inferred without decryption)`` — as every report shows it."""
        text = str(self.verdict).upper()
        return f"{text} ({INFERRED})" if self.inferred else text


STAGE_ORDER: tuple[str, ...] = (
    "device",
    "dhcp",
    "time",
    "dns",
    "signin",
    "tls",
    "checkin",
    "download",
    "logs",
)
"""The boot's stages in the order the phone goes through them (a check ID's prefix). A phone
model that cannot be updated comes first: nothing after it can help. The time (NTP right after
DHCP) comes before every certificate: a phone without a time answer that rejects a certificate
has ``time.no-answer`` raised to fail (checks/time.py), which this order makes its root cause;
the sign-in path (option 43's Certificate Provisioning, option 120's pool) comes before the
generic TLS checks, whose findings on the same connection follow from it."""


def stage_rank(check_id: str) -> int:
    """Where a check's stage falls in the boot (unknown prefixes last)."""
    prefix = check_id.split(".", 1)[0]
    return STAGE_ORDER.index(prefix) if prefix in STAGE_ORDER else len(STAGE_ORDER)


def root_cause(findings: list[Finding]) -> tuple[Finding, tuple[Finding, ...]]:
    """The primary finding among ``findings`` (all of one severity) and the rest in order:
    earliest stage, then earliest time, then the order checks are registered in (which follows
    the boot: option 43 before option 120, Server Version before Service Version)."""
    registered = {spec.id: index for index, spec in enumerate(ALL_SPECS)}
    ordered = sorted(
        findings,
        key=lambda f: (
            stage_rank(f.check_id),
            f.ts if f.ts is not None else 0.0,
            registered.get(f.check_id, len(registered)),
        ),
    )
    return ordered[0], tuple(ordered[1:])


def coverage(device: DeviceSession) -> tuple[StageCoverage, ...]:
    update_lookups = [lk for lk in device.dns if is_update_name(lk.qname)]
    offered = [m for c in device.checkins for m in c.offered]
    stages = [
        StageCoverage(
            "dhcp",
            bool(device.dhcp),
            f"{len(device.dhcp)} exchange(s)" if device.dhcp else "no DHCP from this phone",
        ),
        StageCoverage(
            "dns",
            bool(update_lookups),
            f"{len(update_lookups)} ucupdates lookup(s)"
            if update_lookups
            else "no ucupdates-r2 lookup (normal once a user has signed in)",
        ),
        _checkin_coverage(device),
    ]
    if offered:
        stages.append(
            StageCoverage(
                "download",
                bool(device.downloads),
                f"{len(device.downloads)} download(s) of {len(offered)} offered file(s)"
                if device.downloads
                else f"{len(offered)} file(s) offered, none fetched",
            )
        )
    return tuple(stages)


def _checkin_coverage(device: DeviceSession) -> StageCoverage:
    if device.checkins:
        return StageCoverage("checkin", True, f"{len(device.checkins)} check-in(s)")
    judged = [e for e in device.encrypted_checkins if e.conclusive]
    if judged:
        return StageCoverage(
            "checkin", True, f"{len(judged)} encrypted check-in(s), judged {INFERRED}"
        )
    if device.encrypted_checkins:
        return StageCoverage("checkin", False, "encrypted check-in(s) the capture cannot judge")
    return StageCoverage("checkin", False, "no check-in")


def judge(device: DeviceSession, findings: list[Finding]) -> DeviceVerdict:
    stages = coverage(device)
    verdict = severity_verdict(findings)
    if verdict != Verdict.PASS:
        level = Severity.FAIL if verdict == Verdict.FAIL else Severity.WARN
        primary, rest = root_cause([f for f in findings if f.severity == level])
        reason = f"{primary.check_id}: {primary.title}"
        if primary.inferred:
            reason += f" ({INFERRED})"
        if rest:
            reason += f" (then {', '.join(dict.fromkeys(f.check_id for f in rest))})"
        return DeviceVerdict(
            verdict,
            reason,
            stages,
            root_cause=primary,
            consequences=rest,
            basis=primary.basis,
        )
    undecided = [f for f in findings if f.check_id == UNDECIDED_ID and f.severity == Severity.INFO]
    if undecided:
        # An offered file not fetched, and the capture cannot say whether it would have been
        # (it ended within seconds of the offer, or the download may be inside TLS).
        reason = (
            "an offered file was not fetched and the capture cannot tell whether it would be "
            f"({undecided[0].summary})"
        )
        encrypted = (undecided[0].observed or "").startswith("TLS")
        return DeviceVerdict(
            Verdict.INCONCLUSIVE, reason, stages, capture_advice(["download"], encrypted)
        )
    if not device.checkins and device.encrypted_checkins:
        return _judge_encrypted(device, stages)
    if not device.checkins:
        encrypted = any(f.flow.server_port == 443 for f in device.other_flows)
        missing = [s.stage for s in stages if not s.seen]
        reason = (
            "the check-in is encrypted (TLS to port 443)"
            if encrypted
            else "the capture has no check-in from this phone (stages not covered: "
            + ", ".join(missing)
            + ")"
        )
        advice = capture_advice(missing, encrypted)
        return DeviceVerdict(Verdict.INCONCLUSIVE, reason, stages, advice)
    waiting = _offer_outstanding(device)
    if waiting is not None:
        return DeviceVerdict(
            Verdict.INCONCLUSIVE,
            f"the capture ended before the phone fetched the offered {waiting}",
            stages,
            capture_advice(["download"], False),
        )
    return DeviceVerdict(Verdict.PASS, "boot and check-in healthy", stages)


_OUTCOME_WORDS = {
    "offer-fetched": "offered a file the phone fetched",
    "nothing-offered": "offered nothing",
}


def _judge_encrypted(device: DeviceSession, stages: tuple[StageCoverage, ...]) -> DeviceVerdict:
    """Nothing wrong was found and the check-ins are encrypted: the last one decides. Judged
    without keys it gives a pass (inferred); undecided, the verdict is inconclusive and says
    how to see more."""
    last = device.encrypted_checkins[-1]
    if last.conclusive:
        return DeviceVerdict(
            Verdict.PASS,
            f"boot and check-in healthy ({INFERRED}): the last check-in "
            f"{_OUTCOME_WORDS.get(last.outcome, last.outcome)}",
            stages,
            basis=last.basis,
        )
    reason = (
        "the check-in is encrypted and the capture does not show what it was ("
        + "; ".join(last.basis[-2:])
        + "): decrypt it with --tls-key or --keylog, or give the audit log (--audit-log)"
    )
    return DeviceVerdict(Verdict.INCONCLUSIVE, reason, stages, capture_advice(["checkin"], True))


def _offer_outstanding(device: DeviceSession) -> str | None:
    """An offered file of the last answered check-in that the phone has not fetched yet."""
    answered = [c for c in device.checkins if c.status == 200 and c.response is not None]
    return offered_not_fetched(device, answered[-1]) if answered else None
