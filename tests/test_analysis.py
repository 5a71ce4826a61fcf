"""capinspect/analysis.py: the Analysis value the engine hands the devices stage."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from capinspect.analysis import Analysis, ArpBinding, TcpFlowSeen
from capinspect.model import CaptureStats, FlowKey
from capinspect.pipeline import analyze_paths

PCAPS = Path(__file__).resolve().parents[1] / "pcaps"


def test_an_analysis_assembled_by_hand_has_empty_later_fields() -> None:
    analysis = Analysis((), CaptureStats(), (), (), (), (), (), ())
    assert analysis.tls == () and analysis.checkins == ()
    assert analysis.ntp == () and analysis.connects == ()
    assert analysis.dhcp_background.clients == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        analysis.http = ()  # type: ignore[misc]
    flow = TcpFlowSeen(FlowKey("10.0.0.2", 50000, "10.0.0.1", 443), "tls", 1, 0.0, None, ())
    assert (flow.bytes_to_server, flow.bytes_to_client, flow.end_reason) == (0, 0, None)


def test_an_encrypted_lab_capture_keeps_its_443_flows_and_arp() -> None:
    facts = json.loads((PCAPS / "https-healthy.facts.json").read_text())
    (phone,) = facts["phones"]
    server_ip = facts["network"]["server_ip"]
    analysis = analyze_paths([str(PCAPS / "https-healthy.pcap")])
    assert ArpBinding in {type(b) for b in analysis.arp}
    assert {(b.ip, b.mac) for b in analysis.arp} >= {(phone["leased_ip"], phone["mac"])}
    tls_flows = [f for f in analysis.other_flows if f.kind == "tls"]
    # One TLS check-in per boot the facts list, each from the phone to the server on 443.
    assert len(tls_flows) >= len(phone["boots"])
    for flow in tls_flows:
        assert flow.flow.client_ip == phone["leased_ip"]
        assert (flow.flow.server_ip, flow.flow.server_port) == (server_ip, 443)
        assert flow.client_mac == phone["mac"]
        assert flow.bytes_to_server > 0 and flow.bytes_to_client > 0
    assert len(analysis.tls) == len(phone["boots"])
    # No key given: nothing decrypted, so no check-in was parsed by the engine.
    assert analysis.checkins == ()
