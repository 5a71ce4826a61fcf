"""``capinspect explain``: one term in, plain words out.

Accepts a check ID (``download.acl-denied``), an IIS status with or without sub-status (``500``,
``500.19``, ``403.4``), a phone's "Last Update Status" (``0x2f7d/200``, ``(0x0/200)``) or a bare
WinInet code (``0x2f7d``, ``12157``).
"""

from __future__ import annotations

import re
from http import HTTPStatus

from capinspect.checks import SPECS_BY_ID
from capinspect.errors import CapinspectError
from capinspect.knowledge.iis import IIS_SUBSTATUS
from capinspect.knowledge.wininet import WININET_ERRORS

_LAST_UPDATE = re.compile(r"^\(?\s*(0x[0-9a-f]+|\d+)\s*/\s*(0x[0-9a-f]+|\d+)\s*\)?$", re.I)
_IIS = re.compile(r"^(\d{3})(?:[.\s](\d{1,3}))?$")
_CODE = re.compile(r"^(0x[0-9a-f]+|\d+)$", re.I)


def _int(text: str) -> int:
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def _http_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "non-standard status"


def explain_wininet(code: int) -> str:
    if code == 0:
        return "0 — no WinInet error: the phone reached the server."
    error = WININET_ERRORS.get(code)
    if error is None:
        return f"{code} (0x{code:x}) — not a WinInet error code capinspect knows (12001-12175)."
    return f"{code} (0x{code:x}) {error.symbol} — {error.meaning}."


def explain_http(status: int, sub: int | None = None) -> str:
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


def explain(term: str) -> str:
    term = term.strip()
    spec = SPECS_BY_ID.get(term)
    if spec is not None:
        return (
            f"{spec.id} ({spec.severity}): {spec.title}\n\n{spec.explanation}\n\n"
            f"What to do: {spec.remediation}\n\nSource: {spec.source}"
        )
    match = _LAST_UPDATE.match(term)
    if match:
        first, second = _int(match.group(1)), _int(match.group(2))
        # The second field reads as the HTTP status in decimal (0x0/200): a 0x prefix on it is
        # read as written.
        status = second
        lines = [
            f"Last Update Status {term}:",
            "  WinInet: " + explain_wininet(first),
            "  HTTP:    "
            + (
                "0 — no HTTP answer (the request never completed)."
                if status == 0
                else explain_http(status)
            ),
        ]
        healthy = first == 0 and status in (0, 200)
        lines.append(
            "  The normal state is 0x0/200 or 0x00/0 (the Device Update troubleshooting "
            "article, step 9)." + (" This one is healthy." if healthy else "")
        )
        lines.append(
            "  (That the first field is a WinInet code is what the article says; that the "
            "second is the HTTP status of the last check-in is inferred from 0x0/200.)"
        )
        return "\n".join(lines)
    match = _IIS.match(term)
    if match:
        status = int(match.group(1))
        sub = int(match.group(2)) if match.group(2) is not None else None
        if 100 <= status <= 599:
            return explain_http(status, sub)
    match = _CODE.match(term)
    if match:
        return "WinInet " + explain_wininet(_int(match.group(1)))
    known = ", ".join(sorted(SPECS_BY_ID)[:4])
    raise CapinspectError(
        f"cannot explain {term!r}: give a check ID (e.g. {known}, …), an IIS status like 500.19, "
        "a Last Update Status like 0x2f7d/200, or a WinInet code like 12157"
    )
