"""IIS W3C extended log files, read as they reach a support engineer.

IIS writes ``#Software``/``#Version``/``#Date``/``#Fields`` headers (again at every restart, so a
file holds several blocks, each with its own field order) and one space-separated line per
request, spaces inside values written as ``+``. The seed's lines show what happens after that:

* lines pasted into a blog or ticket wrap (``…/OCInterim/ENU/`` + ``CPE.nbt - 80 …``, and
  ``… Microsoft+`` + ``UCPhone+Device …``): a line that does not start a record continues the
  one before, and whether the break stood for a space or for nothing is decided by which join
  makes a well-formed record;
* the author removed columns (the seed's header lists ``s-ip`` and ``c-ip``, its lines have
  neither): each token is placed in the header's field it can be (a date, an address, a port, a
  status…), the fewest fields left out, and the missing ones are counted;
* ``–`` instead of ``-`` (blog software), and no header at all (comments 1 and 19): IIS's
  default field order is assumed.

The time IIS logs is when the response finished: the seed's 137810 ms download is logged at
17:12:57 and so started at 17:10:39, the second of the check-in that offered it.
"""

from __future__ import annotations

import calendar
import ipaddress
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from capinspect.knowledge.phone import PHONE_USER_AGENT_MARKERS
from capinspect.logs.files import QUOTES, LogProblem, file_label, iter_lines, undash

DEFAULT_FIELDS: tuple[str, ...] = (
    "date",
    "time",
    "s-ip",
    "cs-method",
    "cs-uri-stem",
    "cs-uri-query",
    "s-port",
    "cs-username",
    "c-ip",
    "cs(user-agent)",
    "sc-status",
    "sc-substatus",
    "sc-win32-status",
    "time-taken",
)
"""IIS 7's default W3C fields, the seed's ``#Fields`` line (lower-cased)."""

MAX_CONTINUATIONS = 6
"""Continuation lines joined to one record at most (2**n joins are tried)."""

RELEVANT_PREFIXES = (
    "/requesthandler/",
    "/requesthandlerext/",
    "/ucdeviceupdates/",
    "/deviceupdatefiles_",
)
PHONE_AGENTS = PHONE_USER_AGENT_MARKERS

_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_TIME = re.compile(r"^\d{1,2}:\d{2}:\d{2}(?:\.\d+)?$")
_METHOD = re.compile(r"^[A-Z][A-Z_-]{1,19}$")
_DIGITS = re.compile(r"^\d+$")
_STATUS = re.compile(r"^\d{3}$")


def _is_ip(token: str) -> bool:
    if token == "-":
        return True
    try:
        ipaddress.ip_address(token.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _digits_or_dash(token: str) -> bool:
    return token == "-" or bool(_DIGITS.match(token))


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "date": lambda t: bool(_DATE.match(t)),
    "time": lambda t: bool(_TIME.match(t)),
    "s-ip": _is_ip,
    "c-ip": _is_ip,
    "cs-method": lambda t: bool(_METHOD.match(t)),
    "cs-uri-stem": lambda t: t.startswith("/") or t == "-" or "://" in t,
    "s-port": lambda t: bool(_DIGITS.match(t)),
    "sc-status": lambda t: bool(_STATUS.match(t)),
    "sc-substatus": lambda t: bool(_DIGITS.match(t)),
    "sc-win32-status": lambda t: bool(_DIGITS.match(t)),
    "time-taken": lambda t: bool(_DIGITS.match(t)),
    "sc-bytes": _digits_or_dash,
    "cs-bytes": _digits_or_dash,
}
"""What a value of each field can look like; fields not listed take any token."""

REQUIRED = frozenset({"date", "time", "cs-method", "cs-uri-stem", "sc-status"})
"""Fields a record cannot do without (when the header has them)."""

SKIP_COST: dict[str, int] = {"s-ip": 1, "c-ip": 1, "cs-username": 2, "s-computername": 2}
"""Fields people remove before pasting a log (addresses first, then names): leaving one of
these out is the likelier explanation of a short line than leaving out a port or a status
(any other field costs 3)."""


@dataclass(frozen=True, slots=True)
class IisRecord:
    """One request as IIS logged it."""

    source: str
    line: int
    """First physical line of the record in its file (1-based)."""
    lines: int
    """Physical lines it spanned (more than 1 when it had been wrapped)."""
    ts: float
    """When IIS logged it (the response's end), epoch seconds on the server's clock (UTC)."""
    method: str
    stem: str
    query: str | None
    client_ip: str | None
    server_ip: str | None
    server_port: int | None
    username: str | None
    user_agent: str | None
    """With IIS's ``+`` turned back into spaces."""
    status: int
    substatus: int | None
    win32_status: int | None
    time_taken_ms: int | None
    host: str | None
    missing: tuple[str, ...] = ()
    """Fields of the header the line did not have (removed by whoever pasted it)."""
    raw: str = ""
    """The record's physical lines as read (joined by ``\\n`` when it had been wrapped), so a
    JSON reader can quote the line itself next to its parsed fields."""
    logged_text: str = ""
    """``date time`` as written in the line (or with ``#Date``'s date), before any parsing."""

    @property
    def start_ts(self) -> float:
        """When the request started: the logged time minus time-taken."""
        return self.ts - (self.time_taken_ms or 0) / 1000.0

    @property
    def path(self) -> str:
        return self.stem.lower()

    @property
    def iis_status(self) -> str:
        """``500.19``, as ``capinspect explain`` and the IIS sub-status table write it."""
        return f"{self.status}.{self.substatus}" if self.substatus else str(self.status)

    @property
    def where(self) -> str:
        """``u_ex090306.log:12``, how findings and timelines cite the line."""
        return f"{file_label(self.source)}:{self.line}"

    @property
    def is_checkin(self) -> bool:
        return self.path.endswith("/ucdevice.upx")

    @property
    def is_phone(self) -> bool:
        agent = (self.user_agent or "").lower()
        return any(marker in agent for marker in PHONE_AGENTS)


@dataclass(frozen=True, slots=True)
class IisLog:
    source: str
    records: tuple[IisRecord, ...]
    """The Device Update requests (and any request with a phone's user agent)."""
    problems: tuple[LogProblem, ...]
    header_blocks: int
    other_records: int
    """Well-formed records about other web applications, counted and dropped."""
    missing_fields: dict[str, int] = field(default_factory=dict)
    """Field → how many records lacked it."""
    software: str | None = None


def is_relevant(stem: str, user_agent: str | None) -> bool:
    low = stem.lower()
    agent = (user_agent or "").lower()
    return low.startswith(RELEVANT_PREFIXES) or any(m in agent for m in PHONE_AGENTS)


def align(tokens: list[str], fields: tuple[str, ...]) -> tuple[int, dict[str, str]] | None:
    """Place each token in a field, in order, leaving out the fewest fields.

    Returns (fields left out, field → token), or None when no placement respects the value
    shapes and keeps the required fields. Every token must be placed.
    """
    n, m = len(tokens), len(fields)
    if n > m:
        return None
    inf = 10**6
    # best[i][j]: fewest skips placing tokens[:i] into fields[:j]
    best = [[inf] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0
    for j in range(1, m + 1):
        name = fields[j - 1]
        skip_cost = inf if name in REQUIRED else SKIP_COST.get(name, 3)
        check = VALIDATORS.get(name)
        for i in range(0, min(n, j) + 1):
            cost = best[i][j - 1] + skip_cost
            if i > 0 and best[i - 1][j - 1] < inf and (check is None or check(tokens[i - 1])):
                cost = min(cost, best[i - 1][j - 1])
            best[i][j] = min(cost, inf)
    if best[n][m] >= inf:
        return None
    placed: dict[str, str] = {}
    i, j = n, m
    while j > 0:
        name = fields[j - 1]
        check = VALIDATORS.get(name)
        if i > 0 and best[i - 1][j - 1] == best[i][j] and (check is None or check(tokens[i - 1])):
            placed[name] = tokens[i - 1]
            i -= 1
        j -= 1
    return best[n][m], placed


def _natural_glue(before: str, after: str) -> str:
    """How a wrap most likely happened when both joins parse: mid-URL or mid-``+`` → nothing."""
    if before.endswith(("/", "+", "_", ".", "-")) or after.startswith(("/", "+")):
        return ""
    return " "


def _join_best(
    fragments: list[str], fields: tuple[str, ...]
) -> tuple[list[str], tuple[int, dict[str, str]]] | None:
    """Try every space/no-space join of the fragments; the well-formed one with fewest gaps."""
    best: tuple[tuple[int, int], list[str], tuple[int, dict[str, str]]] | None = None
    for glues in itertools.product(("", " "), repeat=len(fragments) - 1):
        text = fragments[0]
        unnatural = 0
        for glue, frag in zip(glues, fragments[1:], strict=True):
            unnatural += glue != _natural_glue(text, frag)
            text += glue + frag
        tokens = [undash(t) for t in text.split()]
        placed = align(tokens, fields)
        if placed is None:
            continue
        score = (placed[0], unnatural)
        if best is None or score < best[0]:
            best = (score, tokens, placed)
    return None if best is None else (best[1], best[2])


def _int(value: str | None) -> int | None:
    if value is None or not _DIGITS.match(value):
        return None
    return int(value)


def _dash(value: str | None) -> str | None:
    return None if value in (None, "-", "") else value


def _epoch(date: str, clock: str) -> float | None:
    try:
        y, mo, d = (int(p) for p in date.split("-"))
        hms, _, frac = clock.partition(".")
        h, mi, s = (int(p) for p in hms.split(":"))
        base = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61):
        return None
    return base + (float("0." + frac) if frac else 0.0)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.fields = DEFAULT_FIELDS
        self.default_date: str | None = None
        self.records: list[IisRecord] = []
        self.problems: list[LogProblem] = []
        self.software_lines = 0
        self.fields_lines = 0
        self.other = 0
        self.missing: Counter[str] = Counter()
        self.software: str | None = None
        self.pending: list[str] = []
        self.pending_line = 0

    def problem(self, line: int | None, code: str, detail: str) -> None:
        if len(self.problems) < 1000:
            self.problems.append(LogProblem(self.source, line, code, detail))

    def starts_record(self, line: str) -> bool:
        first = undash(line.split(None, 1)[0])
        check = VALIDATORS.get(self.fields[0])
        return check is None or check(first)

    def header(self, number: int, line: str) -> None:
        name, _, value = line[1:].partition(":")
        key = name.strip().lower()
        value = value.strip()
        if key == "software":
            self.software_lines += 1
            self.software = value
        elif key == "date":
            self.default_date = value.split()[0] if value else None
        elif key == "fields":
            fields = tuple(f.lower() for f in value.split())
            if not fields:
                self.problem(number, "iis-log.bad-header", "#Fields: line with no fields")
                return
            self.fields_lines += 1
            self.fields = fields

    def feed(self, number: int, raw: str) -> None:
        line = raw.translate(QUOTES).strip()
        if not line:
            return
        if line.startswith("#"):
            self.flush()
            self.header(number, line)
            return
        if self.starts_record(line):
            self.flush()
            self.pending, self.pending_line = [line], number
            return
        if self.pending and len(self.pending) <= MAX_CONTINUATIONS:
            self.pending.append(line)
            return
        self.problem(number, "iis-log.stray-text", f"not an IIS record: {line[:80]!r}")

    def flush(self) -> None:
        if not self.pending:
            return
        fragments, first = self.pending, self.pending_line
        self.pending = []
        joined = _join_best(fragments, self.fields)
        if joined is None and len(fragments) > 1:
            # The record does not take the extra lines: keep it alone, report the rest.
            alone = _join_best(fragments[:1], self.fields)
            if alone is not None:
                for k, extra in enumerate(fragments[1:], 1):
                    self.problem(first + k, "iis-log.stray-text", f"not an IIS record: {extra!r}")
                fragments, joined = fragments[:1], alone
        if joined is None:
            self.problem(
                first,
                "iis-log.unparsed-line",
                f"does not fit the #Fields ({len(self.fields)} fields): {fragments[0][:80]!r}",
            )
            return
        _, (skipped, values) = joined
        self.record(first, len(fragments), values, skipped, "\n".join(fragments))

    def record(
        self, line: int, lines: int, values: dict[str, str], skipped: int, raw: str = ""
    ) -> None:
        date = values.get("date") or self.default_date
        clock = values.get("time")
        ts = _epoch(date, clock) if date and clock else None
        if ts is None:
            self.problem(line, "iis-log.bad-time", f"no usable date/time: {date} {clock}")
            return
        stem = values.get("cs-uri-stem", "-")
        agent = _dash(values.get("cs(user-agent)"))
        agent = agent.replace("+", " ") if agent else None
        if not is_relevant(stem, agent):
            self.other += 1
            return
        missing = tuple(f for f in self.fields if f not in values and f != "date")
        if "date" in self.fields and "date" not in values:
            missing = ("date", *missing)
        self.missing.update(missing)
        self.records.append(
            IisRecord(
                source=self.source,
                line=line,
                lines=lines,
                ts=ts,
                method=values.get("cs-method", "-"),
                stem=stem,
                query=_dash(values.get("cs-uri-query")),
                client_ip=_dash(values.get("c-ip")),
                server_ip=_dash(values.get("s-ip")),
                server_port=_int(values.get("s-port")),
                username=_dash(values.get("cs-username")),
                user_agent=agent,
                status=int(values["sc-status"]),
                substatus=_int(values.get("sc-substatus")),
                win32_status=_int(values.get("sc-win32-status")),
                time_taken_ms=_int(values.get("time-taken")),
                host=_dash(values.get("cs-host")),
                missing=missing,
                raw=raw,
                logged_text=f"{date} {clock}",
            )
        )

    def result(self) -> IisLog:
        self.flush()
        return IisLog(
            source=self.source,
            records=tuple(self.records),
            problems=tuple(self.problems),
            header_blocks=max(self.software_lines, self.fields_lines),
            other_records=self.other,
            missing_fields=dict(self.missing),
            software=self.software,
        )


def parse_iis_lines(lines: Iterable[str], source: str = "<text>") -> IisLog:
    """Parse an IIS W3C log (or IIS lines pasted from a ticket) from its lines."""
    parser = _Parser(source)
    for number, line in enumerate(lines, 1):
        parser.feed(number, line)
    return parser.result()


def parse_iis_text(text: str, source: str = "<text>") -> IisLog:
    return parse_iis_lines(text.splitlines(), source)


def read_iis_log(path: str) -> IisLog:
    """Read one IIS log file; raises LogFileError only when the file cannot be opened."""
    return parse_iis_lines(iter_lines(path), path)
