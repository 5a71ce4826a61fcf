"""The Kea and ISC dhcpd configurations the lab renders, and what their captures carry.

Rendering tests need nothing; the syntax checks need the daemon (`kea-dhcp4 -t`, `dhcpd -t`);
the capture tests read the committed captures with tshark, independently of capinspect and of the
lab's own phone, and require the option 43/120 bytes the daemon sent to be the configured ones.
The full reruns of these scenarios are in test_lab_scenarios.py (root + netns + the daemon).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lab.dhcpconf import (
    DHCPD_BIN,
    KEA_BIN,
    cert_prov_url,
    dhcpd_conf,
    kea_conf,
    kea_conf_text,
    served_bytes,
    suboptions,
)
from lab.dhcpwire import decode_option43, decode_option120, encode_option43, encode_option120
from lab.runner import ROUTER_IP, SERVER_IP
from lab.scenarios import SCENARIOS, by_name

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
SERVED = [s.name for s in SCENARIOS if s.dhcp_server != "dnsmasq"]


def test_kea_and_dhcpd_scenarios_exist() -> None:
    servers = {by_name(n).dhcp_server for n in SERVED}
    assert servers == {"kea", "dhcpd"}
    assert {"kea-healthy", "dhcpd-healthy"} <= set(SERVED)


def test_healthy_servers_send_the_lync_suboptions_in_code_order() -> None:
    for name in ("kea-healthy", "dhcpd-healthy"):
        sc = by_name(name)
        opt43, opt120 = served_bytes(sc)
        assert opt43 == encode_option43(suboptions(sc))
        assert [s["code"] for s in decode_option43(opt43)["suboptions"]] == [1, 2, 3, 4, 5]
        assert opt120 == encode_option120([sc.web_fqdn])


def test_flat_string_option43_cannot_be_read_as_suboptions() -> None:
    sc = by_name("dhcpd-option43-string")
    opt43, _ = served_bytes(sc)
    assert opt43 == cert_prov_url(sc).encode()
    decoded = decode_option43(opt43 or b"")
    # 'h' (0x68) read as a sub-option code, 't' (116) as a length running past the end.
    assert decoded["truncated"] is True
    assert decoded["suboptions"][0]["code"] == 0x68


def test_text_option120_has_no_encoding_byte() -> None:
    sc = by_name("kea-option120-text")
    _, opt120 = served_bytes(sc)
    assert opt120 == sc.web_fqdn.encode()
    assert decode_option120(opt120 or b"")["encoding"] == ord("o")


def test_no_options_when_the_class_never_matches_or_inform_is_ignored() -> None:
    assert served_bytes(by_name("kea-class-mismatch")) == (None, None)
    assert served_bytes(by_name("dhcpd-not-authoritative")) == (None, None)


def test_dhcpd_conf_is_the_lync_guide_layout() -> None:
    conf = dhcpd_conf(by_name("dhcpd-healthy"), SERVER_IP, ROUTER_IP)
    assert conf.startswith("authoritative;\n")
    assert "option space MSUCClient;" in conf
    assert "option MSUCClient.UCIdentifier code 1 = string;" in conf
    assert "option SIP-servers code 120 = string;" in conf
    assert 'match if option vendor-class-identifier = "MS-UC-Client";' in conf
    assert "vendor-option-space MSUCClient;" in conf
    assert 'option MSUCClient.CertProvRelPath "/CertProv/CertProvisioningService.svc";' in conf
    noauth = dhcpd_conf(by_name("dhcpd-not-authoritative"), SERVER_IP, ROUTER_IP)
    assert "authoritative;" not in noauth
    flat = dhcpd_conf(by_name("dhcpd-option43-string"), SERVER_IP, ROUTER_IP)
    assert 'option vendor-encapsulated-options "https://ocs.contoso.com:443/' in flat
    assert "vendor-option-space" not in flat


def test_kea_conf_class_and_option43_encapsulation(tmp_path: Path) -> None:
    conf = kea_conf(by_name("kea-healthy"), tmp_path, SERVER_IP, ROUTER_IP)["Dhcp4"]
    (cls,) = conf["client-classes"]
    assert cls["test"] == "option[60].text == 'MS-UC-Client'"
    assert cls["option-def"] == [
        {
            "name": "vendor-encapsulated-options",
            "code": 43,
            "type": "empty",
            "encapsulate": "MSUCClient",
        }
    ]
    assert {"code": 120, "csv-format": False, "data": "00036f637307636f6e746f736f03636f6d00"} in (
        cls["option-data"]
    )
    assert conf["lease-database"]["name"].startswith(str(tmp_path))
    wrong = kea_conf(by_name("kea-class-mismatch"), tmp_path, SERVER_IP, ROUTER_IP)["Dhcp4"]
    assert wrong["client-classes"][0]["test"] == "option[60].text == 'ms-uc-client'"
    text = kea_conf(by_name("kea-option120-text"), tmp_path, SERVER_IP, ROUTER_IP)["Dhcp4"]
    assert {"name": "sip-server", "code": 120, "type": "string"} in text["option-def"]


def _syntax_params(server: str, binary: str) -> list[Any]:
    names = [s.name for s in SCENARIOS if s.dhcp_server == server]
    skip = pytest.mark.skipif(not os.access(binary, os.X_OK), reason=f"{binary} not installed")
    return [pytest.param(n, marks=skip, id=n) for n in names]


@pytest.mark.parametrize("name", _syntax_params("kea", KEA_BIN))
def test_kea_accepts_the_rendered_config(name: str, tmp_path: Path) -> None:
    conf = tmp_path / "kea.json"
    conf.write_text(kea_conf_text(by_name(name), tmp_path, SERVER_IP, ROUTER_IP))
    env = {**os.environ, "KEA_PIDFILE_DIR": str(tmp_path), "KEA_LOCKFILE_DIR": str(tmp_path)}
    proc = subprocess.run(
        [KEA_BIN, "-t", str(conf)], capture_output=True, text=True, timeout=30, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", _syntax_params("dhcpd", DHCPD_BIN))
def test_dhcpd_accepts_the_rendered_config(name: str, tmp_path: Path) -> None:
    conf = tmp_path / "dhcpd.conf"
    conf.write_text(dhcpd_conf(by_name(name), SERVER_IP, ROUTER_IP))
    proc = subprocess.run(
        [DHCPD_BIN, "-t", "-4", "-cf", str(conf)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- committed captures, read with tshark ------------------------------------------------------


def _ack_options(capture: Path, xid: str) -> dict[int, str] | None:
    """Option code -> value hex of the DHCPACK with `xid` (None: no such ACK on the wire)."""
    flt = f"dhcp.option.dhcp == 5 and dhcp.id == {xid}"
    argv = ["tshark", "-n", "-r", str(capture), "-Y", flt, "-T", "fields"]
    argv += ["-e", "dhcp.option.type", "-e", "dhcp.option.value"]
    argv += ["-E", "occurrence=a", "-E", "aggregator=|"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    lines = out.splitlines()
    if not lines:
        return None
    types, values = lines[-1].split("\t")
    # PAD/END carry no value and come last, so the two lists line up from the start.
    return {int(t): v for t, v in zip(types.split("|"), values.split("|"), strict=False)}


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("name", SERVED)
def test_captured_options_are_what_the_daemon_was_configured_to_send(name: str) -> None:
    facts = json.loads((PCAPS / f"{name}.facts.json").read_text())
    served = facts["dhcp_served"]
    sc = by_name(name)
    prefix = {"kea": "ISC Kea kea-dhcp4 ", "dhcpd": "ISC dhcpd "}[sc.dhcp_server]
    assert served["server"].startswith(prefix) and served["server"] != prefix
    assert served["dns_server"].startswith("dnsmasq")
    opt43, opt120 = served_bytes(sc)
    assert served["option43_raw_hex"] == (opt43.hex() if opt43 is not None else None)
    assert served["option120_raw_hex"] == (opt120.hex() if opt120 is not None else None)
    for boot in facts["phones"][0]["boots"]:
        dhcp = boot["dhcp"]
        lease = _ack_options(PCAPS / facts["capture"], dhcp["lease_xid"])
        assert lease is not None and bytes.fromhex(lease[15]).decode() == sc.domain
        ack = _ack_options(PCAPS / facts["capture"], dhcp["inform_xid"])
        if not served["answers_inform"]:
            assert ack is None and dhcp["inform_answered"] is False
            assert dhcp["messages"][-2:] == ["INFORM", "INFORM"]
            continue
        assert ack is not None
        assert ack.get(43) == served["option43_raw_hex"]
        assert ack.get(120) == served["option120_raw_hex"]
        assert bytes.fromhex(ack[15]).decode() == sc.domain


def test_a_missing_daemon_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.runner

    monkeypatch.setattr(lab.runner, "KEA_BIN", "/nonexistent/kea-dhcp4")
    monkeypatch.setattr(lab.runner, "DHCPD_BIN", "/nonexistent/dhcpd")
    assert "kea-dhcp4-server" in (lab.runner.missing_dhcp_server("kea") or "")
    assert "isc-dhcp-server" in (lab.runner.missing_dhcp_server("dhcpd") or "")
    assert lab.runner.missing_dhcp_server("dnsmasq") is None
