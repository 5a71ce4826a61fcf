"""Record and handshake parsing: segmentation never shows, and no bytes make it raise."""

from __future__ import annotations

import ssl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamfeed import tr
from tls_handshakes import client_context, connect, server_context

from capinspect.errors import Malformed
from capinspect.model import Direction
from capinspect.protocols.tls.messages import (
    CLIENT_HELLO,
    SERVER_HELLO,
    is_grease,
    suite_name,
    version_name,
)
from capinspect.protocols.tls.parser import (
    MAX_RECORD,
    HandshakeReader,
    RecordReader,
    TlsRecord,
    parse_certificate_list,
    parse_client_hello,
    parse_server_hello,
)
from capinspect.protocols.tls.tracker import TlsTracker

V = ssl.TLSVersion


def _record_view(records: list[TlsRecord]) -> list[tuple[int, int, bytes]]:
    return [(r.content_type, r.version, r.fragment) for r in records]


def _handshake_bytes(records: list[tuple[int, int, bytes]]) -> bytes:
    """The plaintext handshake stream: fragments of the records before ChangeCipherSpec."""
    out = bytearray()
    for ctype, _, fragment in records:
        if ctype != 22:
            break  # after ChangeCipherSpec handshake records are encrypted
        out += fragment
    return bytes(out)


def _records(stream: bytes) -> list[tuple[int, int, bytes]]:
    return _record_view(RecordReader().feed(stream, 1, 0.0))


def _messages(records: list[tuple[int, int, bytes]]) -> list[tuple[int, bytes]]:
    return [(t, body) for t, body, _ in HandshakeReader().feed(_handshake_bytes(records))]


@pytest.mark.parametrize(
    "version", [V.TLSv1, V.TLSv1_2, V.TLSv1_3], ids=["tls1.0", "tls1.2", "tls1.3"]
)
def test_whole_byte_by_byte_and_trailing_junk_give_the_same_records_and_messages(
    version: V,
) -> None:
    wire = connect(client_context(version), server_context(version))
    for direction in (Direction.TO_SERVER, Direction.TO_CLIENT):
        stream = wire.stream(direction)
        records = tr(
            RecordReader,
            lambda reader, chunk, n: reader.feed(chunk, n, 0.0),
            stream,
            view=_record_view,
            state=lambda reader: reader.broken,
        )
        whole = records.whole
        assert records.whole_parser.broken is None
        assert (
            b"".join(
                b"%c%c%c" % (t, v >> 8, v & 255) + len(f).to_bytes(2, "big") + f
                for t, v, f in whole
            )
            == stream
        )
        # The junk is no record header: the reader stops there, after every record.
        assert records.junk == whole
        assert (records.junk_parser.broken or "").startswith("malformed: bytes 74")
        # The next handshake header, cut short, is what a handshake stream's junk can be.
        messages = tr(
            HandshakeReader,
            lambda reader, chunk, _: reader.feed(chunk),
            _handshake_bytes(list(whole)),
            view=lambda found: [(t, body) for t, body, _ in found],
            state=lambda reader: reader.pending,
            junk=b"\x0b\x00\x01",
        )
        assert messages.whole_parser.pending == 0 and messages.junk_parser.pending == 3
        assert messages.whole[0][0] == (
            CLIENT_HELLO if direction == Direction.TO_SERVER else SERVER_HELLO
        )


def test_hello_fields() -> None:
    wire = connect(client_context(V.TLSv1_2), server_context(V.TLSv1_2))
    ch_type, ch_body = _messages(_records(wire.stream(Direction.TO_SERVER)))[0]
    hello = parse_client_hello(ch_body, 2, 2.0)
    assert ch_type == CLIENT_HELLO and hello.sni == "ucupdates-r2.contoso.com"
    assert [suite_name(c) for c in hello.cipher_suites if c != 0x00FF] == [
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
    ]
    assert version_name(hello.versions_offered[0]) == "TLS 1.2"
    assert hello.extended_master_secret and hello.encrypt_then_mac
    messages = _messages(_records(wire.stream(Direction.TO_CLIENT)))
    server = parse_server_hello(messages[0][1], 3, 3.0)
    assert server.selected_version == 0x0303 and server.cipher_suite == 0x002F
    chain = parse_certificate_list(messages[1][1], tls13=False)
    assert len(chain) == 2


def test_record_reader_frames_follow_the_bytes() -> None:
    wire = connect(client_context(V.TLSv1_2), server_context(V.TLSv1_2))
    stream = wire.stream(Direction.TO_CLIENT)
    reader = RecordReader()
    records = []
    # Segments of 100 bytes, frames 1, 2, 3, ...: a record's frames are where its ends fell.
    for i in range(0, len(stream), 100):
        records += reader.feed(stream[i : i + 100], i // 100 + 1, float(i))
    offset = 0
    for record in records:
        assert record.first_frame == offset // 100 + 1
        end = offset + 5 + len(record.fragment)
        assert record.frame == (end - 1) // 100 + 1
        offset = end


def test_gap_inside_a_record_loses_only_that_record() -> None:
    wire = connect(client_context(V.TLSv1_2), server_context(V.TLSv1_2))
    stream = wire.stream(Direction.TO_CLIENT)
    whole = _records(stream)
    first_len = 5 + len(whole[0][2])
    reader = RecordReader()
    got = reader.feed(stream[:10], 1, 0.0)
    got += reader.gap(20)
    got += reader.feed(stream[30:], 2, 0.0)
    assert reader.broken is None
    assert got[0].lost and got[0].content_type == whole[0][0]
    assert [(r.content_type, r.fragment) for r in got[1:]] == [(t, f) for t, _, f in whole[1:]]
    assert first_len > 30
    # A gap across a record boundary loses the framing: the reader stops instead of guessing.
    broken = RecordReader()
    broken.feed(stream[: first_len - 2], 1, 0.0)
    broken.gap(10)
    assert broken.broken == "gap" and broken.feed(stream[first_len + 8 :], 2, 0.0) == []


def test_record_reader_rejects_non_tls() -> None:
    reader = RecordReader()
    assert reader.feed(b"GET / HTTP/1.1\r\n", 1, 0.0) == []
    assert reader.broken is not None and reader.broken.startswith("malformed")
    reader = RecordReader()
    reader.feed(b"\x17\x03\x03" + (MAX_RECORD + 1).to_bytes(2, "big"), 1, 0.0)
    assert reader.broken is not None and "over" in reader.broken


def test_grease_and_names() -> None:
    assert is_grease(0x0A0A) and is_grease(0xFAFA) and not is_grease(0x0A1A)
    assert suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert suite_name(0xC02F) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert suite_name(0x9999) == "0x9999"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_outside_malformed(data: bytes) -> None:
    reader = RecordReader()
    for record in reader.feed(b"\x16\x03\x01" + len(data).to_bytes(2, "big") + data, 1, 0.0):
        try:
            for msg_type, body, _ in HandshakeReader().feed(record.fragment):
                if msg_type == CLIENT_HELLO:
                    parse_client_hello(body, 1, 0.0)
                elif msg_type == SERVER_HELLO:
                    parse_server_hello(body, 1, 0.0)
                else:
                    parse_certificate_list(body, tls13=bool(msg_type & 1))
        except Malformed:
            pass
    for parse in (parse_client_hello, parse_server_hello):
        try:
            parse(data, 1, 0.0)
        except Malformed:
            pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8), st.binary(max_size=64))
def test_tracker_takes_any_stream_without_raising(chunks: list[bytes], head: bytes) -> None:
    wire = connect(client_context(V.TLSv1_2), server_context(V.TLSv1_2))
    # A real handshake start, then arbitrary bytes in both directions.
    wire.chunks = wire.chunks[:2] + [
        (Direction(i % 2), (head if i == 0 else b"") + chunk) for i, chunk in enumerate(chunks)
    ]
    tracker = TlsTracker()
    for event in wire.events():
        tracker.feed(event)
    (conn,) = tracker.finish()
    assert conn.client_hello is not None
