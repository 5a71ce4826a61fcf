"""Configurations for the lab's alternative DHCP servers: ISC Kea (kea-dhcp4) and ISC dhcpd.

Admins serve the Lync Phone Edition options from Windows DHCP, ISC dhcpd or Kea, and each of them
has its own way of getting option 43 and 120 wrong. These renderers write the configuration an
admin following the public Lync guides would write (vendor class MS-UC-Client, option 43
sub-options 1-5, option 120 with RFC 3361 encoding 0), with the scenario's misconfiguration
applied, so the lab captures what the real daemon then puts on the wire. `served_bytes` says what
that configuration must produce, and the facts builder refuses a run that disagrees.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from lab.dhcpwire import CERT_PROV_PATH, MS_UC_CLIENT, encode_option43, encode_option120
from lab.scenarios import Scenario

SUBNET = "10.77.0.0"
NETMASK = "255.255.255.0"
POOL = ("10.77.0.100", "10.77.0.199")
KEA_BIN = "/usr/sbin/kea-dhcp4"
DHCPD_BIN = "/usr/sbin/dhcpd"

# The sub-option names the Lync guides (and DHCPConfigScript.bat) give the MSUCClient class.
SUBOPTION_NAMES = {
    1: "UCIdentifier",
    2: "URLScheme",
    3: "WebServerFQDN",
    4: "WebServerPort",
    5: "CertProvRelPath",
}


def suboptions(sc: Scenario) -> list[tuple[int, str]]:
    """Option 43 sub-options 1-5 as the Lync guides list them."""
    return [(1, MS_UC_CLIENT), (2, "https"), (3, sc.web_fqdn), (4, "443"), (5, CERT_PROV_PATH)]


def cert_prov_url(sc: Scenario) -> str:
    """The Certificate Provisioning URL the five sub-options compose."""
    return f"https://{sc.web_fqdn}:443{CERT_PROV_PATH}"


def class_matches(sc: Scenario) -> bool:
    """Whether the server's vendor-class test matches what the phone sends (byte-exact)."""
    return sc.vendor_class_test == MS_UC_CLIENT


def answers_inform(sc: Scenario) -> bool:
    """dhcpd drops DHCPINFORM on a subnet it is not authoritative for; Kea answers it anyway."""
    return sc.dhcp_server != "dhcpd" or sc.dhcp_authoritative


def served_bytes(sc: Scenario) -> tuple[bytes | None, bytes | None]:
    """Option 43 and 120 payloads the configuration must put in the INFORM's ACK (None: absent).

    Both servers emit vendor sub-options in code order, so the TLV bytes are exact. A class that
    never matches means neither option is sent; an unanswered INFORM means no ACK at all.
    """
    if not class_matches(sc) or not answers_inform(sc):
        return None, None
    opt43: bytes | None = None
    if sc.option43 == "vendor":
        opt43 = encode_option43(suboptions(sc))
    elif sc.option43 == "flat-string":
        opt43 = cert_prov_url(sc).encode("ascii")
    opt120: bytes | None = None
    if sc.option120:
        if sc.option120_format == "text":
            opt120 = sc.web_fqdn.encode("ascii")
        else:
            opt120 = encode_option120([sc.web_fqdn])
    return opt43, opt120


def _hex_colon(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def dhcpd_conf(sc: Scenario, server_ip: str, router_ip: str) -> str:
    """ISC dhcpd 4.x configuration in the style of the Lync-on-Linux write-ups.

    `option space MSUCClient` with sub-options 1-5 as `string`, a class matching option 60 with
    `vendor-option-space MSUCClient`, and option 120 defined as `string` and given the RFC 3361
    bytes in colon hex (dhcpd has no built-in definition of option 120). `flat-string` puts the
    whole URL into option 43 as text instead, which dhcpd accepts and sends verbatim.
    """
    lines = []
    if sc.dhcp_authoritative:
        lines.append("authoritative;")
    lines += [
        "ddns-update-style none;",
        "default-lease-time 3600;",
        "max-lease-time 3600;",
        "ping-check false;",
        "option space MSUCClient;",
    ]
    for code, name in SUBOPTION_NAMES.items():
        lines.append(f"option MSUCClient.{name} code {code} = string;")
    lines.append("option SIP-servers code 120 = string;")
    lines += [
        f"subnet {SUBNET} netmask {NETMASK} {{",
        f"  range {POOL[0]} {POOL[1]};",
        f"  option routers {router_ip};",
        f"  option domain-name-servers {server_ip};",
        f'  option domain-name "{sc.domain}";',
        "}",
        'class "MSUCClient" {',
        f'  match if option vendor-class-identifier = "{sc.vendor_class_test}";',
    ]
    if sc.option43 == "vendor":
        lines.append("  vendor-option-space MSUCClient;")
        for code, value in suboptions(sc):
            lines.append(f'  option MSUCClient.{SUBOPTION_NAMES[code]} "{value}";')
    elif sc.option43 == "flat-string":
        lines.append(f'  option vendor-encapsulated-options "{cert_prov_url(sc)}";')
    if sc.option120:
        if sc.option120_format == "text":
            lines.append(f'  option SIP-servers "{sc.web_fqdn}";')
        else:
            lines.append(f"  option SIP-servers {_hex_colon(encode_option120([sc.web_fqdn]))};")
    lines.append("}")
    for p in sc.phones:
        lines += [
            f"host {p.name} {{",
            f"  hardware ethernet {p.mac};",
            f"  fixed-address {p.ip};",
            "}",
        ]
    return "\n".join(lines) + "\n"


def kea_conf(sc: Scenario, tmp: Path, server_ip: str, router_ip: str) -> dict[str, Any]:
    """kea-dhcp4 2.x configuration following the Kea ARM's "vendor-specific options" recipe.

    Sub-options 1-5 are `option-def`s in a `MSUCClient` space; a client class tests option 60
    and redefines option 43 (type empty) to encapsulate that space, as the ARM shows for option 43
    in a class. Kea has no built-in option 120, so it is sent as raw bytes (`csv-format: false`);
    the `text` variant instead defines code 120 as a `string` and gives it the bare FQDN.
    """
    option_defs: list[dict[str, Any]] = [
        {"name": name, "code": code, "space": "MSUCClient", "type": "string"}
        for code, name in SUBOPTION_NAMES.items()
    ]
    class_data: list[dict[str, Any]] = []
    class_defs: list[dict[str, Any]] = []
    if sc.option43 == "vendor":
        class_defs.append(
            {
                "name": "vendor-encapsulated-options",
                "code": 43,
                "type": "empty",
                "encapsulate": "MSUCClient",
            }
        )
        class_data.append({"name": "vendor-encapsulated-options"})
        for code, value in suboptions(sc):
            class_data.append({"name": SUBOPTION_NAMES[code], "space": "MSUCClient", "data": value})
    elif sc.option43 == "flat-string":
        class_defs.append({"name": "vendor-encapsulated-options", "code": 43, "type": "string"})
        class_data.append({"name": "vendor-encapsulated-options", "data": cert_prov_url(sc)})
    if sc.option120:
        if sc.option120_format == "text":
            option_defs.append({"name": "sip-server", "code": 120, "type": "string"})
            class_data.append({"name": "sip-server", "data": sc.web_fqdn})
        else:
            raw = encode_option120([sc.web_fqdn]).hex()
            class_data.append({"code": 120, "csv-format": False, "data": raw})
    client_class: dict[str, Any] = {
        "name": "MSUCClient",
        "test": f"option[60].text == '{sc.vendor_class_test}'",
        "option-data": class_data,
    }
    if class_defs:
        client_class["option-def"] = class_defs
    return {
        "Dhcp4": {
            "interfaces-config": {"interfaces": ["eth0"], "dhcp-socket-type": "raw"},
            "lease-database": {
                "type": "memfile",
                "persist": True,
                "name": str(tmp / "kea-leases4.csv"),
                "lfc-interval": 0,
            },
            "authoritative": sc.dhcp_authoritative,
            "valid-lifetime": 3600,
            "option-def": option_defs,
            "client-classes": [client_class],
            "subnet4": [
                {
                    "id": 1,
                    "subnet": f"{SUBNET}/24",
                    "pools": [{"pool": f"{POOL[0]} - {POOL[1]}"}],
                    "reservations": [{"hw-address": p.mac, "ip-address": p.ip} for p in sc.phones],
                    "option-data": [
                        {"name": "routers", "data": router_ip},
                        {"name": "domain-name-servers", "data": server_ip},
                        {"name": "domain-name", "data": sc.domain},
                    ],
                }
            ],
            "loggers": [
                {
                    "name": "kea-dhcp4",
                    "output_options": [{"output": "stdout", "flush": True}],
                    "severity": "DEBUG",
                    "debuglevel": 40,
                }
            ],
        }
    }


def kea_conf_text(sc: Scenario, tmp: Path, server_ip: str, router_ip: str) -> str:
    """The Kea configuration as the JSON file handed to `kea-dhcp4 -c`."""
    return json.dumps(kea_conf(sc, tmp, server_ip, router_ip), indent=2) + "\n"


def server_version(server: str) -> str:
    """Name and version of the DHCP daemon that served a scenario, as its binary reports it."""
    if server == "kea":
        out = subprocess.run([KEA_BIN, "-v"], capture_output=True, text=True, timeout=10)
        return f"ISC Kea kea-dhcp4 {out.stdout.strip()}"
    if server == "dhcpd":
        out = subprocess.run([DHCPD_BIN, "--version"], capture_output=True, text=True, timeout=10)
        text = (out.stdout + out.stderr).strip()
        return f"ISC dhcpd {text.removeprefix('isc-dhcpd-')}"
    raise ValueError(f"unknown DHCP server {server!r}")
