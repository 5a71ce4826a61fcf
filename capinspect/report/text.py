"""Terminal output: the analyze summary and the timeline ladder.

Renderers are pure: they return a string (ANSI colour codes only when asked for). Every string
that came from the capture goes through :func:`safe` and into ``rich.text.Text`` objects (never
markup), so a crafted host name or XML value can neither move the cursor nor inject markup.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from capinspect import __version__
from capinspect.checks.base import Finding, Severity, Verdict
from capinspect.devices import DeviceSession
from capinspect.engine import Analysis
from capinspect.report.model import DeviceReport, Report

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")

VERDICT_STYLE = {
    Verdict.PASS: "bold green",
    Verdict.WARN: "bold yellow",
    Verdict.FAIL: "bold red",
    Verdict.INCONCLUSIVE: "bold blue",
}
SEVERITY_STYLE = {Severity.FAIL: "red", Severity.WARN: "yellow", Severity.INFO: "cyan"}


def safe(text: object) -> str:
    """Printable form of a value from the capture: control and bidi characters as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", str(text))


def clock(ts: float | None) -> str:
    if ts is None:
        return "--:--:--"
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S.%f")[:-3]


def _console(color: bool, width: int) -> Console:
    return Console(
        file=io.StringIO(),
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )


def _frames(frames: tuple[int, ...], limit: int = 8) -> str:
    if not frames:
        return ""
    shown = ", ".join(str(f) for f in frames[:limit])
    more = f" (+{len(frames) - limit})" if len(frames) > limit else ""
    return f"frame{'s' if len(frames) > 1 else ''} {shown}{more}"


def _capture_header(analysis: Analysis) -> Text:
    stats = analysis.stats
    names = ", ".join(safe(i.path) for i in analysis.inputs) or "(live)"
    span = ""
    if stats.first_ts is not None and stats.last_ts is not None:
        start = datetime.fromtimestamp(stats.first_ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
        span = f", {start} UTC + {stats.last_ts - stats.first_ts:.1f} s"
    text = Text(f"capinspect {__version__} — ", style="bold")
    text.append(names)
    text.append(f" ({stats.frames} frames{span})")
    return text


def device_label(session: DeviceSession) -> str:
    ident = session.identity
    parts = [p for p in (ident.vendor, ident.model) if p]
    return safe(" ".join(parts)) if parts else "unknown model"


def _summary_table(report: Report) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("Phone (MAC)", no_wrap=True)
    table.add_column("Model", overflow="fold")
    table.add_column("IP / VLAN", overflow="fold")
    table.add_column("Firmware seen", overflow="fold")
    table.add_column("Verdict", no_wrap=True)
    for item in report.devices:
        session = item.session
        vlan = f" / {','.join(str(v) for v in session.vlans)}" if session.vlans else ""
        ips = ", ".join(session.ips[:2]) + vlan
        firmware = " → ".join(item.firmware_versions) or "—"
        verdict = item.verdict.verdict
        table.add_row(
            Text(safe(session.mac or session.key)),
            Text(device_label(session)),
            Text(safe(ips)),
            Text(safe(firmware)),
            Text(str(verdict).upper(), style=VERDICT_STYLE[verdict]),
        )
    return table


def _finding_lines(finding: Finding, indent: str = "  ") -> list[Text]:
    head = Text(indent)
    head.append(f"{str(finding.severity).upper():<5}", style=SEVERITY_STYLE[finding.severity])
    head.append(f" {finding.check_id}", style="bold")
    head.append(f"  {finding.title}")
    lines = [head]
    detail = Text(indent + "      ")
    detail.append(safe(finding.summary))
    if finding.frames:
        detail.append(f"  [{_frames(finding.frames)}]", style="dim")
    lines.append(detail)
    if finding.severity != Severity.INFO:
        fix = Text(indent + "      fix: ", style="dim")
        fix.append(finding.remediation)
        lines.append(fix)
    return lines


def _device_section(item: DeviceReport) -> list[Text]:
    session = item.session
    ident = session.identity
    head = Text("── ", style="dim")
    head.append(safe(session.mac or session.key), style="bold")
    extra = " ".join(
        safe(p)
        for p in (ident.vendor, ident.model, ident.revision, ident.locale, ident.serial)
        if p
    )
    if extra:
        head.append(f"  {extra}")
    if session.ips:
        head.append(f"  {safe(', '.join(session.ips))}")
    if session.vlans:
        head.append(f"  VLAN {','.join(str(v) for v in session.vlans)}")
    head.append("  ")
    verdict = item.verdict.verdict
    head.append(str(verdict).upper(), style=VERDICT_STYLE[verdict])
    lines = [head]
    reason = Text("   ")
    reason.append(item.verdict.reason, style="dim")
    lines.append(reason)
    if item.verdict.advice:
        lines.append(Text("   capture advice: " + item.verdict.advice, style="dim"))
    for finding in item.findings:
        lines.extend(_finding_lines(finding))
    return lines


def render_analyze(report: Report, *, color: bool = False, width: int = 100) -> str:
    console = _console(color, width)
    console.print(_capture_header(report.analysis))
    if report.expectations.source != "built-in defaults":
        console.print(Text(f"expectations: {safe(report.expectations.source)}", style="dim"))
    console.print()
    if report.devices:
        console.print(_summary_table(report))
        console.print()
    for item in report.devices:
        for line in _device_section(item):
            console.print(line)
        console.print()
    for finding in report.capture_findings:
        for line in _finding_lines(finding, indent=""):
            console.print(line)
    counts = report.verdict_counts()
    tail = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no phones"
    kept = report.analysis.stats.frames_kept
    took = f" in {report.elapsed:.2f} s" if report.elapsed is not None else ""
    console.print(
        Text(
            f"{len(report.devices)} phone(s): {tail}. "
            f"{report.analysis.stats.frames} frames read, {kept} kept{took}.",
            style="bold",
        )
    )
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


_ARROW = {"to-server": "→", "from-server": "←", "broadcast": "⇢"}


def render_timeline(
    analysis: Analysis, devices: tuple[DeviceSession, ...], *, color: bool = False, width: int = 100
) -> str:
    console = _console(color, width)
    console.print(_capture_header(analysis))
    console.print()
    if not devices:
        console.print(
            "No phone traffic found (no MS-UC-Client DHCP, ucupdates lookup or check-in)."
        )
    for session in devices:
        head = Text(safe(session.mac or session.key), style="bold")
        head.append(f"  {device_label(session)}")
        if session.ips:
            head.append(f"  {safe(', '.join(session.ips))}")
        if session.vlans:
            head.append(f"  VLAN {','.join(str(v) for v in session.vlans)}")
        console.print(head)
        for step in session.timeline:
            line = Text(f"  {clock(step.ts)}  ")
            line.append(f"#{step.frame:<6}", style="dim")
            line.append(f" {_ARROW.get(step.direction, ' ')} {safe(step.peer):<15} ")
            line.append(f"{step.stage:<8}", style="cyan")
            line.append(" " + safe(step.summary))
            console.print(line, overflow="fold")
        console.print()
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]
