"""Joining traffic to phones: IP↔MAC bindings over time, router MACs, check-in body MACs."""

from dataclasses import replace

from factories import PHONE_IP, Capture, checkin, healthy_boot, lease, lookup

from capinspect.devices import build_devices, normalise_mac


def test_normalise_mac_accepts_every_notation() -> None:
    for text in ("0021630F207B", "00-21-63-0F-20-7B", "00:21:63:0f:20:7b", "0021.630f.207b"):
        assert normalise_mac(text) == "00:21:63:0f:20:7b"
    for bad in ("", None, "0021630F207", "zz21630F207B", "0021630F207B00"):
        assert normalise_mac(bad) is None


def test_traffic_joins_the_phone_by_its_leased_ip_not_the_router_mac() -> None:
    cap = healthy_boot()
    router = "00:00:0c:9f:f0:01"
    cap.dns = [replace(lookup(20, 1002.0), client_mac=router)]
    cap.http = [replace(checkin(30, 1003.0, "3.5.6907.0"), client_mac=router)]
    devices = build_devices(cap.analysis())
    assert [d.key for d in devices] == ["00:21:63:0f:20:7b"]
    phone = devices[0]
    assert len(phone.dns) == 1 and len(phone.checkins) == 1
    assert phone.ips == (PHONE_IP,)


def test_a_reused_address_belongs_to_whoever_held_it_then() -> None:
    other = "00:04:f2:aa:bb:cc"
    cap = healthy_boot()
    # Later the same address is leased to another phone, which checks in on old firmware.
    cap.dhcp.append(lease(200, 5000.0, xid=0x9999, mac=other))
    cap.http.append(
        checkin(300, 5001.0, "1.0.522.101", vendor="Polycom", model="CX700", mac="0004F2AABBCC")
    )
    devices = {d.key: d for d in build_devices(cap.analysis())}
    assert devices["00:21:63:0f:20:7b"].checkins[0].firmware == "3.5.6907.0"
    assert devices[other].checkins[0].firmware == "1.0.522.101"


def test_a_pc_doing_dhcp_is_not_a_device() -> None:
    cap = healthy_boot()
    cap.dhcp.append(lease(500, 1500.0, xid=0x7777, mac="3c:22:fb:00:00:01"))
    assert [d.key for d in build_devices(cap.analysis())] == ["00:21:63:0f:20:7b"]


def test_timeline_is_ordered_data_with_the_decoded_values() -> None:
    phone = build_devices(healthy_boot().analysis())[0]
    times = [step.ts for step in phone.timeline]
    assert times == sorted(times)
    events = [step.event for step in phone.timeline]
    assert events[-4:] == ["dns-query", "dns-answer", "checkin-request", "checkin-response"]
    assert set(events[:-4]) == {"dhcp"}
    inform = next(s for s in phone.timeline if s.details.get("type") == "DHCPINFORM")
    assert inform.direction == "broadcast" and inform.details["ciaddr"] == "10.20.0.23"
    ack = next(s for s in phone.timeline if "option43" in s.details)
    assert ack.details["type"] == "DHCPACK" and ack.details["option120"] == ["pool.contoso.com"]
    option43 = ack.details["option43"]
    assert isinstance(option43, dict)
    assert option43["url"] == "https://ocs.contoso.com:443/CertProv/CertProvisioningService.svc"
    answer = next(s for s in phone.timeline if s.event == "dns-answer")
    assert answer.details["addresses"] == ["10.0.0.5"] and answer.subject in phone.dns
    response = phone.timeline[-1]
    assert response.subject is phone.checkins[0] and response.details == {"status": 200}


def test_unknown_host_with_phone_user_agent_becomes_an_ip_keyed_device() -> None:
    cap = Capture(http=[checkin(30, 1003.0, "3.5.6907.0", mac="")])
    devices = build_devices(cap.analysis())
    assert [d.key for d in devices] == [f"ip:{PHONE_IP}"]


def test_unsplittable_urls_from_the_capture_do_not_crash() -> None:
    # Found by tests/fuzz (corpus/engine/crash-unsplittable-offer-url): urlsplit raises
    # ValueError on "http://[…"; devices, the download checks and baseline all split URLs.
    from factories import checkin_response_xml, http

    from capinspect.baseline import baseline_from
    from capinspect.expectations import DEFAULT_EXPECTATIONS
    from capinspect.pipeline import evaluate

    bad = "http://[broken/DeviceUpdateFiles_Int/CPE.nbt"
    response = checkin_response_xml(files=[("4.0.7577.0", bad)]).replace(
        b"https://ocs.contoso.com/", b"https://[ocs/"
    )
    cap = healthy_boot("3.5.6907.0")
    cap.http = [
        checkin(30, 1003.0, "3.5.6907.0", response=response),
        http(40, 1004.0, "GET", "/DeviceUpdateFiles_Int/CPE.nbt", host="[bad"),
    ]
    report = evaluate(cap.analysis(), DEFAULT_EXPECTATIONS)
    phone = report.devices[0].session
    assert len(phone.downloads) == 1 and phone.downloads[0].offered_by is None
    baseline_from(report)
