"""DhcpTracker: grouping by (xid, MAC), several servers per INFORM, vendor class carried to the
reply's option 43, windows and limits, corpus files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from scapy.all import BOOTP, DHCP, IP, UDP, Ether, rdpcap

from capinspect.limits import Limits
from capinspect.model import IpProto, Packet
from capinspect.protocols.dhcp.messages import ACK, INFORM
from capinspect.protocols.dhcp.tracker import DhcpTracker

PHONE_MAC = "00:04:f2:aa:bb:cc"
OPTION43_UC = (
    b"\x01\x0cMS-UC-Client\x02\x05https\x03\x17server.fqdn.company.com\x04\x03443"
    b"\x05\x25/CertProv/CertProvisioningService.svc"
)
CORPUS = Path("/work/shared/corpus/zeek-traces")


def _dhcp(
    op: int, xid: int, msg_type: str, *options: tuple[str | int, object], **fields: object
) -> Any:
    return BOOTP(op=op, xid=xid, chaddr=bytes.fromhex(PHONE_MAC.replace(":", "")), **fields) / DHCP(
        options=[("message-type", msg_type), *options, "end"]
    )


def _packet(
    frame: int, ts: float, dhcp: object, *, client: bool, server_ip: str = "10.1.0.1"
) -> Packet:
    return Packet(
        frame=frame,
        ts=ts,
        src_mac=PHONE_MAC if client else "00:15:5d:00:00:01",
        dst_mac="ff:ff:ff:ff:ff:ff" if client else PHONE_MAC,
        vlans=(20,),
        src_ip="10.1.2.3" if client else server_ip,
        dst_ip="255.255.255.255" if client else "10.1.2.3",
        proto=IpProto.UDP,
        sport=68 if client else 67,
        dport=67 if client else 68,
        payload=bytes(dhcp),
    )


def _lease(tracker: DhcpTracker, xid: int, start_frame: int, ts: float) -> None:
    tracker.feed(_packet(start_frame, ts, _dhcp(1, xid, "discover"), client=True))
    tracker.feed(
        _packet(start_frame + 1, ts + 0.01, _dhcp(2, xid, "offer", yiaddr="10.1.2.3"), client=False)
    )
    tracker.feed(_packet(start_frame + 2, ts + 0.02, _dhcp(1, xid, "request"), client=True))
    tracker.feed(
        _packet(
            start_frame + 3,
            ts + 0.03,
            _dhcp(2, xid, "ack", ("lease_time", 3600), yiaddr="10.1.2.3"),
            client=False,
        )
    )


def test_lease_then_inform_answered_by_two_servers() -> None:
    tracker = DhcpTracker()
    _lease(tracker, 0x100, 1, 0.0)
    inform = _dhcp(
        1,
        0x200,
        "inform",
        ("vendor_class_id", b"MS-UC-Client"),
        ("param_req_list", [43, 120]),
        ciaddr="10.1.2.3",
    )
    tracker.feed(_packet(5, 1.0, inform, client=True))
    enterprise_ack = _dhcp(2, 0x200, "ack", ("server_id", "10.1.0.1"), (43, OPTION43_UC))
    registrar_ack = _dhcp(2, 0x200, "ack", ("server_id", "10.1.0.9"), (43, OPTION43_UC))
    seen = tracker.feed(_packet(6, 1.01, enterprise_ack, client=False))
    tracker.feed(_packet(7, 1.02, registrar_ack, client=False, server_ip="10.1.0.9"))

    assert seen is not None and seen.message.msg_type == ACK
    lease, inform_exchange = tracker.finish()
    assert lease.kind == "lease" and lease.frames == (1, 2, 3, 4)
    assert lease.assigned_ip == "10.1.2.3"
    assert lease.client_mac == PHONE_MAC
    assert inform_exchange.kind == "inform"
    assert inform_exchange.frames == (5, 6, 7)
    acks = inform_exchange.of_type(ACK)
    assert [a.message.server_id for a in acks] == ["10.1.0.1", "10.1.0.9"]
    assert inform_exchange.of_type(INFORM)[0].vlans == (20,)
    assert inform_exchange.anomalies == ()


def test_reply_option43_is_decoded_with_the_request_vendor_class() -> None:
    # The sub-options alone would not reveal the vendor class (no sub-option 1): only the
    # request's option 60 says these are MS-UC-Client fields.
    option43 = b"\x03\x0bpool.lab.lo\x04\x03443"
    tracker = DhcpTracker()
    inform = _dhcp(1, 0x300, "inform", ("vendor_class_id", b"MS-UC-Client"))
    tracker.feed(_packet(1, 0.0, inform, client=True))
    seen = tracker.feed(_packet(2, 0.1, _dhcp(2, 0x300, "ack", (43, option43)), client=False))
    assert seen is not None and seen.message.option43 is not None
    assert seen.message.option43.vendor_class == "MS-UC-Client"
    assert seen.message.option43.web_server_fqdn == "pool.lab.lo"
    (exchange,) = tracker.finish()
    reply43 = exchange.of_type(ACK)[0].message.option43
    assert reply43 is not None and reply43.vendor_class == "MS-UC-Client"
    assert reply43.suboptions[0].name == "Web Server FQDN"


def test_cpe_ocphone_vendor_class_reaches_the_offer() -> None:
    tracker = DhcpTracker()
    tracker.feed(
        _packet(1, 0.0, _dhcp(1, 1, "discover", ("vendor_class_id", b"CPE-OCPHONE")), client=True)
    )
    tracker.feed(_packet(2, 0.1, _dhcp(2, 1, "offer", (43, b"\x0a\x0220")), client=False))
    (exchange,) = tracker.finish()
    offer43 = exchange.messages[1].message.option43
    assert offer43 is not None and offer43.vlan_id == "20"


def test_window_splits_the_same_xid_into_two_exchanges() -> None:
    tracker = DhcpTracker(Limits(dhcp_exchange_window=5.0))
    tracker.feed(_packet(1, 0.0, _dhcp(1, 9, "discover"), client=True))
    tracker.feed(_packet(2, 4.0, _dhcp(1, 9, "discover"), client=True))  # retransmission joins
    tracker.feed(_packet(3, 20.0, _dhcp(1, 9, "discover"), client=True))  # too late: new one
    assert [ex.frames for ex in tracker.finish()] == [(1, 2), (3,)]


def test_other_mac_with_same_xid_is_another_exchange() -> None:
    tracker = DhcpTracker()
    tracker.feed(_packet(1, 0.0, _dhcp(1, 9, "discover"), client=True))
    other = BOOTP(op=1, xid=9, chaddr=bytes.fromhex("001122334455")) / DHCP(
        options=[("message-type", "discover"), "end"]
    )
    tracker.feed(_packet(2, 0.1, other, client=True))
    assert [ex.client_mac for ex in tracker.finish()] == [PHONE_MAC, "00:11:22:33:44:55"]


def test_orphan_replies_get_a_guessed_kind_and_an_anomaly() -> None:
    tracker = DhcpTracker()
    tracker.feed(_packet(1, 0.0, _dhcp(2, 5, "ack"), client=False))  # yiaddr 0, no lease time
    tracker.feed(
        _packet(2, 0.0, _dhcp(2, 6, "ack", ("lease_time", 60), yiaddr="10.1.2.3"), client=False)
    )
    inform, lease = tracker.finish()
    assert (inform.kind, lease.kind) == ("inform", "lease")
    assert [a.code for a in inform.anomalies] == ["dhcp.reply-without-request"]


def test_release_and_bootp_kinds() -> None:
    tracker = DhcpTracker()
    tracker.feed(_packet(1, 0.0, _dhcp(1, 1, "release"), client=True))
    tracker.feed(
        _packet(2, 0.0, BOOTP(op=1, xid=2, chaddr=b"\x00\x04\xf2\xaa\xbb\xcc"), client=True)
    )
    assert [ex.kind for ex in tracker.finish()] == ["release", "bootp"]


def test_non_dhcp_and_short_payloads() -> None:
    tracker = DhcpTracker()
    dns_like = Packet(1, 0.0, None, None, (), "10.0.0.1", "10.0.0.2", IpProto.UDP, 5353, 53, b"x")
    assert tracker.feed(dns_like) is None
    short = Packet(
        2, 0.0, None, None, (), "10.0.0.1", "10.0.0.2", IpProto.UDP, 68, 67, b"\x01" * 10
    )
    assert tracker.feed(short) is None
    assert [(a.code, a.frame) for a in tracker.anomalies] == [("dhcp.malformed", 2)]
    assert tracker.finish() == ()


def test_message_anomalies_carry_the_frame() -> None:
    tracker = DhcpTracker()
    payload = bytes(_dhcp(1, 1, "discover"))
    truncated = payload[: payload.rindex(b"\xff")] + b"\x0f\x09abc"
    packet = _packet(42, 3.5, b"", client=True)
    seen = tracker.feed(replace(packet, payload=truncated))
    assert seen is not None
    assert [(a.code, a.frame, a.ts) for a in seen.message.anomalies] == [
        ("dhcp.option-truncated", 42, 3.5)
    ]


def test_limits_are_reported_not_silent() -> None:
    tracker = DhcpTracker(Limits(max_dhcp_exchanges=2, max_dhcp_messages_per_exchange=2))
    for frame in range(1, 4):
        tracker.feed(_packet(frame, 0.0, _dhcp(1, 77, "discover"), client=True))
    tracker.feed(_packet(4, 0.0, _dhcp(1, 78, "discover"), client=True))
    tracker.feed(_packet(5, 0.0, _dhcp(1, 79, "discover"), client=True))
    first, second = tracker.finish()
    assert first.frames == (1, 2)
    assert [(a.code, a.frame) for a in first.anomalies] == [
        ("limit.max_dhcp_messages_per_exchange", 3)
    ]
    assert second.frames == (4,)
    assert [(a.code, a.frame) for a in tracker.anomalies] == [("limit.max_dhcp_exchanges", 5)]


def test_exchanges_so_far_is_a_snapshot() -> None:
    tracker = DhcpTracker()
    tracker.feed(_packet(1, 0.0, _dhcp(1, 1, "discover"), client=True))
    assert len(tracker.exchanges_so_far()) == 1
    tracker.feed(_packet(2, 0.0, _dhcp(2, 1, "offer"), client=False))
    assert tracker.exchanges_so_far()[0].frames == (1, 2)


CORPUS_FILES = sorted(CORPUS.glob("dhcp_*.pcap*")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS_FILES, reason="zeek corpus not present")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_files_group_without_exception(path: Path) -> None:
    tracker = DhcpTracker()
    fed = 0
    for frame, pkt in enumerate(rdpcap(str(path)), 1):
        if UDP not in pkt or IP not in pkt:
            continue
        fed += 1
        tracker.feed(
            Packet(
                frame=frame,
                ts=float(pkt.time),
                src_mac=pkt[Ether].src if Ether in pkt else None,
                dst_mac=pkt[Ether].dst if Ether in pkt else None,
                vlans=(),
                src_ip=pkt[IP].src,
                dst_ip=pkt[IP].dst,
                proto=IpProto.UDP,
                sport=pkt[UDP].sport,
                dport=pkt[UDP].dport,
                payload=bytes(pkt[UDP].payload),
            )
        )
    exchanges = tracker.finish()
    assert sum(len(ex.messages) for ex in exchanges) == fed
    firsts = [min(ex.frames) for ex in exchanges]
    assert firsts == sorted(firsts)


@pytest.mark.skipif(not (CORPUS / "dhcp_dhcp.pcap").exists(), reason="zeek corpus not present")
def test_corpus_lease_with_nak_is_one_exchange() -> None:
    tracker = DhcpTracker()
    for frame, pkt in enumerate(rdpcap(str(CORPUS / "dhcp_dhcp.pcap")), 1):
        if UDP in pkt:
            tracker.feed(
                Packet(
                    frame,
                    float(pkt.time),
                    None,
                    None,
                    (),
                    pkt[IP].src,
                    pkt[IP].dst,
                    IpProto.UDP,
                    pkt[UDP].sport,
                    pkt[UDP].dport,
                    bytes(pkt[UDP].payload),
                )
            )
    kinds = [(ex.kind, ex.xid) for ex in tracker.finish()]
    assert ("lease", 0x7C0) in kinds


def _pc_lease(tracker: DhcpTracker, number: int, frame: int, ts: float, ip: str) -> None:
    """A PC's DISCOVER + ACK (vendor class MSFT 5.0) from its own MAC."""
    mac = bytes.fromhex(f"0050560000{number:02x}")
    discover = BOOTP(op=1, xid=number, chaddr=mac) / DHCP(
        options=[("message-type", "discover"), ("vendor_class_id", b"MSFT 5.0"), "end"]
    )
    ack = BOOTP(op=2, xid=number, chaddr=mac, yiaddr=ip) / DHCP(
        options=[("message-type", "ack"), ("lease_time", 3600), "end"]
    )
    tracker.feed(_packet(frame, ts, discover, client=True))
    tracker.feed(_packet(frame + 1, ts + 0.01, ack, client=False))


def _phone_inform(tracker: DhcpTracker, frame: int, ts: float) -> None:
    inform = _dhcp(1, 0x200, "inform", ("vendor_class_id", b"MS-UC-Client"), ciaddr="10.1.2.3")
    tracker.feed(_packet(frame, ts, inform, client=True))


def test_background_clients_beyond_the_bound_are_summarised() -> None:
    tracker = DhcpTracker(Limits(max_background_dhcp_clients=3))
    _lease(tracker, 0x100, 1, 0.0)  # the phone's lease, without option 60
    for number in range(1, 3):  # two PCs: the phone's lease is still among the 3 latest
        _pc_lease(tracker, number, 10 * number, float(number), f"10.1.9.{number}")
    _phone_inform(tracker, 100, 5.0)  # now it is a phone: kept whole from here on
    for number in range(3, 9):
        _pc_lease(tracker, number, 10 * number, 10.0 + number, f"10.1.9.{number}")
    _pc_lease(tracker, 4, 200, 30.0, "10.1.9.4")  # a renewal: no new binding
    _pc_lease(tracker, 5, 210, 31.0, "10.1.9.3")  # an address changing hands: a new binding

    kept = tracker.finish()
    phone = [ex for ex in kept if ex.client_mac == PHONE_MAC]
    assert [ex.kind for ex in phone] == ["lease", "inform"]
    assert len({ex.client_mac for ex in kept} - {PHONE_MAC}) == 3
    background = tracker.background()
    # PCs 1-5 went out as 6-8 came; 6 and 7 as 4 and 5 came back (least recently active first).
    assert background.clients == 7
    assert background.exchanges == 7 and background.messages == 14
    assert background.vendor_classes == (("MSFT 5.0", 7),)
    assert {ex.client_mac[-2:] for ex in kept} == {"cc", "08", "04", "05"}
    owners = [(b.ip, b.mac[-2:]) for b in background.bindings]
    assert owners[:1] == [("10.1.2.3", "cc")]  # the phone's ACK, before it was known
    assert ("10.1.9.3", "05") in owners and owners.count(("10.1.9.4", "04")) == 1
    assert not tracker.anomalies


def test_a_summarised_client_that_turns_out_a_phone_is_an_anomaly() -> None:
    tracker = DhcpTracker(Limits(max_background_dhcp_clients=1))
    _lease(tracker, 0x100, 1, 0.0)
    _pc_lease(tracker, 1, 10, 1.0, "10.1.9.1")  # pushes the phone's lease out
    _phone_inform(tracker, 20, 2.0)
    assert [a.code for a in tracker.anomalies] == ["dhcp.history-summarised"]
    assert [ex.kind for ex in tracker.finish() if ex.client_mac == PHONE_MAC] == ["inform"]
