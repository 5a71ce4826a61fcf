"""Device Update audit logs (``Logs\\Server\\Audit\\imageUpdates\\RequestHandlerAuditLog_*.log``).

One row per check-in: who asked (MAC, serial, vendor, model, revision, locale, user), what it has
installed (``Requested``: ``FileName;Version;TimeStamp`` modules, ``#`` between several) and
what it was told to fetch (``Response``, same shape, the file name being the URL). The seed's
header and three rows are the reference; readers' rows (comment 1) and Microsoft's pages
(protocol.md §4.1) add the variations handled here:

* **delimiter** — the seed's rows are comma-separated; Microsoft's OCS 2007 R2 page says
  semicolon-delimited. The header (or the first row) decides, counting separators outside
  ``<…>``; with ``;`` between columns, a module's own ``;`` is told apart by the module grammar
  (three parts each, ``#`` between modules).
* **dates** — the server writes Logging DateTime month first (``03-06-2009`` in the seed is
  6 March, the day of its IIS log; comment 1 writes ``06/30/2009``) and the Request DateTime and
  module timestamps in its culture's order (the seed's Portuguese server: ``06-03-2009``,
  ``16-12-2008``; comment 1's US one: ``6/30/2009 4:47:50 PM``). Per file and per group, a day
  above 12 settles the order; otherwise Logging DateTime stays month first and the culture
  order is the one that puts each request next to its logging time.
* **wrapped rows** — a row cut mid-timestamp by a blog (comment 1) is joined with the next line.
* A requested module with no version and a 1601 timestamp (the Windows FILETIME epoch) means
  the phone reports nothing the server knows (seed, row 1).
"""

from __future__ import annotations

import calendar
import csv
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from capinspect.devices import normalise_mac
from capinspect.knowledge.firmware import UNKNOWN_VERSION_TIMESTAMP
from capinspect.logs.files import QUOTES, LogProblem, file_label, iter_lines

SEED_COLUMNS: tuple[str, ...] = (
    "logged",
    "user",
    "client_ip",
    "device_type",
    "request_time",
    "mac",
    "serial",
    "vendor",
    "model",
    "revision",
    "locale",
    "requested",
    "response",
)
"""The seed's header, as column keys (used when a file or paste has no header line)."""

_HEADER_NAMES = {
    "loggingdatetime": "logged",
    "username": "user",
    "userid": "user",
    "userhostaddress": "client_ip",
    "devicetype": "device_type",
    "requestdatetime": "request_time",
    "macaddress": "mac",
    "serialnumber": "serial",
    "vendor": "vendor",
    "brand": "vendor",
    "model": "model",
    "revision": "revision",
    "locale": "locale",
}

_DATETIME = re.compile(
    r"^\s*(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?)?\s*$"
)
_ROW_START = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b")
MAX_CONTINUATIONS = 4

MDY, DMY = "month-first", "day-first"


@dataclass(frozen=True, slots=True)
class AuditModule:
    """``FileName;Version;TimeStamp``: an installed module (request) or an offered file."""

    file_name: str
    version: str | None
    timestamp_text: str
    timestamp: float | None

    @property
    def unknown_install(self) -> bool:
        """No version and the 1601 timestamp: nothing installed that the server knows."""
        return not self.version and UNKNOWN_VERSION_TIMESTAMP in self.timestamp_text

    @property
    def path(self) -> str | None:
        """Lower-case URL path of an offered file (``/deviceupdatefiles_int/…/cpe.nbt``)."""
        name = self.file_name.strip()
        if "://" in name:
            try:
                return urlsplit(name).path.lower() or None
            except ValueError:
                return None
        return name.lower() if name.startswith("/") else None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    source: str
    line: int
    lines: int
    logged_ts: float | None
    """Logging DateTime: when the server handled the check-in (server clock, as if UTC)."""
    logged_text: str
    user: str | None
    client_ip: str | None
    device_type: str | None
    request_ts: float | None
    """Request DateTime: the time the phone put in its request (its own clock)."""
    request_text: str
    mac: str | None
    """Normalised ``00:21:63:0f:20:7b``."""
    mac_text: str
    serial: str | None
    vendor: str | None
    model: str | None
    revision: str | None
    locale: str | None
    requested: tuple[AuditModule, ...]
    response: tuple[AuditModule, ...]
    extra: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    raw: str = ""
    """The row's physical lines as read (joined by ``\\n`` when a blog had wrapped it)."""

    @property
    def firmware(self) -> str | None:
        """The version the phone reports; None when it reports none (empty version)."""
        for module in self.requested:
            if module.version:
                return module.version
        return None

    @property
    def reports_nothing_known(self) -> bool:
        return bool(self.requested) and all(m.unknown_install for m in self.requested)

    @property
    def where(self) -> str:
        return f"{file_label(self.source)}:{self.line}"


@dataclass(frozen=True, slots=True)
class AuditLog:
    source: str
    records: tuple[AuditRecord, ...]
    problems: tuple[LogProblem, ...]
    delimiter: str
    date_orders: dict[str, str]
    """``logged`` / ``culture`` → ``month-first`` or ``day-first``, with how it was decided."""
    had_header: bool


@dataclass(slots=True)
class _Row:
    line: int
    lines: int
    values: dict[str, str]
    extra: dict[str, str]
    raw: str = ""


def _key(name: str) -> str:
    letters = re.sub(r"[^a-z]", "", name.lower().split("<", 1)[0].split("[", 1)[0])
    if letters.startswith("requested") or letters == "requestmodules":
        return "requested"
    if letters.startswith("response"):
        return "response"
    return _HEADER_NAMES.get(letters, letters)


def _outside_brackets(text: str) -> str:
    return re.sub(r"<[^>]*>|\[[^\]]*\]", "", text)


def _datetime_parts(text: str) -> tuple[int, int, int, int, int, int, bool | None] | None:
    """(a, b, year, h, m, s, pm) with a/b the two ambiguous parts; None if not a date."""
    match = _DATETIME.match(text)
    if match is None:
        return None
    p1, p2, p3, h, mi, s, ampm = match.groups()
    if len(p1) == 4:  # ISO order: year first, then month, day (returned as MDY's a/b)
        a, b, year = int(p2), int(p3), int(p1)
    else:
        a, b, year = int(p1), int(p2), int(p3)
        if year < 100:
            year += 2000
    pm = None if ampm is None else ampm.lower() == "p"
    return a, b, year, int(h or 0), int(mi or 0), int(s or 0), pm


def _to_epoch(text: str, order: str) -> float | None:
    parts = _datetime_parts(text)
    if parts is None:
        return None
    a, b, year, h, mi, s, pm = parts
    iso_order = bool(re.match(r"^\s*\d{4}", text))
    month, day = (a, b) if order == MDY or iso_order else (b, a)
    if pm is not None:
        h = (h % 12) + (12 if pm else 0)
    if not (1 <= month <= 12 and 1 <= day <= 31 and h < 24 and mi < 60 and s < 61):
        return None
    try:
        return float(calendar.timegm((year, month, day, h, mi, s, 0, 0, 0)))
    except (ValueError, OverflowError):
        return None


def _evidence(texts: Iterable[str]) -> tuple[int, int]:
    """(votes for day-first, votes for month-first) from values whose order is certain."""
    dmy = mdy = 0
    for text in texts:
        parts = _datetime_parts(text)
        if parts is None or re.match(r"^\s*\d{4}", text):
            continue
        a, b = parts[0], parts[1]
        if a > 12 >= b:
            dmy += 1
        elif b > 12 >= a:
            mdy += 1
    return dmy, mdy


def parse_modules(text: str, inner: str = ";") -> tuple[AuditModule, ...]:
    """``a;1.0;ts#b;2.0;ts`` → modules (timestamps parsed later, once the order is known)."""
    out: list[AuditModule] = []
    for chunk in text.split("#"):
        chunk = chunk.strip()
        if not chunk:
            continue
        parts = [p.strip() for p in chunk.split(inner)]
        parts += [""] * (3 - len(parts))
        name, version, stamp = parts[0], parts[1], inner.join(parts[2:]).strip(inner + " ")
        out.append(AuditModule(name, version or None, stamp, None))
    return tuple(out)


def _split_tail(tail: list[str]) -> tuple[str, str, str] | None:
    """Requested and Response columns from what follows the fixed columns of a ``;`` row.

    Two fields left: the modules use ``,`` inside. More: the modules use ``;`` too, so the
    tokens are regrouped as ``name;version;timestamp`` triples, a ``#`` inside a timestamp
    token starting the next module of the same list. Returns (requested, response, inner
    separator), or None if the tokens do not form two module lists.
    """
    if len(tail) == 2:
        return tail[0], tail[1], ","
    items: list[tuple[str, bool]] = []
    for token in ";".join(tail).split(";"):
        for k, piece in enumerate(token.split("#")):
            items.append((piece, k > 0))
    lists: list[str] = []
    pos = 0
    for _ in range(2):
        if pos < len(items) and items[pos][0].strip() == "" and pos + 1 in (len(items), 1):
            lists.append("")  # an empty list: one empty field
            pos += 1
            continue
        modules: list[str] = []
        while pos + 3 <= len(items):
            modules.append(";".join(piece for piece, _ in items[pos : pos + 3]))
            pos += 3
            if pos >= len(items) or not items[pos][1]:
                break
        else:
            return None
        lists.append("#".join(modules))
    if pos != len(items):
        return None
    return lists[0], lists[1], ";"


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.columns: tuple[str, ...] = SEED_COLUMNS
        self.delimiter: str | None = None
        self.had_header = False
        self.rows: list[_Row] = []
        self.problems: list[LogProblem] = []
        self.pending: list[str] = []
        self.pending_line = 0

    def problem(self, line: int | None, code: str, detail: str) -> None:
        if len(self.problems) < 1000:
            self.problems.append(LogProblem(self.source, line, code, detail))

    def header(self, line: str) -> None:
        outside = _outside_brackets(line)
        self.delimiter = "," if outside.count(",") >= outside.count(";") else ";"
        names = next(csv.reader([line], delimiter=self.delimiter))
        if self.delimiter == ";":
            # "Requested<FileName;Version;TimeStamp>" holds the delimiter: split outside <…>.
            names = [n for n in re.split(r";(?![^<]*>)", line)]
        self.columns = tuple(_key(n) for n in names if n.strip())
        self.had_header = True

    def feed(self, number: int, raw: str) -> None:
        line = raw.translate(QUOTES).strip()
        if not line:
            return
        if line.lower().startswith("logging datetime") or line.lower().startswith(
            "logging date time"
        ):
            self.flush()
            self.header(line)
            return
        if _ROW_START.match(line):
            self.flush()
            self.pending, self.pending_line = [line], number
            return
        if self.pending and len(self.pending) <= MAX_CONTINUATIONS:
            self.pending.append(line)
            return
        self.problem(number, "audit-log.stray-text", f"not an audit-log row: {line[:80]!r}")

    def split(self, text: str) -> dict[str, str] | None:
        """Column key → value, or None when the row does not have the header's columns.

        Without a header line the delimiter is the first one that splits a row into the
        columns, then kept for the file (prose and IIS lines pasted nearby split into neither).
        """
        if self.delimiter is not None:
            return self._split(text, self.delimiter)
        for delimiter in (",", ";"):
            values = self._split(text, delimiter)
            if values is not None:
                self.delimiter = delimiter
                return values
        return None

    def _split(self, text: str, delimiter: str) -> dict[str, str] | None:
        fields = next(csv.reader([text], delimiter=delimiter, skipinitialspace=True))
        fixed = [c for c in self.columns if c not in ("requested", "response")]
        n = len(self.columns)
        if len(fields) == n:
            return dict(zip(self.columns, fields, strict=True))
        if len(fields) == n - 1 and self.columns[-1] == "response":
            return dict(zip(self.columns, [*fields, ""], strict=True))
        if delimiter == ";" and self.columns[-2:] == ("requested", "response"):
            head, tail = fields[: len(fixed)], fields[len(fixed) :]
            split = _split_tail(tail) if len(head) == len(fixed) else None
            if split is not None:
                values = dict(zip(fixed, head, strict=True))
                values["requested"], values["response"] = split[0], split[1]
                values["_inner"] = split[2]
                return values
        return None

    def flush(self) -> None:
        """Split the pending row, joined with as many following lines as make it read best.

        Every join of a prefix of the fragments (each break a space or nothing) is tried; the
        one whose dates read best wins, ties going to the longer join (a row cut mid-timestamp
        reads as well cut as joined). Fragments left over are reported, not silently dropped.
        """
        if not self.pending:
            return
        fragments, first = self.pending, self.pending_line
        self.pending = []
        best: tuple[tuple[int, int], int, dict[str, str]] | None = None
        for used in range(1, len(fragments) + 1):
            for glues in itertools.product((" ", ""), repeat=used - 1):
                text = fragments[0]
                for glue, frag in zip(glues, fragments[1:used], strict=True):
                    text += glue + frag
                values = self.split(text)
                if values is None:
                    continue
                score = (self._date_score(values), used)
                if best is None or score > best[0]:
                    best = (score, used, values)
        used = best[1] if best is not None else 1
        for k, left in enumerate(fragments[used:], used):
            self.problem(first + k, "audit-log.stray-text", f"not an audit-log row: {left!r}")
        if best is None:
            self.problem(
                first,
                "audit-log.unparsed-row",
                f"does not have the {len(self.columns)} columns of the header: "
                f"{fragments[0][:80]!r}",
            )
            return
        values = best[2]
        extra = {k: v for k, v in values.items() if k not in SEED_COLUMNS and k != "_inner"}
        self.rows.append(_Row(first, used, values, extra, "\n".join(fragments[:used])))

    @staticmethod
    def _date_score(values: dict[str, str]) -> int:
        """Dates that read as dates, minus module timestamps that do not."""
        inner = values.get("_inner", ";")
        score = sum(
            _datetime_parts(values.get(k, "")) is not None for k in ("logged", "request_time")
        )
        for key in ("requested", "response"):
            for m in parse_modules(values.get(key, ""), inner):
                score += 1 if _datetime_parts(m.timestamp_text) is not None else -1
        return score

    def decide_orders(self) -> dict[str, str]:
        logged = [r.values.get("logged", "") for r in self.rows]
        culture: list[str] = []
        for r in self.rows:
            culture.append(r.values.get("request_time", ""))
            inner = r.values.get("_inner", ";")
            for key in ("requested", "response"):
                culture += [m.timestamp_text for m in parse_modules(r.values.get(key, ""), inner)]
        orders: dict[str, str] = {}
        dmy, mdy = _evidence(logged)
        if dmy != mdy:
            orders["logged"] = DMY if dmy > mdy else MDY
            orders["logged_how"] = "from the values (a day above 12)"
        else:
            orders["logged"] = MDY
            orders["logged_how"] = (
                "assumed: the request handler writes Logging DateTime month first"
            )
        dmy, mdy = _evidence(culture)
        if any(re.search(r"\d\s*[AaPp]\.?[Mm]\b", t) for t in culture):
            mdy += 1
        if dmy != mdy:
            orders["culture"] = DMY if dmy > mdy else MDY
            orders["culture_how"] = "from the values (a day above 12)"
        else:
            orders["culture"] = self._closest_order(orders["logged"])
            orders["culture_how"] = "the order that puts Request DateTime nearest Logging DateTime"
        return orders

    def _closest_order(self, logged_order: str) -> str:
        distance = {MDY: 0.0, DMY: 0.0}
        for r in self.rows:
            logged = _to_epoch(r.values.get("logged", ""), logged_order)
            for order in (MDY, DMY):
                req = _to_epoch(r.values.get("request_time", ""), order)
                if logged is not None:
                    distance[order] += abs(req - logged) if req is not None else 10**9
        return DMY if distance[DMY] < distance[MDY] else logged_order

    def result(self) -> AuditLog:
        self.flush()
        orders = self.decide_orders()
        records = [self.record(row, orders) for row in self.rows]
        return AuditLog(
            source=self.source,
            records=tuple(r for r in records if r is not None),
            problems=tuple(self.problems),
            delimiter=self.delimiter or ",",
            date_orders=orders,
            had_header=self.had_header,
        )

    def record(self, row: _Row, orders: dict[str, str]) -> AuditRecord | None:
        v = row.values
        inner = v.get("_inner", ";")
        logged_text = v.get("logged", "").strip()
        logged_ts = _to_epoch(logged_text, orders["logged"])
        if logged_ts is None:
            self.problem(row.line, "audit-log.bad-date", f"Logging DateTime {logged_text!r}")
        request_text = v.get("request_time", "").strip()

        def modules(key: str) -> tuple[AuditModule, ...]:
            out = []
            for m in parse_modules(v.get(key, ""), inner):
                ts = _to_epoch(m.timestamp_text, orders["culture"]) if m.timestamp_text else None
                out.append(AuditModule(m.file_name, m.version, m.timestamp_text, ts))
            return tuple(out)

        def text(key: str) -> str | None:
            value = v.get(key, "").strip()
            return value or None

        mac_text = v.get("mac", "").strip()
        return AuditRecord(
            source=self.source,
            line=row.line,
            lines=row.lines,
            logged_ts=logged_ts,
            logged_text=logged_text,
            user=text("user"),
            client_ip=text("client_ip"),
            device_type=text("device_type"),
            request_ts=_to_epoch(request_text, orders["culture"]) if request_text else None,
            request_text=request_text,
            mac=normalise_mac(mac_text),
            mac_text=mac_text,
            serial=text("serial"),
            vendor=text("vendor"),
            model=text("model"),
            revision=text("revision"),
            locale=text("locale"),
            requested=modules("requested"),
            response=modules("response"),
            extra=row.extra,
            raw=row.raw,
        )


def parse_audit_lines(lines: Iterable[str], source: str = "<text>") -> AuditLog:
    parser = _Parser(source)
    for number, line in enumerate(lines, 1):
        parser.feed(number, line)
    return parser.result()


def parse_audit_text(text: str, source: str = "<text>") -> AuditLog:
    return parse_audit_lines(text.splitlines(), source)


def read_audit_log(path: str) -> AuditLog:
    """Read one audit log; raises LogFileError only when the file cannot be opened."""
    return parse_audit_lines(iter_lines(path), path)
