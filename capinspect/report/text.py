"""Terminal output: the analyze summary and the timeline ladder.

Renderers are pure: they return a string (ANSI colour codes only when asked for). Every string
that came from the capture goes through :func:`safe` and into ``rich.text.Text`` objects (never
markup), so a crafted host name or XML value can neither move the cursor nor inject markup.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from capinspect import __version__
from capinspect.analysis import Analysis
from capinspect.checks.base import Finding, Severity, Verdict
from capinspect.devices import DeviceSession
from capinspect.knowledge.lync_phone_edition import edition
from capinspect.report.model import DeviceReport, Report
from capinspect.report.signin import signin_text
from capinspect.report.timeline import step_summary

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
    """Vendor and model as the phone reported them, and ``(Lync Phone Edition)`` when its
    firmware (or, without one, its model) says it runs that (knowledge/lync_phone_edition)."""
    ident = session.identity
    parts = [p for p in (ident.vendor, ident.model) if p]
    label = " ".join(parts) if parts else "unknown model"
    versions = [s.version for s in session.firmware_seen if s.version]
    product = edition(ident.vendor, ident.model, versions[-1] if versions else None)
    return safe(f"{label} ({product})" if product else label)


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
            Text(item.verdict.label, style=VERDICT_STYLE[verdict]),
        )
    return table


def _other_clients(console: Console, report: Report) -> list[Text]:
    """Hosts without phone evidence that touched the update service, one line each, in aligned
    columns; what each did first (a name, a URL path) wraps like a finding, never broken."""
    rows = []
    for client in report.other_clients[:50]:
        first = client.activities[0] if client.activities else None
        rows.append(
            (
                safe(client.mac or client.key),
                safe(", ".join(client.ips[:2])),
                f"#{first.frame} ({client.activity_count})" if first else "—",
                safe(first.what) if first else "",
            )
        )
    heads = ("Host", "Address", "Frames", "What it did first")
    widths = [max(len(row[i]) for row in (heads, *rows)) for i in range(3)]
    indent = sum(widths) + 2 * len(widths)
    lines = [Text("Other clients of the update service (not phones, not judged)", style="bold")]
    for number, row in enumerate((heads, *rows)):
        lead = Text("".join(f"{cell:<{width}}  " for cell, width in zip(row, widths, strict=False)))
        body = Text(row[3])
        if number == 0:
            lead.stylize("bold")
            body.stylize("bold")
        lines += _hanging(console, lead, body, indent)
    hidden = len(report.other_clients) - 50 + report.other_clients_dropped
    if hidden > 0:
        lines.append(Text(f"{hidden} more in the JSON report", style="dim"))
    return lines


def _hanging(console: Console, lead: Text, body: Text, indent: int) -> list[Text]:
    """``lead`` then ``body`` wrapped at spaces to the console's width, the lines after the first
    indented by ``indent`` columns (``lead`` must be that wide).

    A word is never broken: a URL, file path or host name longer than the room left keeps a line
    of its own and runs past the right edge, so it can be copied whole (the Device Update
    troubleshooting article's first test is to open the offered URL in a browser). The lines are
    printed with :func:`_print_lines`, which neither wraps nor crops them again.
    """
    room = max(20, console.width - indent)
    lines: list[Text] = []
    for paragraph in body.split("\n", allow_blank=True):
        paragraph.expand_tabs()
        lines.extend(paragraph.divide(_breaks(paragraph.plain, room)))
    out = []
    for number, line in enumerate(lines):
        line.rstrip()
        prefix = lead.copy() if number == 0 else Text(" " * indent)
        out.append(Text.assemble(prefix, line))
    return out or [lead.copy()]


_WORD = re.compile(r"\[[^\]\n]{1,40}\]\s*|\S+\s*")
"""A word and the spaces after it; a short bracketed group (``[frames 9, 10]``) counts as one."""


def _breaks(plain: str, room: int) -> list[int]:
    """Offsets to break ``plain`` at so that lines fit ``room`` columns, only ever before a word:
    a word wider than ``room`` stays whole on a line of its own."""
    offsets: list[int] = []
    column = 0
    for match in _WORD.finditer(plain):
        word = match.group(0)
        if column and column + cell_len(word.rstrip()) > room:
            offsets.append(match.start())
            column = 0
        column += cell_len(word)
    return offsets


def _print_lines(console: Console, lines: list[Text]) -> None:
    for line in lines:
        console.print(line, soft_wrap=True)


def _finding_block(console: Console, finding: Finding, indent: int = 2) -> list[Text]:
    """One finding: severity, ID and title, then what was seen and the fix, each wrapped in the
    column after the severity (URLs and names never broken, see :func:`_hanging`)."""
    hang = indent + 7
    lead = Text(" " * (indent + 1))
    lead.append(f"{str(finding.severity).upper():<5}", style=SEVERITY_STYLE[finding.severity])
    lead.append(" ")
    head = Text(finding.check_id, style="bold")
    head.append(f"  {finding.title}")
    lines = _hanging(console, lead, head, hang)
    pad = Text(" " * hang)
    detail = Text(safe(finding.summary))
    if finding.frames:
        detail.append(f"  [{_frames(finding.frames)}]", style="dim")
    lines += _hanging(console, pad, detail, hang)
    if finding.basis is not None:
        basis = Text("inferred from: ", style="dim")
        basis.append(safe("; ".join(finding.basis)), style="dim")
        lines += _hanging(console, pad, basis, hang)
    if finding.severity != Severity.INFO:
        fix = Text("fix: ", style="bold dim")
        fix.append(finding.remediation)
        lines += _hanging(console, pad, fix, hang)
    return lines


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
    head.append(item.verdict.label, style=VERDICT_STYLE[verdict])
    _print_lines(console, _hanging(console, Text(), head, 3))
    notes: list[Text] = []
    if verdict in (Verdict.PASS, Verdict.INCONCLUSIVE):
        notes.append(Text(item.verdict.reason, style="dim"))
    root = item.verdict.root_cause
    if root is not None:
        line = Text("root cause: ", style="bold")
        line.append(root.check_id, style="bold")
        rest = list(dict.fromkeys(f.check_id for f in item.verdict.consequences))
        if rest:
            line.append(f"  (then {', '.join(rest)})", style="dim")
        notes.append(line)
    if item.verdict.advice:
        notes.append(Text("capture advice: " + item.verdict.advice, style="dim"))
    for note in notes:
        _print_lines(console, _hanging(console, Text("   "), note, 3))
    for finding in item.findings:
        _print_lines(console, _finding_block(console, finding))
    for text in signin_text(session):
        _print_lines(console, _hanging(console, Text("   "), Text(safe(text), style="dim"), 5))


def render_analyze(report: Report, *, color: bool = False, width: int = 100) -> str:
    console = _console(color, width)
    _print_lines(console, _hanging(console, Text(), _capture_header(report.analysis), 2))
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
        _print_lines(console, _finding_block(console, finding, indent=0))
    if report.other_clients:
        console.print()
        _print_lines(console, _other_clients(console, report))
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
            line.append(" " + safe(step_summary(step)))
            console.print(line, soft_wrap=True)
        console.print()
    return _text_of(console)
