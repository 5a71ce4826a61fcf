"""The public documents capinspect's rules come from, by title: what a check's source cites.

A user who reads a check's source must be able to find the document, so sources are cited by
author and title (the pages themselves move; titles survive in archives and search engines).
Checks and knowledge tables use these constants rather than retyping the titles, so every
citation of one document reads the same.
"""

from __future__ import annotations

ARTICLE = (
    'Rui Silva, "Troubleshooting OCS 2007 R2 Device Update Service for Communicator Phone '
    'Edition" (2009)'
)
"""The troubleshooting article capinspect is built from: its update flow (steps 1-6), its
troubleshooting process (steps 1-12), its audit and IIS log examples and its readers' comments."""

THE_ARTICLE = "the Device Update troubleshooting article"
"""How explanations and remediations name :data:`ARTICLE` in running text."""

HOW_DEVICE_UPDATE_WORKS = 'Microsoft, "How the Device Update Process Works" (OCS 2007 R2)'

DHCPUTIL_VALUES = (
    'Microsoft, "Obtaining Values of DHCP Options by Using DHCPUtil.exe" (Lync Server 2010)'
)

USING_DHCPUTIL = 'Microsoft, "Using DHCPUtil" (Lync Server 2010)'

DHCP_FOR_DEVICES = 'Microsoft, "Setting Up DHCP for Devices" (Lync Server 2010)'

DHCP_SIGN_IN = (
    'Microsoft, "Configuring DHCP Options to Enable Sign-in for IP Phones" (Lync Server 2010)'
)

REGISTRAR_CMDLET = "Microsoft, Set-CsRegistrarConfiguration cmdlet help (-EnableDHCPServer)"

SCHERTZ_OPTION43 = 'Jeff Schertz, "Understanding DHCP Option 43" (2012)'

CISCO_LONG_OPTION43 = (
    'Randy Zhong, "Using Cisco router as DHCP with long option 43 in Skype/Lync deployment"'
)

DNS_FRONT_END = 'Microsoft, "DNS requirements for Front End pools" (Lync Server 2013)'

DNS_STANDARD_EDITION = (
    'Microsoft, "DNS requirements for Standard Edition servers" (Lync Server 2013)'
)

IIS_STATUS_CODES = 'Microsoft, "The HTTP status code in IIS 7.0 and later versions" (KB 943891)'

UPDATING_LPE_2013 = 'Jeff Schertz, "Updating Lync Phone Edition Devices for Lync 2013" (2013)'

APPROVE_AN_UPDATE = 'Microsoft, "Approve an update" (Lync Server 2010)'

GET_CSDEVICEUPDATE = "Andy Giesen, Get-CsDeviceUpdate (Microsoft's DeviceUpdateStore layout)"

IP_PHONE_INVENTORY = 'Microsoft, "IP Phone Inventory Report in Lync Server 2013"'
"""Monitoring report whose examples list the manufacturer and hardware-version strings phones
register with (``POLYCOM, CX600``, ``Aastra, 6725ip``, …) and a CX600's user agent."""

TROUBLESHOOTING_LPE = 'Jeff Schertz, "Troubleshooting Lync Phone Edition Issues" (2012)'

PHONES_FOR_SFB_ONLINE = 'Microsoft, "Getting phones for Skype for Business Online"'

HOW_DEVICE_UPDATE_WEB_SERVICE_WORKS = (
    'Microsoft, "How Device Update Web service works" (Lync Server 2010)'
)

CLIENTS_FOR_MIGRATION = 'Microsoft, "Configure clients for migration" (Lync Server 2013)'

MSXFAQ_DEVICE_UPDATE = 'Frank Carius, "Lync DeviceUpdate" (msxfaq.de)'

LPE_CERTIFICATES = 'Microsoft, "Certificates for Lync Phone Edition" (Lync Server 2010)'
"""The phone must trust the CA of the server certificate: a private root is published to
Active Directory, from where the phone gets it at sign-in."""

WEB_TRUSTED_CA = "Microsoft, New-CsWebTrustedCACertificate cmdlet help (Lync Server 2010)"
"""Adds a CA to the Web Services configuration's TrustedCACerts that Lync Phone Edition trusts."""

SCHERTZ_LPE_PUBLIC_CERTS = 'Jeff Schertz, "Lync Phone Edition and Public Certificates" (2014)'
"""Old Lync Phone Edition firmware lacks newer public roots and fails sign-in over an untrusted
server certificate; PIN sign-in through option 43 can fetch the root from the Certificate
Provisioning service."""

NTP_RFC = 'RFC 5905, "Network Time Protocol Version 4" (2010)'
