"""Who is a phone: evidence, not proximity (capinspect/devices/identity.py)."""

from __future__ import annotations

from dataclasses import replace

from factories import (
    PHONE_IP,
    Capture,
    checkin,
    checkin_request_xml,
    checkin_response_xml,
    dhcp_bytes,
    healthy_boot,
    http,
    lab_tls_connection,
    lease,
    lookup,
    seen,
    tls_from,
)

from capinspect.devices import build_population
from capinspect.expectations import Expectations
from capinspect.limits import Limits
from capinspect.pipeline import evaluate
from capinspect.protocols.dhcp.messages import DhcpExchange

PC_IP = "10.20.0.99"
PC_MAC = "3c:52:82:00:00:99"
POLYCOM_MAC = "00:04:f2:12:34:56"


def test_a_pc_that_looks_up_ucupdates_r2_is_an_other_client_not_a_phone() -> None:
    cap = healthy_boot()
    cap.dns.append(replace(lookup(200, 1100.0), client_ip=PC_IP))
    cap.dns.append(replace(lookup(210, 1101.0, qname="ucupdates-r2.fabrikam.com"), client_ip=PC_IP))
    report = evaluate(cap.analysis(), Expectations())
    assert [d.session.key for d in report.devices] == ["00:21:63:0f:20:7b"]
    (client,) = report.other_clients
    assert client.key == f"ip:{PC_IP}" and client.ips == (PC_IP,)
    assert [a.frame for a in client.activities] == [200, 210]
    assert "ucupdates-r2.fabrikam.com" in client.activities[1].what
    note = next(f for f in report.capture_findings if f.check_id == "capture.other-update-clients")
    assert note.severity == "info" and "1 host(s)" in note.summary


def test_a_pc_with_tls_to_the_pool_and_a_wrong_certificate_gets_no_tls_finding() -> None:
    conn = lab_tls_connection()
    analysis = replace(healthy_boot().analysis(), tls=(tls_from(conn, PC_IP, PC_MAC),))
    report = evaluate(analysis, Expectations())
    assert [d.session.mac for d in report.devices] == ["00:21:63:0f:20:7b"]
    assert not any(f.check_id.startswith("tls.") for f in report.all_findings)
    assert [c.key for c in report.other_clients] == [f"ip:{PC_IP}"]
    assert "certificate for" in report.other_clients[0].activities[0].what


def test_a_phone_makers_prefix_with_update_traffic_makes_a_phone() -> None:
    conn = tls_from(lab_tls_connection(), PC_IP, POLYCOM_MAC)
    analysis = replace(Capture().analysis(), tls=(conn,))
    population = build_population(analysis)
    (phone,) = population.phones
    assert phone.key == f"ip:{PC_IP}"
    assert any("Polycom" in note for note in phone.phone_evidence)
    assert any(note.startswith("TLS to ") for note in phone.phone_evidence)


def test_a_phone_makers_prefix_alone_makes_nothing() -> None:
    # A Polycom MAC doing DHCP without a phone vendor class, and a browser GET elsewhere.
    browse = http(40, 1004.0, "GET", "/index.html", user_agent="Mozilla/5.0", client_ip=PC_IP)
    cap = Capture(dhcp=[lease(1, 1000.0, mac=POLYCOM_MAC)], http=[browse])
    assert build_population(cap.analysis()).phones == ()


def test_phone_evidence_kinds_each_make_a_phone() -> None:
    by_checkin = Capture(http=[checkin(30, 1003.0, "3.5.6907.0")])
    assert len(build_population(by_checkin.analysis()).phones) == 1
    agent = http(40, 1004.0, "GET", "/x.txt", user_agent="Microsoft UCPhone Device")
    by_agent = Capture(http=[agent])
    (phone,) = build_population(by_agent.analysis()).phones
    assert any("user agent" in n for n in phone.phone_evidence)


def test_vendor_class_any_case_makes_a_phone() -> None:
    request = dhcp_bytes(1, xid=7, mac=POLYCOM_MAC, options=[(60, b"cpe-OCPhone")])
    exchange = DhcpExchange(
        xid=7,
        client_mac=POLYCOM_MAC,
        kind="lease",
        messages=(seen(request, 1, 1000.0, from_server=False),),
    )
    (phone,) = build_population(Capture(dhcp=[exchange]).analysis()).phones
    assert phone.phone_evidence[0].startswith("DHCP vendor class cpe-OCPhone")


def test_max_devices_is_enforced_and_counted() -> None:
    cap = Capture()
    for n in range(5):
        body = checkin_request_xml("3.5.6907.0", mac=f"0004F2AA000{n}")
        cap.http.append(
            http(
                100 + 10 * n,
                1000.0 + n,
                "POST",
                "/RequestHandler/ucdevice.upx",
                req_body=body,
                resp_body=checkin_response_xml(),
                client_ip=f"10.20.1.{n + 1}",
            )
        )
    population = build_population(cap.analysis(), limits=Limits(max_devices=3))
    assert len(population.phones) == 3 and population.phones_dropped == 2
    assert [p.ips[0] for p in population.phones] == ["10.20.1.1", "10.20.1.2", "10.20.1.3"]
    report = evaluate(cap.analysis(), Expectations(), limits=Limits(max_devices=3))
    limit = next(f for f in report.capture_findings if f.check_id == "capture.device-limit")
    assert "2 phone(s)" in limit.summary


def test_a_phones_tls_to_another_service_is_shown_but_not_judged() -> None:
    conn = lab_tls_connection()
    exchange = tls_from(conn, PHONE_IP, None, sni="mail.contoso.com")
    analysis = replace(healthy_boot().analysis(), tls=(exchange,))
    report = evaluate(analysis, Expectations())
    (device,) = report.devices
    assert device.session.tls == () and len(device.session.other_tls) == 1
    assert not any(f.check_id.startswith("tls.") for f in device.findings)
