"""Which MAC held which IP address when: the joins between a phone and its traffic.

On a mirror port near the server, a phone's DNS and HTTP packets often carry the router's MAC,
not the phone's, so traffic is joined to a phone by IP address through bindings:

* a DHCPACK giving ``yiaddr`` to ``chaddr`` (a lease), a DHCPINFORM from ``ciaddr``;
* the MAC the phone writes in its own check-in body;
* ARP announcements and replies.

A binding holds from its time until the next binding of that address.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

_HEX12 = re.compile(r"^[0-9a-f]{12}$")


def normalise_mac(text: str | None) -> str | None:
    """``0021630F207B`` / ``00-21-63-0F-20-7B`` / ``00:21:63:0f:20:7b`` → ``00:21:63:0f:20:7b``."""
    if not text:
        return None
    digits = "".join(ch for ch in text.lower() if ch in "0123456789abcdef")
    stripped = "".join(ch for ch in text.lower() if ch.isalnum())
    if stripped != digits or not _HEX12.match(digits):
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


@dataclass(slots=True)
class AddressBindings:
    """For each IP, the MACs that held it over time (sorted by time)."""

    by_ip: dict[str, list[tuple[float, str, str]]] = field(default_factory=lambda: {})

    def add(self, ip: str, mac: str, ts: float, source: str) -> None:
        if not ip or ip in ("0.0.0.0", "::"):
            return
        entries = self.by_ip.setdefault(ip, [])
        bisect.insort(entries, (ts, mac, source))

    def lookup(self, ip: str, ts: float) -> str | None:
        entries = self.by_ip.get(ip)
        if not entries:
            return None
        # The binding in force at ts; before the first binding, the first one (a phone keeps
        # its address from before the capture started).
        idx = bisect.bisect_right(entries, (ts, "\uffff", "\uffff")) - 1
        return entries[max(idx, 0)][1]
