"""The report: the only thing renderers see.

Its phones are in the order a support desk works through them (:func:`order_devices`): the
pipeline orders them once, so every format lists the same phone first. :func:`select_devices`
narrows a report to the phones asked for (``--only``, ``--phone``) and remembers out of how many,
so a report never looks like the whole capture when it is not.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, replace

from capinspect.analysis import Analysis
from capinspect.checks.base import Finding, Severity, Verdict
from capinspect.checks.verdict import DeviceVerdict
from capinspect.devices import DeviceSession, OtherClient, normalise_mac
from capinspect.expectations import Expectations


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table; ``rows`` hold raw strings from the capture (each format escapes them).
    Built in ``tables.py`` (and ``signin.py``) once, escaped by each format."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class DeviceReport:
    session: DeviceSession
    findings: tuple[Finding, ...]
    verdict: DeviceVerdict

    @property
    def firmware_versions(self) -> tuple[str, ...]:
        """Distinct versions reported over time, in order (``?`` for an empty version)."""
        out: list[str] = []
        for sighting in self.session.firmware_seen:
            label = sighting.version or "?"
            if not out or out[-1] != label:
                out.append(label)
        return tuple(out)


VERDICT_ORDER: tuple[Verdict, ...] = (
    Verdict.FAIL,
    Verdict.WARN,
    Verdict.INCONCLUSIVE,
    Verdict.PASS,
)
"""What a support desk looks at first: what must be fixed, what is risky, what needs another
capture, what is fine."""


def verdict_rank(verdict: Verdict) -> int:
    return VERDICT_ORDER.index(verdict)


def order_devices(devices: Iterable[DeviceReport]) -> tuple[DeviceReport, ...]:
    """Failing phones first, then warn, inconclusive, pass; within a verdict by first activity
    (then by key, so equal times still give one order)."""
    return tuple(
        sorted(
            devices,
            key=lambda d: (verdict_rank(d.verdict.verdict), d.session.first_ts, d.session.key),
        )
    )


@dataclass(frozen=True, slots=True)
class Selection:
    """Which phones a report shows, when not all (``analyze --only``/``--phone``)."""

    verdicts: tuple[Verdict, ...]
    """Verdicts asked for (empty: any)."""
    phones: tuple[str, ...]
    """MACs (``aa:bb:…`` form) and IP addresses asked for (empty: any)."""
    total: int
    """Phones in the capture."""
    total_counts: tuple[tuple[Verdict, int], ...]
    """Verdict counts over every phone of the capture."""

    def options(self) -> str:
        """The selection as the options that made it: ``--only fail,warn --phone 10.0.0.5``."""
        parts = []
        if self.verdicts:
            parts.append("--only " + ",".join(str(v) for v in self.verdicts))
        parts += [f"--phone {phone}" for phone in self.phones]
        return " ".join(parts)


def parse_verdicts(values: Iterable[str]) -> tuple[Verdict, ...]:
    """``("fail,warn", "pass")`` → the verdicts, in report order; ValueError names a bad one."""
    wanted: set[Verdict] = set()
    for value in values:
        for word in value.split(","):
            word = word.strip().lower()
            if not word:
                continue
            try:
                wanted.add(Verdict(word))
            except ValueError:
                valid = ", ".join(str(v) for v in VERDICT_ORDER)
                raise ValueError(f"unknown verdict {word!r} (one of {valid})") from None
    return tuple(v for v in VERDICT_ORDER if v in wanted)


def parse_phones(values: Iterable[str]) -> tuple[str, ...]:
    """MACs in any spelling and IP addresses (comma-separated or repeated), normalised;
    ValueError names a value that is neither."""
    out: list[str] = []
    for value in values:
        for word in value.split(","):
            word = word.strip()
            if not word:
                continue
            try:
                phone = str(ipaddress.ip_address(word))
            except ValueError:
                mac = normalise_mac(word)
                if mac is None:
                    raise ValueError(
                        f"--phone {word!r} is neither a MAC address nor an IP address"
                    ) from None
                phone = mac
            if phone not in out:
                out.append(phone)
    return tuple(out)


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def phone_matches(session: DeviceSession, wanted: str) -> bool:
    """Whether ``wanted`` (from :func:`parse_phones`) is this phone's MAC or any of its IPs."""
    try:
        ipaddress.ip_address(wanted)
    except ValueError:
        mac = normalise_mac(wanted)
        return mac is not None and normalise_mac(session.mac) == mac
    return any(_same_ip(ip, wanted) for ip in session.ips)


@dataclass(frozen=True, slots=True)
class Report:
    analysis: Analysis
    devices: tuple[DeviceReport, ...]
    capture_findings: tuple[Finding, ...]
    expectations: Expectations
    elapsed: float | None = None
    """Wall-clock seconds the analysis took (report metadata only)."""
    other_clients: tuple[OtherClient, ...] = ()
    """Hosts without phone evidence that touched the update service: listed, never judged."""
    other_clients_dropped: int = 0
    """Other clients beyond ``Limits.max_other_clients`` (counted only)."""
    selection: Selection | None = None
    """Set when ``devices`` holds only some of the capture's phones (:func:`select_devices`)."""

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        return (*self.capture_findings, *(f for d in self.devices for f in d.findings))

    @property
    def has_fail(self) -> bool:
        return any(f.severity == Severity.FAIL for f in self.all_findings)

    def verdict_counts(self) -> dict[Verdict, int]:
        counts = {v: 0 for v in VERDICT_ORDER}  # failing first, like the phones
        for device in self.devices:
            counts[device.verdict.verdict] += 1
        return counts

    def selection_note(self) -> str | None:
        """``showing 3 of 200 phones: --only fail`` when the report shows a selection."""
        if self.selection is None:
            return None
        counts = ", ".join(f"{n} {v}" for v, n in self.selection.total_counts if n)
        return (
            f"showing {len(self.devices)} of {self.selection.total} phones: "
            f"{self.selection.options()} (all phones: {counts or 'none'})"
        )


def select_devices(
    report: Report, verdicts: tuple[Verdict, ...] = (), phones: tuple[str, ...] = ()
) -> Report:
    """The report narrowed to phones with one of ``verdicts`` and one of ``phones`` (an empty
    tuple: any), in report order. Without a criterion the report itself."""
    if not verdicts and not phones:
        return report
    kept = tuple(
        d
        for d in report.devices
        if (not verdicts or d.verdict.verdict in verdicts)
        and (not phones or any(phone_matches(d.session, p) for p in phones))
    )
    counts = report.verdict_counts()
    selection = Selection(
        verdicts, phones, len(report.devices), tuple((v, counts[v]) for v in VERDICT_ORDER)
    )
    return replace(report, devices=kept, selection=selection)
