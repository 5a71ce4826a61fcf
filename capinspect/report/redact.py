"""``--redact``: the same report with every identifier of the site replaced by a pseudonym.

A ticket often leaves the customer's network. Redaction is one pass over the :class:`Report`
that returns a new Report, so every renderer (text, JSON, Markdown, HTML) and the evidence pcapng
show the same pseudonyms and none of them has to know about redaction:

1. **Collect.** Walk the whole report (the Analysis included: it holds the other hosts' traffic
   too) and register every identifier: MAC addresses, IPv4/IPv6 addresses, serial numbers, user
   names and SIP URIs, host and domain names. Structured fields say what a value is (a DNS
   ``qname``, option 15, a ``Host`` header, an ``Identity.serial``); free text (XML values,
   bodies, finding summaries, URLs) is scanned for addresses, e-mail/SIP URIs and URL hosts.
2. **Rewrite.** Walk it again, rebuilding each frozen dataclass with :func:`dataclasses.replace`
   and every string through one regular expression that matches every registered identifier,
   plus any MAC, IPv4 address, ``user@domain`` or name under a registered domain met in text.
   One pass over each string, so a pseudonym is never rewritten again.

Pseudonyms are consistent within a report (the same input gives the same pseudonym wherever it
appears) and deterministic (numbered in the order the report is walked):

* MAC: the vendor OUI is kept (it says "Polycom" or "LG-Nortel"), the NIC part is numbered.
* IPv4 → ``192.0.2.N`` (TEST-NET-1), then ``198.18.0.0/15``; IPv6 → ``2001:db8::N``.
  Unspecified, broadcast, loopback and multicast addresses are not identifiers and are kept.
* Names: the domain becomes ``domainN.example``; each host label becomes ``hostN``, except the
  labels that carry protocol meaning (``ucupdates-r2``, ``_sipinternaltls``, ``sip``…), so a
  redacted report still reads "ucupdates-r2.domain1.example". Names on the keep list, and names
  under them, are left alone.
* Serial numbers → ``SERIAL-N``; users → ``userN`` (``userN@domainN.example`` for addresses).

Bytes: an HTTP body is rewritten when it is UTF-8 text; one that is not (firmware, compressed,
another encoding) cannot be rewritten safely and is replaced by a note. Raw option bytes shown
as hex are dropped when they hold an identifier (as text or as a packed address).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from capinspect.protocols.dhcp.messages import DhcpOption
from capinspect.protocols.dns.messages import DnsRecord
from capinspect.protocols.http.messages import HttpBody, HttpRequest
from capinspect.protocols.ntp.messages import NtpMessage
from capinspect.report.model import Report

_T = TypeVar("_T")

REDACTED_BODY_NOTE = b"[body removed by --redact: not UTF-8 text, it cannot be rewritten safely]"
"""What an HTTP body that cannot be rewritten becomes."""

KEEP_LABELS = frozenset(
    {
        "ucupdates-r2",
        "ucupdates",
        "_sipinternaltls",
        "_sipinternal",
        "_sipfederationtls",
        "_sip",
        "_tls",
        "_tcp",
        "_udp",
        "sip",
        "sipinternal",
        "sipexternal",
        "lyncdiscover",
        "lyncdiscoverinternal",
        "in-addr",
        "ip6",
        "arpa",
    }
)
"""Host labels with a protocol meaning: kept so the redacted report still explains itself."""

REPORT_WORDS = frozenset(
    {
        "tls", "ssl", "http", "https", "dns", "dhcp", "tcp", "udp", "ip", "sip", "arp", "get",
        "post", "head", "ok", "ack", "syn", "fin", "rst", "upx", "nbt", "cab", "info", "warn",
        "fail", "pass", "phone", "server", "client", "device", "update", "updates", "download",
        "checkin", "check", "inform", "lease", "capture", "frame", "host", "name", "test",
    }
)  # fmt: skip
"""Words capinspect's reports use themselves: a user name equal to one is not replaced as a bare
word in free text (it still is in user fields and in ``user@domain`` / ``sip:`` addresses)."""

_NAME_FIELDS = frozenset(
    {"qname", "web_server_fqdn", "sip_domain", "web_fqdn", "pool_fqdn", "sname", "host"}
)
_NAME_LIST_FIELDS = frozenset({"cname_chain", "names"})
_DOMAIN_FIELDS = frozenset({"sip_domain"})
_NAME_OPTIONS = frozenset({12, 15, 40, 47, 66, 81, 119})
_DOMAIN_OPTIONS = frozenset({15, 119})
_NAME_RTYPES = frozenset({"CNAME", "NS", "PTR", "DNAME", "SRV", "MX"})

_HEX = "[0-9A-Fa-f]"
_MAC_RE = re.compile(rf"(?<![0-9A-Fa-f:-]){_HEX}{{2}}(?:[:-]{_HEX}{{2}}){{5}}(?![:-]?{_HEX})")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4_RE = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\d|\.\d)")
_EMAIL_RE = re.compile(r"(?<![\w.%+-])[\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+")
_URL_HOST_RE = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/\s@]*@)?(\[[^\]/\s]*\]|[^/\s:?#<>\"']+)"
)
_LABEL = "[A-Za-z0-9_-]+"


class Pseudonyms:
    """The identifier → pseudonym tables of one report, and the text rewriter built on them.

    Shared by the report pass and the evidence pcapng writer, so a frame's addresses carry the
    same pseudonyms as the report that cites it."""

    def __init__(self, keep_names: Iterable[str] = ()) -> None:
        self.keep_names = tuple(n.strip(".").lower() for n in keep_names if n.strip("."))
        self.macs: dict[str, str] = {}
        self.ips: dict[str, str] = {}
        self.serials: dict[str, str] = {}
        self.users: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.domains: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.originals: set[str] = set()
        """Every original identifier (lower case): a pseudonym never equals one of them."""
        self._taken: set[str] = set()
        """Every MAC and address pseudonym given out: two originals never share one."""
        self._pattern: re.Pattern[str] | None = None
        self._packed: tuple[bytes, ...] | None = None

    # -- registering and mapping --------------------------------------------------------------

    def _changed(self) -> None:
        self._pattern = None
        self._packed = None

    def mac(self, text: str) -> str:
        """The pseudonym of a MAC in ``aa:bb:cc:dd:ee:ff`` form (OUI kept)."""
        key = text.lower().replace("-", ":")
        if key in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
            return key
        found = self.macs.get(key)
        if found is None:
            self.originals.add(key)
            n = len(self.macs) + 1
            while True:
                found = f"{key[:8]}:{n >> 16 & 0xFF:02x}:{n >> 8 & 0xFF:02x}:{n & 0xFF:02x}"
                if found not in self.originals and found not in self._taken:
                    break
                n += 1
            self._taken.add(found)
            self.macs[key] = found
            self._changed()
        return found

    def ip(self, text: str) -> str:
        try:
            address = ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            return text
        if (
            address.is_unspecified
            or address.is_loopback
            or address.is_multicast
            or str(address) == "255.255.255.255"
            or _is_netmask(address)
        ):
            return text
        key = str(address)
        found = self.ips.get(key)
        if found is None:
            self.originals.add(key)
            n = len(self.ips) + 1
            while True:
                if address.version == 6:
                    found = f"2001:db8::{n:x}"
                elif n < 255:
                    found = f"192.0.2.{n}"
                else:
                    m = n - 254
                    found = f"198.{18 + (m >> 16 & 1)}.{m >> 8 & 0xFF}.{m & 0xFF}"
                if found not in self.originals and found not in self._taken:
                    break
                n += 1
            self._taken.add(found)
            self.ips[key] = found
            self._changed()
        return found

    def serial(self, text: str) -> str:
        key = text.strip().lower()
        if not key:
            return text
        found = self.serials.get(key)
        if found is None:
            self.originals.add(key)
            found = f"SERIAL-{len(self.serials) + 1}"
            self.serials[key] = found
            self._changed()
        return found

    def user(self, text: str) -> str:
        """``alice`` → ``user1``; ``alice@contoso.com`` → ``user1@domain1.example``."""
        key = text.strip().lower()
        if key.startswith("sip:"):
            return "sip:" + self.user(key[4:])
        if not key:
            return text
        local, _, domain = key.partition("@")
        found = self.users.get(local)
        if found is None:
            self.originals.add(local)
            found = f"user{len(self.users) + 1}"
            self.users[local] = found
            self._changed()
        return f"{found}@{self.name(domain, domain=True)}" if domain else found

    def kept(self, name: str) -> bool:
        return any(name == k or name.endswith("." + k) for k in self.keep_names)

    def _domain_of(self, labels: list[str]) -> int:
        """How many trailing labels of a name are its domain (the longest registered one)."""
        best = 0
        for size in range(1, len(labels) + 1):
            if ".".join(labels[-size:]) in self.domains:
                best = size
        if best:
            return best
        return 2 if len(labels) >= 2 else 0

    def name(self, text: str, *, domain: bool = False) -> str:
        """The pseudonym of a host or domain name (``domain``: the whole name is a domain)."""
        name = text.strip().rstrip(".").lower()
        if not name or self.kept(name):
            return text
        if _is_ip(name):
            return self.ip(name)
        labels = name.split(".")
        if domain and len(labels) >= 2 and name not in self.domains:
            self._domain(name)
        found = self.names.get(name)
        if found is not None:
            return found
        self.originals.add(name)
        size = self._domain_of(labels)
        host, dom = labels[: len(labels) - size], ".".join(labels[len(labels) - size :])
        parts = [self._label(label) for label in host]
        if dom:
            parts.append(dom if dom in ("in-addr.arpa", "ip6.arpa") else self._domain(dom))
        found = ".".join(parts)
        self.names[name] = found
        self._changed()
        return found

    def _domain(self, dom: str) -> str:
        found = self.domains.get(dom)
        if found is None:
            self.originals.add(dom)
            found = f"domain{len(self.domains) + 1}.example"
            self.domains[dom] = found
            self._changed()
        return found

    def _label(self, label: str) -> str:
        if label in KEEP_LABELS:
            return label
        found = self.labels.get(label)
        if found is None:
            self.originals.add(label)
            found = f"host{len(self.labels) + 1}"
            self.labels[label] = found
        return found

    # -- bytes (the evidence pcapng) ----------------------------------------------------------

    def mac_bytes(self, raw: bytes) -> bytes:
        text = ":".join(f"{b:02x}" for b in raw)
        return bytes.fromhex(self.mac(text).replace(":", ""))

    def ip_bytes(self, raw: bytes) -> bytes:
        text = str(ipaddress.ip_address(raw))
        return ipaddress.ip_address(self.ip(text)).packed

    def _packed_identifiers(self) -> tuple[bytes, ...]:
        if self._packed is None:
            packed = [bytes.fromhex(m.replace(":", "")) for m in self.macs]
            packed += [ipaddress.ip_address(a).packed for a in self.ips]
            self._packed = tuple(packed)
        return self._packed

    # -- text ----------------------------------------------------------------------------------

    def _compiled(self) -> re.Pattern[str]:
        if self._pattern is not None:
            return self._pattern
        # A user whose name is also a word of the report's own vocabulary ("tls@contoso.com")
        # is replaced where it stands as a user (structured fields, e-mail and SIP addresses),
        # not wherever the word "TLS" appears in the report's text.
        users = [u for u in self.users if u not in REPORT_WORDS]
        bounded: list[str] = [*users, *self.serials, *self.names]
        bounded += [a for a in self.ips if ":" in a]
        unbounded: list[str] = []
        for mac in self.macs:
            plain = mac.replace(":", "")
            unbounded += [plain, mac, mac.replace(":", "-")]
            unbounded.append(".".join(plain[i : i + 4] for i in (0, 4, 8)))
        parts = []
        if bounded:
            alternatives = _trie({b.lower() for b in bounded})
            parts.append(rf"(?P<lit>(?<![\w.%+-])(?:{alternatives})(?![\w-]))")
        if unbounded:
            alternatives = _trie({u.lower() for u in unbounded})
            parts.append(rf"(?P<mlit>(?:{alternatives})(?![:-]?{_HEX}))")
        parts.append(rf"(?P<email>{_EMAIL_RE.pattern})")
        parts.append(rf"(?P<mac>{_MAC_RE.pattern})")
        parts.append(rf"(?P<ip>{_IPV4_RE.pattern})")
        domains = [d for d in self.domains if "." in d]
        if domains:
            alternatives = "|".join(re.escape(d) for d in sorted(domains, key=len, reverse=True))
            parts.append(
                rf"(?P<host>(?<![\w.-])(?:{_LABEL}\.)*(?:{alternatives})(?![\w-]|\.[A-Za-z0-9]))"
            )
        self._pattern = re.compile("|".join(parts), re.IGNORECASE)
        return self._pattern

    def _lookup(self, found: str) -> str:
        key = found.lower()
        for table in (self.users, self.serials, self.names, self.ips):
            if key in table:
                return table[key]
        if ":" in key and _is_ip(key):
            return self.ip(key)
        return found  # pragma: no cover - every literal comes from one of the tables

    def _replace(self, match: re.Match[str]) -> str:
        found = match.group(0)
        kind = match.lastgroup
        if kind == "lit":
            return _same_case(found, self._lookup(found))
        if kind == "mlit":
            digits = "".join(ch for ch in found.lower() if ch in "0123456789abcdef")
            pseudo = self.mac(":".join(digits[i : i + 2] for i in range(0, 12, 2)))
            return _mac_like(found, pseudo)
        if kind == "email":
            return self.user(found)
        if kind == "mac":
            return _mac_like(found, self.mac(found))
        if kind == "ip":
            return self.ip(found)
        if self.kept(found.lower()):
            return found
        return self.name(found)

    def text(self, value: str) -> str:
        """``value`` with every identifier in it replaced."""
        if not value:
            return value
        return self._compiled().sub(self._replace, value)

    def raw(self, value: bytes) -> bytes:
        """Raw bytes shown as hex: kept when they hold no identifier, else dropped (``b""``)."""
        if not value:
            return value
        if any(p in value for p in self._packed_identifiers()):
            return b""
        as_text = value.decode("latin-1")
        return value if self.text(as_text) == as_text else b""

    def body(self, body: HttpBody) -> HttpBody:
        if not body.data:
            return body
        try:
            text = body.data.decode("utf-8")
        except UnicodeDecodeError:
            return dataclasses.replace(body, data=REDACTED_BODY_NOTE, sha256=None)
        rewritten = self.text(text)
        if rewritten == text:
            return body
        return dataclasses.replace(body, data=rewritten.encode("utf-8"), sha256=None)

    # -- collecting ----------------------------------------------------------------------------

    def collect_text(self, value: str) -> None:
        """Register what free text reveals: addresses, users, the hosts of URLs."""
        if not value:
            return
        stripped = value.strip()
        if _MAC_RE.fullmatch(stripped):
            self.mac(stripped)
        elif _is_ip(stripped.strip("[]")):
            self.ip(stripped)
        for match in _MAC_RE.finditer(value):
            self.mac(match.group(0))
        for match in _IPV4_RE.finditer(value):
            self.ip(match.group(0))
        for match in _EMAIL_RE.finditer(value):
            self.user(match.group(0))
        for match in _URL_HOST_RE.finditer(value):
            self.name(match.group(1).strip("[]"))


def _trie(keys: set[str]) -> str:
    """An alternation of ``keys`` factored by common prefix, the longest match preferred.

    The same matches as ``a|b|…`` sorted longest first, but hundreds of MACs, addresses and
    serials share their first characters (an OUI, a subnet): testing each shared prefix once per
    position instead of once per identifier makes redacting a 200-phone report several times
    faster. ``keys`` are lower case (the pattern is compiled with IGNORECASE)."""
    root: dict[str, Any] = {}
    for key in keys:
        node = root
        for char in key:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return "(?:" + emit(root) + ")"


def _is_netmask(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A subnet mask (``255.255.255.0``) says nothing about the site."""
    if address.version != 4:
        return False
    value = int(address)
    inverted = ~value & 0xFFFFFFFF
    return value != 0 and inverted & (inverted + 1) == 0


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _same_case(original: str, pseudo: str) -> str:
    return pseudo.upper() if original.isupper() and not pseudo.isupper() else pseudo


def _mac_like(original: str, pseudo: str) -> str:
    """The pseudonym written like the original (separator, case)."""
    digits = pseudo.replace(":", "")
    if "-" in original:
        out = pseudo.replace(":", "-")
    elif ":" in original:
        out = pseudo
    elif "." in original:
        out = ".".join(digits[i : i + 4] for i in (0, 4, 8))
    else:
        out = digits
    return out.upper() if any(ch.isupper() for ch in original) else out


# ---------------------------------------------------------------------------------------------
# The two walks
# ---------------------------------------------------------------------------------------------


def _collect(value: Any, names: Pseudonyms, seen: set[int], field: str = "") -> None:
    if type(value) is str:
        names.collect_text(value)
        if field in _NAME_FIELDS:
            names.name(
                value.rsplit(":", 1)[0] if value.count(":") == 1 else value,
                domain=field in _DOMAIN_FIELDS,
            )
        elif field == "serial":
            names.serial(value)
        elif field == "user":
            names.user(value)
        return
    if isinstance(value, bytes):
        names.collect_text(value.decode("utf-8", errors="replace"))
        return
    if isinstance(value, int | float) or value is None:
        return
    if id(value) in seen:
        return
    seen.add(id(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _collect_special(value, names)
        for f in dataclasses.fields(value):
            _collect(getattr(value, f.name), names, seen, f.name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(item, names, seen, str(key))
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, names, seen, field if field in _NAME_LIST_FIELDS else "")
            if field in _NAME_LIST_FIELDS and type(item) is str:
                names.name(item)


def _collect_special(value: object, names: Pseudonyms) -> None:
    """What a value's type says about its strings (a Host header, a name-valued option)."""
    if isinstance(value, DhcpOption) and value.code in _NAME_OPTIONS:
        items = value.value if isinstance(value.value, list) else [value.value]
        if isinstance(value.value, dict):
            items = list(value.value.values())
        for item in items:
            if type(item) is str and item:
                names.name(item, domain=value.code in _DOMAIN_OPTIONS)
    elif isinstance(value, DnsRecord):
        names.name(value.name)
        if value.rtype.upper() in _NAME_RTYPES and value.value:
            names.name(value.value.split()[-1])
    elif isinstance(value, HttpRequest):
        host = value.header("host")
        if host:
            names.name(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)
    elif isinstance(value, NtpMessage) and _reference_is_address(value):
        names.collect_text(value.reference_text)


def _reference_is_address(message: NtpMessage) -> bool:
    """Above stratum 1 an NTP reference id is the upstream server's IPv4 address."""
    return message.stratum > 1 and len(message.reference_id) == 4


def _ntp_reference(message: NtpMessage, names: Pseudonyms) -> bytes:
    """The reference id of ``message`` with its upstream server's address replaced by the
    address's pseudonym (packed, as on the wire)."""
    pseudo = names.text(message.reference_text)
    try:
        return ipaddress.IPv4Address(pseudo).packed
    except ValueError:
        return b""


def _rewrite(value: Any, names: Pseudonyms, memo: dict[int, tuple[Any, Any]]) -> Any:
    if type(value) is str:
        return names.text(value)
    if isinstance(value, int | float) or value is None or isinstance(value, str):
        return value  # numbers, enums (a StrEnum is a str, but never an identifier)
    if isinstance(value, bytes):
        return names.raw(value)
    done = memo.get(id(value))
    if done is not None:
        return done[1]
    out: Any
    if isinstance(value, HttpBody):
        out = names.body(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            old = getattr(value, f.name)
            new = _rewrite(old, names, memo)
            if new is not old:
                changes[f.name] = new
        if isinstance(value, NtpMessage) and _reference_is_address(value):
            changes["reference_id"] = _ntp_reference(value, names)
        out = dataclasses.replace(value, **changes) if changes else value
    elif isinstance(value, dict):
        out = {key: _rewrite(item, names, memo) for key, item in value.items()}
    elif isinstance(value, list | tuple | set | frozenset):
        items = [_rewrite(item, names, memo) for item in value]
        same = all(a is b for a, b in zip(items, value, strict=True))
        out = value if same and not isinstance(value, list) else type(value)(items)
    else:
        out = value
    memo[id(value)] = (value, out)
    return out


def redact_report(report: Report, keep_names: Iterable[str] = ()) -> tuple[Report, Pseudonyms]:
    """A copy of ``report`` with every identifier replaced, and the pseudonyms used.

    ``keep_names``: host or domain names to leave as they are (with the names under them)."""
    names = Pseudonyms(keep_names)
    _collect(report, names, set())
    redacted: Report = _rewrite(report, names, {})
    return redacted, names


def register(value: object, names: Pseudonyms) -> None:
    """Collect the identifiers of ``value`` into ``names`` without rewriting it (what is
    rewritten next with ``names`` then knows them, e.g. a host name met only in free text)."""
    _collect(value, names, set())


def redact_also(value: _T, names: Pseudonyms) -> _T:
    """``value``, an object shown beside a report (the server logs), with the same pseudonyms.

    Collected and rewritten by the same walks as :func:`redact_report`, with ``names`` shared,
    so an identifier met in both gets the same pseudonym in both."""
    _collect(value, names, set())
    out: _T = _rewrite(value, names, {})
    return out
