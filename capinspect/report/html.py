"""Ticket-ready reports, part 2: one self-contained HTML file.

Inline CSS, inline SVG and one small inline script (sorting the overview table) only: no font,
no image and no link to anything outside the file, so it reads the same offline, attached to a
ticket, or opened by a browser that blocks everything. The page opens on what to fix: the
overview table (one row per phone, failing first, each linking to the phone's section) in a
scrolling box, then the phones in the same order, failing and warned ones open and the others
collapsed. The script is allowed by its SHA-256 in the Content-Security-Policy and nothing
needs it: without it the table is already in failure order.

The content is the Markdown report's (``report/markdown.py`` builds the tables); this module
lays it out and draws each phone's boot as a ladder diagram — phone, DHCP server,
DNS server and update server as lanes, one arrow per step, failing steps in red, each arrow's
frame number beside it and the whole step in its SVG ``<title>`` (shown on hover).

Every string from the capture passes through :func:`h` (``html.escape`` with quotes, after
``text.safe`` turned control and bidi characters into ``\\xNN``) before it lands in an element
or an attribute; the file's Content-Security-Policy allows no script but the one whose hash it
names and no remote load, so even a mistake here would not run or fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import html

from capinspect.checks.base import Finding, Severity, Verdict
from capinspect.report.model import DeviceReport, Report, Table, verdict_rank
from capinspect.report.signin import signin_tables
from capinspect.report.tables import (
    LANES,
    capture_tables,
    checkin_tables,
    downloads_table,
    finding_rows,
    identity_table,
    ladder,
    lane_peers,
    option_tables,
    other_clients_table,
    phone_name,
    root_cause_line,
    summary_table,
)
from capinspect.report.text import device_label, safe

OPEN_VERDICTS = frozenset({Verdict.FAIL, Verdict.WARN})
"""Phone sections that start open: what the reader has to act on. The others are collapsed."""
SUMMARY_CHARS = 100
"""Characters of a step's summary drawn beside its arrow (the whole text is in its title)."""

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;
max-width:1280px;padding:0 1em;color:#1d2330;background:#fff}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccd}
h3{font-size:1.05em;margin:1.2em 0 .4em}h4{font-size:.95em;margin:1em 0 .3em;color:#334}
table{border-collapse:collapse;margin:.3em 0 .8em;font-size:13px}
th,td{border:1px solid #d5d9e2;padding:3px 7px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{background:#eef1f6}td.k{background:#f7f8fb;white-space:nowrap;font-weight:600}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Consolas,monospace;font-size:12.5px}
.verdict{font-weight:700;padding:1px 6px;border-radius:3px;color:#fff}
.v-pass{background:#2a7d3c}.v-warn{background:#b7791f}.v-fail{background:#c53030}
.v-inconclusive{background:#2b6cb0}
.sev{font-weight:700}.sev-fail{color:#c53030}.sev-warn{color:#b7791f}.sev-info{color:#2b6cb0}
details.phone{border:1px solid #ccd;border-radius:6px;margin:1em 0;padding:.3em 1em}
details.phone>summary{cursor:pointer;font-weight:600;font-size:1.05em;padding:.3em 0}
details.phone.is-fail{border-left:5px solid #c53030}
details.phone.is-warn{border-left:5px solid #b7791f}
.finding{border-left:4px solid #99a;padding:.2em .8em;margin:.6em 0;background:#fafbfd}
.finding.fail{border-color:#c53030}.finding.warn{border-color:#b7791f}
.finding.info{border-color:#2b6cb0}
.note{color:#556;font-size:13px}.ladder{overflow-x:auto;border:1px solid #e2e5ec;margin:.4em 0}
svg text{font-family:ui-monospace,Consolas,monospace;font-size:11px}
svg .lane{font-family:system-ui,sans-serif;font-size:12px;font-weight:600}
.overview{max-height:22em;overflow:auto;border:1px solid #d5d9e2;display:inline-block;
max-width:100%}.overview table{margin:0}
.overview thead th{position:sticky;top:0;z-index:1}
.overview th[tabindex]{cursor:pointer}.overview th[tabindex]:after{content:" \\2195";color:#99a}
.overview th[aria-sort=ascending]:after{content:" \\2191"}
.overview th[aria-sort=descending]:after{content:" \\2193"}
"""

SORT_SCRIPT = """(function(){
var t=document.getElementById("overview");if(!t)return;
var hs=t.tHead.rows[0].cells,b=t.tBodies[0];
function key(r,i){var c=r.cells[i];return c.getAttribute("data-sort")||c.textContent;}
Array.prototype.forEach.call(hs,function(th,i){
th.tabIndex=0;th.title="Sort by this column";
function go(){var up=th.getAttribute("aria-sort")!=="ascending";
Array.prototype.forEach.call(hs,function(o){o.removeAttribute("aria-sort");});
th.setAttribute("aria-sort",up?"ascending":"descending");
var rows=Array.prototype.slice.call(b.rows);
rows.sort(function(x,y){var c=key(x,i).localeCompare(key(y,i),undefined,{numeric:true});
return up?c:-c;});
rows.forEach(function(r){b.appendChild(r);});}
th.addEventListener("click",go);
th.addEventListener("keydown",function(e){
if(e.key==="Enter"||e.key===" "){e.preventDefault();go();}});
});})();"""
"""Click (or Enter on) a column head of the overview to sort by it, again to reverse; numbers
compare as numbers, the verdict column by severity. No ``on*`` attribute: listeners only."""


def script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script: ``'sha256-<base64>'``."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


NO_SCRIPT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""The policy of a page with no script at all (the ``logs`` report)."""


def content_security_policy(script: str = SORT_SCRIPT) -> str:
    """Nothing from anywhere but inline styles, data: images and the one script by its hash."""
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {script_hash(script)}"
    )


def h(value: object) -> str:
    """A value from the capture as HTML text or attribute content."""
    return html.escape(safe(value), quote=True)


def _verdict(verdict: str, label: str | None = None) -> str:
    return f'<span class="verdict v-{h(verdict)}">{h(label or verdict.upper())}</span>'


def _table(table: Table, level: int = 4) -> str:
    out = [f"<h{level}>{h(table.title)}</h{level}>"]
    key_value = table.headers == ("", "")
    out.append("<table>")
    if not key_value:
        out.append("<tr>" + "".join(f"<th>{h(c)}</th>" for c in table.headers) + "</tr>")
    if not table.rows:
        out.append(f'<tr><td colspan="{len(table.headers)}">(none)</td></tr>')
    for row in table.rows:
        cells = []
        for index, cell in enumerate(row):
            klass = ' class="k"' if key_value and index == 0 else ""
            cells.append(f"<td{klass}>{h(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    if table.note:
        out.append(f'<p class="note">{h(table.note)}</p>')
    return "\n".join(out)


def _overview(report: Report) -> str:
    """One row per phone in report order (failing first), each linking to its section; the
    verdict cell sorts by severity (``data-sort``), not alphabetically."""
    table = summary_table(report)
    out = [
        '<div class="overview">',
        '<table id="overview">',
        "<thead><tr>" + "".join(f"<th>{h(c)}</th>" for c in table.headers) + "</tr></thead>",
        "<tbody>",
    ]
    for (number, row), item in zip(enumerate(table.rows, 1), report.devices, strict=True):
        cells = [
            f"<td>{number}</td>",
            f'<td><a href="#phone-{number}">{h(row[1])}</a></td>',
        ]
        for index, cell in enumerate(row[2:], 2):
            if index == 5:
                rank = verdict_rank(item.verdict.verdict)
                badge = _verdict(str(item.verdict.verdict), cell)
                cells.append(f'<td data-sort="{rank}">{badge}</td>')
            else:
                cells.append(f"<td>{h(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>", "</div>"]
    return "\n".join(out)


def _finding(finding: Finding) -> str:
    sev = str(finding.severity)
    out = [
        f'<div class="finding {h(sev)}">',
        f'<p><span class="sev sev-{h(sev)}">{h(sev.upper())}</span> '
        f"<code>{h(finding.check_id)}</code> — <strong>{h(finding.title)}</strong></p>",
        "<table>",
    ]
    for label, value in finding_rows(finding):
        out.append(f'<tr><td class="k">{h(label)}</td><td>{h(value)}</td></tr>')
    out += ["</table>", "</div>"]
    return "\n".join(out)


# -- the ladder -------------------------------------------------------------------------------

_LANE_X = (60, 185, 310, 435)
_TOP = 52
_ROW = 22
_TEXT_X = 505
_COLOURS = {"fail": "#c53030", "warn": "#b7791f", "": "#3b4a66"}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ladder_svg(item: DeviceReport) -> str:
    """The phone's boot as an SVG ladder (inline, no script; hover an arrow for its step)."""
    steps = ladder(item)
    peers = lane_peers(item)
    height = _TOP + _ROW * max(1, len(steps)) + 16
    width = _TEXT_X + 8 + SUMMARY_CHARS * 7 - SUMMARY_CHARS // 3
    out = [
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="boot ladder">',
        "<defs>",
    ]
    for name, colour in (("n", _COLOURS[""]), ("w", _COLOURS["warn"]), ("f", _COLOURS["fail"])):
        out.append(
            f'<marker id="a{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" '
            f'fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    for x, lane, peer in zip(_LANE_X, LANES, peers, strict=True):
        out.append(f'<text class="lane" x="{x}" y="16" text-anchor="middle">{h(lane)}</text>')
        out.append(
            f'<text x="{x}" y="31" text-anchor="middle">{h(_clip(peer, 17))}'
            f"<title>{h(peer)}</title></text>"
        )
        out.append(
            f'<line x1="{x}" y1="38" x2="{x}" y2="{height - 6}" stroke="#b8c0d0" stroke-width="2"/>'
        )
    for row, step in enumerate(steps):
        y = _TOP + _ROW * row + 8
        colour = _COLOURS[step.mark]
        marker = {"fail": "af", "warn": "aw"}.get(step.mark, "an")
        x1, x2 = _LANE_X[step.source], _LANE_X[step.target]
        dash = ' stroke-dasharray="5 3"' if step.broadcast else ""
        width_px = 3 if step.mark else 1.5
        problem = f" — {step.mark.upper()}: {', '.join(step.checks)}" if step.mark else ""
        title = f"frame {step.frame} {step.time} {step.stage}: {step.summary}{problem}"
        sign = {"fail": "✗ ", "warn": "! "}.get(step.mark, "")
        out.append(f"<g><title>{h(title)}</title>")
        out.append(f'<text x="4" y="{y + 4}" fill="#667">#{step.frame}</text>')
        out.append(
            f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" '
            f'stroke-width="{width_px}" marker-end="url(#{marker})"{dash}/>'
        )
        out.append(
            f'<text x="{_TEXT_X}" y="{y + 4}" fill="{colour}">'
            f"{h(sign + _clip(step.summary, SUMMARY_CHARS))}</text>"
        )
        out.append("</g>")
    if not steps:
        out.append(f'<text x="{_TEXT_X}" y="{_TOP + 8}">(no step seen)</text>')
    out.append("</svg>")
    return "\n".join(out)


# -- the document -----------------------------------------------------------------------------


def _device(number: int, item: DeviceReport) -> str:
    session = item.session
    verdict = str(item.verdict.verdict)
    flagged = [f for f in item.findings if f.severity != Severity.INFO]
    open_ = item.verdict.verdict in OPEN_VERDICTS
    out = [
        f'<details class="phone is-{h(verdict)}" id="phone-{number}"{" open" if open_ else ""}>',
        f"<summary>{number}. {h(phone_name(item))} — {h(device_label(session))} "
        f"{_verdict(verdict, item.verdict.label)} "
        f"<span class='note'>{len(flagged)} problem(s)</span></summary>",
    ]
    root = root_cause_line(item)
    if root is not None:
        out.append(f'<p class="root"><strong>{h(root)}</strong></p>')
    out += [
        _table(identity_table(item)),
        "<h4>Findings</h4>",
    ]
    out += [_finding(f) for f in item.findings] or ["<p>No finding.</p>"]
    out.append("<h4>Boot ladder</h4>")
    out.append(
        '<p class="note">One arrow per step, frame number on the left; dashed = broadcast; '
        "red = cited by a fail finding, amber = warn. Hover an arrow for the whole step.</p>"
    )
    out.append(f'<div class="ladder">{ladder_svg(item)}</div>')
    out += [_table(t) for t in option_tables(session)]
    out += [_table(t) for t in signin_tables(session)]
    out += [_table(t) for t in checkin_tables(session)]
    downloads = downloads_table(session)
    if downloads is not None:
        out.append(_table(downloads))
    out.append("</details>")
    return "\n".join(out)


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML document."""
    names = ", ".join(i.path for i in report.analysis.inputs) or "(live)"
    counts = report.verdict_counts()
    tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no phones"
    shown = f"{len(report.devices)} phone(s): {tally}."
    selection = report.selection_note()
    if selection is not None:
        shown = f"{selection}; shown: {tally}."
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>capinspect report: {h(names)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>capinspect report: {h(names)}</h1>",
        f"<p>{h(shown)}</p>",
        "<h2>Summary</h2>",
        _overview(report),
    ]
    if report.devices:
        out.append("<h2>Phones</h2>")
    for number, item in enumerate(report.devices, 1):
        out.append(_device(number, item))
    if report.capture_findings:  # after the phones: the first screen shows the first failure
        out.append("<h2>Capture findings</h2>")
        out += [_finding(f) for f in report.capture_findings]
    clients = other_clients_table(report)
    if clients is not None:
        out.append(_table(clients, level=2))
    out.append("<h2>Capture identity</h2>")
    out += [_table(t, level=3) for t in capture_tables(report)]
    out += [f"<script>{SORT_SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
