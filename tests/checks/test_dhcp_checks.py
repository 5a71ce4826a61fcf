"""checks/dhcp.py: option 43 sub-options judged one by one (unusable or merely unusual), and
the phone's DNS fallback that softens a missing option to a warning."""

from __future__ import annotations

import struct

from factories import GOOD_OPTION43, Capture, healthy_boot, inform, lease

from capinspect.checks.base import Severity
from capinspect.checks.dhcp import dns_fallback, option43_problems
from capinspect.devices import build_population
from capinspect.devices.model import DeviceSession
from capinspect.expectations import Expectations
from capinspect.pipeline import evaluate
from capinspect.protocols.dhcp.parser import decode_option43


def _option43(*subs: tuple[int, bytes]) -> bytes:
    return b"".join(struct.pack("BB", code, len(value)) + value for code, value in subs)


GOOD = [
    (1, b"MS-UC-Client"),
    (2, b"https"),
    (3, b"ocs.contoso.com"),
    (4, b"443"),
    (5, b"/CertProv/CertProvisioningService.svc"),
]


def _problems(subs: list[tuple[int, bytes]], expect: Expectations | None = None) -> list[str]:
    found = option43_problems(
        decode_option43(_option43(*subs), "MS-UC-Client"), expect or Expectations()
    )
    return [f"{p.what}: {'fail' if p.unusable else 'warn'} {p.shown}" for p in found]


def test_the_lab_option43_has_no_problem() -> None:
    assert decode_option43(GOOD_OPTION43, "MS-UC-Client").complete
    assert _problems(GOOD) == []
    assert _problems(GOOD, Expectations(web_fqdn="OCS.contoso.com")) == []


def test_each_sub_option_judged_alone() -> None:
    def changed(code: int, value: bytes) -> list[tuple[int, bytes]]:
        return [(c, value if c == code else v) for c, v in GOOD]

    assert _problems(changed(1, b"Lync")) == ["sub-option 1 (UC Identifier): fail 'Lync'"]
    assert _problems(changed(2, b"http")) == ["sub-option 2 (URL Scheme): fail 'http'"]
    assert _problems(changed(2, b"HTTPS")) == []  # the scheme's case does not matter
    assert _problems(changed(4, b"4443")) == ["sub-option 4 (port): warn '4443'"]
    assert _problems(changed(4, b"\x01\xbb")) == ["sub-option 4 (port): fail bytes 01 BB (hex)"]
    assert _problems(changed(5, b"CertProv")) == ["sub-option 5 (path): fail 'CertProv'"]
    assert _problems(changed(3, b"ocs contoso")) == ["sub-option 3 (web FQDN): fail 'ocs contoso'"]


def test_an_unexpected_fqdn_is_unusual_not_unusable() -> None:
    assert _problems(GOOD, Expectations(web_fqdn="lync.fabrikam.com")) == [
        "sub-option 3 (web FQDN): warn 'ocs.contoso.com'"
    ]


def _phone(capture: Capture) -> DeviceSession:
    (phone,) = build_population(capture.analysis(), Expectations()).phones
    return phone


def test_no_dns_fallback_without_a_sign_in_lookup_and_tls() -> None:
    assert dns_fallback(_phone(healthy_boot())) is None


def test_missing_option43_fails_without_the_fallback() -> None:
    capture = healthy_boot()
    capture.dhcp = [lease(1, 1000.0), inform(10, 1001.0, option43=None)]
    report = evaluate(capture.analysis(), Expectations())
    (finding,) = [f for f in report.all_findings if f.check_id == "dhcp.option43-missing"]
    assert finding.severity == Severity.FAIL
