"""The first look at a whole buffer of records at once: which of them cannot matter.

Why: on a mirror-port capture nearly every record is unrelated traffic, and a Python call that
reads a few header bytes still costs about a microsecond a record — most of the time of a run.
Here the same header bytes are read for every record of a read buffer (about a thousand) with
numpy gathers, so deciding costs a few nanoseconds a record and only the records that may
matter are sliced out of the buffer and handed to the engine one by one.

The rules are those by which :meth:`capinspect.decode.Decoder.decode` drops a frame, for the
frames whose headers are plain enough to judge in bulk, and the dropped records are counted
exactly as the decoder counts them. tests/test_sieve.py proves, on every capture and on random
frames, that the sieve drops only what the decoder drops and drops all of it that a plain
reading of the rules below allows. A record is dropped only when it is, without doubt:

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

Tunnels (a remote mirror's ERSPAN, GRE or VXLAN) all go on: the decoder opens them and judges
the frame inside by the same rules, one record at a time.

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

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from capinspect.model import RecordBatch

if TYPE_CHECKING:
    from capinspect.decode import Decoder

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
_IPV6_GOES_ON = np.array([0, 43, 60, 44, 6, 17, _PROTO_IPIP, _PROTO_IPV6_IN_IP, _PROTO_GRE])
"""IPv6 next headers the sieve does not count as "other": extension headers (skipped or
reassembled by the decoder), TCP, UDP and the tunnels."""


def sieve(decoder: Decoder, batch: RecordBatch) -> NDArray[np.intp]:
    """Positions in ``batch`` of the records that may matter, in order; counts the rest in
    ``decoder``'s counters as :meth:`Decoder.decode` would have."""
    count = len(batch)
    everything = np.arange(count, dtype=np.intp)
    if batch.linktype != _ETHERNET or not count:
        return everything
    data = np.frombuffer(batch.buf, dtype=np.uint8)
    # words[i] is the big-endian 16-bit field starting at byte i (a strided view, no copy).
    words = np.ndarray((len(batch.buf) - 1,), dtype=">u2", buffer=batch.buf, strides=(1,))
    caplens = batch.ends - batch.starts
    # Positions (into the batch) still being looked at; narrowed at every rule.
    at = np.flatnonzero((caplens >= 54) & (batch.orig_lens == caplens))
    start, end = batch.starts[at], batch.ends[at]
    ethertype = _u16(words, start + 12)
    ip = start + 14
    tags: list[tuple[NDArray[np.intp], NDArray[np.int64]]] = []
    tagged = _tag(ethertype)
    while tagged.any():
        # A tag must leave room for the IPv4 and TCP headers behind it, else it goes the
        # whole way (the decoder reports what is cut short).
        room = tagged & (end >= ip + 44)
        short = tagged & ~room
        if short.any():
            keep = ~short
            at, start, end, ethertype, ip, room = (
                at[keep], start[keep], end[keep], ethertype[keep], ip[keep], room[keep],
            )  # fmt: skip
        where = np.flatnonzero(room)
        tags.append((at[where], _u16(words, ip[where]) & 0x0FFF))
        ethertype[where] = _u16(words, ip[where] + 2)
        ip[where] += 4
        tagged = np.zeros(len(at), dtype=bool)
        tagged[where] = _tag(ethertype[where])
    v4 = (
        (ethertype == _ETH_IPV4)
        & (data[ip] == 0x45)
        & ((data[ip + 6] & 0x3F) == 0)
        & (data[ip + 7] == 0)
    )
    v6 = (ethertype == _ETH_IPV6) & (end >= ip + 40) & ((data[ip] >> 4) == 6)
    next_header = data[ip + 6]
    # IPv6: the next header is TCP or UDP itself (room for the TCP header behind the IPv6
    # one), or a protocol the decoder only counts; extension headers and tunnels go on.
    direct = v6 & ((next_header == _PROTO_TCP) | (next_header == _PROTO_UDP)) & (end >= ip + 60)
    v6_other = v6 & ~np.isin(next_header, _IPV6_GOES_ON)
    keep = v4 | direct | v6_other
    at, end, ip, v6, v6_other = at[keep], end[keep], ip[keep], v6[keep], v6_other[keep]
    proto = np.where(v6, next_header[keep], data[ip + 9])
    transport = ip + np.where(v6, 40, 20)
    stop = np.where(v6, transport + _u16(words, ip + 4), ip + _u16(words, ip + 2))
    whole = v6_other | ((stop <= end) & (stop >= transport + 8))
    at, ip, transport, stop, v6, v6_other, proto = (
        at[whole], ip[whole], transport[whole], stop[whole], v6[whole], v6_other[whole],
        proto[whole],
    )  # fmt: skip
    # Ports are read only where there are ports (an IPv6 record counted as "other" may end
    # right behind its IPv6 header).
    probe = np.where(v6_other, ip, transport)
    sport = _u16(words, probe)
    dport = _u16(words, probe + 2)
    dropped = np.zeros(count, dtype=bool)

    udp = proto == _PROTO_UDP
    udp_dropped = udp & ~_kept_udp(sport) & ~_kept_udp(dport)
    udp_dropped &= (dport != _VXLAN_PORT) & (dport != _GENEVE_PORT)
    other = (proto != _PROTO_UDP) & (proto != _PROTO_TCP)
    other &= (proto != _PROTO_GRE) & (proto != _PROTO_IPIP) & (proto != _PROTO_IPV6_IN_IP)

    tcp_dropped = np.zeros(len(at), dtype=bool)
    tcp = np.flatnonzero(proto == _PROTO_TCP)
    if len(tcp):
        header_len = (data[transport[tcp] + 12] >> 4).astype(np.int64) * 4
        sound = (header_len >= 20) & (transport[tcp] + header_len <= stop[tcp])
        flags = data[transport[tcp] + 13]
        syn = sound & ((flags & _SYN) != 0)
        pure_ack = sound & ((flags & 0x07) == 0) & (transport[tcp] + header_len >= stop[tcp])
        asks = np.flatnonzero(sound & ~syn & ~pure_ack)
        tcp_dropped[tcp[pure_ack]] = True
        if len(asks) and decoder.tcp_ignored:
            ignored = _ignored(
                decoder.tcp_ignored,
                _keys(data, ip[tcp[asks]], v6[tcp[asks]]),
                _keys(data, ip[tcp[syn]], v6[tcp[syn]], swapped=True),
            )
            tcp_dropped[tcp[asks[ignored]]] = True

    drop = udp_dropped | other | tcp_dropped
    if not drop.any():
        return everything
    dropped[at[drop]] = True
    _count(decoder, batch, dropped, tags, sport, dport, udp_dropped, other, tcp_dropped)
    return np.flatnonzero(~dropped)


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


def _u16(words: NDArray[np.uint16], offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """The big-endian 16-bit fields at ``offsets``."""
    return words[offsets].astype(np.int64)


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


def _count(
    decoder: Decoder,
    batch: RecordBatch,
    dropped: NDArray[np.bool_],
    tags: list[tuple[NDArray[np.intp], NDArray[np.int64]]],
    sport: NDArray[np.int64],
    dport: NDArray[np.int64],
    udp_dropped: NDArray[np.bool_],
    other: NDArray[np.bool_],
    tcp_dropped: NDArray[np.bool_],
) -> None:
    """Add the dropped records to the decoder's counters (what ``decode`` counts for them)."""
    tcp_sport, tcp_dport = sport[tcp_dropped], dport[tcp_dropped]
    web = (tcp_sport == 80) | (tcp_dport == 80)
    tcp_count = len(tcp_sport)
    decoder.tcp_frames += tcp_count
    decoder.tcp_dropped += tcp_count
    decoder.tcp80_frames += int(web.sum())
    decoder.tcp443_frames += int((~web & ((tcp_sport == 443) | (tcp_dport == 443))).sum())
    decoder.dns_frames += int(((tcp_sport == 53) | (tcp_dport == 53)).sum())
    decoder.udp_frames += int(udp_dropped.sum())
    decoder.other_frames += int(other.sum())
    decoder.frames += int(dropped.sum())
    decoder.bytes += int(batch.orig_lens[dropped].sum())
    if decoder.first_ts is None:
        # Every record of the batch is counted, here or by the decoder: the first is first.
        decoder.first_ts = float(batch.ts[0])
    latest = float(batch.ts[dropped].max())
    if decoder.last_ts is None or latest > decoder.last_ts:
        decoder.last_ts = latest
    decoder.linktypes.add(batch.linktype)
    for positions, vlans in tags:
        decoder.vlans.update(np.unique(vlans[dropped[positions]]).tolist())
