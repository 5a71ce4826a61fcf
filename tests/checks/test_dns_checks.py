"""checks/dns.py on one phone's lookups: which names count as the update name, and which
answers make each DNS check speak."""

from __future__ import annotations

from factories import SERVER_IP, Capture, healthy_boot, lookup

from capinspect.checks.base import CheckContext, Finding
from capinspect.checks.dns import (
    check_cname,
    check_legacy_name,
    check_nxdomain,
    check_unanswered,
    check_unexpected_address,
    check_wrong_domain,
)
from capinspect.devices import build_population
from capinspect.expectations import Expectations


def _run(capture: Capture, expect: Expectations | None = None) -> dict[str, list[Finding]]:
    expect = expect or Expectations()
    analysis = capture.analysis()
    (phone,) = build_population(analysis, expect).phones
    ctx = CheckContext(expect=expect, analysis=analysis, capture_end=analysis.stats.last_ts)
    checks = (check_nxdomain, check_unanswered, check_cname, check_wrong_domain,
              check_unexpected_address, check_legacy_name)  # fmt: skip
    return {c.__name__: list(c(phone, ctx)) for c in checks}


def _speaking(found: dict[str, list[Finding]]) -> set[str]:
    return {name for name, findings in found.items() if findings}


def test_a_healthy_lookup_makes_no_dns_check_speak() -> None:
    assert _speaking(_run(healthy_boot())) == set()


def test_nxdomain_is_reported_with_the_frames_and_the_name() -> None:
    capture = healthy_boot()
    capture.dns = [lookup(20, 1002.0, rcode="NXDOMAIN", addresses=())]
    found = _run(capture)
    assert _speaking(found) == {"check_nxdomain"}
    (finding,) = found["check_nxdomain"]
    assert 20 in finding.frames and "ucupdates-r2.contoso.com" in finding.summary


def test_a_later_successful_retry_is_not_nxdomain() -> None:
    capture = healthy_boot()
    capture.dns = [
        lookup(18, 1001.5, rcode="NXDOMAIN", addresses=()),
        lookup(20, 1002.0),
    ]
    assert "check_nxdomain" not in _speaking(_run(capture))


def test_unanswered_and_cname_and_legacy_name() -> None:
    capture = healthy_boot()
    capture.dns = [lookup(20, 1002.0, rcode=None, addresses=())]
    assert "check_unanswered" in _speaking(_run(capture))
    capture.dns = [lookup(20, 1002.0, cname="pool01.contoso.com")]
    assert "check_cname" in _speaking(_run(capture))
    capture.dns = [lookup(20, 1002.0), lookup(21, 1002.1, qname="ucupdates.contoso.com")]
    assert "check_legacy_name" in _speaking(_run(capture))


def test_addresses_other_than_the_expected_ones() -> None:
    expect = Expectations(ucupdates_addresses=("10.0.0.99",))
    found = _run(healthy_boot(), expect)
    assert _speaking(found) == {"check_unexpected_address"}
    assert SERVER_IP in (found["check_unexpected_address"][0].observed or "")
    assert _speaking(_run(healthy_boot(), Expectations(ucupdates_addresses=(SERVER_IP,)))) == set()
