"""Test helper: turn a pcap's TCP flows into StreamEvents, independently of capinspect/flows.

A deliberately simple stand-in for the real reassembler: payloads of each direction are ordered
by TCP sequence number (duplicates dropped), holes become StreamGap, and each direction ends
with ``fin``/``rst`` if seen, else ``eof``. Enough to check the HTTP layer against tshark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from capinspect.model import (
    Direction,
    FlowKey,
    FlowOpened,
    StreamData,
    StreamEnd,
    StreamEvent,
    StreamGap,
)


@dataclass
class _Side:
    segments: dict[int, tuple[bytes, int, float]] = field(default_factory=dict)
    isn: int | None = None
    end: tuple[str, int, float] | None = None


def pcap_stream_events(path: Path) -> list[StreamEvent]:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Dot1Q, Ether
    from scapy.utils import rdpcap

    sides: dict[tuple[str, int, str, int], _Side] = {}
    first_seen: dict[FlowKey, tuple[int, float, str | None, tuple[int, ...], bool]] = {}
    for number, packet in enumerate(rdpcap(str(path)), start=1):
        if TCP not in packet:
            continue
        ip = packet[IP] if IP in packet else packet[IPv6] if IPv6 in packet else None
        if ip is None:
            continue
        tcp = packet[TCP]
        src, dst = (str(ip.src), int(tcp.sport)), (str(ip.dst), int(tcp.dport))
        ts = float(packet.time)
        flags = int(tcp.flags)
        server_port_first = dst[1] in (80, 8080) or (src[1] not in (80, 8080) and dst[1] < src[1])
        client, server = (src, dst) if server_port_first else (dst, src)
        key = FlowKey(client[0], client[1], server[0], server[1])
        if key not in first_seen:
            mac = packet[Ether].src if Ether in packet and src == client else None
            tags: list[int] = []
            layer = packet.getlayer(Dot1Q)
            while layer is not None:
                tags.append(int(layer.vlan))
                layer = layer.payload.getlayer(Dot1Q) if layer.payload else None
            first_seen[key] = (number, ts, mac, tuple(tags), bool(flags & 0x02))
        side = sides.setdefault((*src, *dst), _Side())
        payload = bytes(tcp.payload)
        if ip.haslayer("Padding"):
            payload = payload[: max(0, len(payload) - len(bytes(ip["Padding"])))]
        seq = int(tcp.seq)
        if flags & 0x02:
            side.isn = seq + 1
        if payload and seq not in side.segments:
            side.segments[seq] = (payload, number, ts)
        if flags & 0x04 and side.end is None:
            side.end = ("rst", number, ts)
        elif flags & 0x01 and side.end is None:
            side.end = ("fin", number, ts)

    events: list[StreamEvent] = []
    for key, (frame, ts, mac, vlans, syn) in first_seen.items():
        events.append(FlowOpened(key, frame, ts, mac, vlans, "http", syn))
        for direction, src, dst in (
            (
                Direction.TO_SERVER,
                (key.client_ip, key.client_port),
                (key.server_ip, key.server_port),
            ),
            (
                Direction.TO_CLIENT,
                (key.server_ip, key.server_port),
                (key.client_ip, key.client_port),
            ),
        ):
            side = sides.get((*src, *dst), _Side())
            events.extend(_direction_events(key, direction, side))
    return events


def _direction_events(key: FlowKey, direction: Direction, side: _Side) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    expected = side.isn
    last_frame, last_ts = 0, 0.0
    for seq in sorted(side.segments):
        payload, frame, ts = side.segments[seq]
        if expected is None:
            expected = seq
        if seq + len(payload) <= expected:
            continue
        if seq > expected:
            events.append(StreamGap(key, direction, seq - expected, frame, ts))
        elif seq < expected:
            payload = payload[expected - seq :]
        events.append(StreamData(key, direction, payload, frame, ts, frame))
        expected = max(expected, seq) + len(payload)
        last_frame, last_ts = frame, ts
    reason, frame, ts = side.end or ("eof", last_frame, last_ts)
    events.append(StreamEnd(key, direction, reason, frame or None, ts))
    return events
