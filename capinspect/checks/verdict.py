"""From findings to one verdict per phone, and what the capture did not cover.

* ``fail`` — at least one fail finding: the phone will not update until it is fixed.
* ``warn`` — at least one warn finding and no fail.
* ``inconclusive`` — nothing wrong was seen, but the capture does not reach the stage that
  decides (no check-in, or an encrypted one; or it ends right after an offer, or the download
  may be inside TLS): the verdict says which stage and what capture to take instead.
* ``pass`` — the boot reached a healthy end: a check-in answered 200 with nothing wrong, and
  every offered file downloaded whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.checks.base import Finding, Severity, Verdict
from capinspect.devices import DeviceSession

UNDECIDED_ID = "download.not-attempted"
"""Its info findings mean the capture cannot tell whether the phone fetches the offer."""

CAPTURE_ADVICE = (
    "Start the capture before powering the phone on (or rebooting it), capture on its switch "
    "port including tagged voice-VLAN frames, and keep capturing until it has been idle five "
    "minutes after the check-in."
)


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


def coverage(device: DeviceSession) -> tuple[StageCoverage, ...]:
    update_lookups = [lk for lk in device.dns if lk.qname.startswith("ucupdates")]
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
        StageCoverage(
            "checkin",
            bool(device.checkins),
            f"{len(device.checkins)} check-in(s)" if device.checkins else "no check-in",
        ),
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


def judge(device: DeviceSession, findings: list[Finding]) -> DeviceVerdict:
    stages = coverage(device)
    fails = [f for f in findings if f.severity == Severity.FAIL]
    warns = [f for f in findings if f.severity == Severity.WARN]
    if fails:
        return DeviceVerdict(Verdict.FAIL, "; ".join(sorted({f.check_id for f in fails})), stages)
    if warns:
        return DeviceVerdict(Verdict.WARN, "; ".join(sorted({f.check_id for f in warns})), stages)
    undecided = [f for f in findings if f.check_id == UNDECIDED_ID and f.severity == Severity.INFO]
    if undecided:
        # An offered file not fetched, and the capture cannot say whether it would have been
        # (it ended within seconds of the offer, or the download may be inside TLS).
        reason = (
            "an offered file was not fetched and the capture cannot tell whether it would be "
            "(see download.not-attempted)"
        )
        return DeviceVerdict(Verdict.INCONCLUSIVE, reason, stages, CAPTURE_ADVICE)
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
        return DeviceVerdict(Verdict.INCONCLUSIVE, reason, stages, CAPTURE_ADVICE)
    return DeviceVerdict(Verdict.PASS, "boot and check-in healthy", stages)
