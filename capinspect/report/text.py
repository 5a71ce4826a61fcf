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


def _utc(ts: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (ValueError, OverflowError, OSError):
        return None  # a damaged timestamp no calendar can show


def clock(ts: float | None) -> str:
    moment = _utc(ts) if ts is not None else None
    if moment is None:
        return "--:--:--" if ts is None else f"{ts:.3f}"
    return moment.strftime("%H:%M:%S.%f")[:-3]


def _text_of(console: Console) -> str:
    """What the console recorded, without the padding spaces grids leave at line ends."""
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip(" ") for line in text.split("\n"))


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
        moment = _utc(stats.first_ts)
        start = moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else f"{stats.first_ts:.0f}"
        span = f", {start} + {stats.last_ts - stats.first_ts:.1f} s"
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


def _other_clients(report: Report) -> Table:
    """Hosts without phone evidence that touched the update service, one line each."""
    table = Table(
        title="Other clients of the update service (not phones, not judged)",
        title_justify="left",
        title_style="bold",
        show_edge=False,
        pad_edge=False,
        box=None,
        header_style="bold",
    )
    table.add_column("Host", no_wrap=True)
    table.add_column("Address", overflow="fold")
    table.add_column("Frames", no_wrap=True)
    table.add_column("What it did first", overflow="fold")
    for client in report.other_clients[:50]:
        first = client.activities[0] if client.activities else None
        table.add_row(
            Text(safe(client.mac or client.key)),
            Text(safe(", ".join(client.ips[:2]))),
            Text(f"#{first.frame} ({client.activity_count})" if first else "—"),
            Text(safe(first.what) if first else ""),
        )
    hidden = len(report.other_clients) - 50 + report.other_clients_dropped
    if hidden > 0:
        table.caption = f"{hidden} more in the JSON report"
    return table


def _finding_block(finding: Finding, indent: int = 2) -> Table:
    """One finding as a grid, so wrapped lines stay in their column at any width."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=indent, no_wrap=True)
    grid.add_column(width=5, no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    head = Text(finding.check_id, style="bold")
    head.append(f"  {finding.title}")
    grid.add_row(
        "", Text(str(finding.severity).upper(), style=SEVERITY_STYLE[finding.severity]), head
    )
    detail = Text(safe(finding.summary))
    if finding.frames:
        detail.append(f"  [{_frames(finding.frames)}]", style="dim")
    grid.add_row("", "", detail)
    if finding.severity != Severity.INFO:
        fix = Text("fix: ", style="bold dim")
        fix.append(finding.remediation)
        grid.add_row("", "", fix)
    return grid


def _device_section(console: Console, item: DeviceReport) -> None:
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
    console.print(head)
    notes = Table.grid(padding=(0, 1))
    notes.add_column(width=2)
    notes.add_column(ratio=1, overflow="fold")
    if verdict in (Verdict.PASS, Verdict.INCONCLUSIVE):
        notes.add_row("", Text(item.verdict.reason, style="dim"))
    root = item.verdict.root_cause
    if root is not None:
        line = Text("root cause: ", style="bold")
        line.append(root.check_id, style="bold")
        rest = list(dict.fromkeys(f.check_id for f in item.verdict.consequences))
        if rest:
            line.append(f"  (then {', '.join(rest)})", style="dim")
        notes.add_row("", line)
    if item.verdict.advice:
        notes.add_row("", Text("capture advice: " + item.verdict.advice, style="dim"))
    if notes.row_count:
        console.print(notes)
    for finding in item.findings:
        console.print(_finding_block(finding))


def render_analyze(report: Report, *, color: bool = False, width: int = 100) -> str:
    console = _console(color, width)
    console.print(_capture_header(report.analysis))
    if report.expectations.source != "built-in defaults":
        console.print(Text(f"expectations: {safe(report.expectations.source)}", style="dim"))
    selection = report.selection_note()
    if selection is not None:
        console.print(Text(safe(selection), style="bold"))
    console.print()
    if report.devices:
        console.print(_summary_table(report))
        console.print()
    for item in report.devices:
        _device_section(console, item)
        console.print()
    for finding in report.capture_findings:
        console.print(_finding_block(finding, indent=0))
    if report.other_clients:
        console.print()
        console.print(_other_clients(report))
    counts = report.verdict_counts()
    tail = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no phones"
    kept = report.analysis.stats.frames_kept
    took = f" in {report.elapsed:.2f} s" if report.elapsed is not None else ""
    shown = f"{selection}; shown" if selection is not None else f"{len(report.devices)} phone(s)"
    console.print(
        Text(
            f"{safe(shown)}: {tail}. "
            f"{report.analysis.stats.frames} frames read, {kept} kept{took}.",
            style="bold",
        )
    )
    return _text_of(console)


_ARROW = {"to-server": "→", "from-server": "←", "broadcast": "⇢"}


def render_timeline(
    analysis: Analysis, devices: tuple[DeviceSession, ...], *, color: bool = False, width: int = 100
) -> str:
    console = _console(color, width)
    console.print(_capture_header(analysis), soft_wrap=True)
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
        console.print(head, soft_wrap=True)
        for step in session.timeline:
            line = Text(f"  {clock(step.ts)}  ")
            line.append(f"#{step.frame:<6}", style="dim")
            line.append(f" {_ARROW.get(step.direction, ' ')} {safe(step.peer):<15} ")
            line.append(f"{step.stage:<8}", style="cyan")
            line.append(" " + safe(step.summary))
            console.print(line, soft_wrap=True)
        console.print()
    return _text_of(console)
