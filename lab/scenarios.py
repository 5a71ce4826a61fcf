"""The scenario catalogue: every capture the lab can produce, as plain data.

Keeping scenarios declarative means the runner, the facts file and the README all derive from one
definition, so a scenario cannot say one thing in its documentation and do another on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.dhcpwire import MS_UC_CLIENT
from lab.firmware import DEFAULT_TARGET

CHECKIN_PATH = "/RequestHandler/ucdevice.upx"
DEFAULT_CLOCK = "2000-01-01 00:00:00"
"""The clock (UTC) of a Lync Phone Edition phone before NTP sets it: the lab's assumption. No
source says what an LPE phone's clock reads after power-on without a time answer; a clock far
before any certificate's notBefore is what makes an unanswered NTP request break TLS."""
LEGACY_CHECKIN_PATH = "/UCDeviceUpdates/ucdevice.upx"


@dataclass(frozen=True)
class Phone:
    """One emulated desk phone; every identifying value is fixed so reruns are comparable."""

    name: str
    mac: str
    ip: str
    vendor: str
    model: str
    serial: str
    version: str
    user: str = ""
    revision: str = "A"
    locale: str = "ENU"
    request_dialect: str = "A"
    checkin_path: str = CHECKIN_PATH
    vlan: tuple[int, ...] = ()
    start_delay: float = 0.0
    outcome: str = ""
    lpe: bool = False
    """A Lync Phone Edition phone (4.0.7577.x): it asks option 42's NTP server for the time, opens
    the Certificate Provisioning URL of option 43 (sub-options 2-5) before its check-in, and sends
    the OCPhone user agent (lab/phone.py: LPE_USER_AGENT)."""


@dataclass(frozen=True)
class Fault:
    """An IIS failure injected for file GETs whose path starts with `prefix` (case-insensitive)."""

    prefix: str
    status: int
    substatus: int
    win32: int


@dataclass(frozen=True)
class Scenario:
    """Server-side configuration plus the phones that boot against it."""

    name: str
    title: str
    shows: str
    outcome: str
    phones: tuple[Phone, ...]
    domain: str = "contoso.com"
    web_host: str = "ocs"
    ext_host: str = "ocsext"
    ucupdates: str = "A"  # "A", "CNAME" or "absent"
    cname_target_host: str = "pool01"
    option43: str = "vendor"
    """"vendor" (sub-options 1-5), "raw-truncated" (dnsmasq only), "flat-string" (the whole URL
    as one text value, Kea/dhcpd only) or "none"."""
    option120: bool = True
    option120_format: str = "rfc3361"
    """"rfc3361" (encoding 0 + DNS labels) or "text" (the bare FQDN, Kea/dhcpd only)."""
    dhcp_server: str = "dnsmasq"
    """"dnsmasq", "kea" (kea-dhcp4) or "dhcpd" (ISC dhcpd); DNS is always dnsmasq."""
    vendor_class_test: str = MS_UC_CLIENT
    """The option 60 value the Kea/dhcpd class compares with (byte-exact, so case matters)."""
    dhcp_authoritative: bool = True
    """False: no `authoritative;` (dhcpd then ignores DHCPINFORM on the subnet)."""
    target_version: str = DEFAULT_TARGET
    target_timestamp: str = "16-12-2008 04:43:58"
    catalog: tuple[tuple[str, str], ...] = (("LG-Nortel", "IP8540"), ("Polycom", "CX700"))
    missing_files: tuple[str, ...] = ()
    faults: tuple[Fault, ...] = ()
    response_dialect: str = "auto"  # "auto" follows the request dialect, else "A" / "B"
    omit_versions: bool = False
    force_no_downloads: bool = False
    background: bool = False
    pcapng: bool = False
    extra_hosts: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    https: bool = False
    """Check-ins go to https://ucupdates-r2.<domain>:443 (TLS 1.2, RSA key exchange only)."""
    cert_names: tuple[str, ...] = ()
    """Names in the server certificate (first = CN); empty = web FQDN and ucupdates-r2.<domain>."""
    phone_trusts_ca: bool = True
    """False: the phones' trust store lacks the issuing CA, so they reject the server."""
    tls_key_exchange: str = "rsa"
    """"rsa" (AES128-SHA, AES256-GCM-SHA384: the server key decrypts) or "ecdhe"
    (ECDHE-RSA-AES128-GCM-SHA256 only: forward secrecy, the server key cannot decrypt)."""
    ntp: str = "none"
    """"none" (no option 42, no NTP server), "answered" (option 42 = the server, chronyd serves the
    subnet) or "ignored" (option 42 = the server, but chronyd allows only another subnet, so it
    drops the phones' requests unanswered)."""
    cert_validity: tuple[str, str] = ("", "")
    """Fixed notBefore/notAfter (ISO dates) of the server certificate; empty = relative to the
    run (LPE scenarios fix them so their facts, which record the dates, stay reproducible)."""

    @property
    def server_cert_names(self) -> tuple[str, ...]:
        """The names the lab server certificate carries (subject CN first, then SANs)."""
        return self.cert_names or (self.web_fqdn, f"ucupdates-r2.{self.domain}")

    @property
    def web_fqdn(self) -> str:
        """The internal web-components FQDN that appears in every URL the server hands out."""
        return f"{self.web_host}.{self.domain}"

    @property
    def ext_fqdn(self) -> str:
        """External web FQDN; only ever written into URLs, never resolved by the lab phones."""
        return f"{self.ext_host}.{self.domain}"

    @property
    def capture_name(self) -> str:
        """File name of the committed capture (pcapng only where the brief asks for it)."""
        return f"{self.name}.pcapng" if self.pcapng else f"{self.name}.pcap"


SEED_PHONE = Phone(
    name="seed-ip8540",
    mac="00:21:63:0f:20:7b",
    ip="10.77.0.101",
    vendor="LG-Nortel",
    model="IP8540",
    serial="C185H001209",
    user="ruisilva@demo.local",
    version="1.0.522.34",
    outcome="upgraded 1.0.522.34 -> 1.0.522.103 -> 3.5.6907.0, final check-in downloads=0",
)

ACL = Fault("/DeviceUpdateFiles_Int/UCPhone/", 500, 19, 5)
SSL = Fault("/DeviceUpdateFiles_Int/", 403, 4, 5)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="healthy-no-update",
        title="Healthy phone already on the target build",
        shows="Full boot (DORA, MS-UC-Client INFORM with option 43/120/15, ucupdates-r2 A lookup) "
        "and one dialect-A check-in answered with Downloads Count=0.",
        outcome="healthy: phone on 3.5.6907.0 checks in, server offers no download (downloads=0)",
        phones=(
            Phone(
                name="ip8540-current",
                mac="00:21:63:0f:31:a2",
                ip="10.77.0.101",
                vendor="LG-Nortel",
                model="IP8540",
                serial="C185H004411",
                user="kmeyer@contoso.com",
                version="3.5.6907.0",
                outcome="up to date, no download",
            ),
        ),
    ),
    Scenario(
        name="interim-upgrade",
        title="The seed's two-step upgrade through the interim build",
        shows="The seed's LG-Nortel IP8540 on 1.0.522.34: check-in, interim 1.0.522.103 download, "
        "reboot, check-in, 3.5.6907.0 download, reboot, check-in with no update.",
        outcome="healthy two-step upgrade: 1.0.522.34 -> 1.0.522.103 -> 3.5.6907.0",
        domain="demo.local",
        phones=(SEED_PHONE,),
    ),
    Scenario(
        name="acl-denied",
        title="File store ACL problem (IIS 500.19)",
        shows="Check-in offers 3.5.6907.0; the CPE.nbt GET fails with IIS 500.19 "
        "(0x80070005, the seed's '500 19 5' line).",
        outcome="update fails: firmware GET answered 500.19 (config/ACL error, win32 5)",
        faults=(ACL,),
        phones=(
            Phone(
                name="ip8540-acl",
                mac="00:21:63:0f:44:10",
                ip="10.77.0.102",
                vendor="LG-Nortel",
                model="IP8540",
                serial="C185H002817",
                user="jdoe@contoso.com",
                version="1.0.522.103",
                outcome="download denied with 500.19",
            ),
        ),
    ),
    Scenario(
        name="ssl-required",
        title="DeviceUpdateFiles_Int requires SSL (IIS 403.4)",
        shows="Check-in offers 3.5.6907.0; the plain-HTTP CPE.nbt GET is refused with 403.4.",
        outcome="update fails: firmware GET answered 403.4 (SSL required on DeviceUpdateFiles_Int)",
        faults=(SSL,),
        phones=(
            Phone(
                name="cx700-ssl",
                mac="00:04:f2:3c:11:07",
                ip="10.77.0.103",
                vendor="Polycom",
                model="CX700",
                serial="0004F23C1107",
                user="sam@contoso.com",
                version="1.0.522.101",
                outcome="download refused with 403.4",
            ),
        ),
    ),
    Scenario(
        name="file-not-found",
        title="Approved build whose CPE.nbt is missing (404)",
        shows="Like the seed's Brent ('.35 to .207'): a Polycom CX700 on 3.5.6907.35 is offered "
        "3.5.6907.207 but the file is not in the store, so the GET returns 404. (.35 is read as "
        "3.5.6907.35: a 1.0.522.35 phone would first be sent the interim build.)",
        outcome="update fails: offered 3.5.6907.207 CPE.nbt returns 404.0",
        domain="fabrikam.com",
        target_version="3.5.6907.207",
        target_timestamp="20-09-2010 18:02:11",
        missing_files=(
            "/DeviceUpdateFiles_Int/UCPhone/Polycom/CX700/A/ENU/3.5.6907.207/CPE/CPE.nbt",
        ),
        phones=(
            Phone(
                name="cx700-brent",
                mac="00:04:f2:51:0a:35",
                ip="10.77.0.104",
                vendor="Polycom",
                model="CX700",
                serial="0004F2510A35",
                user="brent@fabrikam.com",
                version="3.5.6907.35",
                outcome="download 404",
            ),
        ),
    ),
    Scenario(
        name="legacy-452",
        title="Firmware 1.0.452.0 asks the R1 virtual directory",
        shows="A Polycom CX700 on 1.0.452.0 posts a dialect-B request to "
        "/UCDeviceUpdates/ucdevice.upx, which does not exist on the R2 server (404).",
        outcome="check-in fails: POST /UCDeviceUpdates/ucdevice.upx -> 404 (vdir missing)",
        phones=(
            Phone(
                name="cx700-452",
                mac="00:04:f2:0e:45:20",
                ip="10.77.0.105",
                vendor="Polycom",
                model="CX700",
                serial="0004F20E4520",
                user="edi@contoso.com",
                version="1.0.452.0",
                request_dialect="B",
                checkin_path=LEGACY_CHECKIN_PATH,
                outcome="check-in 404, never updates",
            ),
        ),
    ),
    Scenario(
        name="dns-cname",
        title="ucupdates-r2 published as a CNAME",
        shows="ucupdates-r2.contoso.com is a CNAME to pool01.contoso.com; the phone follows it, "
        "downloads 3.5.6907.0, reboots and checks in again.",
        outcome="works but non-standard: ucupdates-r2 is a CNAME (docs ask for an A record); "
        "phone upgraded 1.0.522.101 -> 3.5.6907.0",
        ucupdates="CNAME",
        phones=(
            Phone(
                name="ip8540-cname",
                mac="00:21:63:0f:52:c1",
                ip="10.77.0.106",
                vendor="LG-Nortel",
                model="IP8540",
                serial="C185H003390",
                user="lee@contoso.com",
                version="1.0.522.101",
                outcome="upgraded to 3.5.6907.0",
            ),
        ),
    ),
    Scenario(
        name="dns-nxdomain",
        title="No ucupdates-r2 record",
        shows="The ucupdates-r2 lookup returns NXDOMAIN and the phone never checks in.",
        outcome="update never attempted: ucupdates-r2.contoso.com NXDOMAIN, no HTTP",
        ucupdates="absent",
        phones=(
            Phone(
                name="ip8540-nxdomain",
                mac="00:21:63:0f:60:0d",
                ip="10.77.0.107",
                vendor="LG-Nortel",
                model="IP8540",
                serial="C185H005120",
                version="1.0.522.101",
                outcome="stops after NXDOMAIN",
            ),
        ),
    ),
    Scenario(
        name="option43-truncated",
        title="Option 43 cut at 90 bytes by a Cisco router",
        shows="Raw option 43 with a 30-character web FQDN, cut at exactly 90 bytes so "
        "sub-option 5 claims 37 bytes but carries 30; the phone still looks up ucupdates-r2 and "
        "checks in.",
        outcome="DHCP misconfigured (option 43 truncated, cert-provisioning path cut) but device "
        "update still works: check-in downloads=0",
        domain="fabrikam.com",
        web_host="ocs-webcomponents",
        option43="raw-truncated",
        phones=(
            Phone(
                name="ip8540-trunc",
                mac="00:21:63:0f:71:9e",
                ip="10.77.0.108",
                vendor="LG-Nortel",
                model="IP8540",
                serial="C185H006007",
                user="ana@fabrikam.com",
                version="3.5.6907.0",
                outcome="up to date, no download",
            ),
        ),
    ),
    Scenario(
        name="options-missing",
        title="No option 43 / 120 for MS-UC-Client",
        shows="The INFORM is answered without option 43 and option 120 (no vendor class "
        "configured); option 15 is still there so the ucupdates-r2 lookup and check-in happen.",
        outcome="DHCP incomplete (no option 43/120: Lync-style sign-in would fail) but device "
        "update works: check-in downloads=0",
        option43="none",
        option120=False,
        phones=(
            Phone(
                name="ip8540-noopts",
                mac="00:21:63:0f:83:44",
                ip="10.77.0.109",
                vendor="LG-Nortel",
                model="IP8540",
                serial="C185H007311",
                user="omar@contoso.com",
                version="3.5.6907.0",
                outcome="up to date, no download",
            ),
        ),
    ),
    Scenario(
        name="no-server-version",
        title="Response without Server Version / Service Version",
        shows="A Polycom CX700 on 1.0.522.101 gets a dialect-B response that has the URLs and "
        "downloads=0 but no 'Server Version' or 'Service Version' lines (the seed's reader).",
        outcome="update silently never happens: response lacks Server/Service Version and says "
        "downloads=0 although the phone is older than 3.5.6907.0",
        response_dialect="B",
        omit_versions=True,
        force_no_downloads=True,
        phones=(
            Phone(
                name="cx700-nover",
                mac="00:04:f2:77:01:01",
                ip="10.77.0.110",
                vendor="Polycom",
                model="CX700",
                serial="0004F2770101",
                user="reader@contoso.com",
                version="1.0.522.101",
                outcome="no update offered, versions missing",
            ),
        ),
    ),
    Scenario(
        name="multi-phone",
        title="Four phones, VLAN tags and background traffic",
        shows="Four phones booting at once (two on VLAN 100, one QinQ 200/100, one untagged) plus "
        "a PC doing unrelated DNS, an HTTP GET, a TLS-looking connection to 443 and ARP.",
        outcome="mixed: seed-style two-step upgrade, one up-to-date CX700 (dialect B), one "
        "1.0.452.0 CX700 stuck on 404, one CX700 whose download gets 500.19",
        pcapng=True,
        background=True,
        faults=(Fault("/DeviceUpdateFiles_Int/UCPhone/Polycom/", 500, 19, 5),),
        extra_hosts=(("intranet", "10.77.0.1"), ("mail", "10.77.0.1")),
        phones=(
            Phone(
                name="ip8540-vlan100",
                mac="00:21:63:1a:00:01",
                ip="10.77.0.121",
                vendor="LG-Nortel",
                model="IP8540",
                serial="C185H010001",
                user="alice@contoso.com",
                version="1.0.522.34",
                vlan=(100,),
                outcome="upgraded 1.0.522.34 -> 1.0.522.103 -> 3.5.6907.0",
            ),
            Phone(
                name="cx700-current-b",
                mac="00:04:f2:aa:10:02",
                ip="10.77.0.122",
                vendor="Polycom",
                model="CX700",
                serial="0004F2AA1002",
                user="bob@contoso.com",
                version="3.5.6907.0",
                request_dialect="B",
                checkin_path="/requestHandler/ucdevice.upx",
                vlan=(100,),
                start_delay=0.3,
                outcome="up to date (dialect B), no download",
            ),
            Phone(
                name="cx700-452-qinq",
                mac="00:04:f2:aa:10:03",
                ip="10.77.0.123",
                vendor="Polycom",
                model="CX700",
                serial="0004F2AA1003",
                version="1.0.452.0",
                request_dialect="B",
                checkin_path=LEGACY_CHECKIN_PATH,
                vlan=(200, 100),
                start_delay=0.6,
                outcome="check-in 404 on /UCDeviceUpdates/ucdevice.upx",
            ),
            Phone(
                name="cx700-acl",
                mac="00:04:f2:aa:10:04",
                ip="10.77.0.124",
                vendor="Polycom",
                model="CX700",
                serial="0004F2AA1004",
                user="carol@contoso.com",
                version="1.0.522.101",
                start_delay=0.9,
                outcome="download denied with 500.19",
            ),
        ),
    ),
    Scenario(
        name="no-update-offered",
        title="Older phone but nothing uploaded for its model",
        shows="A Polycom CX700 on 1.0.522.101 checks in to a server whose catalogue only holds "
        "LG-Nortel IP8540 updates, so the answer is Downloads Count=0.",
        outcome="no update available for Polycom/CX700: downloads=0 although 1.0.522.101 is older "
        "than 3.5.6907.0",
        catalog=(("LG-Nortel", "IP8540"),),
        phones=(
            Phone(
                name="cx700-nocatalog",
                mac="00:04:f2:13:13:13",
                ip="10.77.0.113",
                vendor="Polycom",
                model="CX700",
                serial="0004F2131313",
                user="eduardo@contoso.com",
                version="1.0.522.101",
                outcome="no update offered",
            ),
        ),
    ),
)


def _https_phone(name: str, mac: str, ip: str, serial: str, version: str, outcome: str) -> Phone:
    return Phone(
        name=name,
        mac=mac,
        ip=ip,
        vendor="LG-Nortel",
        model="IP8540",
        serial=serial,
        user="tls@contoso.com",
        version=version,
        outcome=outcome,
    )


HTTPS_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="https-healthy",
        title="The interim-upgrade boot with its check-ins over HTTPS",
        shows="Like interim-upgrade, but every check-in is POSTed to "
        "https://ucupdates-r2.contoso.com (TLS 1.2, RSA key exchange: the server offers only "
        "AES128-SHA and AES256-GCM-SHA384 and follows the phone's order; the phone puts "
        "AES256-GCM-SHA384 first on its second boot, AES128-SHA otherwise). Firmware downloads "
        "stay plain HTTP. The server key (https-healthy.key.pem) and the phone's key log "
        "(https-healthy.keylog) decrypt it.",
        outcome="healthy two-step upgrade over HTTPS: 1.0.522.34 -> 1.0.522.103 -> 3.5.6907.0",
        https=True,
        phones=(
            _https_phone(
                "ip8540-https",
                "00:21:63:0f:a5:01",
                "10.77.0.131",
                "C185H009101",
                "1.0.522.34",
                "upgraded 1.0.522.34 -> 1.0.522.103 -> 3.5.6907.0",
            ),
        ),
    ),
    Scenario(
        name="https-cert-mismatch",
        title="HTTPS check-in to a certificate without the ucupdates-r2 name",
        shows="The server certificate names only ocs.contoso.com (the pool FQDN); the phone "
        "connects to ucupdates-r2.contoso.com, checks the name and aborts the handshake.",
        outcome="check-in never sent: certificate lacks ucupdates-r2.contoso.com, phone rejects it",
        https=True,
        cert_names=("ocs.contoso.com",),
        phones=(
            _https_phone(
                "ip8540-mismatch",
                "00:21:63:0f:a5:02",
                "10.77.0.132",
                "C185H009102",
                "1.0.522.103",
                "TLS handshake aborted by the phone (name mismatch)",
            ),
        ),
    ),
    Scenario(
        name="https-untrusted",
        title="HTTPS check-in to a certificate from a CA the phone does not trust",
        shows="The server certificate is fine but its root CA is not in the phone's trust store; "
        "the phone answers the server's certificate with a fatal unknown_ca alert.",
        outcome="check-in never sent: the phone does not trust the issuing CA (unknown_ca)",
        https=True,
        phone_trusts_ca=False,
        phones=(
            _https_phone(
                "ip8540-untrusted",
                "00:21:63:0f:a5:03",
                "10.77.0.133",
                "C185H009103",
                "1.0.522.103",
                "TLS handshake aborted by the phone (unknown_ca)",
            ),
        ),
    ),
)


def _dhcp_phone(name: str, mac: str, ip: str, serial: str, user: str, outcome: str) -> Phone:
    return Phone(
        name=name,
        mac=mac,
        ip=ip,
        vendor="LG-Nortel",
        model="IP8540",
        serial=serial,
        user=user,
        version="3.5.6907.0",
        outcome=outcome,
    )


# The same up-to-date phone boots against ISC Kea and ISC dhcpd instead of dnsmasq; DNS stays
# with dnsmasq (DHCP off). The misconfigurations are ones admins reported (docs/lab.md cites them).
DHCP_SERVER_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="kea-healthy",
        title="ISC Kea serving option 43 and 120 to MS-UC-Client",
        shows="kea-dhcp4 leases the address and answers the MS-UC-Client INFORM from a client "
        "class (test option[60].text == 'MS-UC-Client') with option 43 sub-options 1-5 from a "
        "MSUCClient option space, option 120 (encoding 0) and option 15; the phone looks up "
        "ucupdates-r2 and checks in.",
        outcome="healthy: Kea serves 43/120/15, phone on 3.5.6907.0 checks in, downloads=0",
        dhcp_server="kea",
        phones=(
            _dhcp_phone(
                "ip8540-kea",
                "00:21:63:0f:b1:01",
                "10.77.0.141",
                "C185H011101",
                "kim@contoso.com",
                "up to date, no download",
            ),
        ),
    ),
    Scenario(
        name="dhcpd-healthy",
        title="ISC dhcpd serving option 43 and 120 to MS-UC-Client",
        shows="ISC dhcpd (authoritative) leases the address and answers the MS-UC-Client INFORM "
        'from class "MSUCClient" (vendor-option-space MSUCClient, sub-options 1-5) with '
        "option 43, option 120 (code 120 = string, encoding 0 in colon hex) and option 15; the "
        "phone looks up ucupdates-r2 and checks in.",
        outcome="healthy: dhcpd serves 43/120/15, phone on 3.5.6907.0 checks in, downloads=0",
        dhcp_server="dhcpd",
        domain="fabrikam.com",
        phones=(
            _dhcp_phone(
                "ip8540-dhcpd",
                "00:21:63:0f:b2:01",
                "10.77.0.142",
                "C185H011201",
                "dana@fabrikam.com",
                "up to date, no download",
            ),
        ),
    ),
    Scenario(
        name="dhcpd-option43-string",
        title="ISC dhcpd sending option 43 as one text string",
        shows="The dhcpd class matches MS-UC-Client but sets `option vendor-encapsulated-options` "
        "to the whole Certificate Provisioning URL as text (dhcp-options(5) allows a text "
        "string), so option 43 has no sub-option TLVs: its first bytes read as sub-option 0x68 "
        "with a length running past the end. Option 120 and 15 are fine; the phone checks in.",
        outcome="DHCP misconfigured (option 43 is a flat string, unparsable as sub-options: PIN "
        "sign-in cannot find Certificate Provisioning) but device update works: downloads=0",
        dhcp_server="dhcpd",
        option43="flat-string",
        phones=(
            _dhcp_phone(
                "ip8540-flat43",
                "00:21:63:0f:b2:02",
                "10.77.0.143",
                "C185H011202",
                "lou@contoso.com",
                "up to date, no download",
            ),
        ),
    ),
    Scenario(
        name="dhcpd-not-authoritative",
        title="ISC dhcpd without `authoritative;` ignores the DHCPINFORM",
        shows="dhcpd leases the address but, lacking an `authoritative;` statement, logs 'not "
        "authoritative for subnet' and drops the MS-UC-Client INFORM; the phone retransmits it "
        "once, gives up, takes option 15 from its lease and checks in.",
        outcome="DHCP misconfigured (INFORM unanswered: no option 43/120 at all) but device "
        "update works from the lease's option 15: downloads=0",
        dhcp_server="dhcpd",
        dhcp_authoritative=False,
        phones=(
            _dhcp_phone(
                "ip8540-noauth",
                "00:21:63:0f:b2:03",
                "10.77.0.144",
                "C185H011203",
                "max@contoso.com",
                "up to date, no download",
            ),
        ),
    ),
    Scenario(
        name="kea-class-mismatch",
        title="ISC Kea client class that never matches MS-UC-Client",
        shows="The Kea client class tests option[60].text == 'ms-uc-client' (lower case, as one "
        "Microsoft troubleshooting page spells the class ID); Kea compares byte for byte, so the "
        "INFORM is answered with option 15 only, without 43 and 120.",
        outcome="DHCP misconfigured (no option 43/120 for MS-UC-Client: vendor-class test never "
        "matches) but device update works: downloads=0",
        dhcp_server="kea",
        vendor_class_test="ms-uc-client",
        phones=(
            _dhcp_phone(
                "ip8540-kea-case",
                "00:21:63:0f:b1:02",
                "10.77.0.145",
                "C185H011102",
                "noor@contoso.com",
                "up to date, no download",
            ),
        ),
    ),
    Scenario(
        name="kea-option120-text",
        title="ISC Kea sending option 120 as the bare FQDN",
        shows="Kea has no built-in option 120, so the admin defines code 120 as type string and "
        "gives it 'ocs.contoso.com': no encoding byte, no DNS labels. Read as RFC 3361 the first "
        "byte ('o', 111) is an unknown encoding. Option 43 and 15 are fine; the phone checks in.",
        outcome="DHCP misconfigured (option 120 not RFC 3361: the phone gets no SIP server) but "
        "device update works: downloads=0",
        dhcp_server="kea",
        option120_format="text",
        phones=(
            _dhcp_phone(
                "ip8540-kea-120",
                "00:21:63:0f:b1:03",
                "10.77.0.146",
                "C185H011103",
                "ira@contoso.com",
                "up to date, no download",
            ),
        ),
    ),
)

LPE_TARGET = "4.0.7577.4387"
"""Lync Phone Edition CU8 (April 2013), the newest build Jeff Schertz's "Updating Lync Phone Edition
Devices for Lync 2013" names; the older phones report CU7's 4.0.7577.4363 (the same article)."""
LPE_OLDER = "4.0.7577.4363"
LPE_CATALOG: tuple[tuple[str, str], ...] = (
    ("Polycom", "CX500"),
    ("Polycom", "CX600"),
    ("Polycom", "CX3000"),
    ("Aastra", "6721ip"),
    ("Aastra", "6725ip"),
)
LPE_CERT_VALIDITY = ("2025-01-01", "2035-01-01")
LPE_SHOWS = (
    " Every LPE boot: DORA, the MS-UC-Client INFORM (options 42/43/120/15), NTP to option 42's "
    "server (chronyd), a lookup of option 43 sub-option 3 and a TLS connection to "
    "https://<3>:<4><5> (SNI = sub-option 3), then the ucupdates-r2 lookup and the HTTPS check-in."
)


def _lpe_phone(
    name: str, mac: str, ip: str, vendor: str, model: str, serial: str, version: str, outcome: str
) -> Phone:
    return Phone(
        name=name,
        mac=mac,
        ip=ip,
        vendor=vendor,
        model=model,
        serial=serial,
        version=version,
        outcome=outcome,
        lpe=True,
    )


# Lync Phone Edition phones (the "Aries" family: Polycom CX500/CX600/CX3000, Aastra 6721ip/6725ip)
# against a Lync-era server: HTTPS check-ins over RSA or ECDHE key exchange, the sign-in path to
# Certificate Provisioning, and time from option 42. Nobody has signed in to them (no user), which
# is when a phone looks up ucupdates-r2 (Microsoft, "How the Device Update Process Works").
LPE_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="lpe-healthy-ecdhe",
        title="Lync Phone Edition CX600, current, check-in over ECDHE",
        shows="A Polycom CX600 on 4.0.7577.4387 gets the time, completes the TLS handshake with "
        "Certificate Provisioning and checks in over HTTPS with ECDHE key exchange (the server "
        "allows only ECDHE-RSA-AES128-GCM-SHA256): the server key cannot decrypt it; the answer "
        "offers nothing, so no download follows." + LPE_SHOWS,
        outcome="healthy: phone current, check-in answered with nothing offered (visible only by "
        "inference: no download, no alert)",
        https=True,
        tls_key_exchange="ecdhe",
        ntp="answered",
        catalog=LPE_CATALOG,
        target_version=LPE_TARGET,
        target_timestamp="09-04-2013 10:00:00",
        cert_validity=LPE_CERT_VALIDITY,
        phones=(
            _lpe_phone(
                "cx600-ecdhe",
                "00:04:f2:60:00:01",
                "10.77.0.151",
                "Polycom",
                "CX600",
                "0004F2600001",
                LPE_TARGET,
                "up to date, nothing offered",
            ),
        ),
    ),
    Scenario(
        name="lpe-update-rsa",
        title="Lync Phone Edition 6725ip offered CU8 over an RSA check-in",
        shows="An Aastra 6725ip on 4.0.7577.4363 checks in over HTTPS with RSA key exchange (the "
        "server key decrypts it); the answer offers 4.0.7577.4387, which the phone fetches over "
        "plain HTTP from DeviceUpdateFiles_Int, reboots and checks in again (nothing offered)."
        + LPE_SHOWS,
        outcome="healthy update over HTTPS: 4.0.7577.4363 -> 4.0.7577.4387",
        https=True,
        ntp="answered",
        catalog=LPE_CATALOG,
        target_version=LPE_TARGET,
        target_timestamp="09-04-2013 10:00:00",
        cert_validity=LPE_CERT_VALIDITY,
        phones=(
            _lpe_phone(
                "aastra6725-rsa",
                "00:08:5d:67:25:01",
                "10.77.0.152",
                "Aastra",
                "6725ip",
                "00085D672501",
                LPE_OLDER,
                "updated 4.0.7577.4363 -> 4.0.7577.4387",
            ),
        ),
    ),
    Scenario(
        name="lpe-update-ecdhe",
        title="Lync Phone Edition 6721ip offered CU8 over an ECDHE check-in",
        shows="Like lpe-update-rsa with an Aastra 6721ip, but the check-in uses ECDHE key "
        "exchange: only the plain-HTTP GET of the offered file shows that the encrypted answer "
        "offered it." + LPE_SHOWS,
        outcome="healthy update over HTTPS (ECDHE): 4.0.7577.4363 -> 4.0.7577.4387",
        https=True,
        tls_key_exchange="ecdhe",
        ntp="answered",
        catalog=LPE_CATALOG,
        target_version=LPE_TARGET,
        target_timestamp="09-04-2013 10:00:00",
        cert_validity=LPE_CERT_VALIDITY,
        phones=(
            _lpe_phone(
                "aastra6721-ecdhe",
                "00:08:5d:67:21:01",
                "10.77.0.153",
                "Aastra",
                "6721ip",
                "00085D672101",
                LPE_OLDER,
                "updated 4.0.7577.4363 -> 4.0.7577.4387",
            ),
        ),
    ),
    Scenario(
        name="lpe-nothing-offered-rsa",
        title="Lync Phone Edition CX500, current, check-in over RSA",
        shows="A Polycom CX500 on 4.0.7577.4387 checks in over HTTPS with RSA key exchange (the "
        "server key decrypts it): a complete exchange whose answer offers nothing." + LPE_SHOWS,
        outcome="healthy: phone current, check-in answered with nothing offered (decryptable)",
        https=True,
        ntp="answered",
        catalog=LPE_CATALOG,
        target_version=LPE_TARGET,
        target_timestamp="09-04-2013 10:00:00",
        cert_validity=LPE_CERT_VALIDITY,
        phones=(
            _lpe_phone(
                "cx500-rsa",
                "00:04:f2:50:00:01",
                "10.77.0.154",
                "Polycom",
                "CX500",
                "0004F2500001",
                LPE_TARGET,
                "up to date, nothing offered",
            ),
        ),
    ),
    Scenario(
        name="lpe-signin-name-mismatch",
        title="Certificate Provisioning certificate without option 43's FQDN",
        shows="Option 43 sub-option 3 is ocs.contoso.com (DHCPUtil run without -WebServer puts "
        "the SIP pool FQDN there) but the web server's certificate names webint.contoso.com and "
        "ucupdates-r2.contoso.com only: the phone checks sub-option 3 against the certificate, "
        "sends a fatal TLS alert and stops (no check-in).",
        outcome="sign-in cannot work: the Certificate Provisioning certificate lacks "
        "ocs.contoso.com (option 43 sub-option 3); the phone aborts the handshake",
        https=True,
        ntp="answered",
        cert_names=("webint.contoso.com", "ucupdates-r2.contoso.com"),
        catalog=LPE_CATALOG,
        target_version=LPE_TARGET,
        target_timestamp="09-04-2013 10:00:00",
        cert_validity=LPE_CERT_VALIDITY,
        phones=(
            _lpe_phone(
                "cx600-mismatch",
                "00:04:f2:60:00:02",
                "10.77.0.155",
                "Polycom",
                "CX600",
                "0004F2600002",
                LPE_TARGET,
                "TLS to Certificate Provisioning aborted by the phone (name mismatch)",
            ),
        ),
    ),
    Scenario(
        name="lpe-ntp-no-answer",
        title="NTP unanswered: the phone's clock stays at 2000-01-01 and it rejects the server",
        shows="Option 42 names the server, but chronyd there allows only 10.77.1.0/24 (the data "
        "VLAN, not the phones' subnet), so it drops the phone's two NTP requests without an "
        "answer; the phone's clock stays "
        "at its default (2000-01-01 00:00 UTC, the lab's assumption) and the Certificate "
        "Provisioning certificate (valid 2025-01-01 to 2035-01-01) is not yet valid for it: it "
        "sends a fatal TLS alert and stops.",
        outcome="time not set (NTP unanswered); the phone rejects a valid certificate as not yet "
        "valid and never signs in or checks in",
        https=True,
        ntp="ignored",
        catalog=LPE_CATALOG,
        target_version=LPE_TARGET,
        target_timestamp="09-04-2013 10:00:00",
        cert_validity=LPE_CERT_VALIDITY,
        phones=(
            _lpe_phone(
                "cx3000-ntp",
                "00:04:f2:30:00:01",
                "10.77.0.156",
                "Polycom",
                "CX3000",
                "0004F2300001",
                LPE_TARGET,
                "TLS to Certificate Provisioning aborted by the phone (certificate not yet valid)",
            ),
        ),
    ),
    Scenario(
        name="lpe-untrusted-root",
        title="Certificate Provisioning certificate from a root the phone does not trust",
        shows="The web server's certificate is issued by a root CA that is not in the phone's "
        "trust store: the phone answers the sign-in handshake with a fatal unknown_ca alert and "
        "stops.",
        outcome="sign-in cannot work: the phone does not trust the issuing root CA (unknown_ca)",
        https=True,
        ntp="answered",
        phone_trusts_ca=False,
        catalog=LPE_CATALOG,
        target_version=LPE_TARGET,
        target_timestamp="09-04-2013 10:00:00",
        cert_validity=LPE_CERT_VALIDITY,
        phones=(
            _lpe_phone(
                "aastra6725-untrusted",
                "00:08:5d:67:25:02",
                "10.77.0.157",
                "Aastra",
                "6725ip",
                "00085D672502",
                LPE_TARGET,
                "TLS to Certificate Provisioning aborted by the phone (unknown_ca)",
            ),
        ),
    ),
)

SCENARIOS = SCENARIOS + HTTPS_SCENARIOS + DHCP_SERVER_SCENARIOS + LPE_SCENARIOS


def by_name(name: str) -> Scenario:
    """Look a scenario up by name, listing the valid names when it is unknown."""
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    known = ", ".join(s.name for s in SCENARIOS)
    raise KeyError(f"unknown scenario {name!r}; known: {known}")
