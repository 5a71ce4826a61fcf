"""``--evidence FILE.pcapng``: only the frames that matter, each with its findings as a comment.

A ticket wants the packets behind the verdict, not the customer's whole mirror-port capture. The
report already knows which frames those are — every timeline step, DHCP and DNS message and
finding names its frames — and for TCP it knows each check-in's and download's connection (its
4-tuple and time span). So this is a second read of the input files: a first pass picks the frame
numbers (the frames named, plus every segment of the phones' HTTP/TLS connections in their time
span; a long download keeps only its first and last :data:`TRIM_SEGMENTS` segments), a second
pass writes them.

The file is pcapng (SHB, one IDB per link type, one EPB per frame, written by
:mod:`capinspect.sources.pcapng_writer`, the live ring's writer too), because only pcapng carries
per-packet comments (EPB ``opt_comment``): Wireshark shows them in the packet
details and ``tshark -T fields -e frame.comment`` prints them. Frame numbers in the comments are
the *input's* numbers, since the report cites those.

With ``--redact`` the addresses in each frame (Ethernet/SLL MACs, ARP, IPv4/IPv6 source and
destination, the DHCP header's addresses and address options) are replaced by the report's
pseudonyms, and every identifier inside the payloads (DHCP options, DNS names and answers, HTTP
request lines, headers and bodies, TLS server names and certificates) is replaced by a pseudonym
of the same length (:mod:`capinspect.report.evidence_redact`), so no length, DNS label, DHCP
option, Content-Length or TCP sequence number moves; the IPv4/UDP/TCP checksums are
recomputed. What cannot be rewritten (TLS application data, a compressed HTTP body, a frame of
an unknown link type) becomes ``x`` filler of the same length and the frame says so in a comment.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from capinspect import __version__
from capinspect.checks.base import Severity
from capinspect.decode.headers import IpHeaders, ip_headers, link_headers
from capinspect.errors import CapinspectError
from capinspect.model import FlowKey
from capinspect.report.evidence_redact import (
    FILLER,
    PayloadRewriter,
    StreamResult,
    StreamRewriter,
    dns_addresses,
    dns_short_labels,
    filler_note,
)
from capinspect.report.model import Report
from capinspect.report.redact import Pseudonyms
from capinspect.sources.merge import iter_frames
from capinspect.sources.pcapng_writer import interface_block, packet_block, section_header

TRIM_SEGMENTS = 12
"""Frames kept at each end of a long download's connection (the middle is left out)."""
TCP_MARGIN = 3.0
"""Seconds before a request and after a response in which the connection's other segments
(handshake, ACKs, FIN) are taken."""

_DHCP_IP_OPTIONS = frozenset({3, 4, 5, 6, 7, 28, 41, 42, 44, 50, 54, 69, 150})


@dataclass(frozen=True, slots=True)
class _Window:
    """Segments of one TCP connection between two times; ``trim``: keep only both ends."""

    ends: frozenset[tuple[bytes, int]]
    start: float
    end: float
    trim: bool


@dataclass(slots=True)
class EvidencePlan:
    """What to write: frame numbers with their comments, and connections to take whole."""

    comments: dict[int, list[str]] = field(default_factory=dict)
    windows: list[_Window] = field(default_factory=list)

    def frame(self, number: int | None, comment: str | None = None) -> None:
        if not number:
            return
        notes = self.comments.setdefault(number, [])
        if comment and comment not in notes:
            notes.append(comment)

    def connection(self, flow: FlowKey, start: float, end: float, trim: bool) -> None:
        try:
            ends = frozenset(
                {
                    (ipaddress.ip_address(flow.client_ip).packed, flow.client_port),
                    (ipaddress.ip_address(flow.server_ip).packed, flow.server_port),
                }
            )
        except ValueError:
            return
        self.windows.append(_Window(ends, start - TCP_MARGIN, end + TCP_MARGIN, trim))


def plan(report: Report, pseudonyms: Pseudonyms | None = None) -> EvidencePlan:
    """The frames of every phone's DHCP, DNS, check-ins and downloads, with finding comments.

    ``report`` is the un-redacted report (its addresses are the ones in the files);
    ``pseudonyms`` rewrite the comments' free text when the evidence is redacted."""
    out = EvidencePlan()

    def words(text: str) -> str:
        return pseudonyms.text(text) if pseudonyms is not None else text

    for item in report.devices:
        session = item.session
        name = words(session.mac or session.key)
        for index, step in enumerate(session.timeline):
            first = f"capinspect: phone {name}, verdict {str(item.verdict.verdict).upper()}"
            out.frame(step.frame, first if index == 0 else None)
        for exchange in session.dhcp:
            for frame in exchange.frames:
                out.frame(frame)
        for lookup in session.dns:
            for frame in (*lookup.query_frames, *lookup.response_frames):
                out.frame(frame)
        # A check-in's connection is kept whole; a download's body is trimmed.
        for ex, trim in (
            *((checkin.exchange, False) for checkin in session.checkins),
            *((download.exchange, True) for download in session.downloads),
        ):
            out.frame(ex.request.frame)
            end = ex.request.end_ts
            if ex.response is not None:
                out.frame(ex.response.frame)
                out.frame(ex.response.end_frame)
                end = ex.response.end_ts
            out.connection(ex.flow, ex.request.ts, end, trim=trim)
        for ex in session.other_http:
            end = ex.response.end_ts if ex.response is not None else ex.request.end_ts
            out.connection(ex.flow, ex.request.ts, end, trim=True)
        for flow in session.other_flows:
            out.frame(flow.frame)
            out.connection(flow.flow, flow.ts, session.last_ts, trim=True)
    for item in report.devices:
        for finding in item.findings:
            for frame in finding.frames:
                out.frame(
                    frame,
                    _comment(
                        finding.check_id, finding.severity, finding.title, words(finding.summary)
                    ),
                )
    for finding in report.capture_findings:
        for frame in finding.frames:
            out.frame(
                frame,
                _comment(finding.check_id, finding.severity, finding.title, words(finding.summary)),
            )
    return out


def _comment(check_id: str, severity: Severity, title: str, summary: str) -> str:
    return f"{check_id} [{severity}] {title}: {summary}"


# ---------------------------------------------------------------------------------------------
# Choosing the frames
# ---------------------------------------------------------------------------------------------


def select_frames(the_plan: EvidencePlan, paths: Sequence[str]) -> set[int]:
    """First read: the frame numbers to write (named frames + the connections' segments)."""
    chosen = set(the_plan.comments)
    if not the_plan.windows:
        return chosen
    by_ends: dict[frozenset[tuple[bytes, int]], list[int]] = {}
    for index, window in enumerate(the_plan.windows):
        by_ends.setdefault(window.ends, []).append(index)
    hits: list[list[int]] = [[] for _ in the_plan.windows]
    for number, ts, linktype, data, _orig, _source in iter_frames(paths).records():
        head = link_headers(linktype, data)
        if head is None:
            continue
        transport = ip_headers(data, head)
        if transport is None or transport.proto != 6 or transport.l4 < 0:
            continue
        ends = frozenset({(transport.src, transport.sport), (transport.dst, transport.dport)})
        for index in by_ends.get(ends, ()):
            window = the_plan.windows[index]
            if window.start <= ts <= window.end:
                hits[index].append(number)
    for window, frames in zip(the_plan.windows, hits, strict=True):
        if window.trim and len(frames) > 2 * TRIM_SEGMENTS:
            frames = frames[:TRIM_SEGMENTS] + frames[-TRIM_SEGMENTS:]
        chosen.update(frames)
    return chosen


# ---------------------------------------------------------------------------------------------
# Redacting a frame
# ---------------------------------------------------------------------------------------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def redact_frame(
    linktype: int,
    data: bytes,
    orig_len: int,
    names: Pseudonyms,
    rewriter: PayloadRewriter | None = None,
    tcp_payload: bytes | None = None,
    notes: list[str] | None = None,
) -> bytes:
    """The frame with its addresses replaced by ``names``' pseudonyms, checksums fixed.

    With ``rewriter`` the payload's identifiers are replaced too, at the same length (UDP
    payloads here; a TCP segment's payload is rewritten with its stream and passed in as
    ``tcp_payload``); ``notes`` receives what had to become filler."""
    head = link_headers(linktype, data)
    buf = bytearray(data)
    if head is None:
        if rewriter is None:
            return bytes(buf)
        if notes is not None:
            notes.append(
                f"capinspect --redact: link type {linktype} cannot be redacted: "
                "the frame's bytes are replaced by x filler"
            )
        return FILLER * len(buf)
    for offset in head.link_macs:
        if len(buf) >= offset + 6:
            buf[offset : offset + 6] = names.mac_bytes(bytes(buf[offset : offset + 6]))
    l3 = head.l3
    if head.ethertype == 0x0806 and len(buf) >= l3 + 28 and buf[l3 + 4 : l3 + 6] == b"\x06\x04":
        for offset, size in ((8, 6), (14, 4), (18, 6), (24, 4)):
            start = l3 + offset
            raw = bytes(buf[start : start + size])
            buf[start : start + size] = names.mac_bytes(raw) if size == 6 else names.ip_bytes(raw)
        return bytes(buf)
    transport = ip_headers(bytes(buf), head)
    if transport is None:
        if rewriter is not None:
            _rewrite_span(buf, l3, len(buf), rewriter, notes)  # LLDP, CDP, ARP variants…
        return bytes(buf)
    ipv4 = head.ethertype == 0x0800
    src_at, size = (l3 + 12, 4) if ipv4 else (l3 + 8, 16)
    for start in (src_at, src_at + size):
        buf[start : start + size] = names.ip_bytes(bytes(buf[start : start + size]))
    whole = len(data) == orig_len
    if ipv4:
        ihl = (buf[l3] & 0x0F) * 4
        buf[l3 + 10 : l3 + 12] = b"\x00\x00"
        buf[l3 + 10 : l3 + 12] = struct.pack("!H", _checksum(bytes(buf[l3 : l3 + ihl])))
        total = int.from_bytes(buf[l3 + 2 : l3 + 4], "big")
        fragmented = bool(int.from_bytes(buf[l3 + 6 : l3 + 8], "big") & 0x3FFF)
        end = l3 + total
        ip_payload = l3 + ihl
    else:
        end = l3 + 40 + int.from_bytes(buf[l3 + 4 : l3 + 6], "big")
        fragmented = False
        ip_payload = l3 + 40
    l4 = transport.l4
    if rewriter is not None:
        _rewrite_payload(
            buf, transport, ip_payload, min(end, len(buf)), rewriter, tcp_payload, notes
        )
    if l4 < 0 or fragmented or not whole or end > len(buf):
        return bytes(buf)  # the checksum covers bytes the capture does not hold
    if transport.proto == 17 and 67 in (transport.sport, transport.dport) and rewriter is None:
        _redact_dhcp(buf, l4 + 8, end, names)
    checksum_at = l4 + (6 if transport.proto == 17 else 16)
    if checksum_at + 2 > end:
        return bytes(buf)
    if transport.proto == 17 and ipv4 and buf[checksum_at : checksum_at + 2] == b"\x00\x00":
        return bytes(buf)  # UDP over IPv4 without a checksum stays without one
    buf[checksum_at : checksum_at + 2] = b"\x00\x00"
    src, dst = bytes(buf[src_at : src_at + size]), bytes(buf[src_at + size : src_at + 2 * size])
    length = end - l4
    if ipv4:
        pseudo = src + dst + struct.pack("!BBH", 0, transport.proto, length)
    else:
        pseudo = src + dst + struct.pack("!I3xB", length, transport.proto)
    value = _checksum(pseudo + bytes(buf[l4:end]))
    if transport.proto == 17 and value == 0:
        value = 0xFFFF
    buf[checksum_at : checksum_at + 2] = struct.pack("!H", value)
    return bytes(buf)


def _rewrite_span(
    buf: bytearray, start: int, end: int, rewriter: PayloadRewriter, notes: list[str] | None
) -> None:
    """Raw addresses, then identifiers written as text, in ``buf[start:end]`` (same length)."""
    if end <= start:
        return
    done = rewriter.text(bytes(buf[start:end]))
    buf[start:end] = done.data
    if notes is not None:
        for _s, _e, why in done.fillers:
            note = filler_note(why)
            if note not in notes:
                notes.append(note)


def _rewrite_payload(
    buf: bytearray,
    transport: IpHeaders,
    ip_payload: int,
    end: int,
    rewriter: PayloadRewriter,
    tcp_payload: bytes | None,
    notes: list[str] | None,
) -> None:
    """The payload of one IP packet: TCP from its stream, UDP by protocol, the rest as bytes."""
    l4 = transport.l4
    if l4 >= 0 and transport.proto == 6:
        if l4 + 13 > len(buf):
            return
        start = l4 + (buf[l4 + 12] >> 4) * 4
        if tcp_payload is not None and len(tcp_payload) == end - start:
            buf[start:end] = tcp_payload
        return
    if l4 >= 0 and transport.proto == 17:
        start = l4 + 8
        ports = (transport.sport, transport.dport)
        if 67 in ports or 68 in ports:
            _register_dhcp(buf, start, end, rewriter.names)
        elif any(p in (53, 5353, 5355) for p in ports):
            dns_addresses(buf, start, end, lambda raw: _registered(raw, rewriter.names))
            dns_short_labels(buf, start, end, rewriter.short_label)
        # One pass over the original bytes: a pseudonym that happens to equal another original
        # identifier is never rewritten a second time.
        _rewrite_span(buf, start, end, rewriter, notes)
        return
    _rewrite_span(buf, ip_payload, end, rewriter, notes)


def tcp_segment(
    linktype: int, data: bytes
) -> tuple[tuple[bytes, int, bytes, int], int, bytes] | None:
    """(direction, sequence number, payload) of a TCP segment, or None."""
    head = link_headers(linktype, data)
    if head is None:
        return None
    transport = ip_headers(data, head)
    if transport is None or transport.proto != 6 or transport.l4 < 0:
        return None
    l3, l4 = head.l3, transport.l4
    if len(data) < l4 + 13:
        return None
    if head.ethertype == 0x0800:
        end = min(len(data), l3 + int.from_bytes(data[l3 + 2 : l3 + 4], "big"))
    else:
        end = min(len(data), l3 + 40 + int.from_bytes(data[l3 + 4 : l3 + 6], "big"))
    start = l4 + (data[l4 + 12] >> 4) * 4
    seq = int.from_bytes(data[l4 + 4 : l4 + 8], "big")
    key = (transport.src, transport.sport, transport.dst, transport.dport)
    return key, seq, bytes(data[start:end]) if end > start else b""


def _registered(raw: bytes, names: Pseudonyms) -> bytes:
    names.ip_bytes(raw)
    return raw


def _register_dhcp(buf: bytearray, start: int, end: int, names: Pseudonyms) -> None:
    """Give every address and MAC of a DHCP message its pseudonym, leaving the bytes as they are
    (the raw pass rewrites them, once)."""
    scratch = bytearray(buf)
    _redact_dhcp(scratch, start, end, names)


def _redact_dhcp(buf: bytearray, start: int, end: int, names: Pseudonyms) -> None:
    """The BOOTP addresses (ciaddr … giaddr, chaddr) and the address-valued options."""
    if end - start < 240:
        return
    for offset in (12, 16, 20, 24):
        at = start + offset
        buf[at : at + 4] = names.ip_bytes(bytes(buf[at : at + 4]))
    if buf[start + 1] == 1 and buf[start + 2] == 6:
        at = start + 28
        buf[at : at + 6] = names.mac_bytes(bytes(buf[at : at + 6]))
    at = start + 240
    while at + 2 <= end:
        code = buf[at]
        if code == 0:
            at += 1
            continue
        if code == 255:
            return
        length = buf[at + 1]
        value_at = at + 2
        if value_at + length > end:
            return
        if code in _DHCP_IP_OPTIONS and length % 4 == 0:
            for item in range(value_at, value_at + length, 4):
                buf[item : item + 4] = names.ip_bytes(bytes(buf[item : item + 4]))
        elif code == 61 and length == 7 and buf[value_at] == 1:
            buf[value_at + 1 : value_at + 7] = names.mac_bytes(
                bytes(buf[value_at + 1 : value_at + 7])
            )
        at = value_at + length


# ---------------------------------------------------------------------------------------------
# Writing pcapng
# ---------------------------------------------------------------------------------------------


def _rewrite_streams(
    paths: Sequence[str], chosen: set[int], rewriter: PayloadRewriter
) -> StreamResult:
    """Pre-pass for ``--redact``: register every frame's addresses, rewrite the TCP streams.

    Header rewriting registers MACs and addresses the report never named, so the text tables
    know them before any payload is rewritten; TCP payloads are rewritten as streams (an
    identifier split over two segments is still found) and handed back per frame."""
    streams = StreamRewriter(rewriter)
    for number, _ts, linktype, data, orig_len, _source in iter_frames(paths).records():
        if number not in chosen:
            continue
        redact_frame(linktype, bytes(data), orig_len, rewriter.names)
        segment = tcp_segment(linktype, bytes(data))
        if segment is not None:
            streams.add(segment[0], number, segment[1], segment[2])
    return streams.run()


@dataclass(frozen=True, slots=True)
class EvidenceWritten:
    frames: int
    path: str


def write_evidence(
    report: Report,
    paths: Sequence[str],
    output: str,
    pseudonyms: Pseudonyms | None = None,
) -> EvidenceWritten:
    """Write the evidence pcapng of ``report`` (un-redacted: its addresses find the frames)."""
    the_plan = plan(report, pseudonyms)
    chosen = select_frames(the_plan, paths)
    target = Path(output)
    tmp = target.with_name(target.name + ".tmp")
    names = ", ".join(i.path for i in report.analysis.inputs)
    if pseudonyms is not None:
        names = pseudonyms.text(names)
    header = (
        f"capinspect evidence: {len(chosen)} frame(s) of {len(report.devices)} phone(s) from "
        f"{names}; comments name the findings; frame numbers in them are the input's"
        + (
            "; redacted: every identifier in headers and payloads replaced by a pseudonym of the "
            "same length; TLS application data and compressed bodies replaced by x filler"
            if pseudonyms is not None
            else ""
        )
    )
    rewriter = PayloadRewriter(pseudonyms) if pseudonyms is not None else None
    streams = _rewrite_streams(paths, chosen, rewriter) if rewriter is not None else None
    interfaces: dict[int, int] = {}
    written = 0
    try:
        with tmp.open("wb") as out:
            out.write(section_header(f"capinspect {__version__}", header))
            if chosen:
                for number, ts, linktype, data, orig_len, _source in iter_frames(paths).records():
                    if number not in chosen:
                        continue
                    if linktype not in interfaces:
                        interfaces[linktype] = len(interfaces)
                        out.write(interface_block(linktype))
                    frame = bytes(data)
                    notes = [f"input frame {number}", *the_plan.comments.get(number, [])]
                    if pseudonyms is not None and streams is not None:
                        notes += streams.notes.get(number, [])
                        frame = redact_frame(
                            linktype,
                            frame,
                            orig_len,
                            pseudonyms,
                            rewriter,
                            streams.payloads.get(number),
                            notes,
                        )
                    out.write(packet_block(interfaces[linktype], ts, frame, orig_len, notes))
                    written += 1
        tmp.replace(target)
    except OSError as exc:
        raise CapinspectError(f"cannot write {output}: {exc.strerror or exc}") from None
    return EvidenceWritten(written, output)
