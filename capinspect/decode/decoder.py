"""Frame bytes → :class:`Packet` / :class:`ArpPacket`, or ``None`` for traffic that cannot matter.

This is the per-frame hot path (performance.md; scapy costs a millisecond a packet). Most frames
of a file never reach it: :mod:`capinspect.decode.sieve` drops them for a whole read buffer at once,
by the same rules, and counts them here. For the rest the decision "could this matter?" is
taken from a few header bytes (``decode_record`` inline, ``struct.unpack_from`` in ``decode``)
and objects (address strings, dataclasses) are built only for what is kept:
UDP to or from port 53, 67, 68 or 123 (NTP), every TCP segment (the reassembler decides which flows
matter) and ARP (evidence of which MAC owns an address).

Link layers: Ethernet (Ethernet II or 802.3 with LLC/SNAP) with any depth of 802.1Q / 802.1ad /
0x9100 tags, Linux cooked v1 and v2,
raw IP, BSD loopback. Network: IPv4 (options skipped, checksum not verified, fragments
reassembled by :mod:`capinspect.decode.ipfrag`) and IPv6 (hop-by-hop, routing and
destination-options headers skipped, fragment header reassembled). Anything else is counted
and dropped.

Tunnels: a remote mirror delivers the phone's frames inside GRE (transparent Ethernet, IPv4,
IPv6), Cisco ERSPAN type I, II or III (over GRE) or VXLAN (UDP 4789), and IP in IP (protocols
4 and 41) carries packets too. They are opened, at most ``Limits.max_tunnel_depth`` deep, and
the packet inside is decoded as if captured locally, its envelope kept as ``Packet.tunnel``.
Encapsulations not opened (Geneve, GRE of another protocol) are counted per kind
(``CaptureStats.tunnels_not_decoded``) and reported once each as ``tunnel.not-decoded``.

Damage never raises: a header cut short becomes a ``decode.truncated`` anomaly, an impossible
header length ``decode.bad-header``. Anomalies go to an :class:`~capinspect.anomalies.AnomalySink`
(the engine's, shared by every stage), which keeps a bounded number per code and counts the rest.
"""

from __future__ import annotations

import ipaddress
import struct

import numpy as np
from numpy.typing import NDArray

from capinspect.anomalies import AnomalySink
from capinspect.decode.ipfrag import FragmentKey, IpDefragmenter
from capinspect.decode.sieve import SieveCounts, sieve
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import (
    Anomaly,
    ArpPacket,
    CaptureStats,
    Packet,
    RawFrame,
    RecordBatch,
    Tunnel,
)

_MAX_ADDRESS_CACHE = 4_096

_ETH_IPV4 = 0x0800
_ETH_ARP = 0x0806
_ETH_IPV6 = 0x86DD
VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100))
"""802.1Q, 802.1ad and the old QinQ 0x9100."""
_ETH_MPLS = frozenset((0x8847, 0x8848))
_MAX_MPLS_LABELS = 16
_LLC_SNAP = b"\xaa\xaa\x03"

_PROTO_TCP = 6
_PROTO_UDP = 17
_PROTO_IPIP = 4
_PROTO_IPV6_IN_IP = 41
_PROTO_GRE = 47
_TUNNEL_PROTOS = frozenset((_PROTO_IPIP, _PROTO_IPV6_IN_IP, _PROTO_GRE))
"""IP protocols that carry another packet: decapsulated (GRE, IPv4 and IPv6 in IP)."""
_VXLAN_PORT = 4789
_GENEVE_PORT = 6081
_TUNNEL_UDP_PORTS = frozenset((_VXLAN_PORT, _GENEVE_PORT))
"""UDP destination ports of encapsulations: VXLAN (decapsulated) and Geneve (counted)."""
_GRE_CHECKSUM = 0x8000
_GRE_ROUTING = 0x4000
_GRE_KEY = 0x2000
_GRE_SEQUENCE = 0x1000
_GRE_TRANSPARENT_ETHERNET = 0x6558
_GRE_ERSPAN_II = 0x88BE
"""ERSPAN type II; type I when the GRE header has no sequence number."""
_GRE_ERSPAN_III = 0x22EB
_IPV6_SKIPPED_HEADERS = frozenset((0, 43, 60))  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44
_ARP_ETHERNET_IPV4 = b"\x00\x01\x08\x00\x06\x04"
"""ARP's hardware type, protocol type and address lengths for Ethernet and IPv4."""
_KEPT_UDP_PORTS = frozenset((53, 67, 68, 123))
_DNS_PORT = 53
_SYN = 0x02
_SYN_FIN_RST = 0x07
_DHCP_PORTS = frozenset((67, 68))
_BSD_AF_INET6 = frozenset((10, 24, 28, 30))  # Linux, NetBSD/OpenBSD, FreeBSD, macOS

_u16 = struct.Struct(">H").unpack_from
_u32_le = struct.Struct("<I").unpack_from
_u32_be = struct.Struct(">I").unpack_from
_ipv4_header = struct.Struct(">BBHHHBBH4s4s").unpack_from
_tcp_header = struct.Struct(">HHIIBB").unpack_from
_udp_header = struct.Struct(">HHH").unpack_from
_arp_header = struct.Struct(">HHBBH").unpack_from
_seq_ack = struct.Struct(">II").unpack_from


class Decoder:
    """Decodes frames one at a time and counts everything it sees (see :meth:`capture_stats`)."""

    def __init__(
        self,
        limits: Limits = DEFAULT_LIMITS,
        tcp_ignored: set[bytes] | None = None,
        sink: AnomalySink | None = None,
    ) -> None:
        """``tcp_ignored`` is the reassembler's table of flows judged not to matter (raw keys,
        see :attr:`TcpReassembler.ignored_raw`): their segments are dropped here, before a
        :class:`Packet` or any address string is made for them. Anomalies go to ``sink``."""
        self.limits = limits
        self.tcp_ignored: set[bytes] = tcp_ignored if tcp_ignored is not None else set()
        self.tcp_dropped = 0
        """TCP segments dropped early: pure ACKs and segments of ignored flows."""
        self._macs: dict[bytes, str] = {}
        self.sink = sink if sink is not None else AnomalySink()
        self.defragmenter = IpDefragmenter(limits)
        self._unsupported_linktypes: set[int] = set()
        self._addresses: dict[bytes, str] = {}
        self._tunnels: dict[tuple[str, bytes, bytes, int | None], Tunnel] = {}
        # Counters (CaptureStats fields).
        self.frames = 0
        self.bytes = 0
        self.frames_kept = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.linktypes: set[int] = set()
        self.vlans: set[int] = set()
        self.udp_frames = 0
        self.tcp_frames = 0
        self.tcp80_frames = 0
        self.tcp443_frames = 0
        self.dhcp_frames = 0
        self.dns_frames = 0
        self.other_frames = 0
        self.tunnels: dict[str, int] = {}
        """Frames decapsulated, per ``Tunnel.kind``."""
        self.tunnels_not_decoded: dict[str, int] = {}
        """Frames inside an encapsulation that is not opened, per kind (one anomaly each)."""

    # -- bookkeeping ----------------------------------------------------------------------

    @property
    def anomalies(self) -> list[Anomaly]:
        """The anomalies its sink kept so far."""
        return self.sink.kept

    def _note(self, code: str, detail: str, frame: RawFrame) -> None:
        self.sink.add(Anomaly(code, detail, frame.index, frame.ts))

    def _truncated(self, what: str, frame: RawFrame) -> None:
        self._note(
            "decode.truncated",
            f"{what} cut short ({len(frame.data)} bytes captured of {frame.orig_len})",
            frame,
        )
        self.other_frames += 1

    def _move_fragment_anomalies(self) -> None:
        self.sink.extend(self.defragmenter.anomalies)
        self.defragmenter.anomalies.clear()

    def _mac_text(self, raw: bytes | None) -> str | None:
        if raw is None:
            return None
        text = self._macs.get(raw)
        if text is None:
            if len(self._macs) >= _MAX_ADDRESS_CACHE:
                self._macs.clear()
            text = self._macs[raw] = raw.hex(":")
        return text

    def _ip_text(self, raw: bytes) -> str:
        text = self._addresses.get(raw)
        if text is None:
            if len(self._addresses) >= _MAX_ADDRESS_CACHE:
                self._addresses.clear()
            text = self._addresses[raw] = str(ipaddress.ip_address(raw))
        return text

    def capture_stats(self, *, flush: bool = True) -> CaptureStats:
        """The counters as the report shows them. At the end of the input (``flush``) the
        fragments still waiting are given up on; a live snapshot passes ``flush=False``."""
        if flush:
            self.defragmenter.finish()
        self._move_fragment_anomalies()
        return CaptureStats(
            frames=self.frames,
            bytes=self.bytes,
            frames_kept=self.frames_kept,
            first_ts=self.first_ts,
            last_ts=self.last_ts,
            linktypes=tuple(sorted(self.linktypes)),
            vlans=tuple(sorted(self.vlans)),
            udp_frames=self.udp_frames,
            tcp_frames=self.tcp_frames,
            tcp443_frames=self.tcp443_frames,
            tcp80_frames=self.tcp80_frames,
            dhcp_frames=self.dhcp_frames,
            dns_frames=self.dns_frames,
            other_frames=self.other_frames,
            tunnels=tuple(sorted(self.tunnels.items())),
            tunnels_not_decoded=tuple(sorted(self.tunnels_not_decoded.items())),
        )

    # -- link layer -----------------------------------------------------------------------

    def decode(self, frame: RawFrame) -> Packet | ArpPacket | None:
        """Decode one frame; ``None`` unless UDP 53/67/68/123, TCP or ARP (or when damaged)."""
        self.frames += 1
        self.bytes += frame.orig_len
        ts = frame.ts
        if self.first_ts is None:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        linktype = frame.linktype
        self.linktypes.add(linktype)
        result = self._decode_link(frame, linktype)
        if result is not None:
            self.frames_kept += 1
        return result

    def sieve(self, batch: RecordBatch) -> NDArray[np.intp]:
        """The first look at a whole buffer of records (see :mod:`capinspect.decode.sieve`): the
        positions of the records that may matter; the others are counted here as
        :meth:`decode` would count them."""
        keep, counts = sieve(batch, self.tcp_ignored, self.limits.max_tunnel_depth >= 1)
        if counts is not None:
            self._add(counts, batch.linktype)
        return keep

    def _add(self, counts: SieveCounts, linktype: int) -> None:
        """Count the records the sieve dropped, as :meth:`decode` would have."""
        self.frames += counts.frames
        self.bytes += counts.bytes
        if self.first_ts is None:
            self.first_ts = counts.first_ts
        if self.last_ts is None or counts.last_ts > self.last_ts:
            self.last_ts = counts.last_ts
        self.linktypes.add(linktype)
        self.udp_frames += counts.udp_frames
        self.tcp_frames += counts.tcp_frames
        self.tcp_dropped += counts.tcp_dropped
        self.tcp80_frames += counts.tcp80_frames
        self.tcp443_frames += counts.tcp443_frames
        self.dns_frames += counts.dns_frames
        self.other_frames += counts.other_frames
        self.vlans.update(counts.vlans)
        for kind, frames in counts.tunnels.items():
            self.tunnels[kind] = self.tunnels.get(kind, 0) + frames

    def decode_record(
        self, index: int, ts: float, linktype: int, data: bytes, orig_len: int, source: int = 0
    ) -> Packet | ArpPacket | None:
        """The hot path: :meth:`decode` for a record given as plain values.

        The common case of a mirror port — Ethernet (with up to any depth of VLAN tags),
        IPv4 without options or fragments or IPv6 without extension headers, TCP, UDP (DNS and
        DHCP included), also inside one remote mirror's envelope (ERSPAN I/II/III, GRE carrying
        Ethernet or IP, VXLAN: the sieve's envelopes) — is decided inline here, from a few
        byte reads, without building a :class:`RawFrame`; anything else (other link layers,
        ARP, options, extension headers, fragments, a header cut short) goes the full way
        through :meth:`decode`. Both ways give the same result (tests/decode/test_decoder.py).
        """
        size = len(data)
        if linktype != 1 or size < 54 or orig_len != size:
            return self.decode(RawFrame(index, ts, linktype, data, orig_len, source))
        ethertype = (data[12] << 8) | data[13]
        ip = 14
        mac = 0  # where the (inner) Ethernet header starts; -1 for IP carried by GRE
        limit = size  # where the (inner) frame's bytes end
        tunnel: Tunnel | None = None
        outer_vlans: tuple[int, ...] = ()
        while True:
            vlans: tuple[int, ...] = ()
            while ethertype == 0x8100 or ethertype == 0x88A8 or ethertype == 0x9100:
                if limit < ip + 44:
                    return self.decode(RawFrame(index, ts, linktype, data, orig_len, source))
                vlans += (((data[ip] & 0x0F) << 8) | data[ip + 1],)
                ethertype = (data[ip + 2] << 8) | data[ip + 3]
                ip += 4
            # Source address at ``addr``, destination at ``middle``, transport header at ``t``;
            # the raw flow key (addresses, then ports: ``TcpReassembler.ignored_raw``) is
            # addr:t + 4.
            if ethertype == _ETH_IPV4 and limit >= ip + 40:
                if data[ip] != 0x45 or (data[ip + 6] & 0x3F) or data[ip + 7]:
                    return self.decode(RawFrame(index, ts, linktype, data, orig_len, source))
                proto = data[ip + 9]
                addr, middle, t = ip + 12, ip + 16, ip + 20
                end = ip + ((data[ip + 2] << 8) | data[ip + 3])
            elif ethertype == _ETH_IPV6 and limit >= ip + 60 and data[ip] >> 4 == 6:
                # IPv6 whose next header is TCP or UDP itself (extension headers, fragments
                # and jumbograms, payload length 0, go the full way).
                proto = data[ip + 6]
                addr, middle, t = ip + 8, ip + 24, ip + 40
                end = t + ((data[ip + 4] << 8) | data[ip + 5])
            elif ethertype == _ETH_ARP and limit >= ip + 28 and mac >= 0:
                return self._arp_record(
                    index, ts, linktype, orig_len, data, ip, vlans, tunnel, outer_vlans
                )
            else:
                return self.decode(RawFrame(index, ts, linktype, data, orig_len, source))
            if end > limit or end < t + 20:
                return self.decode(RawFrame(index, ts, linktype, data, orig_len, source))
            if proto == _PROTO_TCP:
                break
            # A remote mirror's envelope (ERSPAN II/III or GRE over IP, VXLAN over UDP) is
            # opened here and the frame inside judged by the same rules; one envelope deep,
            # anything else about a tunnel goes the full way.
            if proto == _PROTO_UDP:
                if (data[t + 2] << 8) | data[t + 3] != _VXLAN_PORT or tunnel is not None:
                    break
                if (data[t] << 8) | data[t + 1] in _KEPT_UDP_PORTS:
                    break
                udp_length = (data[t + 4] << 8) | data[t + 5]
                if 8 <= udp_length <= end - t:
                    end = t + udp_length
                if end < t + 70 or not data[t + 8] & 0x08 or self.limits.max_tunnel_depth < 1:
                    return self.decode(RawFrame(index, ts, linktype, data, orig_len, source))
                vni = (data[t + 12] << 16) | (data[t + 13] << 8) | data[t + 14]
                tunnel = self._envelope("vxlan", data[addr:middle], data[middle:t], vni)
                mac = t + 16
                ethertype, ip = (data[mac + 12] << 8) | data[mac + 13], mac + 14
            elif proto == _PROTO_GRE and tunnel is None:
                opened = self._gre_envelope(data, t, end, data[addr:middle], data[middle:t])
                if opened is None:
                    return self.decode(RawFrame(index, ts, linktype, data, orig_len, source))
                tunnel, mac, ethertype, ip = opened
            else:
                return self.decode(RawFrame(index, ts, linktype, data, orig_len, source))
            limit, outer_vlans = end, vlans
        if proto == _PROTO_TCP:
            header_len = (data[t + 12] >> 4) * 4
            if header_len < 20 or t + header_len > end:
                return self.decode(RawFrame(index, ts, linktype, data, orig_len, source))
            self._count(ts, orig_len, linktype, vlans)
            if tunnel is not None:
                self._count_tunnel(tunnel.kind, outer_vlans)
            sport = (data[t] << 8) | data[t + 1]
            dport = (data[t + 2] << 8) | data[t + 3]
            self.tcp_frames += 1
            if sport == 80 or dport == 80:
                self.tcp80_frames += 1
            elif sport == 443 or dport == 443:
                self.tcp443_frames += 1
            if sport == 53 or dport == 53:
                self.dns_frames += 1
            flags = data[t + 13]
            if not flags & _SYN_FIN_RST:
                if t + header_len >= end:
                    self.tcp_dropped += 1
                    return None
                if data[addr : t + 4] in self.tcp_ignored:
                    self.tcp_dropped += 1
                    return None
            elif not flags & _SYN and data[addr : t + 4] in self.tcp_ignored:
                self.tcp_dropped += 1
                return None
            seq, ack = _seq_ack(data, t + 4)
            self.frames_kept += 1
            if mac < 0:
                src_mac = dst_mac = None
            else:
                src_mac = self._mac_text(data[mac + 6 : mac + 12])
                dst_mac = self._mac_text(data[mac : mac + 6])
            return Packet(
                index, ts, src_mac, dst_mac, vlans,
                self._ip_text(data[addr:middle]), self._ip_text(data[middle:t]),
                _PROTO_TCP, sport, dport, data[t + header_len : end], seq, ack, flags,
                tunnel=tunnel,
            )  # fmt: skip
        sport = (data[t] << 8) | data[t + 1]
        dport = (data[t + 2] << 8) | data[t + 3]
        if sport not in _KEPT_UDP_PORTS and dport not in _KEPT_UDP_PORTS:
            if dport in _TUNNEL_UDP_PORTS:
                return self.decode(RawFrame(index, ts, linktype, data, orig_len, source))
            self._count(ts, orig_len, linktype, vlans)
            if tunnel is not None:
                self._count_tunnel(tunnel.kind, outer_vlans)
            self.udp_frames += 1
            return None
        self._count(ts, orig_len, linktype, vlans)
        if tunnel is not None:
            self._count_tunnel(tunnel.kind, outer_vlans)
        self.udp_frames += 1
        if sport in _DHCP_PORTS or dport in _DHCP_PORTS:
            self.dhcp_frames += 1
        elif sport == _DNS_PORT or dport == _DNS_PORT:
            self.dns_frames += 1
        udp_length = (data[t + 4] << 8) | data[t + 5]
        if 8 <= udp_length <= end - t:
            end = t + udp_length
        self.frames_kept += 1
        if mac < 0:
            src_mac = dst_mac = None
        else:
            src_mac = self._mac_text(data[mac + 6 : mac + 12])
            dst_mac = self._mac_text(data[mac : mac + 6])
        return Packet(
            index, ts, src_mac, dst_mac, vlans,
            self._ip_text(data[addr:middle]), self._ip_text(data[middle:t]),
            _PROTO_UDP, sport, dport, data[t + 8 : end], tunnel=tunnel,
        )  # fmt: skip

    def _arp_record(
        self,
        index: int,
        ts: float,
        linktype: int,
        orig_len: int,
        data: bytes,
        at: int,
        vlans: tuple[int, ...],
        tunnel: Tunnel | None,
        outer_vlans: tuple[int, ...],
    ) -> ArpPacket | None:
        """The fast path's ARP (a quarter of what a mirror port's sieve keeps): what
        :meth:`_arp` gives for an ARP message whose 28 bytes are all there."""
        self._count(ts, orig_len, linktype, vlans)
        if tunnel is not None:
            self._count_tunnel(tunnel.kind, outer_vlans)
        self.other_frames += 1
        if data[at : at + 6] != _ARP_ETHERNET_IPV4:
            return None
        self.frames_kept += 1
        body = at + 8
        return ArpPacket(
            index, ts, vlans, (data[at + 6] << 8) | data[at + 7],
            data[body : body + 6].hex(":"), self._ip_text(data[body + 6 : body + 10]),
            data[body + 10 : body + 16].hex(":"), self._ip_text(data[body + 16 : body + 20]),
        )  # fmt: skip

    def _count_tunnel(self, kind: str, outer_vlans: tuple[int, ...]) -> None:
        """What :meth:`decode` counts for a frame's envelope: the tunnel and its VLAN tags."""
        self.tunnels[kind] = self.tunnels.get(kind, 0) + 1
        if outer_vlans:
            self.vlans.update(outer_vlans)

    def _envelope(self, kind: str, src: bytes, dst: bytes, ident: int | None) -> Tunnel:
        """The :class:`Tunnel` of a remote mirror's session, made once per session."""
        key = (kind, src, dst, ident)
        tunnel = self._tunnels.get(key)
        if tunnel is None:
            if len(self._tunnels) >= _MAX_ADDRESS_CACHE:
                self._tunnels.clear()
            tunnel = Tunnel(kind, self._ip_text(src), self._ip_text(dst), ident)
            self._tunnels[key] = tunnel
        return tunnel

    def _gre_envelope(
        self, data: bytes, t: int, end: int, src: bytes, dst: bytes
    ) -> tuple[Tunnel, int, int, int] | None:
        """The fast path's reading of a GRE envelope at ``t`` (the packet's bytes end at
        ``end``): the tunnel, where the Ethernet header inside starts (-1 for IP carried
        directly), the ethertype and where the header behind it starts; ``None`` for anything
        the fast path leaves to :meth:`_gre` (damage, other protocols, ERSPAN III carrying IP,
        a frame inside too short for the rules)."""
        flags = (data[t] << 8) | data[t + 1]
        protocol = (data[t + 2] << 8) | data[t + 3]
        if flags & (_GRE_ROUTING | 0x07) or self.limits.max_tunnel_depth < 1:
            return None
        at = t + 4
        if flags & _GRE_CHECKSUM:
            at += 4
        key: int | None = None
        if flags & _GRE_KEY:
            key = _u32_be(data, at)[0]
            at += 4
        if flags & _GRE_SEQUENCE:
            at += 4
        if protocol == _GRE_TRANSPARENT_ETHERNET:
            tunnel, mac = self._envelope("gre", src, dst, key), at
        elif protocol == _GRE_ERSPAN_II and not flags & _GRE_SEQUENCE:
            tunnel, mac = self._envelope("erspan-i", src, dst, None), at
        elif protocol == _GRE_ERSPAN_II:
            if end < at + 8 or data[at] >> 4 != 1:
                return None
            session = ((data[at + 2] & 0x03) << 8) | data[at + 3]
            tunnel, mac = self._envelope("erspan-ii", src, dst, session), at + 8
        elif protocol == _GRE_ERSPAN_III:
            if end < at + 12 or data[at] >> 4 != 2 or (data[at + 10] >> 2) & 0x1F:
                return None
            session = ((data[at + 2] & 0x03) << 8) | data[at + 3]
            mac = at + (20 if data[at + 11] & 0x01 else 12)
            tunnel = self._envelope("erspan-iii", src, dst, session)
        elif protocol == _ETH_IPV4 or protocol == _ETH_IPV6:
            if end < at + 40:
                return None
            return self._envelope("gre", src, dst, key), -1, protocol, at
        else:
            return None
        if end < mac + 54:
            return None
        return tunnel, mac, (data[mac + 12] << 8) | data[mac + 13], mac + 14

    def _count(self, ts: float, orig_len: int, linktype: int, vlans: tuple[int, ...]) -> None:
        """What :meth:`decode` counts for every frame, for frames the fast path settles."""
        self.frames += 1
        self.bytes += orig_len
        if self.first_ts is None:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        self.linktypes.add(linktype)
        if vlans:
            self.vlans.update(vlans)

    def _decode_link(self, frame: RawFrame, linktype: int) -> Packet | ArpPacket | None:
        data = frame.data
        src_mac: bytes | None = None
        dst_mac: bytes | None = None
        vlans: tuple[int, ...] = ()
        if linktype == 1:
            return self._ethernet(frame, data, 0, None)
        if linktype == 113 or linktype == 276:
            if linktype == 113:
                if len(data) < 16:
                    self._truncated("Linux cooked header", frame)
                    return None
                hatype, address_len = _u16(data, 2)[0], _u16(data, 4)[0]
                address = data[6:14]
                ethertype = _u16(data, 14)[0]
                offset = 16
            else:
                if len(data) < 20:
                    self._truncated("Linux cooked v2 header", frame)
                    return None
                ethertype = _u16(data, 0)[0]
                hatype, address_len = _u16(data, 8)[0], data[11]
                address = data[12:20]
                offset = 20
            while ethertype in VLAN_TPIDS:
                if len(data) < offset + 4:
                    self._truncated("VLAN tag", frame)
                    return None
                vlans += (_u16(data, offset)[0] & 0x0FFF,)
                ethertype = _u16(data, offset + 2)[0]
                offset += 4
            self.vlans.update(vlans)
            if ethertype != _ETH_IPV4 and ethertype != _ETH_IPV6 and ethertype != _ETH_ARP:
                self.other_frames += 1
                return None
            if hatype == 1 and address_len == 6:  # ARPHRD_ETHER: the sender's MAC
                src_mac = address[:6]
        elif linktype == 101:
            if not data:
                self._truncated("raw IP packet", frame)
                return None
            version = data[0] >> 4
            ethertype = _ETH_IPV4 if version == 4 else _ETH_IPV6 if version == 6 else 0
            offset = 0
        elif linktype == 228:
            ethertype, offset = _ETH_IPV4, 0
        elif linktype == 229:
            ethertype, offset = _ETH_IPV6, 0
        elif linktype == 0:
            if len(data) < 4:
                self._truncated("loopback header", frame)
                return None
            # The address family is in the capturing host's byte order, which the file does
            # not record: accept either.
            family_le, family_be = _u32_le(data, 0)[0], _u32_be(data, 0)[0]
            if family_le == 2 or family_be == 2:
                ethertype = _ETH_IPV4
            elif family_le in _BSD_AF_INET6 or family_be in _BSD_AF_INET6:
                ethertype = _ETH_IPV6
            else:
                ethertype = 0
            offset = 4
        else:
            self.other_frames += 1
            if linktype not in self._unsupported_linktypes:
                self._unsupported_linktypes.add(linktype)
                self._note(
                    "decode.unsupported-linktype",
                    f"link type {linktype} is not decoded; its frames are only counted",
                    frame,
                )
            return None
        if ethertype == _ETH_IPV4:
            return self._ipv4(frame, data, offset, src_mac, dst_mac, vlans)
        if ethertype == _ETH_IPV6:
            return self._ipv6(frame, data, offset, src_mac, dst_mac, vlans)
        if ethertype == _ETH_ARP:
            return self._arp(frame, data, offset, vlans)
        self.other_frames += 1
        return None

    def _ethernet(
        self, frame: RawFrame, data: bytes, start: int, tunnel: Tunnel | None
    ) -> Packet | ArpPacket | None:
        """An Ethernet frame from ``start``: the captured frame, or one found in a tunnel."""
        if len(data) < start + 14:
            self._truncated("Ethernet header", frame)
            return None
        ethertype = (data[start + 12] << 8) | data[start + 13]
        offset = start + 14
        vlans: tuple[int, ...] = ()
        if ethertype in VLAN_TPIDS:
            tags: list[int] = []
            while ethertype in VLAN_TPIDS:
                if len(data) < offset + 4:
                    self._truncated("VLAN tag", frame)
                    return None
                tags.append(_u16(data, offset)[0] & 0x0FFF)
                ethertype = _u16(data, offset + 2)[0]
                offset += 4
            vlans = tuple(tags)
            self.vlans.update(tags)
        if ethertype in _ETH_MPLS:
            # MPLS (a carrier's or a WAN mirror): skip the label stack down to the bottom
            # label; the payload is IPv4 or IPv6, told by its version nibble (RFC 3032).
            for _ in range(_MAX_MPLS_LABELS):
                if len(data) < offset + 5:
                    self._truncated("MPLS label", frame)
                    return None
                bottom = data[offset + 2] & 0x01
                offset += 4
                if bottom:
                    break
            version = data[offset] >> 4
            ethertype = _ETH_IPV4 if version == 4 else _ETH_IPV6 if version == 6 else 0
        if ethertype <= 1500 and data[offset : offset + 3] == _LLC_SNAP:
            # 802.3 length field + LLC/SNAP: the real EtherType follows the SNAP OUI.
            if len(data) < offset + 8:
                self._truncated("LLC/SNAP header", frame)
                return None
            ethertype = _u16(data, offset + 6)[0]
            offset += 8
        dst_mac = data[start : start + 6]
        src_mac = data[start + 6 : start + 12]
        if ethertype == _ETH_IPV4:
            return self._ipv4(frame, data, offset, src_mac, dst_mac, vlans, tunnel)
        if ethertype == _ETH_IPV6:
            return self._ipv6(frame, data, offset, src_mac, dst_mac, vlans, tunnel)
        if ethertype == _ETH_ARP:
            return self._arp(frame, data, offset, vlans)
        self.other_frames += 1
        return None

    # -- network layer --------------------------------------------------------------------

    def _ipv4(
        self,
        frame: RawFrame,
        data: bytes,
        offset: int,
        src_mac: bytes | None,
        dst_mac: bytes | None,
        vlans: tuple[int, ...],
        tunnel: Tunnel | None = None,
    ) -> Packet | ArpPacket | None:
        if len(data) < offset + 20:
            self._truncated("IPv4 header", frame)
            return None
        (version_ihl, _, total_length, ident, flags_fragment, _, proto, _, src, dst) = _ipv4_header(
            data, offset
        )
        header_len = (version_ihl & 0x0F) * 4
        if version_ihl >> 4 != 4 or header_len < 20:
            self._note(
                "decode.bad-header",
                f"IPv4 header with version {version_ihl >> 4} and length {header_len}",
                frame,
            )
            self.other_frames += 1
            return None
        if proto != _PROTO_TCP and proto != _PROTO_UDP and proto not in _TUNNEL_PROTOS:
            self.other_frames += 1
            return None
        start = offset + header_len
        if len(data) < start:
            self._truncated("IPv4 options", frame)
            return None
        # total_length 0 is what TCP segmentation offload leaves in locally captured packets.
        end = offset + total_length if total_length else len(data)
        if end < start:
            self._note(
                "decode.bad-header",
                f"IPv4 total length {total_length} is shorter than its header ({header_len})",
                frame,
            )
            self.other_frames += 1
            return None
        truncated = end > len(data) or frame.orig_len > len(frame.data)
        fragment_offset = (flags_fragment & 0x1FFF) * 8
        more_fragments = bool(flags_fragment & 0x2000)
        if fragment_offset or more_fragments:
            return self._fragment(
                frame,
                (src, dst, ident, proto),
                fragment_offset,
                more_fragments,
                data[start:end],
                truncated,
                (src, dst, proto, src_mac, dst_mac, vlans),
                tunnel,
            )
        return self._transport(
            frame, proto, data, start, min(end, len(data)), src, dst, src_mac, dst_mac, vlans,
            truncated, (), tunnel,
        )  # fmt: skip

    def _ipv6(
        self,
        frame: RawFrame,
        data: bytes,
        offset: int,
        src_mac: bytes | None,
        dst_mac: bytes | None,
        vlans: tuple[int, ...],
        tunnel: Tunnel | None = None,
    ) -> Packet | ArpPacket | None:
        if len(data) < offset + 40:
            self._truncated("IPv6 header", frame)
            return None
        if data[offset] >> 4 != 6:
            self._note("decode.bad-header", f"IPv6 header with version {data[offset] >> 4}", frame)
            self.other_frames += 1
            return None
        payload_length = _u16(data, offset + 4)[0]
        next_header = data[offset + 6]
        src = data[offset + 8 : offset + 24]
        dst = data[offset + 24 : offset + 40]
        start = offset + 40
        end = start + payload_length if payload_length else len(data)
        fragment: tuple[int, bool, int] | None = None
        while next_header in _IPV6_SKIPPED_HEADERS or next_header == _IPV6_FRAGMENT:
            if len(data) < start + 8:
                self._truncated("IPv6 extension header", frame)
                return None
            if next_header == _IPV6_FRAGMENT:
                offset_flags = _u16(data, start + 2)[0]
                fragment = (
                    offset_flags & 0xFFF8,
                    bool(offset_flags & 1),
                    _u32_be(data, start + 4)[0],
                )
                following, length = data[start], 8
            else:
                following, length = data[start], (data[start + 1] + 1) * 8
            next_header = following
            start += length
        if (
            next_header != _PROTO_TCP
            and next_header != _PROTO_UDP
            and next_header not in _TUNNEL_PROTOS
        ):
            self.other_frames += 1
            return None
        if start > end:
            self._note("decode.bad-header", "IPv6 extension headers run past the payload", frame)
            self.other_frames += 1
            return None
        truncated = end > len(data) or frame.orig_len > len(frame.data)
        if fragment is not None and (fragment[0] or fragment[1]):
            fragment_offset, more_fragments, ident = fragment
            return self._fragment(
                frame,
                (src, dst, ident, next_header),
                fragment_offset,
                more_fragments,
                data[start:end],
                truncated,
                (src, dst, next_header, src_mac, dst_mac, vlans),
                tunnel,
            )
        return self._transport(
            frame, next_header, data, start, min(end, len(data)), src, dst, src_mac, dst_mac,
            vlans, truncated, (), tunnel,
        )  # fmt: skip

    def _fragment(
        self,
        frame: RawFrame,
        key: FragmentKey,
        fragment_offset: int,
        more_fragments: bool,
        piece: bytes,
        truncated: bool,
        context: tuple[bytes, bytes, int, bytes | None, bytes | None, tuple[int, ...]],
        tunnel: Tunnel | None,
    ) -> Packet | ArpPacket | None:
        """Hand a fragment to the defragmenter; decode the datagram when it completes."""
        if truncated:
            # Its missing bytes would leave a hole; the datagram ends as incomplete.
            self._note("decode.truncated", "IP fragment cut by the snap length", frame)
            self.other_frames += 1
            return None
        complete = self.defragmenter.add(
            key, fragment_offset, more_fragments, piece, frame.index, frame.ts
        )
        if self.defragmenter.anomalies:
            self._move_fragment_anomalies()
        if complete is None:
            self.other_frames += 1
            return None
        src, dst, proto, src_mac, dst_mac, vlans = context
        payload = complete.payload
        return self._transport(
            frame, proto, payload, 0, len(payload), src, dst, src_mac, dst_mac, vlans, False,
            complete.frames, tunnel,
        )  # fmt: skip

    # -- transport layer ------------------------------------------------------------------

    def _transport(
        self,
        frame: RawFrame,
        proto: int,
        data: bytes,
        start: int,
        end: int,
        src: bytes,
        dst: bytes,
        src_mac: bytes | None,
        dst_mac: bytes | None,
        vlans: tuple[int, ...],
        truncated: bool,
        fragments: tuple[int, ...],
        tunnel: Tunnel | None = None,
    ) -> Packet | ArpPacket | None:
        if proto == _PROTO_UDP:
            if end - start < 8:
                self._truncated("UDP header", frame)
                return None
            sport, dport, udp_length = _udp_header(data, start)
            if sport not in _KEPT_UDP_PORTS and dport not in _KEPT_UDP_PORTS:
                if dport == _VXLAN_PORT:
                    if 8 <= udp_length <= end - start:
                        end = start + udp_length
                    return self._vxlan(frame, data, start + 8, end, src, dst, tunnel)
                self.udp_frames += 1
                if dport == _GENEVE_PORT:
                    self._not_decoded("Geneve", "Geneve (UDP 6081)", frame, src, dst)
                return None
            self.udp_frames += 1
            if sport in _DHCP_PORTS or dport in _DHCP_PORTS:
                self.dhcp_frames += 1
            elif sport == _DNS_PORT or dport == _DNS_PORT:
                self.dns_frames += 1
            if 8 <= udp_length <= end - start:
                end = start + udp_length
            return Packet(
                frame.index, frame.ts, self._mac_text(src_mac), self._mac_text(dst_mac), vlans,
                self._ip_text(src), self._ip_text(dst), _PROTO_UDP, sport, dport,
                data[start + 8 : end], truncated=truncated, frames=fragments, tunnel=tunnel,
            )  # fmt: skip
        if proto != _PROTO_TCP:
            if proto == _PROTO_GRE:
                return self._gre(frame, data, start, end, src, dst, tunnel)
            # IP in IP (RFC 2003, RFC 4213): the payload is the inner packet itself.
            inner = "ipv4" if proto == _PROTO_IPIP else "ipv6"
            return self._open(frame, data[start:end], inner, "ip-in-ip", src, dst, None, tunnel)
        if end - start < 20:
            self._truncated("TCP header", frame)
            return None
        sport, dport, seq, ack, data_offset, flags = _tcp_header(data, start)
        header_len = (data_offset >> 4) * 4
        if header_len < 20:
            self._note("decode.bad-header", f"TCP data offset {header_len} is below 20", frame)
            self.other_frames += 1
            return None
        if header_len > end - start:
            self._truncated("TCP options", frame)
            return None
        self.tcp_frames += 1
        if sport == 80 or dport == 80:
            self.tcp80_frames += 1
        elif sport == 443 or dport == 443:
            self.tcp443_frames += 1
        if sport == 53 or dport == 53:
            self.dns_frames += 1
        if not flags & _SYN_FIN_RST:
            if start + header_len >= end:
                # A pure ACK moves no stream byte: nothing downstream needs it.
                self.tcp_dropped += 1
                return None
            if src + dst + data[start : start + 4] in self.tcp_ignored:
                self.tcp_dropped += 1
                return None
        elif not flags & _SYN and src + dst + data[start : start + 4] in self.tcp_ignored:
            self.tcp_dropped += 1
            return None
        return Packet(
            frame.index, frame.ts, self._mac_text(src_mac), self._mac_text(dst_mac), vlans,
            self._ip_text(src), self._ip_text(dst), _PROTO_TCP, sport, dport,
            data[start + header_len : end], seq, ack, flags, truncated, fragments, tunnel,
        )  # fmt: skip

    # -- tunnels --------------------------------------------------------------------------

    def _gre(
        self,
        frame: RawFrame,
        data: bytes,
        start: int,
        end: int,
        src: bytes,
        dst: bytes,
        tunnel: Tunnel | None,
    ) -> Packet | ArpPacket | None:
        """GRE (RFC 2784, RFC 2890): bridged Ethernet, IPv4, IPv6 or ERSPAN inside.

        Why: a remote mirror (Cisco ERSPAN, a GRE tap) delivers the phone's frames wrapped;
        unwrapped, they are judged as if the capture had been taken on the phone's switch."""
        if end - start < 4:
            self._truncated("GRE header", frame)
            return None
        flags, protocol = _u16(data, start)[0], _u16(data, start + 2)[0]
        version = flags & 0x07
        if version or flags & _GRE_ROUTING:
            # Version 1 is PPTP's enhanced GRE; source routing (RFC 1701) is obsolete.
            what = f"GRE version {version}" if version else "GRE with source routing"
            self._not_decoded(what, what, frame, src, dst)
            self.other_frames += 1
            return None
        at = start + 4
        if flags & (_GRE_CHECKSUM | _GRE_ROUTING):
            at += 4
        key: int | None = None
        if flags & _GRE_KEY:
            if end < at + 4:
                self._truncated("GRE header", frame)
                return None
            key = _u32_be(data, at)[0]
            at += 4
        if flags & _GRE_SEQUENCE:
            at += 4
        if end < at:
            self._truncated("GRE header", frame)
            return None
        if protocol == _GRE_TRANSPARENT_ETHERNET:
            return self._open(frame, data[at:end], "ethernet", "gre", src, dst, key, tunnel)
        if protocol == _ETH_IPV4 or protocol == _ETH_IPV6:
            inner = "ipv4" if protocol == _ETH_IPV4 else "ipv6"
            return self._open(frame, data[at:end], inner, "gre", src, dst, key, tunnel)
        if protocol == _GRE_ERSPAN_II and not flags & _GRE_SEQUENCE:
            # ERSPAN type I: no ERSPAN header, the mirrored frame follows GRE.
            return self._open(frame, data[at:end], "ethernet", "erspan-i", src, dst, None, tunnel)
        if protocol == _GRE_ERSPAN_II or protocol == _GRE_ERSPAN_III:
            return self._erspan(frame, data, at, end, protocol, src, dst, tunnel)
        self._not_decoded(
            f"GRE protocol 0x{protocol:04x}", f"GRE carrying protocol 0x{protocol:04x}",
            frame, src, dst,
        )  # fmt: skip
        self.other_frames += 1
        return None

    def _erspan(
        self,
        frame: RawFrame,
        data: bytes,
        at: int,
        end: int,
        protocol: int,
        src: bytes,
        dst: bytes,
        tunnel: Tunnel | None,
    ) -> Packet | ArpPacket | None:
        """Cisco ERSPAN type II (8-byte header) and type III (12 bytes, and an 8-byte platform
        sub-header when its O flag is set): the mirrored frame follows."""
        kind, size, version = (
            ("erspan-ii", 8, 1) if protocol == _GRE_ERSPAN_II else ("erspan-iii", 12, 2)
        )
        if end < at + size:
            self._truncated(f"ERSPAN type {kind[7:].upper()} header", frame)
            return None
        if data[at] >> 4 != version:
            self._note(
                "tunnel.bad-header",
                f"ERSPAN version {data[at] >> 4} in a GRE packet of protocol 0x{protocol:04x} "
                f"(type {kind[7:].upper()} is version {version})",
                frame,
            )
            self.other_frames += 1
            return None
        session = ((data[at + 2] & 0x03) << 8) | data[at + 3]
        inner = "ethernet"
        if version == 2:
            frame_type = (data[at + 10] >> 2) & 0x1F
            if data[at + 11] & 0x01:  # O: a platform-specific sub-header follows
                size += 8
                if end < at + size:
                    self._truncated("ERSPAN type III platform sub-header", frame)
                    return None
            if frame_type == 2:  # an IP packet without its Ethernet header
                version_nibble = data[at + size] >> 4 if end > at + size else 0
                inner = "ipv6" if version_nibble == 6 else "ipv4"
            elif frame_type != 0:
                self._note(
                    "tunnel.bad-header",
                    f"ERSPAN type III frame type {frame_type} (0 is Ethernet, 2 is IP)",
                    frame,
                )
                self.other_frames += 1
                return None
        return self._open(frame, data[at + size : end], inner, kind, src, dst, session, tunnel)

    def _vxlan(
        self,
        frame: RawFrame,
        data: bytes,
        start: int,
        end: int,
        src: bytes,
        dst: bytes,
        tunnel: Tunnel | None,
    ) -> Packet | ArpPacket | None:
        """VXLAN (RFC 7348, UDP 4789): a virtual switch's tap or a cloud traffic mirror."""
        if end - start < 8:
            self._truncated("VXLAN header", frame)
            return None
        flags = data[start]
        if not flags & 0x08:
            self._note(
                "tunnel.bad-header",
                f"VXLAN flags 0x{flags:02x} without the I flag (no valid network identifier)",
                frame,
            )
            self.other_frames += 1
            return None
        vni = int.from_bytes(data[start + 4 : start + 7], "big")
        return self._open(frame, data[start + 8 : end], "ethernet", "vxlan", src, dst, vni, tunnel)

    def _open(
        self,
        frame: RawFrame,
        inner: bytes,
        layer: str,
        kind: str,
        src: bytes,
        dst: bytes,
        ident: int | None,
        tunnel: Tunnel | None,
    ) -> Packet | ArpPacket | None:
        """Decode the packet found in a tunnel (``layer``: ethernet, ipv4 or ipv6) as if it had
        been captured locally, noting its envelope; at most ``max_tunnel_depth`` deep."""
        depth = 1
        outer = tunnel
        while outer is not None:
            depth += 1
            outer = outer.outer
        if depth > self.limits.max_tunnel_depth:
            self._note(
                "tunnel.too-deep",
                f"a {kind} tunnel nested {depth} deep (at most {self.limits.max_tunnel_depth} "
                "are opened); the frame is counted, not analysed",
                frame,
            )
            self.other_frames += 1
            return None
        self.tunnels[kind] = self.tunnels.get(kind, 0) + 1
        envelope = Tunnel(kind, self._ip_text(src), self._ip_text(dst), ident, tunnel)
        if layer == "ethernet":
            return self._ethernet(frame, inner, 0, envelope)
        if layer == "ipv4":
            return self._ipv4(frame, inner, 0, None, None, (), envelope)
        return self._ipv6(frame, inner, 0, None, None, (), envelope)

    def _not_decoded(self, kind: str, what: str, frame: RawFrame, src: bytes, dst: bytes) -> None:
        """Count a frame of an encapsulation that is not opened; the first of each kind is an
        anomaly, so the report says that traffic went unseen."""
        seen = self.tunnels_not_decoded.get(kind, 0)
        self.tunnels_not_decoded[kind] = seen + 1
        if not seen:
            self._note(
                "tunnel.not-decoded",
                f"{what} from {self._ip_text(src)} to {self._ip_text(dst)}: frames inside are "
                "counted, not analysed (the first of them)",
                frame,
            )

    # -- ARP ------------------------------------------------------------------------------

    def _arp(
        self, frame: RawFrame, data: bytes, offset: int, vlans: tuple[int, ...]
    ) -> ArpPacket | None:
        if len(data) < offset + 8:
            self._truncated("ARP header", frame)
            return None
        hardware, protocol, hardware_len, protocol_len, op = _arp_header(data, offset)
        if hardware != 1 or protocol != _ETH_IPV4 or hardware_len != 6 or protocol_len != 4:
            self.other_frames += 1
            return None
        if len(data) < offset + 28:
            self._truncated("ARP body", frame)
            return None
        body = offset + 8
        self.other_frames += 1
        return ArpPacket(
            frame.index,
            frame.ts,
            vlans,
            op,
            data[body : body + 6].hex(":"),
            self._ip_text(data[body + 6 : body + 10]),
            data[body + 10 : body + 16].hex(":"),
            self._ip_text(data[body + 16 : body + 20]),
        )
