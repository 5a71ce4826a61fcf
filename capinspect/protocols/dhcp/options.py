"""The DHCP option table: what each option code is called and how its value is decoded.

Names follow Wireshark's ``packet-dhcp.c`` (``opt53_text``/``dhcp_opt`` tables) so that a
support engineer sees the same words in capinspect's report and in Wireshark's packet details.
The *kind* selects the value decoder in :mod:`capinspect.protocols.dhcp.parser`; the
``value`` types it produces are those listed in
:class:`~capinspect.protocols.dhcp.messages.DhcpOption`.

Kinds:

``ipv4``            one address (dotted quad)
``ipv4-list``       one or more addresses (``list[str]``)
``text``            ASCII/UTF-8 text, trailing NULs dropped (many clients NUL-terminate)
``u8``/``u16``/``u32``  unsigned big-endian number (``int``)
``s32``             signed 32-bit number (option 2, time offset)
``u8-list``         list of option codes (option 55)
``client-id``       hardware type byte + identifier, shown as colon-separated hex
``domain-list``     RFC 1035 names with compression (RFC 3397, option 119)
``classless-routes`` RFC 3442 destination/prefix + router (121, and Microsoft's 249)
``client-fqdn``     RFC 4702 flags, two rcodes and a name (option 81)
``relay-agent``     RFC 3046 sub-options (option 82)
``overload``        RFC 2132 §9.3 option overload (52): 1 = file, 2 = sname, 3 = both
``vendor``          option 43: decoded into ``Option43`` for the request's vendor class
``sip-servers``     option 120: decoded into ``Option120`` (RFC 3361)
``binary``          anything else: lower-case hex
"""

from __future__ import annotations

from typing import Final

# code → (Wireshark-style name, kind)
OPTIONS: Final[dict[int, tuple[str, str]]] = {
    1: ("Subnet Mask", "ipv4"),
    2: ("Time Offset", "s32"),
    3: ("Router", "ipv4-list"),
    4: ("Time Server", "ipv4-list"),
    5: ("Name Server", "ipv4-list"),
    6: ("Domain Name Server", "ipv4-list"),
    7: ("Log Server", "ipv4-list"),
    12: ("Host Name", "text"),
    13: ("Boot File Size", "u16"),
    15: ("Domain Name", "text"),
    17: ("Root Path", "text"),
    23: ("Default IP Time-to-Live", "u8"),
    26: ("Interface MTU", "u16"),
    28: ("Broadcast Address", "ipv4"),
    31: ("Perform Router Discover", "u8"),
    33: ("Static Route", "ipv4-list"),
    40: ("Network Information Service Domain", "text"),
    41: ("Network Information Service Servers", "ipv4-list"),
    42: ("Network Time Protocol Servers", "ipv4-list"),
    43: ("Vendor-Specific Information", "vendor"),
    44: ("NetBIOS over TCP/IP Name Server", "ipv4-list"),
    46: ("NetBIOS over TCP/IP Node Type", "u8"),
    47: ("NetBIOS over TCP/IP Scope", "text"),
    50: ("Requested IP Address", "ipv4"),
    51: ("IP Address Lease Time", "u32"),
    52: ("Option Overload", "overload"),
    53: ("DHCP Message Type", "u8"),
    54: ("DHCP Server Identifier", "ipv4"),
    55: ("Parameter Request List", "u8-list"),
    56: ("Message", "text"),
    57: ("Maximum DHCP Message Size", "u16"),
    58: ("Renewal Time Value", "u32"),
    59: ("Rebinding Time Value", "u32"),
    60: ("Vendor class identifier", "text"),
    61: ("Client identifier", "client-id"),
    66: ("TFTP Server Name", "text"),
    67: ("Bootfile name", "text"),
    69: ("SMTP Server", "ipv4-list"),
    81: ("Client Fully Qualified Domain Name", "client-fqdn"),
    82: ("Agent Information Option", "relay-agent"),
    100: ("PCode", "text"),
    101: ("TCode", "text"),
    119: ("Domain Search", "domain-list"),
    120: ("SIP Servers", "sip-servers"),
    121: ("Classless Static Route", "classless-routes"),
    150: ("TFTP Server Address", "ipv4-list"),
    249: ("Private/Classless Static Route (Microsoft)", "classless-routes"),
    252: ("Private/Proxy autodiscovery", "text"),
}

PAD: Final = 0
END: Final = 255
OVERLOAD: Final = 52


def option_name(code: int) -> str:
    """Wireshark's name for the option, or ``Option N`` for codes not in the table."""
    entry = OPTIONS.get(code)
    return entry[0] if entry is not None else f"Option {code}"


def option_kind(code: int) -> str:
    entry = OPTIONS.get(code)
    return entry[1] if entry is not None else "binary"


# Option-82 sub-options (RFC 3046 §2.0, RFC 3527, RFC 4030 …), Wireshark's names.
RELAY_AGENT_SUBOPTIONS: Final[dict[int, str]] = {
    1: "Agent Circuit ID",
    2: "Agent Remote ID",
    4: "DOCSIS Device Class",
    5: "Link selection",
    6: "Subscriber ID",
    9: "Vendor-Specific Information",
    11: "Server ID Override",
}

# Option-43 sub-options, by vendor class (option 60 of the request).
#
# MS-UC-Client: protocol.md §1.2 — names from DHCPConfigScript.bat ("UC Identifier", "URL
# Scheme", "Web Server Fqdn", "Web Server Port", "Cert Prov Relative Path"; source S10) and the
# DHCPUtil labels (S9). Every value is plain ASCII, sub-option 4 is the *text* "443".
# CPE-OCPHONE: protocol.md §1.3 — sub-option 10 carries the voice VLAN ID (OCPE 2007 release
# notes via S6; AudioCodes S14 "sub-option 010 VoiceVLAN"); its value encoding is UNKNOWN.
VENDOR_MS_UC_CLIENT: Final = "MS-UC-Client"
VENDOR_CPE_OCPHONE: Final = "CPE-OCPHONE"

VENDOR_SUBOPTIONS: Final[dict[str, dict[int, str]]] = {
    VENDOR_MS_UC_CLIENT.lower(): {
        1: "UC Identifier",
        2: "URL Scheme",
        3: "Web Server FQDN",
        4: "Web Server Port",
        5: "Cert Prov Relative Path",
    },
    VENDOR_CPE_OCPHONE.lower(): {
        10: "VLAN ID",
    },
}


def vendor_suboption_name(vendor_class: str | None, code: int) -> str:
    """The sub-option's name for this vendor class (case-insensitive), else ``Sub-option N``."""
    table = VENDOR_SUBOPTIONS.get((vendor_class or "").lower(), {})
    return table.get(code, f"Sub-option {code}")
