"""``capinspect explain``: one term in, plain words out.

It takes what capinspect prints and what users paste from the places they look:

* a check ID (``download.acl-denied``);
* an IIS status as a W3C log line ends (``500 19 5``, ``500 19 5 62``: status, sub-status,
  Win32 status, time taken), as an error page titles it (``HTTP Error 500.19 - Internal Server
  Error``, ``HTTP 500.19``, ``500.19``) or bare (``404``);
* the HRESULT an IIS error page shows (``0x80070005``, HRESULT_FROM_WIN32 of a Win32 code);
* a bare Win32 status (``5``) or its name (``ERROR_ACCESS_DENIED``);
* a WinInet error by name (``ERROR_INTERNET_NAME_NOT_RESOLVED``) or number (``12007``,
  ``0x2ee7``);
* a phone's Last Update Status (``0x2f7d/200``, ``0x0/200``, ``(0x0/200)``, and ``0×00/0`` with
  the multiplication sign the troubleshooting article prints).

Anything else is one error line that lists these kinds (exit status 2).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus

from capinspect.checks import SPECS_BY_ID
from capinspect.errors import CapinspectError
from capinspect.knowledge.iis import IIS_SUBSTATUS
from capinspect.knowledge.win32 import (
    HRESULT_FROM_WIN32_BASE,
    WIN32_BY_SYMBOL,
    WIN32_ERRORS,
    win32_from_hresult,
)
from capinspect.knowledge.wininet import WININET_ERRORS

_NUMBER = r"(0x[0-9a-f]+|\d+)"
_LAST_UPDATE = re.compile(
    rf"^(?:last\s+update\s+status\s*:?\s*)?\(?\s*{_NUMBER}\s*/\s*{_NUMBER}\s*\)?$", re.I
)
_IIS_PAGE = re.compile(
    r"^(?:HTTP(?:/\d(?:\.\d)?)?(?:\s+error)?\s*)?(\d{3})(?:\.(\d{1,3}))?(?:\s*[-–—:]?\s+\D.*)?$",
    re.I,
)
_IIS_INNER = re.compile(r"^\d{3}\b.*\(IIS (\d{3})\.(\d{1,3})\)", re.I)
_IIS_LOG = re.compile(r"^(\d{3})\s+(\d{1,3})(?:\s+(\d{1,10})(?:\s+(\d{1,10}))?)?$")
_HRESULT = re.compile(r"^(?:error\s+code\s*:?\s*)?(0x8[0-9a-f]{7})$", re.I)
_CODE = re.compile(rf"^{_NUMBER}$", re.I)
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9_]+$")

WININET_BY_SYMBOL = {error.symbol: error for error in WININET_ERRORS.values()}

ACCEPTED = (
    "a check ID (e.g. {examples}, …; `capinspect checks` lists them), an IIS status "
    "(500.19, 'HTTP Error 500.19 - Internal Server Error', or a log line's '500 19 5 62'), "
    "an HRESULT like 0x80070005, a Win32 status like 5 or ERROR_ACCESS_DENIED, a WinInet "
    "error like 12007, 0x2ee7 or ERROR_INTERNET_NAME_NOT_RESOLVED, or a phone's Last Update "
    "Status like 0x2f7d/200"
)
"""The kinds of term explain takes, as its error line lists them."""

LAST_UPDATE_SOURCE = (
    'the Device Update troubleshooting article ("Troubleshooting OCS 2007 R2 Device Update '
    'Service for Communicator Phone Edition"), step 9'
)


def _int(text: str) -> int:
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def _http_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "non-standard status"


def _is_http_status(status: int) -> bool:
    try:
        HTTPStatus(status)
    except ValueError:
        return False
    return True


def explain_wininet(code: int) -> str:
    if code == 0:
        return "0 — no WinInet error: the phone reached the server."
    error = WININET_ERRORS.get(code)
    if error is None:
        return f"{code} (0x{code:x}) — not a WinInet error code capinspect knows (12001-12175)."
    return f"{code} (0x{code:x}) {error.symbol} — {error.meaning}."


def explain_win32(code: int) -> str:
    error = WIN32_ERRORS.get(code)
    if error is None:
        return (
            f"Win32 error {code} (0x{code:x}) — not in capinspect's short table (the codes IIS "
            "logs most with failed downloads); look it up in Microsoft's System Error Codes."
        )
    return f"Win32 error {code} {error.symbol} — {error.meaning}. (Source: {error.source}.)"


def explain_http(status: int, sub: int | None = None) -> str:
    if sub == 0 and f"{status}.0" not in IIS_SUBSTATUS:
        sub = None  # "200 0": IIS writes sub-status 0 for "none"
    key = f"{status}.{sub}" if sub is not None else str(status)
    meaning = IIS_SUBSTATUS.get(key)
    if meaning is None and sub is None:
        meaning = IIS_SUBSTATUS.get(f"{status}.0")
    text = f"HTTP {status} {_http_reason(status)}"
    if sub is not None:
        text = f"IIS {key} ({text})"
    if meaning:
        text += f" — {meaning}"
    elif sub is not None:
        text += " — sub-status not in capinspect's IIS table"
    return text + "."


def _check_id(term: str) -> str | None:
    spec = SPECS_BY_ID.get(term) or SPECS_BY_ID.get(term.lower())
    if spec is None:
        return None
    return (
        f"{spec.id} ({spec.severity}): {spec.title}\n\n{spec.explanation}\n\n"
        f"What to do: {spec.remediation}\n\nSource: {spec.source}"
    )


def _last_update(term: str) -> str | None:
    match = _LAST_UPDATE.match(term)
    if match is None:
        return None
    first, second = _int(match.group(1)), _int(match.group(2))
    # The second field reads as the HTTP status in decimal (0x0/200): a 0x prefix on it is read
    # as written.
    status = second
    healthy = first == 0 and status in (0, 200)
    lines = [
        f"Last Update Status ({match.group(1)}/{match.group(2)}):",
        "  WinInet: " + explain_wininet(first),
        "  HTTP:    "
        + (
            "0 — no HTTP answer yet (no check-in has completed)."
            if status == 0
            else explain_http(status)
        ),
        f"  The normal state is 0x0/200 or 0x00/0 ({LAST_UPDATE_SOURCE})."
        + (" This one is healthy." if healthy else ""),
        "  (The article says the first field is a WinInet error code; that the second is the "
        "HTTP status of the last check-in is inferred from 0x0/200.)",
    ]
    if healthy:
        lines.append(
            "  It says the last check-in worked, not that an offered update was downloaded: "
            "readers of the article saw 0x0/200 on phones that never fetched their update "
            "(capture the boot and run capinspect analyze)."
        )
    return "\n".join(lines)


def _iis_log(term: str) -> str | None:
    match = _IIS_LOG.match(term)
    if match is None:
        return None
    status, sub = int(match.group(1)), int(match.group(2))
    if not 100 <= status <= 599:
        return None
    if match.group(3) is None:  # "500 19": status and sub-status without the rest of the line
        return explain_http(status, sub)
    win32 = int(match.group(3))
    lines = [
        f"IIS log fields {term} (sc-status sc-substatus sc-win32-status"
        + (" time-taken):" if match.group(4) is not None else "):"),
        "  " + explain_http(status, sub),
        "  " + explain_win32(win32),
    ]
    if match.group(4) is not None:
        taken = int(match.group(4))
        lines.append(f"  time-taken {taken} ms: how long IIS took to answer ({taken / 1000:g} s).")
    if (status, sub, win32) == (500, 19, 5):
        lines.append(
            "  This is the failing firmware download of the Device Update troubleshooting "
            "article: IIS cannot read the update files' folder; give the account IIS uses read "
            "access to the share and its folder (article, step 5). capinspect reports it as "
            "download.acl-denied."
        )
    return "\n".join(lines)


def _iis_page(term: str) -> str | None:
    inner = _IIS_INNER.search(term)  # a ladder line's "500 Internal Server Error (IIS 500.19)"
    match = _IIS_PAGE.match(f"{inner.group(1)}.{inner.group(2)}" if inner else term)
    if match is None:
        return None
    status = int(match.group(1))
    if not 100 <= status <= 599:
        return None
    sub = int(match.group(2)) if match.group(2) is not None else None
    if sub is None and not _is_http_status(status) and status in WIN32_ERRORS:
        return None  # a bare 121 is a Win32 status, not an HTTP one
    text = explain_http(status, sub)
    if sub is None and match.group(0).isdigit() and status in WIN32_ERRORS:
        text += f"\n(As an IIS log's sc-win32-status, {status} would be: {explain_win32(status)})"
    return text


def _hresult(term: str) -> str | None:
    match = _HRESULT.match(term)
    if match is None:
        return None
    hresult = int(match.group(1), 16)
    code = win32_from_hresult(hresult)
    if code is None:
        return (
            f"HRESULT 0x{hresult:08X} — not a Win32 error wrapped as an HRESULT (facility "
            f"{(hresult >> 16) & 0x1FFF}); capinspect knows only HRESULT_FROM_WIN32 codes "
            f"(0x{HRESULT_FROM_WIN32_BASE:08X} + Win32 code)."
        )
    return (
        f"HRESULT 0x{hresult:08X} = HRESULT_FROM_WIN32({code}): an IIS error page's "
        f'"Error Code" for Win32 error {code}.\n' + explain_win32(code)
    )


def _symbol(term: str) -> str | None:
    name = term.upper()
    if not _SYMBOL.match(name):
        return None
    for candidate in (name, f"ERROR_{name}"):
        wininet = WININET_BY_SYMBOL.get(candidate)
        if wininet is not None:
            return "WinInet " + explain_wininet(wininet.code)
        win32 = WIN32_BY_SYMBOL.get(candidate)
        if win32 is not None:
            return explain_win32(win32.code)
    return None


def _code(term: str) -> str | None:
    match = _CODE.match(term)
    if match is None:
        return None
    code = _int(match.group(1))
    if 12000 <= code <= 12999:
        return "WinInet " + explain_wininet(code)
    if code in WIN32_ERRORS:
        hint = (
            "\n(Read as an IIS log's sc-win32-status. A WinInet error is 12001-12175; a "
            "phone's Last Update Status has two fields, like 0x2f7d/200; an IIS log line "
            "reads better whole, like '500 19 5'.)"
        )
        return explain_win32(code) + hint
    return None


_PARSERS: tuple[Callable[[str], str | None], ...] = (
    _check_id,
    _last_update,
    _iis_log,
    _iis_page,
    _hresult,
    _symbol,
    _code,
)


def _normalise(term: str) -> str:
    """What a paste carries around the term: spaces, quotes, the article's ``0×00`` (U+00D7)."""
    term = " ".join(term.split()).strip("'\"`")
    return re.sub(r"(?<![0-9a-z])0\s*×\s*", "0x", term, flags=re.I)


def explain(term: str) -> str:
    term = _normalise(term)
    for parse in _PARSERS:
        text = parse(term)
        if text is not None:
            return text
    examples = ", ".join(sorted(SPECS_BY_ID)[:2])
    raise CapinspectError(f"cannot explain {term!r}: give " + ACCEPTED.format(examples=examples))
