"""Fuzz targets: one function per stage, ``bytes -> None``, raising only on a real bug.

Each ``fuzz_<target>.py`` next to this file runs one of these under atheris (coverage-guided);
``test_fuzz.py`` replays every input kept under ``corpus/<target>/`` through the same function
with no atheris needed. A target catches only what the stage documents (``Malformed`` from a
datagram parser, ``InputError`` from the reader when nothing is readable) and checks the
stage's properties (a stream parser gives the same messages whole and split); anything else
escapes and is a crash.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import replace

from capinspect.decode.decoder import Decoder
from capinspect.errors import InputError, Malformed
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.limits import Limits
from capinspect.model import IpProto, Packet, RawFrame
from capinspect.pipeline import analyze_frames, evaluate
from capinspect.protocols.dhcp.parser import decode_option43, decode_option120, parse_dhcp
from capinspect.protocols.dns.parser import DnsTcpFramer, parse_dns
from capinspect.protocols.http.head import Role
from capinspect.protocols.http.parser import HttpMessage, HttpMessageReader
from capinspect.protocols.ntp.parser import HEADER_BYTES, parse_ntp
from capinspect.protocols.ntp.tracker import NtpTracker
from capinspect.protocols.upx import parse_checkin_request, parse_checkin_response
from capinspect.report.json import dumps, report_document, timeline_document
from capinspect.report.text import render_analyze, render_timeline
from capinspect.sources.capture import open_capture

# Small bounds so that the fuzzer reaches "over the limit" paths with short inputs.
SMALL = Limits(
    max_flows=4,
    max_pending_segments=4,
    max_stream_buffer=512,
    max_body_kept=64,
    max_header_bytes=256,
    max_xml_bytes=2048,
    max_xml_depth=6,
    max_xml_fields=40,
    max_ip_fragments=4,
    max_dns_pending=8,
    max_devices=8,
    max_dhcp_exchanges=8,
    max_dhcp_messages_per_exchange=4,
    max_dns_lookups=16,
)

_TMP = tempfile.gettempdir()


def _temp_file(data: bytes) -> str:
    fd, path = tempfile.mkstemp(prefix="capinspect-fuzz-", dir=_TMP)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


# -- capture reader ------------------------------------------------------------------------------


def reader(data: bytes) -> None:
    """Any file: InputError (nothing readable) or frames plus anomalies; never anything else."""
    path = _temp_file(data)
    try:
        try:
            capture = open_capture(path)
        except InputError as exc:
            assert "\n" not in str(exc)
            return
        with capture:
            for frame in capture:
                assert isinstance(frame.data, bytes)
            assert capture.finished
            assert len(capture.sha256()) == 64
    finally:
        os.unlink(path)


# -- decode --------------------------------------------------------------------------------------


_LINKTYPES = (1, 0, 101, 113, 228, 229, 276, 147)


def decode(data: bytes) -> None:
    """First byte picks the link type, the rest is one frame; then the same frame with junk."""
    if not data:
        return
    linktype = _LINKTYPES[data[0] % len(_LINKTYPES)]
    decoder = Decoder(SMALL)
    for index, frame in enumerate((data[1:], data[1 : len(data) // 2 + 1]), 1):
        decoder.decode(RawFrame(index, float(index), linktype, frame, len(frame) + data[0]))
    decoder.capture_stats()


# -- DHCP ----------------------------------------------------------------------------------------


def dhcp(data: bytes) -> None:
    try:
        message = parse_dhcp(data)
    except Malformed:
        assert len(data) < 236
        return
    decode_option43(data[236:], message.vendor_class)
    decode_option43(data[236:], "MS-UC-Client")
    decode_option120(data[236:])


# -- DNS -----------------------------------------------------------------------------------------


def dns(data: bytes) -> None:
    """A UDP message, and the same bytes as a DNS-over-TCP stream, whole and byte by byte."""
    try:
        parse_dns(data)
    except Malformed:
        assert len(data) < 12
    whole = DnsTcpFramer().feed(data)
    framer = DnsTcpFramer()
    single: list[bytes] = []
    for i in range(len(data)):
        single += framer.feed(data[i : i + 1])
    assert single == whole
    junk = DnsTcpFramer().feed(data + b"\xff\xff\x00")
    assert junk[: len(whole)] == whole
    for message in whole:
        try:
            parse_dns(message)
        except Malformed:
            assert len(message) < 12


# -- NTP -----------------------------------------------------------------------------------------


def ntp(data: bytes) -> None:
    """One UDP payload: parsed whole, with trailing bytes, and fed to the tracker as a request
    and as an answer (the clock and offsets computed)."""
    try:
        message = parse_ntp(data)
    except Malformed:
        message = None
    if message is not None:
        assert len(data) >= HEADER_BYTES
        assert parse_ntp(data + b"\x00junk") is not None
    tracker = NtpTracker()
    for frame, (src, dst) in enumerate((("10.0.0.2", "10.0.0.3"), ("10.0.0.3", "10.0.0.2")), 1):
        tracker.feed(
            Packet(frame, float(frame), None, None, (), src, dst, IpProto.UDP, 123, 123, data)
        )
    for exchange in tracker.finish():
        _ = (exchange.server_offset, exchange.client_offset, exchange.round_trip, exchange.retries)


# -- HTTP ----------------------------------------------------------------------------------------


def _http_run(
    role: Role, chunks: list[bytes], methods: tuple[str, ...]
) -> tuple[list[HttpMessage], list[str]]:
    reader = HttpMessageReader(role, SMALL)
    for method in methods:
        reader.expect_method(method)
    out: list[HttpMessage] = []
    for number, chunk in enumerate(chunks, 1):
        out += reader.feed(chunk, number, float(number))
    out += reader.close("fin", len(chunks) + 1, float(len(chunks) + 1))
    return out, [a.code for a in reader.anomalies]


def _positionless(messages: list[HttpMessage]) -> list[HttpMessage]:
    return [replace(m, frame=0, ts=0.0, end_frame=0, end_ts=0.0) for m in messages]


def http(data: bytes) -> None:
    """Either role, whole vs split at every 7th byte vs one byte at a time: same messages."""
    if not data:
        return
    role: Role = "request" if data[0] & 1 else "response"
    methods = ("GET", "HEAD", "POST") if role == "response" else ()
    body = data[1:]
    whole, whole_codes = _http_run(role, [body], methods)
    for step in (7, 1):
        chunks = [body[i : i + step] for i in range(0, len(body), step)]
        split, split_codes = _http_run(role, chunks, methods)
        assert _positionless(split) == _positionless(whole), step
        assert split_codes == whole_codes, step


# -- check-in ------------------------------------------------------------------------------------


def checkin(data: bytes) -> None:
    """Any body, raw and wrapped in XML: a CheckinRequest/Response, never an exception."""
    for body in (data, b"<Request>" + data + b"</Request>"):
        for limits in (SMALL, Limits()):
            request = parse_checkin_request(body, limits)
            response = parse_checkin_response(body, limits)
            assert len(request.fields) <= limits.max_xml_fields
            assert len(response.fields) <= limits.max_xml_fields


# -- whole engine --------------------------------------------------------------------------------

_PHONE_MAC = bytes.fromhex("002163aabbcc")
_SERVER_MAC = bytes.fromhex("00155d000001")
_PHONE_IP = bytes([10, 0, 0, 23])
_SERVER_IP = bytes([10, 0, 0, 5])


def _checksum_free_ipv4(src: bytes, dst: bytes, proto: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, src, dst)
    return header + payload


def _ether(src: bytes, dst: bytes, ip: bytes) -> bytes:
    return dst + src + b"\x08\x00" + ip


def _frame_for(kind: int, chunk: bytes, seq: dict[int, int]) -> bytes:
    """Wrap a chunk of fuzz input in the headers that route it to one stage."""
    if kind == 0:  # a raw Ethernet frame
        return chunk
    if kind in (1, 2):  # DHCP from the phone / from the server
        sport, dport = (68, 67) if kind == 1 else (67, 68)
        udp = struct.pack("!HHHH", sport, dport, 8 + len(chunk), 0) + chunk
        src, dst = (_PHONE_IP, b"\xff\xff\xff\xff") if kind == 1 else (_SERVER_IP, _PHONE_IP)
        return _ether(_PHONE_MAC, b"\xff" * 6, _checksum_free_ipv4(src, dst, 17, udp))
    if kind in (3, 4):  # DNS query / response
        sport, dport = (50000, 53) if kind == 3 else (53, 50000)
        udp = struct.pack("!HHHH", sport, dport, 8 + len(chunk), 0) + chunk
        src, dst = (_PHONE_IP, _SERVER_IP) if kind == 3 else (_SERVER_IP, _PHONE_IP)
        return _ether(_PHONE_MAC, _SERVER_MAC, _checksum_free_ipv4(src, dst, 17, udp))
    # TCP: 5 = phone → server:80, 6 = server → phone, 7 = SYN from the phone
    to_server = kind in (5, 7)
    flags = 0x02 if kind == 7 else 0x18
    key = 0 if to_server else 1
    sport, dport = (49152, 80) if to_server else (80, 49152)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq[key], 0, 0x50, flags, 65535, 0, 0) + chunk
    seq[key] = (seq[key] + len(chunk) + (1 if kind == 7 else 0)) & 0xFFFFFFFF
    src, dst = (_PHONE_IP, _SERVER_IP) if to_server else (_SERVER_IP, _PHONE_IP)
    mac_src, mac_dst = (_PHONE_MAC, _SERVER_MAC) if to_server else (_SERVER_MAC, _PHONE_MAC)
    return _ether(mac_src, mac_dst, _checksum_free_ipv4(src, dst, 6, tcp))


def frames_from(data: bytes) -> list[RawFrame]:
    """Input as ``[kind, length, chunk…]*``: each chunk routed to a stage by its kind byte."""
    frames: list[RawFrame] = []
    seq = {0: 1000, 1: 5000}
    at = 0
    while at + 2 <= len(data) and len(frames) < 64:
        kind, length = data[at] % 8, data[at + 1]
        chunk = data[at + 2 : at + 2 + length]
        at += 2 + length
        frame = _frame_for(kind, chunk, seq)
        index = len(frames) + 1
        frames.append(RawFrame(index, 1_700_000_000.0 + index * 0.01, 1, frame, len(frame)))
    return frames


def engine(data: bytes) -> None:
    """The whole pipeline: engine, devices, checks, every renderer."""
    for limits in (SMALL, Limits()):
        analysis = analyze_frames(frames_from(data), limits)
        report = evaluate(analysis, DEFAULT_EXPECTATIONS)
        render_analyze(report)
        dumps(report_document(report))
        devices = tuple(item.session for item in report.devices)
        render_timeline(analysis, devices)
        dumps(timeline_document(analysis, devices))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "reader": reader,
    "decode": decode,
    "dhcp": dhcp,
    "dns": dns,
    "ntp": ntp,
    "http": http,
    "checkin": checkin,
    "engine": engine,
}
