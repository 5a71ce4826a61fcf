"""Every lab capture through the whole pipeline: exact values, verdicts and finding IDs.

The lab (lab/, docs/lab.md) wrote each capture with real dnsmasq, an IIS stand-in, a phone
emulator and tcpdump, and recorded in ``pcaps/<name>.facts.json`` exactly what it put on the
wire. These tests read the capture with capinspect and compare the timeline JSON with those
facts, then check the verdict and findings the scenario must produce.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from locations import PCAPS

from capinspect.expectations import Expectations
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.protocols.tls.keys import NO_KEYS, load_tls_keys
from capinspect.report.json import report_document
from capinspect.report.model import Report

FACTS = sorted(PCAPS.glob("*.facts.json"))

# Per scenario and phone MAC: the verdict, the finding IDs that must be there, and the IDs that
# must not (a healthy phone gets no fail or warn finding at all).
EXPECTED: dict[str, dict[str, tuple[str, set[str]]]] = {
    "healthy-no-update": {"*": ("pass", set())},
    "interim-upgrade": {"*": ("pass", {"checkin.interim-step", "download.ok"})},
    "acl-denied": {"*": ("fail", {"download.acl-denied"})},
    "ssl-required": {"*": ("fail", {"download.ssl-required"})},
    "file-not-found": {"*": ("fail", {"download.not-found"})},
    "legacy-452": {"*": ("fail", {"checkin.legacy-path-missing"})},
    "dns-cname": {"*": ("warn", {"dns.ucupdates-cname", "download.ok"})},
    "dns-nxdomain": {"*": ("fail", {"dns.ucupdates-nxdomain", "checkin.not-observed"})},
    "option43-truncated": {"*": ("fail", {"dhcp.option43-malformed"})},
    # No usable option 43/120 for the MS-UC-Client INFORM (missing, unanswered, unparsable) is a
    # fail: a phone that nobody signed in to cannot find Certificate Provisioning or its pool.
    "options-missing": {"*": ("fail", {"dhcp.option43-missing", "dhcp.option120-missing"})},
    "no-server-version": {
        "*": (
            "fail",
            {
                "checkin.missing-server-version",
                "checkin.missing-service-version",
                "checkin.no-update-offered",
            },
        )
    },
    "no-update-offered": {"*": ("fail", {"checkin.no-update-offered"})},
    "multi-phone": {
        "00:21:63:1a:00:01": ("pass", {"checkin.interim-step", "download.ok"}),
        "00:04:f2:aa:10:02": ("pass", set()),
        "00:04:f2:aa:10:03": ("fail", {"checkin.legacy-path-missing"}),
        "00:04:f2:aa:10:04": ("fail", {"download.acl-denied"}),
    },
    # HTTPS scenarios are analysed with their lab server key (pcaps/<name>.key.pem).
    "https-healthy": {"*": ("pass", {"checkin.interim-step", "download.ok"})},
    "https-cert-mismatch": {"*": ("fail", {"tls.cert-name-mismatch", "tls.handshake-failed"})},
    "https-untrusted": {"*": ("fail", {"tls.handshake-failed"})},
    # The same phone against ISC Kea and ISC dhcpd (docs/lab.md, "Other DHCP servers").
    "kea-healthy": {"*": ("pass", set())},
    "dhcpd-healthy": {"*": ("pass", set())},
    "dhcpd-option43-string": {"*": ("fail", {"dhcp.option43-malformed"})},
    "dhcpd-not-authoritative": {"*": ("fail", {"dhcp.inform-unanswered"})},
    "kea-class-mismatch": {"*": ("fail", {"dhcp.option43-missing", "dhcp.option120-missing"})},
    "kea-option120-text": {"*": ("fail", {"dhcp.option120-malformed"})},
    # Lync Phone Edition (docs/lab.md, "Lync Phone Edition"): the RSA captures are analysed with
    # their key like the https-* ones; the ECDHE ones cannot be decrypted and are judged by
    # inference ("(inferred without decryption)").
    "lpe-healthy-ecdhe": {"*": ("pass", {"checkin.encrypted-nothing-offered"})},
    "lpe-update-rsa": {"*": ("pass", {"download.ok"})},
    "lpe-update-ecdhe": {"*": ("pass", {"checkin.encrypted-offer-fetched", "download.ok"})},
    "lpe-nothing-offered-rsa": {"*": ("pass", set())},
    "lpe-signin-name-mismatch": {"*": ("fail", {"signin.provisioning-name-mismatch"})},
    "lpe-ntp-no-answer": {
        "*": ("fail", {"time.no-answer", "time.certificate-not-valid-at-phone-time"})
    },
    "lpe-untrusted-root": {"*": ("fail", {"signin.root-not-trusted"})},
}

# Per scenario and phone MAC: the root cause the policy gives a failing or warned phone
# (docs/verdicts.md: the earliest stage's finding).
ROOT_CAUSE: dict[str, dict[str, str]] = {
    "acl-denied": {"*": "download.acl-denied"},
    "ssl-required": {"*": "download.ssl-required"},
    "file-not-found": {"*": "download.not-found"},
    "legacy-452": {"*": "checkin.legacy-path-missing"},
    "dns-cname": {"*": "dns.ucupdates-cname"},
    "dns-nxdomain": {"*": "dns.ucupdates-nxdomain"},
    "option43-truncated": {"*": "dhcp.option43-malformed"},
    "options-missing": {"*": "dhcp.option43-missing"},
    "no-server-version": {"*": "checkin.missing-server-version"},
    "no-update-offered": {"*": "checkin.no-update-offered"},
    "multi-phone": {
        "00:04:f2:aa:10:03": "checkin.legacy-path-missing",
        "00:04:f2:aa:10:04": "download.acl-denied",
    },
    "https-cert-mismatch": {"*": "tls.cert-name-mismatch"},
    "https-untrusted": {"*": "tls.handshake-failed"},
    "dhcpd-option43-string": {"*": "dhcp.option43-malformed"},
    "dhcpd-not-authoritative": {"*": "dhcp.inform-unanswered"},
    "kea-class-mismatch": {"*": "dhcp.option43-missing"},
    "kea-option120-text": {"*": "dhcp.option120-malformed"},
    "lpe-signin-name-mismatch": {"*": "signin.provisioning-name-mismatch"},
    # Time comes before sign-in: the unanswered NTP request is the root cause of the rejection.
    "lpe-ntp-no-answer": {"*": "time.no-answer"},
    "lpe-untrusted-root": {"*": "signin.root-not-trusted"},
}


def _facts(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def _report(capture: str) -> Report:
    key = PCAPS / (capture.split(".")[0] + ".key.pem")
    keys = load_tls_keys([str(key)]) if key.exists() else NO_KEYS
    analysis = analyze_paths([str(PCAPS / capture)], tls_keys=keys)
    return evaluate(analysis, Expectations())


@cache
def _document(capture: str) -> dict[str, Any]:
    return report_document(_report(capture))


def _device(doc: dict[str, Any], mac: str) -> dict[str, Any]:
    for device in doc["devices"]:
        if device["mac"] == mac:
            result: dict[str, Any] = device
            return result
    raise AssertionError(f"no device {mac}; devices: {[d['key'] for d in doc['devices']]}")


def test_every_scenario_has_expectations_here() -> None:
    assert FACTS, "no lab captures in pcaps/"
    assert {_facts(p)["scenario"] for p in FACTS} == set(EXPECTED)


@pytest.mark.parametrize("facts_path", FACTS, ids=lambda p: p.name.split(".")[0])
def test_devices_are_exactly_the_phones(facts_path: Path) -> None:
    facts = _facts(facts_path)
    doc = _document(facts["capture"])
    assert sorted(d["mac"] for d in doc["devices"]) == sorted(p["mac"] for p in facts["phones"])


@pytest.mark.parametrize("facts_path", FACTS, ids=lambda p: p.name.split(".")[0])
def test_identity_versions_and_addresses(facts_path: Path) -> None:
    facts = _facts(facts_path)
    doc = _document(facts["capture"])
    for phone in facts["phones"]:
        device = _device(doc, phone["mac"])
        assert phone["leased_ip"] in device["ips"]
        versions = [s["version"] for s in device["firmware_seen"]]
        if device["checkins"]:
            ident = device["identity"]
            for key in ("vendor", "model", "revision", "locale", "serial"):
                assert ident[key] == phone[key], key
            if phone.get("user"):
                assert ident["user"] == phone["user"]
            assert versions == phone["versions_reported"]
        vlan = phone["vlan"]
        if vlan is None:
            assert device["vlans"] == []
        elif "vid" in vlan:
            assert device["vlans"] == [vlan["vid"]]
        else:
            assert device["vlans"][:2] == [vlan["outer_vid"], vlan["inner_vid"]]


def _dhcp_replies(device: dict[str, Any], xid: str) -> list[dict[str, Any]]:
    return [
        m["message"]
        for ex in device["dhcp"]
        if ex["xid"] == xid
        for m in ex["messages"]
        if m["message"]["op"] == 2
    ]


@pytest.mark.parametrize("facts_path", FACTS, ids=lambda p: p.name.split(".")[0])
def test_dhcp_values_are_the_ones_served(facts_path: Path) -> None:
    facts = _facts(facts_path)
    doc = _document(facts["capture"])
    for phone in facts["phones"]:
        device = _device(doc, phone["mac"])
        for boot in phone["boots"]:
            dhcp = boot["dhcp"]
            lease = next(ex for ex in device["dhcp"] if ex["xid"] == dhcp["lease_xid"])
            types = [m["message"]["type"].removeprefix("DHCP") for m in lease["messages"]]
            inform = next(ex for ex in device["dhcp"] if ex["xid"] == dhcp["inform_xid"])
            types += [m["message"]["type"].removeprefix("DHCP") for m in inform["messages"]]
            assert types == dhcp["messages"]
            assert lease["assigned_ip"] == dhcp["leased_ip"]
            if not dhcp.get("inform_answered", True):
                # Nothing answered the INFORM: the domain the phone used came with its lease.
                assert _dhcp_replies(device, dhcp["inform_xid"]) == []
                lease_ack = _dhcp_replies(device, dhcp["lease_xid"])[-1]
                domain = next(o["value"] for o in lease_ack["options"] if o["code"] == 15)
                assert domain == dhcp["lease_option15"]
                continue
            ack = _dhcp_replies(device, dhcp["inform_xid"])[-1]
            assert ack["vendor_class"] is None or ack["vendor_class"] == "MS-UC-Client"
            domain = next(o["value"] for o in ack["options"] if o["code"] == 15)
            assert domain == dhcp["option15"]
            if dhcp["option43_hex"] is None:
                assert "option43" not in ack
            else:
                opt43 = ack["option43"]
                assert opt43["raw_hex"] == dhcp["option43_hex"]
                decoded = dhcp["option43_decoded"]
                assert opt43["complete"] is not decoded["truncated"]
                got = {s["code"]: s["text"] for s in opt43["suboptions"]}
                for sub in decoded["suboptions"]:
                    if sub["complete"]:
                        assert got[sub["code"]] == sub["value"]
                assert opt43["vendor_class"] == "MS-UC-Client"
            if dhcp["option120_hex"] is None:
                assert "option120" not in ack
            else:
                assert ack["option120"]["raw_hex"] == dhcp["option120_hex"]
                if ack["option120"]["encoding"] == 0:
                    assert ack["option120"]["names"] == dhcp["option120_names"]
                else:
                    assert dhcp["option120_names"] == []


@pytest.mark.parametrize("facts_path", FACTS, ids=lambda p: p.name.split(".")[0])
def test_dns_answers_are_the_ones_served(facts_path: Path) -> None:
    facts = _facts(facts_path)
    doc = _document(facts["capture"])
    for phone in facts["phones"]:
        device = _device(doc, phone["mac"])
        seen = [
            (lk["qname"], lk["qtype"], lk["rcode"], lk["cname_chain"][1:], lk["addresses"])
            for lk in device["dns"]
        ]
        expected = [
            (q["qname"], q["qtype"], q["rcode"], q["cname"], q["a"])
            for boot in phone["boots"]
            for q in boot["dns"]
        ]
        assert seen == expected


def _decryptable(checkin: dict[str, Any]) -> bool:
    """A check-in the pipeline can read with the scenario's server key: plain HTTP, or TLS with
    RSA key exchange (ECDHE check-ins stay encrypted: forward secrecy)."""
    return checkin.get("tls", {}).get("key_exchange", "rsa") == "rsa"


@pytest.mark.parametrize("facts_path", FACTS, ids=lambda p: p.name.split(".")[0])
def test_checkins_and_downloads_are_the_ones_made(facts_path: Path) -> None:
    facts = _facts(facts_path)
    doc = _document(facts["capture"])
    for phone in facts["phones"]:
        device = _device(doc, phone["mac"])
        boots = [b for b in phone["boots"] if b.get("checkin") and _decryptable(b["checkin"])]
        assert len(device["checkins"]) == len(boots)
        for checkin, boot in zip(device["checkins"], boots, strict=True):
            want = boot["checkin"]
            http = checkin["http"]
            assert http["request"]["method"] == want["method"]
            assert http["request"]["target"] == want["path"]
            assert http["response"]["status"] == want["status"]
            fields = checkin["response_fields"]
            if want["status"] == 200:
                assert fields["server_version"] == want["server_version"]
                assert fields["service_version"] == want["service_version"]
                assert fields["downloads"] == want["downloads"]
                offered = [
                    (f["file_name"], f["version"], f["internal_url"] or f["url"])
                    for f in fields["files"]
                ]
                assert offered == [(o["name"], o["version"], o["url"]) for o in want["offered"]]
        want_downloads = [
            d for b in phone["boots"] for d in b["downloads"] if not d["path"].endswith("/")
        ]
        assert len(device["downloads"]) == len(want_downloads)
        for got, want in zip(device["downloads"], want_downloads, strict=True):
            assert got["http"]["request"]["target"] == want["path"]
            assert got["status"] == want["status"]
            assert got["bytes_received"] == want["bytes"]
            if want["substatus"]:
                assert got["iis_substatus"] == f"{want['status']}.{want['substatus']}"
            if want["status"] == 200:
                assert got["complete"] and got["content_length"] == want["bytes"]


@pytest.mark.parametrize("facts_path", FACTS, ids=lambda p: p.name.split(".")[0])
def test_verdicts_and_findings(facts_path: Path) -> None:
    facts = _facts(facts_path)
    report = _report(facts["capture"])
    expected = EXPECTED[facts["scenario"]]
    for item in report.devices:
        verdict, must = expected.get(item.session.mac or "", expected.get("*", ("?", set())))
        ids = {f.check_id for f in item.findings}
        assert str(item.verdict.verdict) == verdict, (item.session.mac, sorted(ids))
        assert must <= ids, (item.session.mac, sorted(ids))
        if verdict == "pass":
            bad = [f.check_id for f in item.findings if str(f.severity) in ("fail", "warn")]
            assert bad == []
    assert report.has_fail == any(v == "fail" for v, _ in expected.values())


@pytest.mark.parametrize("facts_path", FACTS, ids=lambda p: p.name.split(".")[0])
def test_root_cause_is_the_one_the_policy_gives(facts_path: Path) -> None:
    facts = _facts(facts_path)
    report = _report(facts["capture"])
    wanted = ROOT_CAUSE.get(facts["scenario"], {})
    for item in report.devices:
        root = item.verdict.root_cause
        if str(item.verdict.verdict) in ("pass", "inconclusive"):
            assert root is None, item.session.mac
            continue
        want = wanted.get(item.session.mac or "", wanted.get("*"))
        assert root is not None and root.check_id == want, (item.session.mac, root)
        assert root.severity == item.verdict.verdict
        assert item.verdict.reason.startswith(f"{want}: ")


def test_multi_phone_background_pc_is_not_a_phone() -> None:
    facts = _facts(PCAPS / "multi-phone.facts.json")
    doc = _document("multi-phone.pcapng")
    assert facts["background"]["mac"] not in {d["mac"] for d in doc["devices"]}
    # ...but its traffic was read: the capture summary counts it.
    assert doc["capture"]["dns_frames"] > sum(len(d["dns"]) * 2 for d in doc["devices"])


def test_interim_upgrade_counts_three_boots() -> None:
    doc = _document("interim-upgrade.pcap")
    device = doc["devices"][0]
    assert len(device["boots"]) == 3
    assert [d["offered_version"] for d in device["downloads"]] == ["1.0.522.103", "3.5.6907.0"]


ECDHE_FACTS = [p for p in FACTS if _facts(p).get("https", {}).get("key_exchange") == "ecdhe"]


@pytest.mark.parametrize("facts_path", ECDHE_FACTS, ids=lambda p: p.name.split(".")[0])
def test_ecdhe_checkins_are_the_ones_made_with_the_phone_key_log(facts_path: Path) -> None:
    """The server key cannot read an ECDHE check-in; the phone's key log (shipped beside the
    capture) can: the decrypted truth the inference without keys is compared with."""
    facts = _facts(facts_path)
    keys = load_tls_keys([], None, str(PCAPS / facts["https"]["fixtures"]["keylog"]))
    report = evaluate(analyze_paths([str(PCAPS / facts["capture"])], tls_keys=keys), Expectations())
    doc = report_document(report)
    for phone in facts["phones"]:
        device = _device(doc, phone["mac"])
        boots = [b for b in phone["boots"] if b.get("checkin")]
        assert boots and len(device["checkins"]) == len(boots)
        for checkin, boot in zip(device["checkins"], boots, strict=True):
            fields = checkin["response_fields"]
            assert checkin["http"]["response"]["status"] == boot["checkin"]["status"]
            assert fields["downloads"] == boot["checkin"]["downloads"]
            assert [f["version"] for f in fields["files"]] == [
                o["version"] for o in boot["checkin"]["offered"]
            ]
        assert [s["version"] for s in device["firmware_seen"]] == phone["versions_reported"]
