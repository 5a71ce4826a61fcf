"""Per-phone sessions: who is a phone, which transactions are its, and what its boot looked like.

A phone is keyed by its MAC address. On a mirror port near the server, a phone's DNS and HTTP
packets often carry the router's MAC, not the phone's, so traffic is joined to a phone by IP
address, through the bindings that say which MAC held which address when:

* a DHCPACK giving ``yiaddr`` to ``chaddr`` (a lease), a DHCPINFORM from ``ciaddr``;
* the MAC the phone writes in its own check-in body;
* ARP announcements and replies.

A binding holds from its time until the next binding of that address. Traffic from an address
with no binding is joined by its frame's source MAC when that MAC is a known phone's, and
otherwise, when it looks like a phone (the ``Microsoft UCPhone Device`` user agent, a check-in,
a ucupdates lookup), makes a device of its own keyed ``ip:<address>``.

What makes a host a phone (``phone_evidence``): a DHCP vendor class ``MS-UC-Client`` or
``CPE-OCPHONE``, a check-in, the phone user agent, a lookup of ``ucupdates-r2``/``ucupdates``,
or the user naming it as a test device. Other DHCP clients (PCs on the same segment) are not
devices; they only count in the capture summary.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from capinspect.engine import Analysis, TcpFlowSeen
from capinspect.expectations import Expectations
from capinspect.knowledge.firmware import UNKNOWN_VERSION_TIMESTAMP
from capinspect.protocols.checkin import CheckinRequest, CheckinResponse, FirmwareModule
from capinspect.protocols.dhcp.messages import (
    ACK,
    INFORM,
    DhcpExchange,
    DhcpSeen,
    is_phone_vendor_class,
    message_bindings,
)
from capinspect.protocols.dns.messages import DnsLookup
from capinspect.protocols.http.iis import iis_error_code, iis_substatus
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.tls.messages import (
    DECRYPTED,
    TlsConnection,
    alert_name,
    suite_name,
    version_name,
)
from capinspect.protocols.upx import (
    checkin_path_kind,
    is_checkin_path,
    parse_checkin_request,
    parse_checkin_response,
)

PHONE_USER_AGENT_MARKERS = ("ucphone", "ocphone")
UPDATE_NAMES = ("ucupdates-r2.", "ucupdates.")
FIRMWARE_SUFFIXES = (".nbt", ".cat", ".xml", ".cab")

_HEX12 = re.compile(r"^[0-9a-f]{12}$")


def seconds(value: float) -> str:
    """A duration for people: ``12 ms``, ``3.4 s``, ``2 min 18 s``."""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {value % 60:.0f} s"


def normalise_mac(text: str | None) -> str | None:
    """``0021630F207B`` / ``00-21-63-0F-20-7B`` / ``00:21:63:0f:20:7b`` → ``00:21:63:0f:20:7b``."""
    if not text:
        return None
    digits = "".join(ch for ch in text.lower() if ch in "0123456789abcdef")
    stripped = "".join(ch for ch in text.lower() if ch.isalnum())
    if stripped != digits or not _HEX12.match(digits):
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


# ---------------------------------------------------------------------------------------------
# Interpreted transactions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkin:
    """A ``POST …/ucdevice.upx`` and what the Device Update Service answered."""

    exchange: HttpExchange
    request: CheckinRequest
    response: CheckinResponse | None
    path_kind: str

    @property
    def frame(self) -> int:
        return self.exchange.request.frame

    @property
    def ts(self) -> float:
        return self.exchange.request.ts

    @property
    def status(self) -> int | None:
        resp = self.exchange.response
        return resp.status if resp is not None else None

    @property
    def firmware(self) -> str | None:
        """The version the phone reported; ``None`` for an empty version (nothing known)."""
        return self.request.firmware_version

    @property
    def offered(self) -> tuple[FirmwareModule, ...]:
        return self.response.files if self.response is not None else ()


@dataclass(frozen=True, slots=True)
class Download:
    """A firmware file GET and how it went."""

    exchange: HttpExchange
    url: str
    file_name: str
    status: int | None
    substatus: str | None
    """IIS sub-status read from the error page (``500.19``), when the body shows one."""
    error_code: str | None
    """IIS ``Error Code 0x…`` from the error page."""
    bytes_received: int
    expected: int | None
    complete: bool
    duration: float | None
    offered_by: int | None = None
    """Frame of the check-in whose response offered this file."""
    offered_version: str | None = None

    @property
    def frame(self) -> int:
        return self.exchange.request.frame

    @property
    def ts(self) -> float:
        return self.exchange.request.ts

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.complete


@dataclass(frozen=True, slots=True)
class FirmwareSighting:
    version: str | None
    frame: int
    ts: float
    source: str


@dataclass(frozen=True, slots=True)
class Identity:
    device_type: str | None = None
    vendor: str | None = None
    model: str | None = None
    revision: str | None = None
    locale: str | None = None
    serial: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineStep:
    """One line of a phone's ladder: what happened, when, in which frame, with whom."""

    ts: float
    frame: int
    stage: str
    """``dhcp``, ``dns``, ``checkin``, ``download``, ``tls``, ``http``."""
    direction: str
    """``to-server``, ``from-server`` or ``broadcast``."""
    peer: str
    summary: str
    details: dict[str, object] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class DeviceSession:
    key: str
    mac: str | None
    ips: tuple[str, ...]
    vlans: tuple[int, ...]
    phone_evidence: tuple[str, ...]
    identity: Identity
    dhcp: tuple[DhcpExchange, ...]
    dns: tuple[DnsLookup, ...]
    checkins: tuple[Checkin, ...]
    downloads: tuple[Download, ...]
    other_http: tuple[HttpExchange, ...]
    other_flows: tuple[TcpFlowSeen, ...]
    firmware_seen: tuple[FirmwareSighting, ...]
    boots: tuple[float, ...]
    """Start time of each boot seen (a DHCP lease exchange); a new one after a download is a
    reboot into the new firmware."""
    timeline: tuple[TimelineStep, ...]
    first_ts: float
    last_ts: float
    tls: tuple[TlsConnection, ...] = ()
    """The phone's TLS connections (by client IP, like every flow): handshake facts, outcome,
    whether they were decrypted (their HTTP then shows up in ``checkins``/``downloads``)."""


# ---------------------------------------------------------------------------------------------
# Address bindings
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Bindings:
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


def _is_phone_ua(exchange: HttpExchange) -> bool:
    agent = (exchange.request.header("user-agent") or "").lower()
    return any(marker in agent for marker in PHONE_USER_AGENT_MARKERS)


def _is_update_name(name: str) -> bool:
    return name.startswith(UPDATE_NAMES)


def _looks_like_firmware(exchange: HttpExchange) -> bool:
    """A GET of an update file. The folder GET the phone sends after a file (the seed's IIS log
    shows ``GET /DeviceUpdateFiles_Int/OCInterim/ENU/`` right after ``…/CPE.nbt``) is not one."""
    req = exchange.request
    if req.method not in ("GET", "HEAD"):
        return False
    path = req.path.lower()
    if path.endswith("/"):
        return False
    return path.endswith(FIRMWARE_SUFFIXES) or "deviceupdatefiles" in path


# ---------------------------------------------------------------------------------------------
# Building sessions
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Acc:
    """Mutable accumulator for one device while the sessions are built."""

    key: str
    mac: str | None
    evidence: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    vlans: list[int] = field(default_factory=list)
    dhcp: list[DhcpExchange] = field(default_factory=list)
    dns: list[DnsLookup] = field(default_factory=list)
    checkins: list[Checkin] = field(default_factory=list)
    fetches: list[HttpExchange] = field(default_factory=list)
    other_http: list[HttpExchange] = field(default_factory=list)
    other_flows: list[TcpFlowSeen] = field(default_factory=list)
    tls: list[TlsConnection] = field(default_factory=list)

    def note(self, evidence: str) -> None:
        if evidence not in self.evidence:
            self.evidence.append(evidence)

    def add_ip(self, ip: str) -> None:
        if ip and ip not in ("0.0.0.0", "::") and ip not in self.ips:
            self.ips.append(ip)

    def add_vlans(self, vlans: tuple[int, ...]) -> None:
        for vlan in vlans:
            if vlan not in self.vlans:
                self.vlans.append(vlan)


def interpret_checkin(exchange: HttpExchange) -> Checkin:
    """Parse both bodies of a check-in exchange."""
    request = parse_checkin_request(exchange.request.body.data)
    response = None
    if exchange.response is not None and exchange.response.body.data:
        response = parse_checkin_response(exchange.response.body.data)
    elif exchange.response is not None:
        response = CheckinResponse(problems=("the response has no body",))
    return Checkin(exchange, request, response, checkin_path_kind(exchange.request.path))


def build_devices(
    analysis: Analysis, expect: Expectations | None = None
) -> tuple[DeviceSession, ...]:
    """Group the analysis' transactions into one session per phone (sorted by first frame)."""
    bindings = _Bindings()
    accs: dict[str, _Acc] = {}

    def acc_for(key: str, mac: str | None) -> _Acc:
        acc = accs.get(key)
        if acc is None:
            acc = accs[key] = _Acc(key, mac)
        return acc

    # 1. DHCP: phones by vendor class; every lease and INFORM binds an address to a MAC.
    phone_macs: set[str] = set()
    dhcp_by_mac: dict[str, list[DhcpExchange]] = defaultdict(list)
    for dhcp_exchange in analysis.dhcp:
        mac = dhcp_exchange.client_mac
        dhcp_by_mac[mac].append(dhcp_exchange)
        for seen in dhcp_exchange.messages:
            if is_phone_vendor_class(seen.message.vendor_class):
                phone_macs.add(mac)
            for binding in message_bindings(seen, mac):
                bindings.add(binding.ip, binding.mac, binding.ts, binding.how)
    for binding in analysis.dhcp_background.bindings:
        bindings.add(binding.ip, binding.mac, binding.ts, binding.how)
    for arp in analysis.arp:
        bindings.add(arp.ip, arp.mac, arp.ts, "arp")

    # 2. HTTP: check-ins name their phone's MAC in the body.
    checkins: list[Checkin] = []
    for exchange in analysis.http:
        if is_checkin_path(exchange.request.path):
            checkin = interpret_checkin(exchange)
            checkins.append(checkin)
            body_mac = normalise_mac(checkin.request.mac)
            if body_mac is not None:
                bindings.add(
                    exchange.flow.client_ip, body_mac, exchange.request.ts - 1e-6, "checkin"
                )
                phone_macs.add(body_mac)

    if expect is not None:
        for mac in dhcp_by_mac:
            if expect.is_test_device(mac):
                phone_macs.add(mac)

    def resolve(ip: str, ts: float, l2_mac: str | None) -> str:
        mac = bindings.lookup(ip, ts)
        if mac is None and l2_mac is not None and l2_mac in phone_macs:
            mac = l2_mac
        return mac if mac is not None else f"ip:{ip}"

    for mac in sorted(phone_macs):
        acc = acc_for(mac, mac)
        for dhcp_exchange in dhcp_by_mac.get(mac, ()):
            acc.dhcp.append(dhcp_exchange)
            for seen in dhcp_exchange.messages:
                acc.add_vlans(seen.vlans)
                vendor_class = seen.message.vendor_class
                if is_phone_vendor_class(vendor_class):
                    acc.note(f"DHCP vendor class {vendor_class} (frame {seen.frame})")
        assigned = [ex.assigned_ip for ex in acc.dhcp if ex.assigned_ip]
        for ip in assigned:
            acc.add_ip(ip)
        for dhcp_exchange in acc.dhcp:
            for seen in dhcp_exchange.of_type(INFORM):
                acc.add_ip(seen.message.ciaddr)
        if expect is not None and expect.is_test_device(mac):
            acc.note("listed as a test device in the expectations")

    for checkin in checkins:
        ex = checkin.exchange
        key = resolve(ex.flow.client_ip, ex.request.ts, ex.client_mac)
        acc = acc_for(key, None if key.startswith("ip:") else key)
        acc.checkins.append(checkin)
        acc.add_ip(ex.flow.client_ip)
        acc.add_vlans(ex.vlans)
        acc.note(f"check-in POST {ex.request.path} (frame {ex.request.frame})")

    for exchange in analysis.http:
        if is_checkin_path(exchange.request.path):
            continue
        key = resolve(exchange.flow.client_ip, exchange.request.ts, exchange.client_mac)
        owner = accs.get(key)
        if owner is None and _is_phone_ua(exchange):
            owner = acc_for(key, None if key.startswith("ip:") else key)
        if owner is None:
            continue
        if _is_phone_ua(exchange):
            agent = exchange.request.header("user-agent")
            owner.note(f"user agent {agent!r}")
        owner.add_ip(exchange.flow.client_ip)
        owner.add_vlans(exchange.vlans)
        if _looks_like_firmware(exchange):
            owner.fetches.append(exchange)
        else:
            owner.other_http.append(exchange)

    for lookup in analysis.dns:
        key = resolve(lookup.client_ip, lookup.first_ts, lookup.client_mac)
        asker = accs.get(key)
        if asker is None and _is_update_name(lookup.qname):
            asker = acc_for(key, None if key.startswith("ip:") else key)
        if asker is None:
            continue
        if _is_update_name(lookup.qname):
            asker.note(f"DNS lookup of {lookup.qname}")
        asker.dns.append(lookup)
        asker.add_ip(lookup.client_ip)
        asker.add_vlans(lookup.vlans)

    for flow in analysis.other_flows:
        key = resolve(flow.flow.client_ip, flow.ts, flow.client_mac)
        talker = accs.get(key)
        if talker is not None:
            talker.other_flows.append(flow)
            talker.add_vlans(flow.vlans)

    for conn in analysis.tls:
        key = resolve(conn.flow.client_ip, conn.ts, conn.client_mac)
        owner = accs.get(key)
        sni = (conn.sni or "").lower()
        if owner is None and _is_update_name(sni):
            owner = acc_for(key, None if key.startswith("ip:") else key)
        if owner is None:
            continue
        if _is_update_name(sni):
            owner.note(f"TLS to {sni} (frame {conn.frame})")
        owner.tls.append(conn)
        owner.add_ip(conn.flow.client_ip)
        owner.add_vlans(conn.vlans)

    sessions = [_finish(acc) for acc in accs.values()]
    sessions.sort(key=lambda s: (s.first_ts, s.key))
    return tuple(sessions)


def _match_offer(path: str, checkins: list[Checkin], ts: float) -> tuple[int | None, str | None]:
    """The latest check-in before ``ts`` that offered a file at this path."""
    lpath = path.lower()
    best: tuple[int | None, str | None] = (None, None)
    for checkin in checkins:
        if checkin.ts > ts:
            break
        for module in checkin.offered:
            for url in (module.internal_url, module.external_url, module.url):
                if url and _url_path(url) == lpath:
                    best = (checkin.frame, module.version)
    return best


def _url_path(url: str) -> str | None:
    """Lower-case path of a URL from the capture; None when it cannot be split (``http://[``)."""
    try:
        return urlsplit(url).path.lower()
    except ValueError:
        return None


def _download(exchange: HttpExchange, checkins: list[Checkin]) -> Download:
    req = exchange.request
    resp = exchange.response
    host = req.host or exchange.flow.server_ip
    scheme = "https" if exchange.flow.server_port == 443 else "http"
    port = "" if exchange.flow.server_port in (80, 443) else f":{exchange.flow.server_port}"
    url = req.target if "://" in req.target else f"{scheme}://{host}{port}{req.target}"
    status = resp.status if resp is not None else None
    substatus = error_code = None
    received = 0
    expected = None
    complete = False
    duration = None
    if resp is not None:
        substatus = iis_substatus(resp.status, resp.body.data)
        error_code = iis_error_code(resp.body.data)
        received = resp.body.size
        expected = resp.body.expected
        complete = resp.body.complete
        duration = max(0.0, resp.end_ts - req.ts)
    offered_by, version = _match_offer(req.path, checkins, req.ts)
    name = req.path.rsplit("/", 1)[-1] or req.path
    return Download(
        exchange=exchange,
        url=url,
        file_name=name,
        status=status,
        substatus=substatus,
        error_code=error_code,
        bytes_received=received,
        expected=expected,
        complete=complete,
        duration=duration,
        offered_by=offered_by,
        offered_version=version,
    )


def _identity(checkins: list[Checkin]) -> Identity:
    values: dict[str, str] = {}
    for checkin in checkins:
        req = checkin.request
        for name in ("device_type", "vendor", "model", "revision", "locale", "serial", "user"):
            value = getattr(req, name)
            if value:
                values[name] = value
    return Identity(**values)


def _firmware_seen(checkins: list[Checkin]) -> tuple[FirmwareSighting, ...]:
    seen: list[FirmwareSighting] = []
    for checkin in checkins:
        version = checkin.firmware
        if version is None and checkin.request.modules:
            stamp = checkin.request.modules[0].timestamp or ""
            source = "check-in (empty version" + (
                ", timestamp 1601: nothing installed that the server knows)"
                if UNKNOWN_VERSION_TIMESTAMP in stamp
                else ")"
            )
        else:
            source = "check-in"
        if version is None and not checkin.request.modules:
            continue
        seen.append(FirmwareSighting(version, checkin.frame, checkin.ts, source))
    return tuple(seen)


def _finish(acc: _Acc) -> DeviceSession:
    acc.dhcp.sort(key=lambda ex: ex.first_ts)
    acc.dns.sort(key=lambda lk: lk.first_ts)
    acc.checkins.sort(key=lambda c: c.ts)
    acc.fetches.sort(key=lambda ex: ex.request.ts)
    downloads = tuple(_download(ex, acc.checkins) for ex in acc.fetches)
    boots = tuple(
        ex.first_ts for ex in acc.dhcp if ex.kind == "lease" and ex.of_type(1) + ex.of_type(3)
    )
    timeline = build_timeline(acc, downloads)
    times = [step.ts for step in timeline] or [0.0]
    return DeviceSession(
        key=acc.key,
        mac=acc.mac,
        ips=tuple(acc.ips),
        vlans=tuple(acc.vlans),
        phone_evidence=tuple(acc.evidence),
        identity=_identity(acc.checkins),
        dhcp=tuple(acc.dhcp),
        dns=tuple(acc.dns),
        checkins=tuple(acc.checkins),
        downloads=downloads,
        other_http=tuple(acc.other_http),
        other_flows=tuple(acc.other_flows),
        firmware_seen=_firmware_seen(acc.checkins),
        boots=boots,
        timeline=timeline,
        first_ts=min(times),
        last_ts=max(times),
        tls=tuple(sorted(acc.tls, key=lambda c: c.frame)),
    )


# ---------------------------------------------------------------------------------------------
# Timeline
# ---------------------------------------------------------------------------------------------


def describe_dhcp(seen: DhcpSeen) -> tuple[str, dict[str, object]]:
    """The one-line summary of a DHCP message and the decoded values that matter."""
    msg = seen.message
    parts = [msg.type_name]
    details: dict[str, object] = {"xid": f"0x{msg.xid:08x}", "type": msg.type_name}
    if msg.vendor_class:
        parts.append(f"vendor-class {msg.vendor_class}")
        details["vendor_class"] = msg.vendor_class
    if msg.msg_type in (ACK, 2) and msg.yiaddr != "0.0.0.0":
        parts.append(f"yiaddr {msg.yiaddr}")
        details["yiaddr"] = msg.yiaddr
    if msg.msg_type == INFORM:
        parts.append(f"ciaddr {msg.ciaddr}")
        details["ciaddr"] = msg.ciaddr
    requested = msg.requested_options
    if requested and msg.op == 1:
        details["requested_options"] = list(requested)
        wanted = [str(code) for code in (43, 120) if code in requested]
        if wanted:
            parts.append("asks " + "+".join(wanted))
    if msg.option43 is not None:
        opt43 = msg.option43
        shown = opt43.url or (f"VLAN {opt43.vlan_id}" if opt43.vlan_id else opt43.raw.hex())
        parts.append(f"opt43 {shown}" + ("" if opt43.complete else " (TRUNCATED)"))
        details["option43"] = {
            "url": opt43.url,
            "complete": opt43.complete,
            "vendor_class": opt43.vendor_class,
        }
    if msg.option120 is not None:
        names = list(msg.option120.names) or list(msg.option120.addresses)
        parts.append("opt120 " + (",".join(names) if names else "(unreadable)"))
        details["option120"] = names
    if msg.domain_name:
        parts.append(f"opt15 {msg.domain_name}")
        details["option15"] = msg.domain_name
    if msg.server_id and msg.op == 2:
        details["server_id"] = msg.server_id
    return " ".join(parts), details


def _dns_steps(lookup: DnsLookup) -> list[TimelineStep]:
    steps: list[TimelineStep] = []
    query = f"DNS {lookup.qtype} {lookup.qname}?"
    if lookup.retransmissions:
        query += f" (sent {len(lookup.query_frames)} times)"
    if lookup.query_frames:
        steps.append(
            TimelineStep(
                lookup.first_ts,
                lookup.query_frames[0],
                "dns",
                "to-server",
                lookup.server_ip,
                query,
                {"qname": lookup.qname, "qtype": lookup.qtype, "id": lookup.dns_id},
            )
        )
    if lookup.rcode is None:
        if steps:
            steps[-1] = TimelineStep(
                steps[-1].ts,
                steps[-1].frame,
                "dns",
                "to-server",
                lookup.server_ip,
                query + " — no answer",
                steps[-1].details,
            )
        return steps
    answer = lookup.rcode
    if lookup.cname_chain and len(lookup.cname_chain) > 1:
        answer += " CNAME " + " → ".join(lookup.cname_chain[1:])
    if lookup.addresses:
        answer += " " + ",".join(lookup.addresses)
    elif lookup.rcode == "NOERROR" and not lookup.answers:
        answer += " (no records)"
    steps.append(
        TimelineStep(
            lookup.response_ts if lookup.response_ts is not None else lookup.first_ts,
            lookup.response_frames[0] if lookup.response_frames else 0,
            "dns",
            "from-server",
            lookup.server_ip,
            f"DNS {lookup.qname}: {answer}",
            {
                "rcode": lookup.rcode,
                "cname_chain": list(lookup.cname_chain),
                "addresses": list(lookup.addresses),
            },
        )
    )
    return steps


def _http_status_text(exchange: HttpExchange, substatus: str | None = None) -> str:
    resp = exchange.response
    if resp is None:
        return "no response in capture"
    text = f"{resp.status} {resp.reason}".strip()
    if substatus:
        text += f" (IIS {substatus})"
    return text


def _tls_steps(connections: list[TlsConnection]) -> list[TimelineStep]:
    """ClientHello, ServerHello + certificate, and alerts of each TLS connection, one line each."""
    steps: list[TimelineStep] = []
    for conn in connections:
        server = conn.flow.server_ip
        ch, sh = conn.client_hello, conn.server_hello
        if ch is None and sh is None:
            summary = f"TLS connection to {server}:{conn.flow.server_port} (no handshake seen)"
            steps.append(TimelineStep(conn.ts, conn.frame, "tls", "to-server", server, summary))
        if ch is not None:
            summary = (
                f"TLS ClientHello SNI {ch.sni or '(none)'} {ch.describe_versions()}, "
                f"{len(ch.cipher_suites)} cipher suites"
            )
            details: dict[str, object] = {"sni": ch.sni, "port": conn.flow.server_port}
            steps.append(
                TimelineStep(ch.ts, ch.frame, "tls", "to-server", server, summary, details)
            )
        if sh is not None:
            parts = [f"TLS ServerHello {version_name(sh.selected_version)}"]
            parts.append(suite_name(sh.cipher_suite))
            if conn.resumed:
                parts.append("(resumed)")
            cert = conn.server_certificate
            if cert is not None:
                names = ",".join(cert.names[:3]) or cert.subject
                parts.append(f"certificate {names} issued by {cert.issuer}")
            elif conn.certificate_encrypted:
                parts.append("certificate encrypted (TLS 1.3)")
            if conn.decryption == DECRYPTED:
                parts.append(f"— decrypted with the {conn.decrypted_with}")
            details = {"outcome": conn.outcome, "decryption": conn.decryption}
            steps.append(
                TimelineStep(
                    sh.ts, sh.frame, "tls", "from-server", server, " ".join(parts), details
                )
            )
        for alert in conn.alerts:
            level = {1: "warning ", 2: "fatal "}.get(alert.level or 0, "")
            direction = "to-server" if alert.sender == "client" else "from-server"
            summary = f"TLS alert from the {alert.sender}: {level}{alert_name(alert.description)}"
            steps.append(TimelineStep(alert.ts, alert.frame, "tls", direction, server, summary))
    return steps


def build_timeline(acc: _Acc, downloads: tuple[Download, ...]) -> tuple[TimelineStep, ...]:
    steps: list[TimelineStep] = []
    for dhcp_exchange in acc.dhcp:
        for seen in dhcp_exchange.messages:
            summary, details = describe_dhcp(seen)
            to_server = seen.message.op == 1
            broadcast = seen.dst_ip == "255.255.255.255"
            peer = seen.dst_ip if to_server else seen.src_ip
            direction = (
                "broadcast"
                if (to_server and broadcast)
                else "to-server"
                if to_server
                else "from-server"
            )
            steps.append(
                TimelineStep(seen.ts, seen.frame, "dhcp", direction, peer, summary, details)
            )
    for lookup in acc.dns:
        steps.extend(_dns_steps(lookup))
    for checkin in acc.checkins:
        ex = checkin.exchange
        req = checkin.request
        version = checkin.firmware or "(empty version)"
        ident = " ".join(v for v in (req.vendor, req.model, req.revision, req.locale) if v)
        steps.append(
            TimelineStep(
                ex.request.ts,
                ex.request.frame,
                "checkin",
                "to-server",
                ex.flow.server_ip,
                f"POST {ex.request.path} {ident} firmware {version}".replace("  ", " "),
                {"host": ex.request.host, "path": ex.request.path, "firmware": checkin.firmware},
            )
        )
        if ex.response is not None:
            resp = checkin.response
            parts = [_http_status_text(ex)]
            if resp is not None:
                if resp.server_version:
                    parts.append(f"Server Version {resp.server_version}")
                if resp.service_version:
                    parts.append(f"Service Version {resp.service_version}")
                if resp.downloads is not None:
                    parts.append(f"downloads={resp.downloads}")
                for module in resp.files:
                    parts.append(f"offers {module.file_name or '?'} {module.version or ''}".strip())
            steps.append(
                TimelineStep(
                    ex.response.ts,
                    ex.response.frame,
                    "checkin",
                    "from-server",
                    ex.flow.server_ip,
                    " ".join(parts),
                    {"status": ex.response.status},
                )
            )
    for download in downloads:
        ex = download.exchange
        steps.append(
            TimelineStep(
                ex.request.ts,
                ex.request.frame,
                "download",
                "to-server",
                ex.flow.server_ip,
                f"{ex.request.method} {download.url}",
                {"url": download.url},
            )
        )
        if ex.response is not None:
            size = f"{download.bytes_received} bytes"
            if download.expected is not None and download.expected != download.bytes_received:
                size += f" of {download.expected}"
            if not download.complete:
                size += " (incomplete)"
            took = f" in {seconds(download.duration)}" if download.duration is not None else ""
            steps.append(
                TimelineStep(
                    ex.response.end_ts,
                    ex.response.frame,
                    "download",
                    "from-server",
                    ex.flow.server_ip,
                    f"{_http_status_text(ex, download.substatus)} {size}{took}",
                    {"status": download.status, "substatus": download.substatus},
                )
            )
    for exchange in acc.other_http:
        steps.append(
            TimelineStep(
                exchange.request.ts,
                exchange.request.frame,
                "http",
                "to-server",
                exchange.flow.server_ip,
                f"{exchange.request.method} {exchange.request.target} → "
                f"{_http_status_text(exchange)}",
            )
        )
    steps.extend(_tls_steps(acc.tls))
    described = {(c.flow, c.frame) for c in acc.tls}
    for flow in acc.other_flows:
        if (flow.flow, flow.frame) in described:
            continue
        steps.append(
            TimelineStep(
                flow.ts,
                flow.frame,
                flow.kind,
                "to-server",
                flow.flow.server_ip,
                f"{flow.kind.upper()} connection to {flow.flow.server_ip}:{flow.flow.server_port} "
                f"({flow.bytes_to_server}/{flow.bytes_to_client} bytes, encrypted)",
            )
        )
    steps.sort(key=lambda s: (s.ts, s.frame))
    return tuple(steps)
