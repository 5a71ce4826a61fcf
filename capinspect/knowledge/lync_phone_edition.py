"""Lync Phone Edition: its phones, its cumulative updates, the servers that support it, and how it
differs on the wire from Communicator Phone Edition (OCPE). Tables with their sources.

Lync Phone Edition (LPE, firmware 4.0.7577.x) runs on the "Aries" family (Polycom CX500, CX600,
CX3000; Aastra 6721ip, 6725ip; HP 4110, 4120) and, as an update, on the older Tanjay phones
(Polycom CX700, LG-Nortel IP8540): which edition a phone runs is told by its firmware version,
not by its model (:func:`capinspect.knowledge.firmware.is_lync_phone_edition`).

What is published and what is not:

* **Published**: the manufacturer and hardware-version strings the phones register with (the
  examples of Microsoft's "IP Phone Inventory Report": ``POLYCOM, CX600``, ``Aastra, 6725ip`` …),
  a CX600's user agent ``CPE/4.0.7423.1 OCPhone/4.0.7423.1 (Microsoft Lync 2010 (Beta) Phone
  Edition)``, the cumulative-update builds below, and that each vendor's phones get their own
  update package (Andy Giesen's Get-CsDeviceUpdate downloads one per vendor).
* **Not published** (``None`` below, shown as UNKNOWN): how the phones spell vendor, model and
  revision in the check-in and hence in the update file's path (for the Tanjay phones the
  troubleshooting article shows ``Polycom/CX700/A``; the registration's ``POLYCOM`` shows the two
  need not be spelled alike), HP's strings anywhere, which CU7 build (.4363, .4366, .4372) went
  to which family, and the HTTP user agent of the check-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.knowledge.firmware import Version, is_lync_phone_edition, parse_version
from capinspect.knowledge.sources import (
    CLIENTS_FOR_MIGRATION,
    DHCP_FOR_DEVICES,
    DHCP_SIGN_IN,
    GET_CSDEVICEUPDATE,
    HOW_DEVICE_UPDATE_WEB_SERVICE_WORKS,
    IP_PHONE_INVENTORY,
    MSXFAQ_DEVICE_UPDATE,
    PHONES_FOR_SFB_ONLINE,
    SCHERTZ_OPTION43,
    THE_ARTICLE,
    TROUBLESHOOTING_LPE,
    UPDATING_LPE_2013,
)

EDITION = "Lync Phone Edition"
"""The product name (Microsoft dropped "2010" from "Lync 2010 Phone Edition" with CU7:
Jeff Schertz, "Updating Lync Phone Edition Devices for Lync 2013")."""

UNKNOWN = "UNKNOWN"
"""How a value nobody has published is shown."""


@dataclass(frozen=True, slots=True)
class LpeModel:
    """One Lync Phone Edition phone model."""

    vendor: str
    """The maker, as the sources name it."""
    model: str
    """The model, as the sources name it."""
    family: str
    """``Aries`` (the phones built for LPE) or ``Tanjay`` (the OCPE phones that can run it)."""
    registers_as: tuple[str, str] | None
    """(manufacturer, hardware version) the phone registers with, as the IP Phone Inventory
    Report shows them; ``None`` where no example is published."""
    checkin_vendor: str | None
    """Vendor as sent in the check-in and the update path; ``None``: unpublished."""
    checkin_model: str | None
    """Model as sent in the check-in and the update path; ``None``: unpublished."""
    checkin_revision: str | None
    """Hardware revision as sent in the check-in; ``None``: unpublished."""
    update_package: str
    """Which of Microsoft's per-vendor update packages (UCUpdates.exe) carries its firmware."""
    mac_prefix: str | None
    """The maker's MAC prefix seen in the sources' examples (``None``: none published)."""
    source: str


LPE_MODELS: tuple[LpeModel, ...] = (
    LpeModel(
        "Polycom",
        "CX500",
        "Aries",
        ("POLYCOM", "CX500"),
        None,
        None,
        None,
        "Polycom (Aries)",
        "00:04:f2",
        f"{IP_PHONE_INVENTORY}; {TROUBLESHOOTING_LPE}; {GET_CSDEVICEUPDATE}",
    ),
    LpeModel(
        "Polycom",
        "CX600",
        "Aries",
        ("POLYCOM", "CX600"),
        None,
        None,
        None,
        "Polycom (Aries)",
        "00:04:f2",
        f"{IP_PHONE_INVENTORY} (a CX600 with MAC 00-04-F2-00-01-76); {TROUBLESHOOTING_LPE}; "
        f"{GET_CSDEVICEUPDATE}",
    ),
    LpeModel(
        "Polycom",
        "CX3000",
        "Aries",
        ("POLYCOM", "CX3000"),
        None,
        None,
        None,
        "Polycom (Aries)",
        "00:04:f2",
        f"{IP_PHONE_INVENTORY}; {TROUBLESHOOTING_LPE}; {GET_CSDEVICEUPDATE}",
    ),
    LpeModel(
        "Aastra",
        "6721ip",
        "Aries",
        ("Aastra", "6721ip"),
        None,
        None,
        None,
        "Aastra",
        "00:08:5d",
        f"{IP_PHONE_INVENTORY}; {TROUBLESHOOTING_LPE}; {GET_CSDEVICEUPDATE}",
    ),
    LpeModel(
        "Aastra",
        "6725ip",
        "Aries",
        ("Aastra", "6725ip"),
        None,
        None,
        None,
        "Aastra",
        "00:08:5d",
        f"{IP_PHONE_INVENTORY} (its MAC filter example 00-08-5D-16-16-48); "
        f"{TROUBLESHOOTING_LPE}; {GET_CSDEVICEUPDATE}",
    ),
    LpeModel(
        "HP",
        "4110",
        "Aries",
        None,
        None,
        None,
        None,
        "HP",
        None,
        f"{TROUBLESHOOTING_LPE} (spelled 'HP/SNOM 4110ip'); {GET_CSDEVICEUPDATE}",
    ),
    LpeModel(
        "HP",
        "4120",
        "Aries",
        None,
        None,
        None,
        None,
        "HP",
        None,
        f"{TROUBLESHOOTING_LPE} (spelled '420ip'); {GET_CSDEVICEUPDATE}",
    ),
    LpeModel(
        "Polycom",
        "CX700",
        "Tanjay",
        ("POLYCOM", "CX700"),
        "Polycom",
        "CX700",
        "A",
        "Tanjay",
        "00:04:f2",
        f"{IP_PHONE_INVENTORY}; {THE_ARTICLE}: a reader's IIS log "
        f"(/UCPhone/Polycom/CX700/A/ENU/…); {GET_CSDEVICEUPDATE}",
    ),
    LpeModel(
        "LG-Nortel",
        "IP8540",
        "Tanjay",
        ("LG-Nortel", "IP8540"),
        "LG-Nortel",
        "IP8540",
        "A",
        "Tanjay",
        "00:21:63",
        f"{IP_PHONE_INVENTORY}; {THE_ARTICLE}: its audit log (LG-Nortel, IP8540, A); "
        f"{GET_CSDEVICEUPDATE}",
    ),
)
"""Every model that runs Lync Phone Edition. The Tanjay rows' check-in strings are the OCPE
firmware's (the troubleshooting article); that LPE firmware on the same phones spells them
alike is an inference."""


@dataclass(frozen=True, slots=True)
class LpeBuild:
    """A Lync Phone Edition firmware build the sources name."""

    version: str
    release: str
    """Which cumulative update, or what the build was."""
    released: str
    families: str
    """Which phones got it, as far as published."""
    source: str


LPE_BUILDS: tuple[LpeBuild, ...] = (
    LpeBuild(
        "4.0.7423.1",
        "Lync 2010 (Beta) Phone Edition",
        "2010 (a registration of 2010-08-30)",
        "Polycom CX600 (the one example)",
        f"{IP_PHONE_INVENTORY}: a CX600's user agent",
    ),
    LpeBuild(
        "4.0.7577.4363",
        "CU7, first build supported with Lync Server 2013",
        "December 2012 / January 2013",
        f"one of the families ({UNKNOWN} which)",
        UPDATING_LPE_2013,
    ),
    LpeBuild(
        "4.0.7577.4366",
        "CU7",
        "December 2012 / January 2013",
        f"one of the families ({UNKNOWN} which)",
        UPDATING_LPE_2013,
    ),
    LpeBuild(
        "4.0.7577.4372",
        "CU7",
        "December 2012 / January 2013",
        f"one of the families ({UNKNOWN} which)",
        UPDATING_LPE_2013,
    ),
    LpeBuild(
        "4.0.7577.4387",
        "CU8",
        "April 2013",
        f"{UNKNOWN} (the article names one build)",
        UPDATING_LPE_2013,
    ),
    LpeBuild(
        "4.0.7577.4463",
        "minimum for Skype for Business Online",
        "May 2015",
        "every LPE phone ('Optimized (Lync Phone Edition)')",
        PHONES_FOR_SFB_ONLINE,
    ),
)
"""Builds in version order. Microsoft released LPE cumulative updates per device family
"semi-quarterly" (Schertz); the builds between these are not in the sources read."""


@dataclass(frozen=True, slots=True)
class ServerSupport:
    """Which Lync Phone Edition firmware a server version takes."""

    server: str
    minimum: str | None
    """The lowest supported build; ``None``: not published."""
    note: str
    source: str


SERVER_SUPPORT: tuple[ServerSupport, ...] = (
    ServerSupport(
        "Office Communications Server 2007 R2",
        None,
        "Microsoft's migration guide has admins block the OCPhone 4.*.*.* user agent (Lync "
        "Phone Edition) on OCS 2007 R2 with Client Version Filtering; PIN sign-in through DHCP "
        "option 43 and Certificate Provisioning came only with Lync Server 2010",
        f"{CLIENTS_FOR_MIGRATION}; {SCHERTZ_OPTION43}",
    ),
    ServerSupport(
        "Lync Server 2010",
        None,
        "the server LPE was made for ('Lync 2010 Phone Edition'); Device Update Web service "
        "installed with Web Services",
        HOW_DEVICE_UPDATE_WEB_SERVICE_WORKS,
    ),
    ServerSupport(
        "Lync Server 2013",
        "4.0.7577.4363",
        "officially from CU7 (4.0.7577.4363 / .4366 / .4372 by family); older LPE and OCPE "
        "builds from 3.5.6907.187 were seen to register, 1.0.522.x never (SIP 401)",
        UPDATING_LPE_2013,
    ),
    ServerSupport(
        "Skype for Business Online",
        "4.0.7577.4463",
        "LPE cannot do TLS 1.2, so it lost Office 365 when TLS 1.2 became mandatory; "
        "extended support for LPE ended 2023-04-11 with Lync Server 2013's",
        PHONES_FOR_SFB_ONLINE,
    ),
)


@dataclass(frozen=True, slots=True)
class Difference:
    """One way a Lync Phone Edition phone behaves differently from an OCPE phone on the wire."""

    aspect: str
    ocpe: str
    lpe: str
    source: str


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "firmware",
        "1.0.522.x, 3.5.6907.x (Tanjay phones only)",
        "4.0.7577.x, on the Aries phones and, as an update, on the Tanjay phones",
        f"{UPDATING_LPE_2013}; {TROUBLESHOOTING_LPE}",
    ),
    Difference(
        "DHCP",
        "lease (and the CPE-OCPHONE VLAN request); whether it sends MS-UC-Client is not known",
        "a DHCPINFORM with vendor class MS-UC-Client asking for option 43 (the Certificate "
        "Provisioning URL, sub-options 1-5) and option 120 (the pool)",
        f"{DHCP_FOR_DEVICES}; {SCHERTZ_OPTION43}",
    ),
    Difference(
        "sign-in",
        "user name and password (NTLM)",
        "also PIN: HTTPS to https://<sub-option 3>:<4><5> (Certificate Provisioning), whose "
        "certificate must carry sub-option 3's name and chain to a root the phone trusts; then "
        "TLS-DSK certificate authentication to the pool of option 120",
        f"{DHCP_SIGN_IN}; {TROUBLESHOOTING_LPE}",
    ),
    Difference(
        "time",
        f"{UNKNOWN} (not published which DHCP time option the phones use)",
        "certificates need the right date, so a phone without time fails TLS; which of DHCP "
        f"options 2/4/42 it uses is {UNKNOWN}",
        MSXFAQ_DEVICE_UPDATE,
    ),
    Difference(
        "check-in",
        "POST /RequestHandler/ucdevice.upx over HTTPS (443), also seen on port 80",
        "HTTPS on 443 at power-on, at sign-in and every 24 h; update files from the internal "
        "store over plain HTTP",
        f"{THE_ARTICLE}; {HOW_DEVICE_UPDATE_WEB_SERVICE_WORKS}",
    ),
    Difference(
        "user agent",
        "HTTP: Microsoft UCPhone Device",
        f"SIP: CPE/<version> OCPhone/<version> (…Phone Edition); HTTP: {UNKNOWN}",
        f"{THE_ARTICLE}; {IP_PHONE_INVENTORY}; {CLIENTS_FOR_MIGRATION}",
    ),
)

_BY_NAME = {(m.vendor.lower(), m.model.lower()): m for m in LPE_MODELS}
_BY_REGISTRATION = {
    (m.registers_as[0].lower(), m.registers_as[1].lower()): m
    for m in LPE_MODELS
    if m.registers_as is not None
}


def lpe_model(vendor: str | None, model: str | None) -> LpeModel | None:
    """The model row for a vendor/model pair, by the sources' names or the registration strings
    (any case); ``None`` for anything else."""
    key = ((vendor or "").strip().lower(), (model or "").strip().lower())
    return _BY_NAME.get(key) or _BY_REGISTRATION.get(key)


def lpe_build(version: str | Version | None) -> LpeBuild | None:
    """The published build a version is, if any."""
    parsed = parse_version(version) if isinstance(version, str | None) else version
    if parsed is None:
        return None
    for build in LPE_BUILDS:
        if parse_version(build.version) == parsed:
            return build
    return None


def edition(vendor: str | None, model: str | None, version: str | None) -> str | None:
    """``Lync Phone Edition`` when the phone's firmware is 4.x, or when no version is known and
    its model runs nothing else (an Aries phone); ``None`` otherwise."""
    parsed = parse_version(version)
    if parsed is not None:
        return EDITION if is_lync_phone_edition(parsed) else None
    row = lpe_model(vendor, model)
    return EDITION if row is not None and row.family == "Aries" else None
