"""The tables the Markdown and HTML renderers share.

The tables are built once (``Table`` of report/markdown.py, raw strings from the logs) and each
format escapes them with its own renderer (``_md_table`` / ``md`` and ``_table`` / ``h``), so
nothing a log line holds (a crafted user agent, a URL, ``<script>``) becomes markup or a link.
"""

from __future__ import annotations

from capinspect.checks.logs import LogPhoneReport
from capinspect.logs.correlate import Correlation
from capinspect.logs.files import file_label
from capinspect.logs.timeline import UNIDENTIFIED
from capinspect.report.json_values import iso
from capinspect.report.logs.model import LogsResult, merged_summary, offset_text
from capinspect.report.model import Table


def _day_clock(ts: float | None) -> str:
    """``2009-03-06 17:10:39.000``: a ladder spanning days still reads in order."""
    text = iso(ts)
    if text is None:
        return "—"
    return text.replace("T", " ").rstrip("Z")[:23] if "T" in text else text


def files_table(result: LogsResult) -> Table:
    rows: list[tuple[str, ...]] = []
    for iis in result.evidence.iis_logs:
        missing = ", ".join(f"{k} ×{n}" for k, n in sorted(iis.missing_fields.items()))
        rows.append(
            (
                iis.source,
                "IIS W3C",
                str(len(iis.records)),
                f"{iis.header_blocks} header block(s), {iis.other_records} other line(s)"
                + (f"; columns absent: {missing}" if missing else ""),
            )
        )
    for audit in result.evidence.audit_logs:
        sep = "comma" if audit.delimiter == "," else "semicolon"
        rows.append(
            (
                audit.source,
                "audit",
                str(len(audit.records)),
                f"{sep}-delimited; dates {audit.date_orders.get('logged')} (logged), "
                f"{audit.date_orders.get('culture')} (request, timestamps)",
            )
        )
    for bad in result.unreadable:
        rows.append((bad.source, "unreadable", "0", bad.detail))
    return Table("Log files", ("file", "kind", "lines used", "notes"), tuple(rows))


def clock_table(result: LogsResult) -> Table | None:
    ev, corr = result.evidence, result.correlation
    rows: list[tuple[str, ...]] = []
    if ev.audit_to_iis is not None and ev.has_iis:
        rows.append(
            (
                "audit log vs IIS log",
                f"{ev.audit_to_iis:+.0f} s ({ev.audit_to_iis_matches} agreeing row/line pair(s))",
            )
        )
    if corr is not None:
        rows.append(("IIS log", offset_text(corr.iis)))
        rows.append(("audit log", offset_text(corr.audit)))
    if not rows:
        return None
    return Table("Clocks", ("", ""), tuple(rows))


def problems_table(result: LogsResult) -> Table | None:
    problems = result.evidence.problems
    if not problems:
        return None
    shown = problems[:50]
    note = f"{len(problems) - len(shown)} more not shown." if len(problems) > len(shown) else ""
    rows = tuple(
        (f"{file_label(p.source)}:{p.line}" if p.line else file_label(p.source), p.code, p.detail)
        for p in shown
    )
    return Table("Lines not used", ("line", "problem", "detail"), rows, note)


def phone_title(rep: LogPhoneReport) -> str:
    if rep.phone.key == UNIDENTIFIED:
        return "Lines not tied to a phone"
    return rep.phone.label


def identity_table(rep: LogPhoneReport, cap: str | None) -> Table:
    phone = rep.phone
    rows = [
        ("MAC", phone.mac or "—"),
        ("IP addresses", ", ".join(phone.ips) or "—"),
        ("device", " ".join(p for p in (phone.device_type, phone.vendor, phone.model) if p) or "—"),
        ("revision / locale", " / ".join(p for p in (phone.revision, phone.locale) if p) or "—"),
        ("serial", phone.serial or "—"),
        ("user", phone.user or "—"),
        ("lines", f"{len(phone.iis)} IIS line(s), {len(phone.audit)} audit row(s)"),
        ("verdict", str(rep.verdict).upper()),
    ]
    if cap is not None:
        rows.append(("capture phone", cap))
    return Table("Phone", ("", ""), tuple(rows))


def ladder_table(rep: LogPhoneReport, corr: Correlation | None, cap: str | None) -> Table:
    if corr is not None and cap is not None:
        merged = corr.timelines.get(cap, ())
        merged_rows = tuple(
            (
                _day_clock(s.ts),
                s.source,
                f"#{s.frame}" if s.frame is not None else s.where or "",
                s.stage,
                merged_summary(s),
                "" if s.shift is None else f"{s.shift:+.3f}",
            )
            for s in merged
        )
        return Table(
            "Merged ladder (capture clock, UTC)",
            ("time", "source", "frame / line", "stage", "what", "shift (s)"),
            merged_rows,
            "Log lines are moved onto the capture's clock by the shift shown (the measured clock "
            "offset; a whole-second log time counts as the middle of its second).",
        )
    rows = tuple((_day_clock(s.ts), s.source, s.where, s.stage, s.summary) for s in rep.phone.steps)
    return Table(
        "Log ladder (IIS log's clock)",
        ("time", "source", "line", "stage", "what"),
        rows,
        "Downloads are shown when they started (logged time minus time-taken)."
        if any(s.stage == "download" for s in rep.phone.steps)
        else "",
    )


def paths(result: LogsResult) -> list[str]:
    ev = result.evidence
    return [*(log.source for log in ev.iis_logs), *(log.source for log in ev.audit_logs)]


def tally(result: LogsResult) -> str:
    """``2 phone(s): 1 fail, 1 pass; 3 line(s) not tied to a phone``."""
    order = ("fail", "warn", "inconclusive", "pass")
    phones = [r for r in result.phones if r.phone.key != UNIDENTIFIED]
    seen = [str(r.verdict) for r in phones]
    parts = [f"{seen.count(v)} {v}" for v in order if seen.count(v)]
    out = f"{len(phones)} phone(s)" + ((": " + ", ".join(parts)) if parts else "")
    loose = sum(len(r.phone.iis) + len(r.phone.audit) for r in result.phones) - sum(
        len(r.phone.iis) + len(r.phone.audit) for r in phones
    )
    return out + (f"; {loose} line(s) not tied to a phone" if loose else "")
