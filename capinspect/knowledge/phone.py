"""What a Communicator / Lync Phone Edition phone looks like on the wire: the one place.

Who is a phone is decided from *phone evidence* only (``devices/identity.py``): the DHCP
vendor class it sends, its check-in, its user agent, its MAC named inside a check-in. A MAC
address prefix of a phone maker supports that evidence and never makes a phone alone; the
names of the update service and of the pool are what phones *and* PCs look up, so touching
them makes a host an "other client of the update service", not a phone.

Sources, by title:

* "Troubleshooting OCS 2007 R2 Device Update Service for Communicator Phone Edition" (Rui
  Silva, 2009): the check-in ``POST /RequestHandler/ucdevice.upx``, the user agent
  ``Microsoft+UCPhone+Device`` in its IIS log lines, ``ucupdates-r2.<domain>``, the older
  ``/UCDeviceUpdates/ucdevice.upx`` of firmware 1.0.452.0, and the phones' MAC addresses
  (``0021630F207B``, ``001B9EF3BC18`` reported as LG-Nortel IP8540).
* Microsoft, "How the Device Update Process Works" (OCS 2007 R2) and "Setting Up DHCP for
  Devices" (Lync Server 2010): vendor classes ``MS-UC-Client`` and ``CPE-OCPHONE``.
* The IEEE MA-L registry as shipped in Wireshark's ``manuf`` file: the vendor of each OUI.
"""

from __future__ import annotations

from dataclasses import dataclass

PHONE_VENDOR_CLASSES: tuple[str, ...] = ("ms-uc-client", "cpe-ocphone")
"""DHCP option 60 values a Communicator/Lync phone sends, lower-cased (matched case-insensitively:
Microsoft writes ``CPE-OCPHONE``, the 2008 release-notes quote ``CPE-OCPhone``)."""

PHONE_USER_AGENT_MARKERS: tuple[str, ...] = ("ucphone", "ocphone")
"""Lower-case markers in the phone's HTTP user agent (``Microsoft UCPhone Device``)."""

UPDATE_NAME_PREFIXES: tuple[str, ...] = ("ucupdates-r2.", "ucupdates.")
"""DNS names of the Device Update service a phone with no signed-in user looks up;
``ucupdates.`` is the OCS 2007 R1-era name older firmware uses."""

SIGN_IN_NAME_PREFIXES: tuple[str, ...] = (
    "_sipinternaltls._tcp.",
    "_sipinternal._tcp.",
    "_sip._tls.",
    "sipinternal.",
    "sipexternal.",
    "sip.",
    "lyncdiscoverinternal.",
    "lyncdiscover.",
)
"""DNS names a client looks up to find its SIP pool when DHCP gave none (Microsoft,
"DNS Requirements for Automatic Client Sign-In"; Lync 2013 autodiscover)."""

CHECKIN_FILE = "ucdevice.upx"
"""The check-in handler's file name (``/RequestHandler/ucdevice.upx``, ``/RequestHandlerExt/…``,
and ``/UCDeviceUpdates/ucdevice.upx`` of firmware 1.0.452.0)."""

FIRMWARE_SUFFIXES: tuple[str, ...] = (".nbt", ".cat", ".xml", ".cab")
"""File names a phone fetches from ``DeviceUpdateFiles_Int`` / ``_Ext`` (CPE.nbt and its
companions)."""

FIRMWARE_PATH_MARKER = "deviceupdatefiles"
"""The IIS virtual directories that hold the update images (``/DeviceUpdateFiles_Int/…``)."""


@dataclass(frozen=True, slots=True)
class PhoneOui:
    """A MAC address prefix (IEEE MA-L) that phone makers used."""

    prefix: str
    """``00:04:f2`` (lower case, colons)."""
    holder: str
    """The registry's holder of the prefix."""
    makes: str
    """Which phones carry it, as far as the sources show."""
    source: str


PHONE_OUIS: tuple[PhoneOui, ...] = (
    PhoneOui("00:04:f2", "Polycom", "Polycom CX700, CX500/CX600/CX3000", "IEEE registry"),
    PhoneOui("64:16:7f", "Polycom", "later Polycom phones", "IEEE registry"),
    PhoneOui(
        "00:21:63",
        "Askey Computer Corp",
        "LG-Nortel IP8540 (built by Askey)",
        "IEEE registry; the article's audit log (MAC 0021630F207B, LG-Nortel IP8540)",
    ),
    PhoneOui(
        "00:1b:9e",
        "Askey Computer Corp",
        "LG-Nortel IP8540 (built by Askey)",
        "IEEE registry; a reader's audit log in the article (MAC 001B9EF3BC18, IP8540)",
    ),
    PhoneOui("b4:0e:dc", "LG-Ericsson", "LG-Ericsson (formerly LG-Nortel) phones", "IEEE registry"),
    PhoneOui("00:08:5d", "Mitel (Aastra)", "Aastra 6721ip / 6725ip", "IEEE registry"),
    PhoneOui("00:10:bc", "Aastra Telecom", "Aastra phones", "IEEE registry"),
)
"""Phone makers' OUIs. HP's Lync phones (4110/4120) are left out on purpose: HP's prefixes are
shared with its PCs and printers, so they would support nothing."""

_OUI_BY_PREFIX = {oui.prefix: oui for oui in PHONE_OUIS}


def phone_oui(mac: str | None) -> PhoneOui | None:
    """The phone maker whose prefix ``mac`` (``aa:bb:cc:…``) carries, if any."""
    if not mac or len(mac) < 8:
        return None
    return _OUI_BY_PREFIX.get(mac[:8].lower())


def is_phone_vendor_class(vendor_class: str | None) -> bool:
    """Whether a client's option 60 says it is a Communicator/Lync phone (any case)."""
    return (vendor_class or "").lower().startswith(PHONE_VENDOR_CLASSES)


def is_phone_user_agent(agent: str | None) -> bool:
    """Whether an HTTP user agent is the phone's (``Microsoft UCPhone Device``)."""
    lowered = (agent or "").lower()
    return any(marker in lowered for marker in PHONE_USER_AGENT_MARKERS)


def is_update_name(name: str | None) -> bool:
    """``ucupdates-r2.<domain>`` or the older ``ucupdates.<domain>``."""
    return (name or "").lower().startswith(UPDATE_NAME_PREFIXES)


def is_sign_in_name(name: str | None) -> bool:
    """A DNS name clients look up to find their SIP pool (SRV or autodiscover)."""
    return (name or "").lower().startswith(SIGN_IN_NAME_PREFIXES)


def is_checkin_path(path: str) -> bool:
    """Any path ending in ``ucdevice.upx``, whatever folder it sits in (IIS paths are
    case-insensitive; the article's logs show both ``/RequestHandler/`` and
    ``/requestHandler/``)."""
    return path.split("?", 1)[0].rstrip().lower().endswith(CHECKIN_FILE)


def looks_like_firmware_path(path: str) -> bool:
    """A path of an update file (not its folder: the phone fetches the folder after the file,
    as the article's IIS log shows with ``GET /DeviceUpdateFiles_Int/OCInterim/ENU/``)."""
    lowered = path.split("?", 1)[0].lower()
    if lowered.endswith("/"):
        return False
    return lowered.endswith(FIRMWARE_SUFFIXES) or FIRMWARE_PATH_MARKER in lowered
