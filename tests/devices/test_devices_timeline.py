"""capinspect/devices/timeline.py: a phone's boot as ladder steps (data), against lab facts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from capinspect.devices.timeline import build_timeline
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.pipeline import analyze_paths, evaluate

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"


def _facts(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PCAPS / f"{name}.facts.json").read_text())
    return loaded


def test_the_404_boot_ladder_follows_the_lab_facts() -> None:
    facts = _facts("file-not-found")
    (phone,) = facts["phones"]
    (boot,) = phone["boots"]
    report = evaluate(analyze_paths([str(PCAPS / "file-not-found.pcap")]), DEFAULT_EXPECTATIONS)
    (device,) = report.devices
    steps = device.session.timeline
    assert [(s.ts, s.frame) for s in steps] == sorted((s.ts, s.frame) for s in steps)

    dhcp = [s for s in steps if s.stage == "dhcp"]
    assert [str(s.details["type"]).removeprefix("DHCP") for s in dhcp] == boot["dhcp"]["messages"]
    assert dhcp[0].details["xid"] == boot["dhcp"]["lease_xid"]
    assert dhcp[0].direction == "broadcast"
    assert dhcp[1].direction == "from-server"
    acks = [s for s in dhcp if s.details["type"] == "DHCPACK"]
    assert acks[0].details["yiaddr"] == phone["leased_ip"]
    assert acks[-1].details["vendor_class"] == facts["dhcp_served"]["vendor_class"]

    queries = [s.details["qname"] for s in steps if s.event == "dns-query"]
    assert queries == [q["qname"] for q in boot["dns"]]
    answers = [s.details["addresses"] for s in steps if s.event == "dns-answer"]
    assert answers == [q["a"] for q in boot["dns"]]

    (request,) = [s for s in steps if s.event == "checkin-request"]
    assert request.details["path"] == boot["checkin"]["path"]
    assert request.details["firmware"] == phone["initial_version"]
    (response,) = [s for s in steps if s.event == "checkin-response"]
    assert response.details["status"] == boot["checkin"]["status"]

    (get,) = [s for s in steps if s.event == "download-request"]
    (download,) = boot["downloads"]
    assert str(get.details["url"]).endswith(download["path"])
    (answer,) = [s for s in steps if s.event == "download-response"]
    assert answer.details["status"] == download["status"]
    assert answer.peer == facts["network"]["server_ip"]


def test_a_tls_flow_described_by_its_handshake_is_not_listed_twice() -> None:
    analysis = analyze_paths([str(PCAPS / "https-healthy.pcap")])
    assert analysis.tls and analysis.other_flows
    steps = build_timeline(
        dhcp=analysis.dhcp,
        dns=analysis.dns,
        checkins=(),
        downloads=(),
        other_http=(),
        tls=analysis.tls,
        other_flows=analysis.other_flows,
    )
    described = {(c.flow, c.frame) for c in analysis.tls}
    bare = [s for s in steps if s.event == "tls"]
    assert len(bare) == sum(
        1 for f in analysis.other_flows if f.kind == "tls" and (f.flow, f.frame) not in described
    )
    assert any(s.event == "tls-client-hello" for s in steps)
    assert [(s.ts, s.frame) for s in steps] == sorted((s.ts, s.frame) for s in steps)
    # Without the TLS connections each followed flow is a step of its own kind.
    flows_only = build_timeline(
        dhcp=(),
        dns=(),
        checkins=(),
        downloads=(),
        other_http=(),
        tls=(),
        other_flows=analysis.other_flows,
    )
    in_order = sorted(analysis.other_flows, key=lambda f: (f.ts, f.frame))
    assert [(s.event, s.frame) for s in flows_only] == [(f.kind, f.frame) for f in in_order]
    assert len(flows_only) == len(analysis.other_flows)
