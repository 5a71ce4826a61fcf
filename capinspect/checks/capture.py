"""Capture-level checks: is there anything to judge, and is the capture itself sound.

These run once per analysis, not per phone. ``capture.no-phone-traffic`` says what *was* seen,
because "no phone found" alone leaves the engineer guessing whether the capture filter, the
VLAN, the port or the timing was wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from capinspect.anomalies import count_by_code
from capinspect.checks.base import CheckContext, CheckSpec, Finding, Severity
from capinspect.devices import DeviceSession
from capinspect.knowledge.sources import ARTICLE

NO_PHONE_TRAFFIC = CheckSpec(
    id="capture.no-phone-traffic",
    severity=Severity.WARN,
    title="No phone boot or check-in traffic in the capture",
    explanation=(
        "capinspect found no DHCP from an MS-UC-Client/CPE-OCPHONE phone, no ucupdates-r2 lookup "
        "and no ucdevice.upx check-in. The summary says what the capture does contain."
    ),
    remediation=(
        "Capture on the phone's switch port (or a mirror of it, including tagged voice-VLAN "
        "frames), start before powering the phone on, keep it running five minutes after it "
        "boots, and use no capture filter that drops UDP (DHCP, DNS)."
    ),
    source=f"{ARTICLE}: troubleshooting steps 1 and 12; inference",
)

DAMAGED = CheckSpec(
    id="capture.damaged",
    severity=Severity.WARN,
    title="The capture file is damaged or cut",
    explanation=(
        "Part of the input could not be read (the file ends inside a record, a block is corrupt, "
        "or records are cut by the snap length). What was readable was analysed; steps after the "
        "damage may be missing."
    ),
    remediation="Take the capture again, or merge the other pieces of it if it was split.",
    source="inference",
)

MALFORMED_TRAFFIC = CheckSpec(
    id="capture.malformed-traffic",
    severity=Severity.INFO,
    title="Malformed or unusual packets were seen",
    explanation=(
        "Some packets did not follow their protocol (or went over a capinspect limit). They are "
        "listed by anomaly code; the analysis kept everything that parsed."
    ),
    remediation="Usually nothing; docs/anomalies.md says what each code means.",
    source="inference",
)

KERNEL_DROPS = CheckSpec(
    id="capture.kernel-drops",
    severity=Severity.WARN,
    title="The kernel dropped frames during the live capture",
    explanation=(
        "capinspect live could not read frames as fast as the interface delivered them and the "
        "kernel discarded some (PACKET_STATISTICS). A dropped DHCP, DNS or check-in frame can "
        "make a step look missing, so verdicts after the drops may be wrong."
    ),
    remediation=(
        "Narrow --filter to the phones' VLAN or addresses, or capture with tcpdump -w and run "
        "capinspect analyze on the file; docs/live.md gives the rate this machine sustains."
    ),
    source="inference",
)
OTHER_CLIENTS = CheckSpec(
    id="capture.other-update-clients",
    severity=Severity.INFO,
    title="Hosts that are not phones used the update service's names",
    explanation=(
        "These hosts looked up ucupdates-r2 or the pool's names, talked TLS to the pool, or "
        "fetched update files, but showed no phone evidence: no MS-UC-Client/CPE-OCPHONE DHCP "
        "vendor class, no ucdevice.upx check-in, no phone user agent, no MAC named in a "
        "check-in. PCs running a Lync client do this all day, and an admin testing the update "
        "URL in a browser does too. They are listed, with their frames, under 'Other clients of "
        "the update service' and are not judged; their problems are not the phones'."
    ),
    remediation=(
        "Nothing, unless one of them is a phone whose own traffic the capture missed: capture "
        "its boot (its DHCP shows its vendor class) or its check-in."
    ),
    source="inference (who is a phone: docs/verdicts.md)",
)

DEVICE_LIMIT = CheckSpec(
    id="capture.device-limit",
    severity=Severity.WARN,
    title="More phones than capinspect keeps in one report",
    explanation=(
        "The capture holds more phones than the device limit; the phones seen first are "
        "reported, the rest are counted only."
    ),
    remediation="Split the capture by VLAN or by time (editcap -A/-B) and analyse each part.",
    source="inference (docs/limits.md, max_devices)",
)
KERNEL_DROPS_CODE = "capture.kernel-drops"
"""Anomaly code the live source reports its kernel drop counters under."""

_DAMAGE_PREFIXES = ("capture.", "pcapng.")


def check_capture(devices: tuple[DeviceSession, ...], ctx: CheckContext) -> Iterator[Finding]:
    analysis = ctx.analysis
    if analysis is None:
        return
    stats = analysis.stats
    for drop in (a for a in analysis.anomalies if a.code == KERNEL_DROPS_CODE):
        yield KERNEL_DROPS.finding(drop.detail, device=None, observed=drop.detail)
    damage = [
        a
        for a in analysis.anomalies
        if a.code.startswith(_DAMAGE_PREFIXES) and a.code != KERNEL_DROPS_CODE
    ]
    if damage:
        codes = Counter(count_by_code(damage))
        yield DAMAGED.finding(
            "; ".join(f"{code} ×{n}" for code, n in codes.most_common()) + f": {damage[0].detail}",
            device=None,
            observed=damage[0].detail,
            frames=[a.frame for a in damage if a.frame][:20],
        )
    other = [a for a in analysis.anomalies if not a.code.startswith(_DAMAGE_PREFIXES)]
    if other:
        codes = Counter(count_by_code(other))
        yield MALFORMED_TRAFFIC.finding(
            ", ".join(f"{code} ×{n}" for code, n in codes.most_common(8)),
            device=None,
            frames=[a.frame for a in other if a.frame][:20],
        )
    population = ctx.population
    if population is not None and population.phones_dropped:
        yield DEVICE_LIMIT.finding(
            f"{population.phones_dropped} phone(s) beyond the limit of {len(devices)} were not "
            "reported",
            device=None,
            observed=f"{len(devices) + population.phones_dropped} phones",
        )
    if population is not None and population.other_clients:
        clients = population.other_clients
        dropped = population.other_clients_dropped
        shown = ", ".join(c.ips[0] if c.ips else c.key for c in clients[:5])
        more = f" and {len(clients) - 5 + dropped} more" if len(clients) + dropped > 5 else ""
        yield OTHER_CLIENTS.finding(
            f"{len(clients) + dropped} host(s) without phone evidence touched the update "
            f"service ({shown}{more}); not judged",
            device=None,
            observed=f"{len(clients) + dropped} other client(s)",
        )
    if devices:
        return
    seen: list[str] = [f"{stats.frames} frames"]
    if stats.frames == 0:
        seen.append("nothing readable")
    else:
        seen.append(f"{stats.dhcp_frames} DHCP")
        seen.append(f"{stats.dns_frames} DNS")
        seen.append(f"{stats.tcp80_frames} TCP/80")
        seen.append(f"{stats.tcp443_frames} TCP/443")
        if stats.vlans:
            seen.append("VLANs " + ",".join(str(v) for v in stats.vlans))
    hints: list[str] = []
    if stats.frames and stats.udp_frames == 0:
        hints.append("no UDP at all: a capture filter probably dropped DHCP and DNS")
    elif stats.frames and stats.dhcp_frames == 0:
        hints.append(
            "no DHCP: the capture started after the phone booted, or DHCP is on another VLAN"
        )
    if stats.tcp443_frames and not stats.tcp80_frames and not analysis.http:
        hints.append("only encrypted HTTPS (443): the check-in is not visible without the key")
    if analysis.dhcp or analysis.dhcp_background.clients:
        classes = Counter(
            seen.message.vendor_class or "(none)"
            for ex in analysis.dhcp
            for seen in ex.messages
            if seen.message.op == 1
        )
        classes.update(dict(analysis.dhcp_background.vendor_classes))
        hints.append(
            "DHCP clients seen, none a phone (vendor classes: "
            + ", ".join(f"{c} ×{n}" for c, n in classes.most_common(5))
            + ")"
        )
    yield NO_PHONE_TRAFFIC.finding(
        "saw " + ", ".join(seen) + (" — " + "; ".join(hints) if hints else ""),
        device=None,
        expected="DHCP/DNS/check-in traffic of at least one phone",
        observed=", ".join(seen),
    )


CAPTURE_SPECS: tuple[CheckSpec, ...] = (
    NO_PHONE_TRAFFIC,
    DAMAGED,
    MALFORMED_TRAFFIC,
    KERNEL_DROPS,
    OTHER_CLIENTS,
    DEVICE_LIMIT,
)
