"""The header walk as offsets (for --evidence): the same layers as the decoder finds."""

from __future__ import annotations

from scapy.all import IP, TCP, UDP, Dot1Q, Ether, IPv6, raw

from capinspect.decode.headers import ip_headers, link_headers


def test_vlan_tagged_ipv4_tcp() -> None:
    frame = raw(
        Ether(src="00:04:f2:aa:bb:cc", dst="00:15:5d:00:00:05")
        / Dot1Q(vlan=100)
        / Dot1Q(vlan=7)
        / IP(src="10.1.1.50", dst="10.1.1.5")
        / TCP(sport=4000, dport=80)
    )
    head = link_headers(1, frame)
    assert head is not None and (head.link_macs, head.l3, head.ethertype) == ((0, 6), 22, 0x0800)
    ip = ip_headers(frame, head)
    assert ip is not None
    assert (ip.src, ip.dst) == (bytes([10, 1, 1, 50]), bytes([10, 1, 1, 5]))
    assert (ip.proto, ip.sport, ip.dport, ip.l4) == (6, 4000, 80, 42)


def test_raw_ipv6_udp_and_what_is_not_ip() -> None:
    packet = raw(IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=5353, dport=53))
    head = link_headers(101, packet)
    assert head is not None and (head.l3, head.ethertype) == (0, 0x86DD)
    ip = ip_headers(packet, head)
    assert ip is not None and (ip.proto, ip.sport, ip.dport, ip.l4) == (17, 5353, 53, 40)
    assert link_headers(1, b"\x00" * 10) is None
    assert link_headers(147, packet) is None
    arp = link_headers(1, b"\xff" * 12 + b"\x08\x06" + b"\x00" * 28)
    assert arp is not None and ip_headers(b"\xff" * 12 + b"\x08\x06" + b"\x00" * 28, arp) is None
