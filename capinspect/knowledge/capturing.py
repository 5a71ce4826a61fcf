"""What capture would have caught a missing stage: the advice of an inconclusive verdict.

An inconclusive verdict means the capture did not reach the stage that decides. Saying only
"take a better capture" leaves the admin guessing which part was wrong (started too late, on
the wrong port, stopped too soon, encrypted); each stage coverage() can report missing has here
the section of docs/capturing.md that says how to catch it, and one sentence of advice.

Sources (cited by docs/capturing.md, section by section):
* Rui Silva, "Troubleshooting OCS 2007 R2 Device Update Service for Communicator Phone Edition"
  (2009): the check-in over port 443 at power-on, the downloads over port 80, the five-minute
  idle restart (its step 12), the server logs (its step 8) and where they are.
* Microsoft, "How the Device Update Process Works" (OCS 2007 R2): the check-in at power-on and
  every 24 hours, and the ucupdates-r2 lookup of a phone no user has signed in on.
* Microsoft, "Setting Up DHCP for Devices" (Lync Server 2010): the MS-UC-Client DHCPINFORM.
* Microsoft, "pktmon start", "pktmon etl2pcap", "netsh trace"; Wireshark wiki, "VLAN capture
  setup"; Cisco, "monitor session destination … encapsulation replicate".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CAPTURING_DOC = "docs/capturing.md"


@dataclass(frozen=True, slots=True)
class CaptureSection:
    """The doc section that says how to capture one stage, and the advice in one sentence."""

    title: str
    anchor: str
    """The heading's anchor in docs/capturing.md (GitHub's rules: tests check it exists)."""
    advice: str

    @property
    def reference(self) -> str:
        return f"see '{self.title}' in {CAPTURING_DOC}"


CAPTURE_SECTIONS: dict[str, CaptureSection] = {
    "dhcp": CaptureSection(
        "Capturing the phone's boot (DHCP)",
        "capturing-the-phones-boot-dhcp",
        "Start the capture before the phone powers on (or reboot it) on its own switch port, "
        "tagged voice-VLAN frames kept: its DHCP and MS-UC-Client DHCPINFORM come in its first "
        "seconds",
    ),
    "dns": CaptureSection(
        "Capturing the ucupdates-r2 lookup (DNS)",
        "capturing-the-ucupdates-r2-lookup-dns",
        "Capture on the phone's side (its port), not at the Front End, from before it powers on: "
        "the ucupdates-r2 query goes to the DNS server seconds after DHCP (a phone a user has "
        "signed in on may skip it)",
    ),
    "checkin": CaptureSection(
        "Capturing the check-in (HTTP and HTTPS)",
        "capturing-the-check-in-http-and-https",
        "Power the phone on (or reboot it) while capturing TCP 80 and 443: it checks in at boot "
        "and otherwise only every 24 hours",
    ),
    "https": CaptureSection(
        "Capturing the check-in (HTTP and HTTPS)",
        "capturing-the-check-in-http-and-https",
        "The check-in is inside TLS and the capture alone does not show what it was: decrypt "
        "it with the web certificate's private key (--tls-key, RSA key exchange) or a key log "
        "(--keylog), or give the Device Update audit log (--audit-log)",
    ),
    "download": CaptureSection(
        "Capturing the downloads",
        "capturing-the-downloads",
        "Keep capturing whole frames at least five minutes after the check-in: the phone fetches "
        "the offered files over HTTP, idles five minutes and restarts",
    ),
    "logs": CaptureSection(
        "Taking the server logs",
        "taking-the-server-logs",
        "The Front End's IIS and Device Update audit logs (--iis-log, --audit-log) record every "
        "check-in whatever the capture caught",
    ),
}
"""Stage (as coverage() names it, plus ``https`` and ``logs``) → where docs/capturing.md says
how to catch it."""


def capture_advice(missing_stages: Sequence[str], encrypted: bool) -> str:
    """The advice of an inconclusive verdict: one sentence per stage that would have decided,
    each naming its section of docs/capturing.md.

    ``missing_stages`` are the stages coverage() reports not seen, in its order; ``encrypted``
    says the phone did talk TLS to port 443, so the check-in is there but unreadable: the HTTPS
    advice replaces the "power it on while capturing" one. The server logs are named whenever
    the check-in is in doubt: they record it whatever the capture caught.
    """
    stages = [stage for stage in missing_stages if stage in CAPTURE_SECTIONS]
    if encrypted:
        stages = [stage for stage in stages if stage != "checkin"] + ["https"]
    if "checkin" in stages or encrypted:
        stages.append("logs")
    if not stages:
        return f"See {CAPTURING_DOC} for how to capture a phone's boot from power-on to restart."
    sentences = []
    for stage in dict.fromkeys(stages):
        section = CAPTURE_SECTIONS[stage]
        sentences.append(f"{section.advice}; {section.reference}.")
    return " ".join(sentences)
