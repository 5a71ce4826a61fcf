"""capinspect lab: reproducible captures of OCS 2007 R2 phones booting against real servers.

The lab exists so that capinspect's tests run against traffic produced by real protocol stacks
(dnsmasq for DHCP/DNS, the kernel's TCP for HTTP) rather than hand-built packets that would only
echo the analyzer's own assumptions back at it. It deliberately imports nothing from capinspect so
that a bug in the analyzer can never leak into the captures used to test it.
"""
