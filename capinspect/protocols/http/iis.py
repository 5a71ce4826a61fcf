"""Read what an IIS error page says about itself.

IIS writes the sub-status only to its own log, which a capture does not hold; but its detailed
error pages name it in the title ("HTTP Error 500.19 - Internal Server Error", IIS 6: "HTTP
Error 403.4 - Forbidden: SSL is required to view this resource.") and often add the Win32/HRESULT
("Error Code 0x80070005"). That is how a capture alone can tell an ACL problem (500.19 +
0x80070005, the seed's "500 19 5") from a missing file (404.0) or an SSL-only folder (403.4).
"""

from __future__ import annotations

import re

_SCAN_LIMIT = 64 * 1024
"""Error pages put these lines near the top; never regex-scan more of a body than this."""

_SUBSTATUS = re.compile(rb"HTTP\s+Error\s+([1-5][0-9]{2})\.([0-9]{1,3})\b", re.IGNORECASE)
_ERROR_CODE = re.compile(
    rb"Error\s+Code(?:\s*<[^>]{0,200}>\s*)*\s*[:]?\s*(?:<[^>]{0,200}>\s*)*0x([0-9A-Fa-f]{8})\b",
    re.IGNORECASE,
)


def _text(body: bytes) -> bytes:
    head = body[:_SCAN_LIMIT]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return head.decode("utf-16").encode("utf-8", "replace")
        except UnicodeDecodeError:
            return head
    return head


def iis_substatus(status: int, body: bytes) -> str | None:
    """``"500.19"`` from an error page answering with ``status``, else ``None``.

    Only a sub-status whose number before the dot equals ``status`` counts: a 200 page that
    merely quotes "HTTP Error 404.0" (a help article) says nothing about this response.
    """
    for match in _SUBSTATUS.finditer(_text(body)):
        if int(match.group(1)) == status:
            return f"{status}.{int(match.group(2))}"
    return None


def iis_error_code(body: bytes) -> str | None:
    """``"0x80070005"`` from an IIS 7+ detailed error page ("Error Code 0x80070005")."""
    match = _ERROR_CODE.search(_text(body))
    if match is None:
        return None
    return "0x" + match.group(1).decode("ascii").upper()
