"""Report order and selection: failing phones first in every format, --only and --phone."""

from __future__ import annotations

import dataclasses

import pytest
from locations import PCAPS

from capinspect.checks.base import Verdict
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.model import (
    VERDICT_ORDER,
    Report,
    order_devices,
    parse_phones,
    parse_verdicts,
    phone_matches,
    select_devices,
    verdict_rank,
)


@pytest.fixture(scope="module")
def multi() -> Report:
    return evaluate(analyze_paths([str(PCAPS / "multi-phone.pcapng")]), DEFAULT_EXPECTATIONS)


def test_pipeline_lists_failing_phones_first_then_by_first_activity(multi: Report) -> None:
    keys = [(verdict_rank(d.verdict.verdict), d.session.first_ts) for d in multi.devices]
    assert keys == sorted(keys)
    verdicts = [d.verdict.verdict for d in multi.devices]
    assert verdicts[0] == Verdict.FAIL and Verdict.PASS in verdicts
    assert order_devices(reversed(multi.devices)) == multi.devices


def test_order_is_fail_warn_inconclusive_pass(multi: Report) -> None:
    assert VERDICT_ORDER == (Verdict.FAIL, Verdict.WARN, Verdict.INCONCLUSIVE, Verdict.PASS)
    # Re-judge the phones (same sessions, other verdicts) and check the order follows verdicts.
    shuffled = []
    for item, verdict in zip(
        multi.devices, (Verdict.PASS, Verdict.INCONCLUSIVE, Verdict.WARN, Verdict.FAIL), strict=True
    ):
        judged = dataclasses.replace(item.verdict, verdict=verdict)
        shuffled.append(dataclasses.replace(item, verdict=judged))
    ordered = order_devices(shuffled)
    assert [d.verdict.verdict for d in ordered] == list(VERDICT_ORDER)


def test_parse_verdicts_accepts_lists_and_repeats() -> None:
    assert parse_verdicts(["warn,FAIL", " pass "]) == (Verdict.FAIL, Verdict.WARN, Verdict.PASS)
    assert parse_verdicts([]) == ()
    with pytest.raises(ValueError, match="unknown verdict 'failed'"):
        parse_verdicts(["failed"])


def test_parse_phones_normalises_macs_and_ips() -> None:
    assert parse_phones(["0004F2AA1003", "00-04-f2-aa-10-03,10.1.1.5", "2001:DB8::1"]) == (
        "00:04:f2:aa:10:03",
        "10.1.1.5",
        "2001:db8::1",
    )
    for bad in ("zz", "10.1.1.300", "00:04:f2:aa:10"):
        with pytest.raises(ValueError, match="neither a MAC address nor an IP address"):
            parse_phones([bad])


def test_an_ipv6_address_with_twelve_hex_digits_is_not_taken_for_a_mac(multi: Report) -> None:
    session = multi.devices[0].session
    fake = dataclasses.replace(session, mac="ab:cd:ef:01:23:45", ips=("10.0.0.1",))
    assert not phone_matches(fake, parse_phones(["abcd:ef01:2345::"])[0])
    assert phone_matches(fake, parse_phones(["ABCDEF012345"])[0])
    assert phone_matches(fake, parse_phones(["10.0.0.1"])[0])


def test_select_by_verdict_and_phone_says_out_of_how_many(multi: Report) -> None:
    assert select_devices(multi) is multi
    fails = select_devices(multi, (Verdict.FAIL,))
    assert fails.devices and all(d.verdict.verdict == Verdict.FAIL for d in fails.devices)
    assert fails.selection is not None and fails.selection.total == len(multi.devices)
    note = fails.selection_note()
    assert note is not None
    assert note.startswith(f"showing {len(fails.devices)} of {len(multi.devices)} phones: ")
    assert "--only fail" in note
    target = multi.devices[-1].session
    assert target.mac is not None
    by_mac = select_devices(multi, (), parse_phones([target.mac.replace(":", "").upper()]))
    assert [d.session.key for d in by_mac.devices] == [target.key]
    by_ip = select_devices(multi, (), (target.ips[0],))
    assert [d.session.key for d in by_ip.devices] == [target.key]
    both = select_devices(multi, (Verdict.FAIL,), (target.ips[0],))
    expected = [target.key] if multi.devices[-1].verdict.verdict == Verdict.FAIL else []
    assert [d.session.key for d in both.devices] == expected
    assert multi.selection_note() is None
