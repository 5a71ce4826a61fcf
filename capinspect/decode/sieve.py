"""The first look at a whole buffer of records at once: which of them cannot matter.

Why: on a mirror-port capture nearly every record is unrelated traffic, and a Python call that
reads a few header bytes still costs about a microsecond a record — most of the time of a run.
Here the same header bytes are read for every record of a read buffer (about a thousand) with
numpy gathers, so deciding costs a few nanoseconds a record and only the records that may
matter are sliced out of the buffer and handed to the engine one by one.

The rules are those by which :meth:`capinspect.decode.decoder.Decoder.decode` drops a frame,
for the frames whose headers are plain enough to judge in bulk, and the dropped records are
counted exactly as the decoder counts them. tests/decode/test_sieve.py proves, on every
capture and on random frames, that the sieve drops only what the decoder drops and drops all
of it that a plain reading of the rules below allows.
A record is dropped only when it is, without doubt:

* Ethernet, not cut by the snap length, at least 54 bytes, behind any depth of VLAN tags;
* IPv4 without options or fragmentation, its total length inside the record, or IPv6 whose
  next header is TCP or UDP itself (no extension header), its payload length inside the record;
* and then UDP to and from ports other than 53, 67, 68 and 123 (and not to VXLAN's 4789 or
  Geneve's 6081); or a TCP segment that is a pure acknowledgement (no payload, no SYN, FIN or
  RST), or carries payload, FIN or RST for a flow the reassembler has decided to ignore (the
  same raw key as the decoder's, 12 bytes for IPv4, 36 for IPv6); or an IPv4 protocol, or an
  IPv6 next header, other than TCP, UDP and the tunnels' (GRE 47, IP in IP 4 and 41) — and,
  for IPv6, other than the extension headers (hop-by-hop, routing, fragment, destination
  options), which the decoder walks.

Remote mirrors' envelopes are opened here too, one deep, as the decoder opens them: GRE
(version 0, no source routing, any of checksum, key and sequence number) carrying transparent
Ethernet (0x6558), IPv4 or IPv6; ERSPAN type I, II and III (frame type Ethernet, with or without
the platform sub-header) over GRE; VXLAN (UDP to 4789 from a port other than 53/67/68/123, I flag
set), over IPv4 or IPv6 (no extension header). The frame inside (at least 54 bytes, or an IP
packet of 40) is judged by the rules above and, when dropped, counted as the decoder counts
it, with its envelope (``Decoder.tunnels``) and the outer VLAN tags. Anything else about a
tunnel (damaged envelopes, Geneve, IP in IP, ERSPAN III carrying IP, a tunnel inside a tunnel)
goes on to the decoder.

Everything else goes on to :meth:`Decoder.decode_record`, which decides again, record by record.

The ignored flows are those of the moment the buffer is looked at. A flow the reassembler is
still judging (its first bytes gathered over several segments, ``flows/tcp.py``) is not in the
ignore table, so its segments all go on until it is judged. A flow the engine begins
to ignore inside the buffer is dropped by ``decode_record`` instead (same counts). A flow
that stops being ignored inside the buffer does so on a SYN, which is never dropped: every
record of a 4-tuple that has a SYN in the buffer goes on, so a reused 4-tuple's new
connection is seen whole. Two differences remain, both within one buffer (about a thousand
records): an ignored flow evicted from the full ignore table (``Limits.max_flows``) has its
segments there still dropped, the eviction taking effect from the next buffer; and a SYN whose
IPv4 header carries options (which the sieve passes on without reading its ports) does not
shield the segments of its 4-tuple that follow it in the same buffer (nor does an IPv6 SYN
behind extension headers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from capinspect.model import RecordBatch

_ETHERNET = 1
_ETH_IPV4 = 0x0800
_ETH_IPV6 = 0x86DD
_PROTO_TCP = 6
_PROTO_UDP = 17
_PROTO_IPIP = 4
_PROTO_IPV6_IN_IP = 41
_PROTO_GRE = 47
_VXLAN_PORT = 4789
_GENEVE_PORT = 6081
_SYN = 0x02
_KEY_BYTES = np.arange(12, 24, dtype=np.int64)
"""Offsets of the raw flow key from the IPv4 header: addresses, then the TCP ports."""
_SWAP = np.array([4, 5, 6, 7, 0, 1, 2, 3, 10, 11, 8, 9])
"""Reorders a raw flow key into the other direction's key."""
_KEY_BYTES_V6 = np.arange(8, 44, dtype=np.int64)
"""Offsets of the raw flow key from an IPv6 header whose next header is TCP."""
_SWAP_V6 = np.array([*range(16, 32), *range(0, 16), 34, 35, 32, 33])
_IPV6_GOES_ON = np.zeros(256, dtype=bool)
_IPV6_GOES_ON[[0, 43, 60, 44, 6, 17, _PROTO_IPIP, _PROTO_IPV6_IN_IP, _PROTO_GRE]] = True
"""IPv6 next headers the sieve does not count as "other" (a table by next header): extension
headers (skipped or reassembled by the decoder), TCP, UDP and the tunnels."""


@dataclass(slots=True)
class SieveCounts:
    """What the decoder would have counted for the records the sieve dropped (the
    ``CaptureStats`` fields, and the TCP segments dropped early); the decoder adds them to its
    own counters (``Decoder.sieve``)."""

    frames: int = 0
    bytes: int = 0
    first_ts: float = 0.0
    """The batch's first record's time (every record of a batch is counted, by the sieve or
    by the decoder: the first is first)."""
    last_ts: float = 0.0
    """The latest time among the dropped records."""
    udp_frames: int = 0
    tcp_frames: int = 0
    tcp_dropped: int = 0
    tcp80_frames: int = 0
    tcp443_frames: int = 0
    dns_frames: int = 0
    other_frames: int = 0
    vlans: set[int] = field(default_factory=set)
    tunnels: dict[str, int] = field(default_factory=dict)
    """Dropped frames found inside a tunnel, per ``Tunnel.kind``."""


def sieve(
    batch: RecordBatch, tcp_ignored: set[bytes], open_tunnels: bool = True
) -> tuple[NDArray[np.intp], SieveCounts | None]:
    """Positions in ``batch`` of the records that may matter, in order, and what
    :meth:`Decoder.decode` would have counted for the others (``None`` when none is dropped).
    ``tcp_ignored`` is the reassembler's table of ignored flows' raw keys; ``open_tunnels``
    says whether the decoder opens tunnels at all (``Limits.max_tunnel_depth``)."""
    count = len(batch)
    everything = np.arange(count, dtype=np.intp)
    if batch.linktype != _ETHERNET or not count:
        return everything, None
    data = np.frombuffer(batch.buf, dtype=np.uint8)
    caplens = batch.ends - batch.starts
    at = np.flatnonzero((caplens >= 54) & (batch.orig_lens == caplens))
    start, end = batch.starts[at], batch.ends[at]
    keyed = bool(tcp_ignored)
    outer = _judge(data, at, _u16(data, start + 12), start + 14, end, open_tunnels, keyed)
    passes = [outer]
    if outer.inner is not None:
        found = outer.inner
        inner = _judge(data, found.at, found.ethertype, found.ip, found.end, False, keyed)
        kind_of = np.zeros(count, dtype=np.intp)
        kind_of[found.at] = found.kinds
        inner.kinds = kind_of[inner.at]
        passes.append(inner)
    if tcp_ignored:
        # A SYN anywhere in the buffer, plain or tunnelled, shields its 4-tuple everywhere.
        reopened = [key for judged in passes for key in judged.syn_keys]
        for judged in passes:
            if len(judged.asks):
                hits = _ignored(tcp_ignored, judged.ask_keys, reopened)
                judged.tcp_dropped[judged.asks[hits]] = True
    dropped = np.zeros(count, dtype=bool)
    for judged in passes:
        judged.drop = judged.udp_dropped | judged.other | judged.tcp_dropped
        dropped[judged.at[judged.drop]] = True
    if not dropped.any():
        return everything, None
    return np.flatnonzero(~dropped), _count(batch, dropped, passes)


_KINDS = ("gre", "erspan-i", "erspan-ii", "erspan-iii", "vxlan")
"""``Tunnel.kind`` of the sieve's tunnel codes (indices)."""


@dataclass(slots=True)
class _Inner:
    """The frames found inside tunnels: batch positions, tunnel kind codes, the ethertype and
    offset of the header inside (Ethernet's own ethertype, or IPv4/IPv6 for GRE carrying IP),
    and where the tunnel's payload ends."""

    at: NDArray[np.intp]
    kinds: NDArray[np.intp]
    ethertype: NDArray[np.int64]
    ip: NDArray[np.int64]
    end: NDArray[np.int64]


@dataclass(slots=True)
class _Judged:
    """One look at a set of records (the captured frames, or the frames inside tunnels);
    every array is aligned with ``at``, the batch positions judged."""

    at: NDArray[np.intp]
    sport: NDArray[np.int64]
    dport: NDArray[np.int64]
    udp_dropped: NDArray[np.bool_]
    other: NDArray[np.bool_]
    tcp_dropped: NDArray[np.bool_]
    asks: NDArray[np.intp]
    """Rows of TCP segments dropped if their flow is ignored (keys in ``ask_keys``)."""
    ask_keys: list[bytes]
    syn_keys: list[bytes]
    tags: list[tuple[NDArray[np.intp], NDArray[np.int64]]]
    inner: _Inner | None = None
    kinds: NDArray[np.intp] | None = None
    """For frames inside tunnels: each row's tunnel kind code."""
    drop: NDArray[np.bool_] | None = None


def _judge(
    data: NDArray[np.uint8],
    at: NDArray[np.intp],
    ethertype: NDArray[np.int64],
    ip: NDArray[np.int64],
    end: NDArray[np.int64],
    find_tunnels: bool,
    keyed: bool,
) -> _Judged:
    """Judge the frames at ``at`` whose link header ends at ``ip`` (``ethertype`` its type)
    and whose bytes end at ``end``; with ``find_tunnels``, also find the remote-mirror
    envelopes (ERSPAN, GRE, VXLAN) whose frames are to be judged next; with ``keyed`` (the
    ignore table is not empty), the raw flow keys of its SYNs and of the segments that are
    dropped if their flow is ignored."""
    tags: list[tuple[NDArray[np.intp], NDArray[np.int64]]] = []
    tagged = _tag(ethertype)
    while tagged.any():
        # A tag must leave room for the IPv4 and TCP headers behind it, else it goes the
        # whole way (the decoder reports what is cut short).
        room = tagged & (end >= ip + 44)
        short = tagged & ~room
        if short.any():
            keep = ~short
            at, end, ethertype, ip, room = (
                at[keep],
                end[keep],
                ethertype[keep],
                ip[keep],
                room[keep],
            )
        where = np.flatnonzero(room)
        tags.append((at[where], _u16(data, ip[where]) & 0x0FFF))
        ethertype[where] = _u16(data, ip[where] + 2)
        ip[where] += 4
        tagged = np.zeros(len(at), dtype=bool)
        tagged[where] = _tag(ethertype[where])
    v4 = (
        (ethertype == _ETH_IPV4)
        & (end >= ip + 40)
        & (data[ip] == 0x45)
        & ((data[ip + 6] & 0x3F) == 0)
        & (data[ip + 7] == 0)
    )
    v6 = (ethertype == _ETH_IPV6) & (end >= ip + 40) & ((data[ip] >> 4) == 6)
    next_header = data[ip + 6]
    # IPv6: the next header is TCP or UDP itself (room for the TCP header behind the IPv6
    # one), or a protocol the decoder only counts; extension headers and tunnels go on.
    direct = (next_header == _PROTO_TCP) | (next_header == _PROTO_UDP)
    if find_tunnels:
        direct |= next_header == _PROTO_GRE
    direct &= v6 & (end >= ip + 60)
    v6_other = v6 & ~_IPV6_GOES_ON[next_header]
    keep = v4 | direct | v6_other
    at, end, ip, v6, v6_other = at[keep], end[keep], ip[keep], v6[keep], v6_other[keep]
    proto = np.where(v6, next_header[keep], data[ip + 9])
    transport = ip + np.where(v6, 40, 20)
    stop = np.where(v6, transport + _u16(data, ip + 4), ip + _u16(data, ip + 2))
    whole = v6_other | ((stop <= end) & (stop >= transport + 8))
    at, ip, transport, stop, v6, v6_other, proto = (
        at[whole], ip[whole], transport[whole], stop[whole], v6[whole], v6_other[whole],
        proto[whole],
    )  # fmt: skip
    # Ports are read only where there are ports (an IPv6 record counted as "other" may end
    # right behind its IPv6 header).
    probe = np.where(v6_other, ip, transport)
    sport = _u16(data, probe)
    dport = _u16(data, probe + 2)

    udp = proto == _PROTO_UDP
    udp_dropped = udp & ~_kept_udp(sport) & ~_kept_udp(dport)
    udp_dropped &= (dport != _VXLAN_PORT) & (dport != _GENEVE_PORT)
    other = (proto != _PROTO_UDP) & (proto != _PROTO_TCP)
    other &= (proto != _PROTO_GRE) & (proto != _PROTO_IPIP) & (proto != _PROTO_IPV6_IN_IP)

    tcp_dropped = np.zeros(len(at), dtype=bool)
    asks = np.zeros(0, dtype=np.intp)
    ask_keys: list[bytes] = []
    syn_keys: list[bytes] = []
    tcp = np.flatnonzero(proto == _PROTO_TCP)
    if len(tcp):
        header_len = (data[transport[tcp] + 12] >> 4).astype(np.int64) * 4
        sound = (header_len >= 20) & (transport[tcp] + header_len <= stop[tcp])
        flags = data[transport[tcp] + 13]
        syn = sound & ((flags & _SYN) != 0)
        pure_ack = sound & ((flags & 0x07) == 0) & (transport[tcp] + header_len >= stop[tcp])
        tcp_dropped[tcp[pure_ack]] = True
        asking = np.flatnonzero(sound & ~syn & ~pure_ack)
        if keyed and len(asking):
            asks = tcp[asking]
            ask_keys = _keys(data, ip[asks], v6[asks])
        if keyed and syn.any():
            # Every pass's SYNs shield their flows in every pass (``sieve``).
            syn_keys = _keys(data, ip[tcp[syn]], v6[tcp[syn]], swapped=True)
    judged = _Judged(
        at, sport, dport, udp_dropped, other, tcp_dropped, asks, ask_keys, syn_keys, tags
    )
    if find_tunnels:
        judged.inner = _envelopes(data, at, proto, sport, dport, transport, stop)
    return judged


def _envelopes(
    data: NDArray[np.uint8],
    at: NDArray[np.intp],
    proto: NDArray[np.int64],
    sport: NDArray[np.int64],
    dport: NDArray[np.int64],
    transport: NDArray[np.int64],
    stop: NDArray[np.int64],
) -> _Inner | None:
    """The remote mirrors' envelopes, read as the decoder reads them (``Decoder._gre``,
    ``_erspan``, ``_vxlan``): GRE (version 0, no source routing) carrying transparent
    Ethernet, IPv4 or IPv6, ERSPAN type I, II or III (an Ethernet frame inside), and VXLAN
    (UDP to 4789, the I flag set). Envelopes the decoder would report as damaged, and
    frames inside them too short for the rules, are not returned (they go on)."""
    last = len(data) - 1
    gre = np.flatnonzero(proto == _PROTO_GRE)
    vxlan = np.flatnonzero((proto == _PROTO_UDP) & (dport == _VXLAN_PORT) & ~_kept_udp(sport))
    if not len(gre) and not len(vxlan):
        return None
    rows: list[NDArray[np.intp]] = []
    kinds: list[NDArray[np.intp]] = []
    types: list[NDArray[np.int64]] = []
    heads: list[NDArray[np.int64]] = []
    ends: list[NDArray[np.int64]] = []

    def found(
        where: NDArray[np.intp], kind: int, ethertype: NDArray[np.int64] | None,
        head: NDArray[np.int64], until: NDArray[np.int64],
    ) -> None:  # fmt: skip
        # Room for what the rules read: an Ethernet frame of 54 bytes, an IP packet of 40.
        if ethertype is None:
            fits = until >= head + 54
            where, head, until = where[fits], head[fits], until[fits]
            ethertype, head = _u16(data, head + 12), head + 14
        else:
            fits = until >= head + 40
            where, head, until, ethertype = where[fits], head[fits], until[fits], ethertype[fits]
        rows.append(where)
        kinds.append(np.full(len(where), kind, dtype=np.intp))
        types.append(ethertype)
        heads.append(head)
        ends.append(until)

    if len(gre):
        g, until = transport[gre], stop[gre]
        flags, protocol = _u16(data, g), _u16(data, g + 2)
        sound = ((flags & 0x07) == 0) & ((flags & 0x4000) == 0)
        sequenced = (flags & 0x1000) != 0
        body = (
            g
            + 4
            + 4 * (((flags & 0x8000) != 0).astype(np.int64) + ((flags & 0x2000) != 0) + sequenced)
        )
        sound &= until >= body
        bridged = np.flatnonzero(sound & (protocol == 0x6558))
        found(gre[bridged], 0, None, body[bridged], until[bridged])
        carried = np.flatnonzero(sound & ((protocol == _ETH_IPV4) | (protocol == _ETH_IPV6)))
        found(gre[carried], 0, protocol[carried], body[carried], until[carried])
        type_i = np.flatnonzero(sound & (protocol == 0x88BE) & ~sequenced)
        found(gre[type_i], 1, None, body[type_i], until[type_i])
        version = data[np.minimum(body, last)] >> 4
        type_ii = np.flatnonzero(
            sound & (protocol == 0x88BE) & sequenced & (until >= body + 8) & (version == 1)
        )
        found(gre[type_ii], 2, None, body[type_ii] + 8, until[type_ii])
        type_iii = np.flatnonzero(
            sound & (protocol == 0x22EB) & (until >= body + 12) & (version == 2)
        )
        if len(type_iii):
            erspan = body[type_iii]
            ethernet = ((data[erspan + 10] >> 2) & 0x1F) == 0
            size = 12 + 8 * (data[erspan + 11] & 0x01).astype(np.int64)
            ethernet &= until[type_iii] >= erspan + size
            keep = np.flatnonzero(ethernet)
            found(gre[type_iii[keep]], 3, None, erspan[keep] + size[keep], until[type_iii[keep]])
    if len(vxlan):
        t, until = transport[vxlan], stop[vxlan]
        length = _u16(data, t + 4)
        until = np.where((length >= 8) & (length <= until - t), t + length, until)
        flagged = (until >= t + 16) & ((data[np.minimum(t + 8, last)] & 0x08) != 0)
        keep = np.flatnonzero(flagged)
        found(vxlan[keep], 4, None, t[keep] + 16, until[keep])
    if not any(len(r) for r in rows):
        return None
    return _Inner(
        at[np.concatenate(rows)],
        np.concatenate(kinds),
        np.concatenate(types),
        np.concatenate(heads),
        np.concatenate(ends),
    )


def _tag(ethertype: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which ethertypes are VLAN tag protocol identifiers (802.1Q, 802.1ad, old QinQ)."""
    tagged: NDArray[np.bool_] = (
        (ethertype == 0x8100) | (ethertype == 0x88A8) | (ethertype == 0x9100)
    )
    return tagged


def _kept_udp(port: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which UDP ports are DNS's, DHCP's or NTP's."""
    kept: NDArray[np.bool_] = (port == 53) | (port == 67) | (port == 68) | (port == 123)
    return kept


def _u16(data: NDArray[np.uint8], offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """The big-endian 16-bit fields at ``offsets``.

    Two byte gathers, not one gather from a big-endian 16-bit view at stride 1: numpy takes
    unaligned byte-swapped items through a slow path, and this costs 10 µs instead of 16 for a
    buffer's 3,200 offsets (the sieve makes a dozen such reads a buffer)."""
    high: NDArray[np.int64] = data[offsets].astype(np.int64) << 8
    return high | data[offsets + 1]


def _ignored(table: set[bytes], keys: list[bytes], reopened: list[bytes]) -> NDArray[np.bool_]:
    """Which of the flow ``keys`` are in the ignore ``table``, leaving out every flow that has
    a SYN in this buffer (``reopened``: the SYNs' keys in both directions)."""
    hits: NDArray[np.bool_] = np.fromiter(map(table.__contains__, keys), bool, len(keys))
    if reopened:
        fresh = set(reopened)
        again: NDArray[np.bool_] = np.fromiter(map(fresh.__contains__, keys), bool, len(keys))
        hits &= ~again
    return hits


def _keys(
    data: NDArray[np.uint8], ips: NDArray[np.int64], v6: NDArray[np.bool_], swapped: bool = False
) -> list[bytes]:
    """The raw flow keys (see ``TcpReassembler.ignored_raw``: source and destination address,
    then the TCP ports) of the IP headers at ``ips``, IPv6 where ``v6``; with ``swapped`` the
    keys in both directions."""
    keys: list[bytes] = []
    for family, offsets, swap in ((~v6, _KEY_BYTES, _SWAP), (v6, _KEY_BYTES_V6, _SWAP_V6)):
        where = np.flatnonzero(family)
        if not len(where):
            continue
        rows = data[ips[where][:, None] + offsets]
        if not swapped:
            if len(where) == len(ips):
                return _as_bytes(rows)
            keys.extend(_as_bytes(rows))
            continue
        keys.extend(_as_bytes(rows))
        keys.extend(_as_bytes(rows[:, swap]))
    if swapped:
        return keys
    # Mixed families: back into the order of ``ips``.
    order = np.concatenate((np.flatnonzero(~v6), np.flatnonzero(v6)))
    ordered: list[bytes] = [b""] * len(ips)
    for position, key in zip(order.tolist(), keys, strict=True):
        ordered[position] = key
    return ordered


def _as_bytes(rows: NDArray[np.uint8]) -> list[bytes]:
    """Each row as one bytes object (a void view keeps trailing zero bytes)."""
    keys: list[bytes] = np.ascontiguousarray(rows).view(f"V{rows.shape[1]}").ravel().tolist()
    return keys


def _count(batch: RecordBatch, dropped: NDArray[np.bool_], passes: list[_Judged]) -> SieveCounts:
    """What ``decode`` would have counted for the dropped records."""
    counts = SieveCounts(
        frames=int(dropped.sum()),
        bytes=int(batch.orig_lens[dropped].sum()),
        first_ts=float(batch.ts[0]),
        last_ts=float(batch.ts[dropped].max()),
    )
    for judged in passes:
        tcp_sport, tcp_dport = judged.sport[judged.tcp_dropped], judged.dport[judged.tcp_dropped]
        web = (tcp_sport == 80) | (tcp_dport == 80)
        tcp_count = len(tcp_sport)
        counts.tcp_frames += tcp_count
        counts.tcp_dropped += tcp_count
        counts.tcp80_frames += int(web.sum())
        counts.tcp443_frames += int((~web & ((tcp_sport == 443) | (tcp_dport == 443))).sum())
        counts.dns_frames += int(((tcp_sport == 53) | (tcp_dport == 53)).sum())
        counts.udp_frames += int(judged.udp_dropped.sum())
        counts.other_frames += int(judged.other.sum())
        for positions, vlans in judged.tags:
            counts.vlans.update(vlans[dropped[positions]].tolist())
        if judged.kinds is not None and judged.drop is not None:
            per_kind = np.bincount(judged.kinds[judged.drop], minlength=len(_KINDS))
            for kind, frames in zip(_KINDS, per_kind.tolist(), strict=True):
                if frames:
                    counts.tunnels[kind] = counts.tunnels.get(kind, 0) + frames
    return counts
