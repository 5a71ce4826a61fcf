"""The words of a phone's ladder, from the devices stage's data."""

from __future__ import annotations

from factories import Capture, healthy_boot, lookup

from capinspect.devices import build_devices
from capinspect.report.timeline import NO_ANSWER, step_summary


def test_every_step_is_worded_with_the_decoded_values() -> None:
    phone = build_devices(healthy_boot().analysis())[0]
    text = "\n".join(step_summary(step) for step in phone.timeline)
    assert "DHCPINFORM" in text
    assert "opt43 https://ocs.contoso.com:443/CertProv/CertProvisioningService.svc" in text
    assert "opt120 pool.contoso.com" in text
    assert "DNS ucupdates-r2.contoso.com: NOERROR 10.0.0.5" in text
    assert "Server Version 3.5.6907.0" in text


def test_an_unanswered_query_has_no_answer_only_once_the_ladder_is_final() -> None:
    boot = healthy_boot()
    boot.dns = [lookup(20, 1002.0, rcode=None)]
    phone = build_devices(boot.analysis())[0]
    (query,) = [step for step in phone.timeline if step.stage == "dns"]
    assert query.event == "dns-query"
    assert step_summary(query) == f"DNS A ucupdates-r2.contoso.com?{NO_ANSWER}"
    assert step_summary(query, final=False) == "DNS A ucupdates-r2.contoso.com?"


def test_steps_of_an_answered_query_read_the_same_final_or_not() -> None:
    phone = build_devices(Capture(dns=[lookup(20, 1002.0)], **_phone()).analysis())[0]
    for step in phone.timeline:
        assert step_summary(step) == step_summary(step, final=False)


def _phone() -> dict[str, object]:
    return {"dhcp": healthy_boot().dhcp, "http": healthy_boot().http}


def test_a_redacted_ladder_does_not_spell_out_option_43s_bytes() -> None:
    from locations import PCAPS

    from capinspect.expectations import DEFAULT_EXPECTATIONS
    from capinspect.pipeline import analyze_paths, evaluate
    from capinspect.report.redact import redact_report

    capture = str(PCAPS / "dhcpd-option43-string.pcap")
    report = evaluate(analyze_paths([capture]), DEFAULT_EXPECTATIONS)
    url_hex = b"contoso".hex()
    (plain,) = [
        step_summary(s) for s in report.devices[0].session.timeline if "option43" in s.details
    ]
    assert url_hex in plain and "(TRUNCATED)" in plain
    redacted, _names = redact_report(report)
    words = [step_summary(s) for s in redacted.devices[0].session.timeline]
    (ack,) = [w for w in words if "opt43" in w]
    assert url_hex not in ack and "opt43 (TRUNCATED) opt120 host1.domain1.example" in ack
