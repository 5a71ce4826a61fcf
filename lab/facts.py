"""Facts: what the lab put on the wire, and an independent tshark reading of the capture.

Two views of the same run are kept apart on purpose. `build_facts` records what the lab configured
and what its own phone/server processes report; `wire_facts` re-reads the finished capture with
tshark only. Comparing them (and comparing a fresh run with the committed capture) catches both a
lab that silently drifts and a capture that does not show what its facts file claims.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from lab.dhcpconf import (
    answers_inform,
    cert_prov_url,
    class_matches,
    served_bytes,
    server_version,
)
from lab.dhcpconf import suboptions as dhcp_suboptions
from lab.dhcpwire import CERT_PROV_PATH
from lab.iis import SERVER_CIPHERS
from lab.runner import PC_IP, PC_MAC, ROUTER_IP, SERVER_IP, SERVER_MAC, LabError
from lab.scenarios import DEFAULT_CLOCK, Scenario

FACTS_VERSION = 1


def _vlan(ids: tuple[int, ...]) -> dict[str, Any] | None:
    if not ids:
        return None
    if len(ids) == 1:
        return {"tpid": "0x8100", "vid": ids[0], "pcp": 5}
    return {
        "outer_tpid": "0x88a8",
        "outer_vid": ids[0],
        "inner_tpid": "0x8100",
        "inner_vid": ids[1],
    }


def _zone(sc: Scenario) -> dict[str, Any]:
    name = f"ucupdates-r2.{sc.domain}"
    if sc.ucupdates == "A":
        return {"name": name, "type": "A", "address": SERVER_IP}
    if sc.ucupdates == "CNAME":
        target = f"{sc.cname_target_host}.{sc.domain}"
        return {"name": name, "type": "CNAME", "target": target, "address": SERVER_IP}
    return {"name": name, "type": "absent", "rcode": "NXDOMAIN"}


def _check_dnsmasq_dhcp(
    sc: Scenario,
    name: str,
    dhcp: dict[str, Any],
    inf: dict[str, Any],
    subs: list[tuple[int, str]],
    raw43: bytes | None,
) -> list[str]:
    """dnsmasq orders sub-options its own way (5..1, then 0xFF), so compare them as a set."""
    problems = []
    if dhcp["option15"] != sc.domain:
        problems.append(f"{name}: option 15 {dhcp['option15']!r}")
    got_subs = [(s["code"], s["value"]) for s in (inf.get("option43") or {}).get("suboptions", [])]
    if sc.option43 == "vendor" and sorted(got_subs) != sorted(subs):
        problems.append(f"{name}: option 43 sub-options {got_subs}")
    if raw43 is not None and dhcp["option43_hex"] != raw43.hex():
        problems.append(f"{name}: raw option 43 {dhcp['option43_hex']}")
    if sc.option43 == "none" and dhcp["option43_hex"] is not None:
        problems.append(f"{name}: option 43 served although disabled")
    want120 = [sc.web_fqdn] if sc.option120 else []
    if dhcp["option120_names"] != want120:
        problems.append(f"{name}: option 120 {dhcp['option120_names']}")
    return problems


def _check_served_dhcp(sc: Scenario, name: str, dhcp: dict[str, Any]) -> list[str]:
    """Kea and dhcpd: the INFORM's ACK must carry exactly the bytes the rendered config implies."""
    problems = []
    if dhcp["lease_option15"] != sc.domain:
        problems.append(f"{name}: lease option 15 {dhcp['lease_option15']!r}")
    if dhcp["inform_answered"] != answers_inform(sc):
        problems.append(f"{name}: INFORM answered={dhcp['inform_answered']} unexpectedly")
    if not dhcp["inform_answered"]:
        return problems
    want43, want120 = served_bytes(sc)
    if dhcp["option15"] != sc.domain:
        problems.append(f"{name}: option 15 {dhcp['option15']!r}")
    if dhcp["option43_hex"] != (want43.hex() if want43 is not None else None):
        problems.append(f"{name}: option 43 {dhcp['option43_hex']} not as configured")
    if dhcp["option120_hex"] != (want120.hex() if want120 is not None else None):
        problems.append(f"{name}: option 120 {dhcp['option120_hex']} not as configured")
    return problems


def lpe_user_agent(version: str) -> str:
    """The user agent a lab LPE phone sends while it runs ``version`` (lab/phone.py)."""
    return f"CPE/{version} OCPhone/{version} (Microsoft Lync 2010 Phone Edition)"


def _lpe_boot(sc: Scenario, name: str, b: dict[str, Any], boot: dict[str, Any]) -> list[str]:
    """Record a Lync Phone Edition boot's NTP exchange and sign-in connection, cross-checked
    against the scenario (an NTP answer exactly where chronyd serves the subnet, the sign-in
    URL exactly option 43's sub-options 2-5)."""
    problems = []
    ntp = b.get("ntp")
    if (ntp is not None) != (sc.ntp != "none"):
        problems.append(f"{name}: NTP {'sent' if ntp else 'not sent'} with ntp={sc.ntp}")
    if ntp is not None:
        if ntp["answered"] != (sc.ntp == "answered") or ntp["server"] != SERVER_IP:
            problems.append(f"{name}: NTP {ntp} with ntp={sc.ntp}")
        boot["ntp"] = {
            "server": ntp["server"],
            "source": "option 42",
            "requests": ntp["attempts"],
            "answered": ntp["answered"],
            "server_stratum": ntp.get("stratum"),
            "server_leap": ntp.get("leap"),
            "clock_before": ntp["clock_before"] + " UTC",
            "clock_set": ntp["clock_set"],
        }
    signin = b.get("signin")
    if signin is not None:
        want = f"https://{sc.web_fqdn}:443{CERT_PROV_PATH}"
        if signin["url"] != want:
            problems.append(f"{name}: sign-in URL {signin['url']} not {want}")
        entry: dict[str, Any] = {
            key: signin.get(key) for key in ("url", "host", "port", "path", "sni", "address")
        }
        if "tls" in signin:
            entry["tls"] = signin["tls"]
            entry["status"] = signin["status"]
            entry["response_body_bytes"] = signin["response_body_bytes"]
        if "tls_failure" in signin:
            entry["tls_failure"] = signin["tls_failure"]
        if "error" in signin:
            entry["error"] = signin["error"]
        boot["signin"] = entry
    return problems


def build_facts(
    sc: Scenario,
    phones: list[dict[str, Any]],
    background: dict[str, Any] | None,
    audit: list[dict[str, Any]],
    requests: list[dict[str, Any]],
    opt43: tuple[list[tuple[int, str]], bytes | None],
) -> dict[str, Any]:
    """Assemble the facts file, refusing to write one when the run contradicts its config."""
    subs, raw43 = opt43
    problems: list[str] = []
    out_phones = []
    for spec, res in zip(sc.phones, phones, strict=True):
        if res.get("error"):
            problems.append(f"{spec.name}: {res['error']}")
        p_audit = [a for a in audit if a["client"] == spec.ip]
        p_reqs = [r for r in requests if r["client"] == spec.ip]
        boots = []
        for b in res["boots"]:
            inf = b.get("inform", {})
            lease = b.get("lease", {})
            if lease.get("ip") != spec.ip:
                problems.append(f"{spec.name}: leased {lease.get('ip')} not {spec.ip}")
            answered = inf.get("answered", True)
            attempts = int(inf.get("attempts", 1))
            opt120 = inf.get("option120") or {}
            dhcp: dict[str, Any] = {
                "lease_xid": f"0x{lease.get('xid', 0):08x}",
                "inform_xid": f"0x{inf.get('xid', 0):08x}",
                "leased_ip": lease.get("ip"),
                "messages": ["DISCOVER", "OFFER", "REQUEST", "ACK"]
                + ["INFORM"] * attempts
                + (["ACK"] if answered else []),
                "option15": inf.get("domain"),
                "option43_hex": inf.get("option43_hex"),
                "option43_decoded": inf.get("option43"),
                "option120_hex": inf.get("option120_hex"),
                # Names only for encoding 0: other encodings carry no RFC 1035 names to list.
                "option120_names": opt120.get("names", []) if opt120.get("encoding") == 0 else [],
            }
            if sc.dhcp_server == "dnsmasq":
                problems += _check_dnsmasq_dhcp(sc, spec.name, dhcp, inf, subs, raw43)
            else:
                dhcp["inform_answered"] = answered
                dhcp["inform_attempts"] = attempts
                dhcp["lease_option15"] = lease.get("domain")
                problems += _check_served_dhcp(sc, spec.name, dhcp)
            dns = []
            for d in b.get("dns", []):
                entry = {"qname": d["qname"], "qtype": d["qtype"], "rcode": d["rcode"]}
                entry["cname"] = d.get("cname", [])
                entry["a"] = d.get("a", [])
                dns.append(entry)
            boot: dict[str, Any] = {
                "reported_version": b["reported_version"],
                "dhcp": dhcp,
                "dns": dns,
            }
            ck = b.get("checkin")
            if ck is not None:
                boot["checkin"] = {
                    "method": "POST",
                    "host": ck["host"],
                    "path": ck["path"],
                    "status": ck["status"],
                    "request_dialect": spec.request_dialect,
                }
                if ck.get("scheme") == "https":
                    boot["checkin"]["scheme"] = "https"
                    tls = dict(ck.get("tls") or {})
                    if not spec.lpe:  # the OCPE HTTPS scenarios' facts predate the field
                        tls.pop("key_exchange", None)
                    boot["checkin"]["tls"] = tls
                if spec.lpe:
                    boot["checkin"]["user_agent"] = lpe_user_agent(b["reported_version"])
                    boot["checkin"]["request_body_bytes"] = ck.get("request_body_bytes")
                    boot["checkin"]["response_body_bytes"] = ck.get("response_body_bytes")
                if ck["status"] == 200:
                    boot["checkin"].update(
                        {
                            "response_dialect": ck.get("dialect"),
                            "server_version": ck.get("server_version"),
                            "service_version": ck.get("service_version"),
                            "downloads": len(ck.get("files", [])),
                            "offered": ck.get("files", []),
                        }
                    )
            if spec.lpe:
                problems += _lpe_boot(sc, spec.name, b, boot)
            if b.get("tls_failure"):
                boot["tls_failure"] = b["tls_failure"]
                if not sc.https:
                    problems.append(f"{spec.name}: TLS failure in a plain-HTTP scenario")
            fetches = []
            for f in b.get("fetches", []):
                match = [r for r in p_reqs if r["method"] == "GET" and r["path"] == f["path"]]
                sub = match[0]["substatus"] if match else None
                win32 = match[0]["win32"] if match else None
                if not match or match[0]["status"] != f["status"]:
                    problems.append(f"{spec.name}: server log disagrees on GET {f['path']}")
                fetches.append(
                    {
                        "method": "GET",
                        "path": f["path"],
                        "status": f["status"],
                        "substatus": sub,
                        "win32": win32,
                        "bytes": f["bytes"],
                    }
                )
            boot["downloads"] = fetches
            boots.append(boot)
        served = [
            {
                "reported_version": a["request"]["version"],
                "server_version": a["server_version"],
                "offered": [(f["version"], f["url"]) for f in a["files"]],
            }
            for a in p_audit
        ]
        seen = [
            {
                "reported_version": bt["reported_version"],
                "server_version": bt["checkin"]["server_version"],
                "offered": [(f["version"], f["url"]) for f in bt["checkin"]["offered"]],
            }
            for bt in boots
            if bt.get("checkin", {}).get("status") == 200
        ]
        if served != seen:
            problems.append(f"{spec.name}: audit log {served} vs phone view {seen}")
        out_phones.append(
            {
                "name": spec.name,
                "mac": spec.mac,
                "leased_ip": spec.ip,
                "vendor": spec.vendor,
                "model": spec.model,
                "revision": spec.revision,
                "locale": spec.locale,
                "serial": spec.serial,
                "user": spec.user,
                "request_dialect": spec.request_dialect,
                "checkin_path": spec.checkin_path,
                "vlan": _vlan(spec.vlan),
                "initial_version": spec.version,
                "final_version": res["final_version"],
                "versions_reported": [bt["reported_version"] for bt in boots],
                "expected_outcome": spec.outcome,
                "observed_outcome": res["outcome"],
                "boots": boots,
            }
        )
    if problems:
        raise LabError("run contradicts scenario config:\n  " + "\n  ".join(problems))
    facts = _facts_document(sc, subs, raw43, out_phones, background)
    if sc.https:
        facts["https"] = {
            "port": 443,
            "server_versions": ["TLSv1.2"],
            "server_ciphers": SERVER_CIPHERS[sc.tls_key_exchange].split(":"),
            "server_cert_names": list(sc.server_cert_names),
            "phone_trusts_ca": sc.phone_trusts_ca,
            "fixtures": {
                "key": f"{sc.name}.key.pem",
                "chain": f"{sc.name}.crt.pem",
                "keylog": f"{sc.name}.keylog",
            },
        }
        if any(p.lpe for p in sc.phones):
            facts["https"]["key_exchange"] = sc.tls_key_exchange
            facts["https"]["server_cert_validity"] = {
                "not_before": f"{sc.cert_validity[0]}T00:00:00Z",
                "not_after": f"{sc.cert_validity[1]}T00:00:00Z",
            }
            facts["https"]["issuer"] = "Contoso Lab Root CA"
    if any(p.lpe for p in sc.phones):
        facts["lync_phone_edition"] = {
            "ntp": sc.ntp,
            "ntp_server": None if sc.ntp == "none" else f"{SERVER_IP} (chronyd, `local stratum 8`)",
            "phone_default_clock": f"{DEFAULT_CLOCK} UTC",
            "signin_url": f"https://{sc.web_fqdn}:443{CERT_PROV_PATH}",
            "user_agent_form": lpe_user_agent("<version>"),
        }
    return facts


def _facts_document(
    sc: Scenario,
    subs: list[tuple[int, str]],
    raw43: bytes | None,
    out_phones: list[dict[str, Any]],
    background: dict[str, Any] | None,
) -> dict[str, Any]:
    """The facts common to every scenario (HTTPS ones add an ``https`` section)."""
    return {
        "facts_version": FACTS_VERSION,
        "scenario": sc.name,
        "title": sc.title,
        "shows": sc.shows,
        "expected_outcome": sc.outcome,
        "capture": sc.capture_name,
        "format": "pcapng" if sc.pcapng else "pcap",
        "network": {
            "subnet": "10.77.0.0/24",
            "server_ip": SERVER_IP,
            "server_mac": SERVER_MAC,
            "router": ROUTER_IP,
            "capture_point": "bridge br0 (mirror of every switch port)",
        },
        "domain": sc.domain,
        "web_fqdn": sc.web_fqdn,
        "ext_fqdn": sc.ext_fqdn,
        "dhcp_served": _dhcp_served(sc, subs, raw43),
        "dns_zone": _zone(sc),
        "server": {
            "software": "lab.iis (Server: Microsoft-IIS/7.0)",
            "target_version": sc.target_version,
            "catalog": [list(c) for c in sc.catalog],
            "missing_files": list(sc.missing_files),
            "faults": [
                {"prefix": f.prefix, "status": f.status, "substatus": f.substatus, "win32": f.win32}
                for f in sc.faults
            ],
            "response_dialect": sc.response_dialect,
            "omit_versions": sc.omit_versions,
        },
        "phones": out_phones,
        "background": (None if background is None else {"mac": PC_MAC, "ip": PC_IP, **background}),
    }


def _dhcp_served(sc: Scenario, subs: list[tuple[int, str]], raw43: bytes | None) -> dict[str, Any]:
    """What the DHCP server was configured to serve (dnsmasq's section is unchanged)."""
    served: dict[str, Any] = {
        "server": "dnsmasq",
        "vendor_class": "MS-UC-Client",
        "option3": ROUTER_IP,
        "option6": [SERVER_IP],
        "option15": sc.domain,
        "option43_mode": sc.option43,
        "option43_suboptions": (
            None if sc.option43 == "none" else [{"code": c, "value": v} for c, v in subs]
        ),
        "option43_raw_hex": raw43.hex() if raw43 is not None else None,
        "option43_truncated_at": 90 if sc.option43 == "raw-truncated" else None,
        "option120_names": [sc.web_fqdn] if sc.option120 else [],
    }
    if sc.dhcp_server == "dnsmasq":
        return served
    want43, want120 = served_bytes(sc)
    served.update(
        {
            "server": server_version(sc.dhcp_server),
            "dns_server": "dnsmasq (DNS only, DHCP disabled)",
            "vendor_class_test": sc.vendor_class_test,
            "vendor_class_matches": class_matches(sc),
            "authoritative": sc.dhcp_authoritative,
            "answers_inform": answers_inform(sc),
            "option43_suboptions": (
                [{"code": c, "value": v} for c, v in dhcp_suboptions(sc)]
                if sc.option43 == "vendor"
                else None
            ),
            "option43_text": cert_prov_url(sc) if sc.option43 == "flat-string" else None,
            "option43_raw_hex": want43.hex() if want43 is not None else None,
            "option120_format": sc.option120_format if sc.option120 else None,
            "option120_raw_hex": want120.hex() if want120 is not None else None,
        }
    )
    return served


# --- independent reading of the capture with tshark ---------------------------------------------

_TLS_FIELDS = [
    "ip.src",
    "ip.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tls.handshake.type",
    "tls.handshake.extensions_server_name",
    "tls.handshake.ciphersuite",
    "tls.alert_message.level",
    "tls.alert_message.desc",
    "tls.record.content_type",
    "tls.record.length",
]
TLS_ALERTS = {
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    48: "unknown_ca",
    80: "internal_error",
}
KX_BY_SUITE = {0x002F: "rsa", 0x009D: "rsa", 0x0035: "rsa", 0xC02F: "ecdhe"}
"""The suites the lab's phones offer: AES128-SHA, AES256-GCM-SHA384, AES256-SHA (RSA key exchange)
and ECDHE-RSA-AES128-GCM-SHA256."""


def tls_wire(capture: Path) -> list[dict[str, Any]]:
    """Every TLS connection to port 443 as tshark reads it: client, SNI, the suite the server
    chose and its key exchange, alerts by sender, application-data records per direction and
    their bytes (TLS record lengths: what a capture without keys shows of the HTTP inside)."""
    argv = ["tshark", "-n", "-r", str(capture), "-Y", "tls", "-T", "fields"]
    for f in _TLS_FIELDS:
        argv += ["-e", f]
    argv += ["-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise LabError(f"tshark failed on {capture}: {proc.stderr.strip()}")
    conns: dict[tuple[str, str], dict[str, Any]] = {}
    for line in proc.stdout.splitlines():
        r = dict(zip(_TLS_FIELDS, (line.split("\t") + [""] * len(_TLS_FIELDS)), strict=False))
        from_client = r["tcp.dstport"] == "443"
        key = (r["ip.src"], r["tcp.srcport"]) if from_client else (r["ip.dst"], r["tcp.dstport"])
        conn = conns.setdefault(
            key,
            {
                "client": key[0],
                "server": r["ip.dst"] if from_client else r["ip.src"],
                "server_port": 443,
                "sni": None,
                "cipher_suite": None,
                "key_exchange": None,
                "alerts": [],
                "application_data_records": {"client": 0, "server": 0},
                "application_data_bytes": {"client": 0, "server": 0},
            },
        )
        types = r["tls.handshake.type"].split("|")
        if "1" in types and r["tls.handshake.extensions_server_name"]:
            conn["sni"] = r["tls.handshake.extensions_server_name"]
        if "2" in types and r["tls.handshake.ciphersuite"]:
            suite = int(r["tls.handshake.ciphersuite"].split("|")[0], 0)
            conn["cipher_suite"] = f"0x{suite:04x}"
            conn["key_exchange"] = KX_BY_SUITE.get(suite, "unknown")
        if r["tls.alert_message.desc"]:
            for level, desc in zip(
                r["tls.alert_message.level"].split("|"),
                r["tls.alert_message.desc"].split("|"),
                strict=False,
            ):
                code = int(desc)
                conn["alerts"].append(
                    {
                        "from": "client" if from_client else "server",
                        "level": "fatal" if level == "2" else "warning",
                        "description": TLS_ALERTS.get(code, str(code)),
                    }
                )
        side = "client" if from_client else "server"
        for ctype, length in zip(
            r["tls.record.content_type"].split("|"),
            r["tls.record.length"].split("|"),
            strict=False,
        ):
            if ctype == "23":
                conn["application_data_records"][side] += 1
                conn["application_data_bytes"][side] += int(length)
    return list(conns.values())


def add_wire_tls(facts: dict[str, Any], capture: Path) -> None:
    """Put the capture's TLS connections into a Lync Phone Edition scenario's facts, refusing a
    capture where a phone's own account of a handshake and the wire disagree."""
    conns = tls_wire(capture)
    problems = []
    for phone in facts["phones"]:
        mine = [c for c in conns if c["client"] == phone["leased_ip"]]
        expected = []
        for boot in phone["boots"]:
            if "signin" in boot and "address" in boot["signin"]:
                expected.append(boot["signin"])
            if boot.get("checkin", {}).get("scheme") == "https":
                expected.append({"sni": boot["checkin"]["host"], "tls": boot["checkin"]["tls"]})
        if [c["sni"] for c in mine] != [e["sni"] for e in expected]:
            problems.append(f"{phone['name']}: TLS SNIs {[c['sni'] for c in mine]} vs phone")
            continue
        for conn, want in zip(mine, expected, strict=True):
            failed = "tls_failure" in want
            client_fatal = [a for a in conn["alerts"] if a["from"] == "client"]
            if failed != bool(client_fatal):
                problems.append(f"{phone['name']}: alerts {conn['alerts']} vs phone {want}")
            if not failed and conn["key_exchange"] != want["tls"]["key_exchange"]:
                problems.append(f"{phone['name']}: key exchange {conn} vs phone {want}")
    if problems:
        raise LabError("capture contradicts the phones' TLS account:\n  " + "\n  ".join(problems))
    facts["tls_connections"] = conns


_FIELDS = [
    "frame.number",
    "eth.src",
    "eth.dst",
    "vlan.id",
    "ieee8021ad.id",
    "dhcp.hw.mac_addr",
    "dhcp.option.dhcp",
    "dhcp.id",
    "dhcp.option.vendor_class_id",
    "dhcp.option.domain_name",
    "dhcp.option.vendor.value",
    "dhcp.option.sip_server.name",
    "dns.flags.response",
    "dns.qry.name",
    "dns.qry.type",
    "dns.flags.rcode",
    "dns.cname",
    "dns.a",
    "http.request.method",
    "http.request.uri",
    "http.host",
    "http.response.code",
    "http.response_for.uri",
    "ntp.flags.mode",
]


def tshark_rows(capture: Path) -> list[dict[str, str]]:
    """Dump the fields above, one row per frame carrying DHCP, DNS or HTTP."""
    argv = ["tshark", "-n", "-r", str(capture), "-Y", "dhcp or dns or http or ntp", "-T", "fields"]
    for f in _FIELDS:
        argv += ["-e", f]
    argv += ["-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise LabError(f"tshark failed on {capture}: {proc.stderr.strip()}")
    rows = []
    for line in proc.stdout.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(_FIELDS) - len(cols))
        rows.append(dict(zip(_FIELDS, cols, strict=True)))
    return rows


_DHCP_TYPES = {"1": "DISCOVER", "2": "OFFER", "3": "REQUEST", "5": "ACK", "6": "NAK", "8": "INFORM"}


def wire_facts(capture: Path, phone_macs: list[str]) -> dict[str, Any]:
    """Per phone MAC: DHCP, DNS and HTTP events in capture order, without times or ports."""
    per: dict[str, dict[str, list[Any]]] = {
        m: {"dhcp": [], "dns": [], "http": [], "ntp": [], "vlan": []} for m in phone_macs
    }
    for r in tshark_rows(capture):
        src, dst = r["eth.src"], r["eth.dst"]
        mac = r["dhcp.hw.mac_addr"] if r["dhcp.option.dhcp"] else ""
        if mac not in per:
            mac = src if src in per else dst if dst in per else ""
        if not mac:
            continue
        ev = per[mac]
        tag = r["vlan.id"]
        if r["ieee8021ad.id"]:
            tag = f"{r['ieee8021ad.id']}/{r['vlan.id']}"
        if tag and tag not in ev["vlan"]:
            ev["vlan"].append(tag)
        if r["dhcp.option.dhcp"]:
            ev["dhcp"].append(
                {
                    "type": _DHCP_TYPES.get(r["dhcp.option.dhcp"], r["dhcp.option.dhcp"]),
                    "xid": r["dhcp.id"],
                    "vci": r["dhcp.option.vendor_class_id"],
                    "option15": r["dhcp.option.domain_name"],
                    "option43": r["dhcp.option.vendor.value"].replace(":", ""),
                    "option120": r["dhcp.option.sip_server.name"],
                }
            )
        elif r["ntp.flags.mode"]:
            ev["ntp"].append({"mode": r["ntp.flags.mode"]})
        elif r["dns.qry.name"]:
            ev["dns"].append(
                {
                    "response": r["dns.flags.response"] in ("1", "True"),
                    "qname": r["dns.qry.name"],
                    "qtype": r["dns.qry.type"],
                    "rcode": r["dns.flags.rcode"]
                    if r["dns.flags.response"] in ("1", "True")
                    else "",
                    "cname": r["dns.cname"],
                    "a": r["dns.a"],
                }
            )
        elif r["http.request.method"]:
            ev["http"].append(
                {
                    "method": r["http.request.method"],
                    "uri": r["http.request.uri"],
                    "host": r["http.host"],
                }
            )
        elif r["http.response.code"]:
            ev["http"].append(
                {"status": r["http.response.code"], "for": r["http.response_for.uri"]}
            )
    return per


def expected_wire(facts: dict[str, Any]) -> dict[str, Any]:
    """What `wire_facts` must find, derived from a facts file (the lab's own record)."""
    out: dict[str, Any] = {}
    for p in facts["phones"]:
        dhcp: list[dict[str, str]] = []
        dns: list[dict[str, Any]] = []
        http: list[dict[str, str]] = []
        ntp: list[dict[str, str]] = []
        for b in p["boots"]:
            if "ntp" in b:  # client requests (mode 3), each answered by the server (mode 4)
                for i in range(b["ntp"]["requests"]):
                    ntp.append({"mode": "3"})
                    if b["ntp"]["answered"] and i == b["ntp"]["requests"] - 1:
                        ntp.append({"mode": "4"})
            d = b["dhcp"]
            lx, ix = d["lease_xid"], d["inform_xid"]
            for t in ("DISCOVER", "OFFER", "REQUEST", "ACK"):
                dhcp.append({"type": t, "xid": lx})
            for _ in range(d.get("inform_attempts", 1)):
                dhcp.append({"type": "INFORM", "xid": ix, "vci": "MS-UC-Client"})
            if d.get("inform_answered", True):
                dhcp.append(
                    {
                        "type": "ACK",
                        "xid": ix,
                        "option15": d["option15"] or "",
                        "option43": d["option43_hex"] or "",
                        "option120": ",".join(d["option120_names"]),
                    }
                )
            for q in b["dns"]:
                dns.append({"response": False, "qname": q["qname"]})
                dns.append(
                    {
                        "response": True,
                        "qname": q["qname"],
                        "rcode": {"NOERROR": "0", "NXDOMAIN": "3"}.get(q["rcode"], q["rcode"]),
                        "cname": ",".join(q["cname"]),
                        "a": ",".join(q["a"]),
                    }
                )
            ck = b.get("checkin")
            if ck and ck.get("scheme") != "https":  # tshark sees no HTTP inside TLS without keys
                http.append({"method": "POST", "uri": ck["path"], "host": ck["host"]})
                http.append({"status": str(ck["status"]), "for": ck["path"]})
            for f in b["downloads"]:
                http.append({"method": "GET", "uri": f["path"]})
                http.append({"status": str(f["status"]), "for": f["path"]})
        vlan = p["vlan"]
        if vlan is None:
            vids = []
        elif "vid" in vlan:
            vids = [str(vlan["vid"])]
        else:
            vids = [f"{vlan['outer_vid']}/{vlan['inner_vid']}"]
        out[p["mac"]] = {"dhcp": dhcp, "dns": dns, "http": http, "ntp": ntp, "vlan": vids}
    return out


def _subset(actual: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Every wanted key matches; a response's `for` URI is absolute on the wire, a path here."""
    for key, value in wanted.items():
        got = actual.get(key, "")
        if key == "for" and str(got).endswith(str(value)):
            continue
        if str(got) != str(value) and not _loose(got, value):
            return False
    return True


def _loose(actual: Any, wanted: Any) -> bool:
    """tshark joins repeated fields with '|'; the lab joins lists with ','."""
    return str(actual).replace("|", ",") == str(wanted)


def compare_with_facts(capture: Path, facts: dict[str, Any]) -> list[str]:
    """Check the capture against its facts file event by event; returns mismatch descriptions."""
    macs = [p["mac"] for p in facts["phones"]]
    got = wire_facts(capture, macs)
    want = expected_wire(facts)
    problems = []
    for mac in macs:
        for kind in ("dhcp", "dns", "http", "ntp"):
            a, w = got[mac][kind], want[mac][kind]
            if len(a) != len(w):
                problems.append(f"{mac} {kind}: {len(a)} events on the wire, facts say {len(w)}")
                continue
            for i, (ae, we) in enumerate(zip(a, w, strict=True)):
                if not _subset(ae, we):
                    problems.append(f"{mac} {kind}[{i}]: wire {ae} != facts {we}")
        if got[mac]["vlan"] != want[mac]["vlan"]:
            problems.append(f"{mac} vlan: wire {got[mac]['vlan']} facts {want[mac]['vlan']}")
    return problems


def compare_captures(fresh: Path, committed: Path, macs: list[str]) -> list[str]:
    """Compare two captures' protocol facts per phone (ignores times, ports, TCP details)."""
    a, b = wire_facts(fresh, macs), wire_facts(committed, macs)
    problems = []
    for mac in macs:
        for kind in ("dhcp", "dns", "http", "ntp", "vlan"):
            if a[mac][kind] != b[mac][kind]:
                problems.append(f"{mac} {kind}: fresh {a[mac][kind]} != committed {b[mac][kind]}")
    return problems
