"""Tests of the lab and of the captures it committed under pcaps/.

The inventory and encoding tests need nothing; the tshark tests re-read the committed captures
independently of capinspect; the `lab` tests rerun every scenario in network namespaces (root,
dnsmasq, tcpdump, tshark) and require the fresh capture to match the committed one.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

from lab.dhcpwire import (
    CERT_PROV_PATH,
    decode_option43,
    decode_option120,
    encode_option43,
    encode_option120,
)
from lab.facts import compare_captures, compare_with_facts
from lab.firmware import firmware_bytes, version_lt
from lab.pcapio import Frame, read_pcap, tag_frames, write_pcap
from lab.runner import (
    missing_dhcp_server,
    missing_lpe_tools,
    option43_bytes,
    preflight,
    run_scenario,
)
from lab.scenarios import SCENARIOS, by_name

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
SCENARIO_NAMES = [s.name for s in SCENARIOS]


def committed_facts(name: str) -> dict[str, Any]:
    """Load one committed facts file."""
    return json.loads((PCAPS / f"{name}.facts.json").read_text())


# --- no requirements ---------------------------------------------------------------------------


def test_every_capture_has_facts_and_vice_versa() -> None:
    captures = {p.name.split(".")[0] for p in PCAPS.glob("*.pcap*")}
    facts = {p.name.removesuffix(".facts.json") for p in PCAPS.glob("*.facts.json")}
    assert captures == facts
    assert captures == set(SCENARIO_NAMES)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_facts_file_is_well_formed(name: str) -> None:
    facts = committed_facts(name)
    sc = by_name(name)
    assert facts["scenario"] == name
    assert facts["capture"] == sc.capture_name
    capture = PCAPS / facts["capture"]
    assert capture.exists() and capture.stat().st_size <= 1_000_000
    head = capture.read_bytes()[:4]
    assert head == (b"\x0a\x0d\x0d\x0a" if facts["format"] == "pcapng" else b"\xd4\xc3\xb2\xa1")
    assert facts["expected_outcome"] and facts["domain"] == sc.domain
    assert len(facts["phones"]) == len(sc.phones) >= 1
    for phone, spec in zip(facts["phones"], sc.phones, strict=True):
        assert MAC_RE.match(phone["mac"]) and phone["mac"] == spec.mac
        assert phone["versions_reported"][0] == spec.version
        assert len(phone["versions_reported"]) == len(phone["boots"]) >= 1
        for boot in phone["boots"]:
            dhcp = boot["dhcp"]
            assert re.fullmatch(r"0x[0-9a-f]{8}", dhcp["lease_xid"])
            assert dhcp["lease_xid"] != dhcp["inform_xid"]
            assert dhcp["leased_ip"] == spec.ip
            # An unanswered INFORM leaves the lease's option 15 as the phone's domain.
            domain = dhcp["option15"] or dhcp.get("lease_option15")
            names = [q["qname"] for q in boot["dns"]]
            if "signin" in boot:
                # A Lync Phone Edition phone first resolves option 43's sub-option 3, and stops
                # there when the sign-in handshake fails.
                assert names[0] == boot["signin"]["host"]
                names = names[1:]
                if "tls_failure" in boot["signin"]:
                    assert names == [] and "checkin" not in boot
                    continue
            assert names[0] == f"ucupdates-r2.{domain}"
            for dl in boot["downloads"]:
                assert dl["path"].startswith("/DeviceUpdateFiles_Int/")
                assert isinstance(dl["status"], int)
        xids = [b["dhcp"]["lease_xid"] for b in phone["boots"]]
        assert len(set(xids)) == len(xids), "each reboot must use a new xid"


def test_seed_upgrade_path_is_recorded() -> None:
    phone = committed_facts("interim-upgrade")["phones"][0]
    assert phone["mac"] == "00:21:63:0f:20:7b" and phone["serial"] == "C185H001209"
    assert phone["versions_reported"] == ["1.0.522.34", "1.0.522.103", "3.5.6907.0"]
    first, second, last = phone["boots"]
    assert first["checkin"]["offered"][0]["url"].endswith("/OCInterim/ENU/CPE.nbt")
    assert second["checkin"]["offered"][0]["url"].endswith(
        "/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/CPE.nbt"
    )
    assert last["checkin"]["downloads"] == 0


LPE_NAMES = [s.name for s in SCENARIOS if any(p.lpe for p in s.phones)]


@pytest.mark.parametrize("name", LPE_NAMES)
def test_lync_phone_edition_facts_record_time_signin_and_tls(name: str) -> None:
    facts = committed_facts(name)
    sc = by_name(name)
    assert facts["lync_phone_edition"]["signin_url"] == (
        f"https://{sc.web_fqdn}:443{CERT_PROV_PATH}"
    )
    assert facts["https"]["key_exchange"] == sc.tls_key_exchange
    conns = facts["tls_connections"]
    for phone in facts["phones"]:
        assert phone["vendor"] in {"Polycom", "Aastra"}
        for boot in phone["boots"]:
            ntp = boot["ntp"]
            assert ntp["answered"] is (sc.ntp == "answered") is ntp["clock_set"]
            assert ntp["requests"] == (1 if ntp["answered"] else 2)
            signin = boot["signin"]
            assert signin["sni"] == signin["host"] == sc.web_fqdn
            ck = boot.get("checkin")
            if ck:
                assert ck["tls"]["key_exchange"] == sc.tls_key_exchange
                assert ck["user_agent"].startswith(f"CPE/{boot['reported_version']} OCPhone/")
                assert ck["response_body_bytes"] > 0 and ck["request_body_bytes"] > 0
    failed = [c for c in conns if c["alerts"]]
    if sc.ntp == "ignored" or not sc.phone_trusts_ca or sc.cert_names:
        # The phone rejects the sign-in certificate: one connection, one fatal alert from it.
        assert len(conns) == 1 and failed == conns
        assert conns[0]["alerts"][0]["from"] == "client"
        want = "unknown_ca" if not sc.phone_trusts_ca else "bad_certificate"
        assert conns[0]["alerts"][0]["description"] == want
    else:
        assert failed == [] and {c["key_exchange"] for c in conns} == {sc.tls_key_exchange}


def test_lpe_offer_answer_is_larger_than_nothing_offered() -> None:
    offer = committed_facts("lpe-update-rsa")["phones"][0]["boots"]
    none = committed_facts("lpe-nothing-offered-rsa")["phones"][0]["boots"][0]["checkin"]
    assert offer[0]["checkin"]["downloads"] == 1 and none["downloads"] == 0
    assert offer[0]["checkin"]["response_body_bytes"] > none["response_body_bytes"]
    assert offer[1]["checkin"]["response_body_bytes"] == none["response_body_bytes"]


def test_failure_scenarios_record_iis_substatus() -> None:
    acl = committed_facts("acl-denied")["phones"][0]["boots"][0]["downloads"][0]
    assert (acl["status"], acl["substatus"], acl["win32"]) == (500, 19, 5)
    ssl = committed_facts("ssl-required")["phones"][0]["boots"][0]["downloads"][0]
    assert (ssl["status"], ssl["substatus"]) == (403, 4)
    legacy = committed_facts("legacy-452")["phones"][0]["boots"][0]["checkin"]
    assert (legacy["path"], legacy["status"]) == ("/UCDeviceUpdates/ucdevice.upx", 404)


def test_option43_worked_example_from_protocol_md() -> None:
    subs = [(1, "MS-UC-Client"), (2, "https"), (3, "server.fqdn.company.com"), (4, "443")]
    raw = encode_option43([*subs, (5, CERT_PROV_PATH)])
    assert len(raw) == 90
    assert raw.hex().startswith("010c4d532d55432d436c69656e7402056874747073031773657276")
    decoded = decode_option43(raw)
    assert [s["value"] for s in decoded["suboptions"]][3] == "443"
    assert decoded["truncated"] is False


def test_truncated_option43_is_cut_at_90_bytes() -> None:
    subs, raw = option43_bytes(by_name("option43-truncated"))
    assert raw is not None and len(raw) == 90 and len(encode_option43(subs)) > 90
    decoded = decode_option43(raw)
    assert decoded["truncated"] is True
    assert decoded["suboptions"][-1]["code"] == 5 and not decoded["suboptions"][-1]["complete"]


def test_option120_encoding() -> None:
    raw = encode_option120(["server.fqdn.company.com"])
    assert raw.hex() == "0006736572766572046671646e07636f6d70616e7903636f6d00"
    assert decode_option120(raw)["names"] == ["server.fqdn.company.com"]


def test_version_order_and_firmware_determinism() -> None:
    assert version_lt("1.0.522.34", "1.0.522.98") and not version_lt("1.0.522.103", "1.0.522.98")
    a = firmware_bytes("/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt")
    assert a == firmware_bytes("/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt")
    assert 150_000 <= len(a) <= 300_000


def test_vlan_tagging_inserts_dot1q_and_qinq(tmp_path: Path) -> None:
    phone, other = "00:21:63:0f:20:7b", "00:04:f2:aa:10:03"
    server = bytes.fromhex("00155d4d0001")

    def eth(dst: bytes, src: bytes) -> bytes:
        return dst + src + b"\x08\x00" + b"\x45" + b"\x00" * 40

    frames = [
        Frame(1, 0, 55, eth(server, bytes.fromhex(phone.replace(":", "")))),
        Frame(2, 0, 55, eth(bytes.fromhex(other.replace(":", "")), server)),
        Frame(3, 0, 55, eth(server, bytes.fromhex("001aa05c0050"))),
    ]
    assert tag_frames(frames, {phone: (100,), other: (200, 100)}, {}) == 2
    path = tmp_path / "t.pcap"
    write_pcap(path, frames)
    _, _, back = read_pcap(path)
    assert struct.unpack("!HH", back[0].data[12:16]) == (0x8100, (5 << 13) | 100)
    assert struct.unpack("!HHHH", back[1].data[12:20]) == (
        0x88A8,
        (5 << 13) | 200,
        0x8100,
        (5 << 13) | 100,
    )
    assert back[2].data[12:14] == b"\x08\x00"


# --- tshark only --------------------------------------------------------------------------------

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_committed_capture_matches_its_facts(name: str) -> None:
    facts = committed_facts(name)
    assert compare_with_facts(PCAPS / facts["capture"], facts) == []


@pytest.mark.tshark
@needs_tshark
def test_fact_comparison_detects_a_wrong_fact() -> None:
    facts = committed_facts("file-not-found")
    facts["phones"][0]["boots"][0]["downloads"][0]["status"] = 200
    facts["phones"][0]["boots"][0]["dhcp"]["option43_hex"] = "00"
    problems = compare_with_facts(PCAPS / facts["capture"], facts)
    assert any("http" in p for p in problems) and any("dhcp" in p for p in problems)


@pytest.mark.tshark
@needs_tshark
def test_capture_comparison_detects_a_different_capture() -> None:
    macs = [p["mac"] for p in committed_facts("healthy-no-update")["phones"]]
    assert (
        compare_captures(PCAPS / "healthy-no-update.pcap", PCAPS / "healthy-no-update.pcap", macs)
        == []
    )
    # A capture of another scenario carries none of this phone's traffic.
    assert compare_captures(PCAPS / "healthy-no-update.pcap", PCAPS / "acl-denied.pcap", macs)


# --- full rerun in namespaces -----------------------------------------------------------------

_MISSING = preflight()


def _rerun_params() -> list[Any]:
    """Every scenario; the Kea/dhcpd ones also skip when their daemon is not installed, the Lync
    Phone Edition ones when chronyd or libfaketime is missing."""
    params = []
    for sc in SCENARIOS:
        missing = missing_dhcp_server(sc.dhcp_server) or missing_lpe_tools(sc)
        marks = [pytest.mark.skipif(True, reason=f"lab needs {missing}")] if missing else []
        params.append(pytest.param(sc.name, marks=marks, id=sc.name))
    return params


@pytest.mark.lab
@pytest.mark.skipif(bool(_MISSING), reason="lab needs: " + ", ".join(_MISSING))
@pytest.mark.parametrize("name", _rerun_params())
def test_rerun_matches_committed_capture(name: str, tmp_path: Path) -> None:
    sc = by_name(name)
    fresh = run_scenario(sc, tmp_path)
    committed = committed_facts(name)
    fresh_facts = json.loads((tmp_path / f"{name}.facts.json").read_text())
    assert fresh_facts == committed
    assert compare_with_facts(fresh, fresh_facts) == []
    macs = [p["mac"] for p in committed["phones"]]
    assert compare_captures(fresh, PCAPS / sc.capture_name, macs) == []
