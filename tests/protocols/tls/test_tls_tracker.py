"""The TLS tracker on real handshakes made in memory: facts, outcomes, decryption and reasons."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

import pytest
from tls_handshakes import (
    FLOW,
    KEY,
    OTHER_KEY,
    REQUEST,
    RESPONSE,
    Wire,
    client_context,
    connect,
    server_context,
)

from capinspect.model import Direction, FlowKey, StreamData, StreamEvent
from capinspect.protocols.tls.keys import NO_KEYS, TlsKeys, load_tls_keys, parse_keylog
from capinspect.protocols.tls.messages import TlsConnection
from capinspect.protocols.tls.tracker import TlsTracker

V = ssl.TLSVersion
CASES = [
    ("tls1.0-aes128-sha", V.TLSv1, "AES128-SHA"),
    ("tls1.1-aes256-sha", V.TLSv1_1, "AES256-SHA"),
    ("tls1.2-aes128-sha", V.TLSv1_2, "AES128-SHA"),
    ("tls1.2-aes128-sha256", V.TLSv1_2, "AES128-SHA256"),
    ("tls1.2-aes256-gcm", V.TLSv1_2, "AES256-GCM-SHA384"),
]
EPHEMERAL = [
    ("tls1.2-ecdhe-gcm", V.TLSv1_2, "ECDHE-RSA-AES128-GCM-SHA256"),
    ("tls1.2-ecdhe-chacha", V.TLSv1_2, "ECDHE-RSA-CHACHA20-POLY1305"),
    ("tls1.2-ecdhe-cbc", V.TLSv1_2, "ECDHE-RSA-AES256-SHA384"),
    ("tls1.3", V.TLSv1_3, ""),
]


def run(
    wires: list[Wire], keys: TlsKeys = NO_KEYS, one_byte: bool = False
) -> tuple[list[TlsConnection], dict[tuple[FlowKey, Direction], bytes]]:
    tracker = TlsTracker(keys=keys)
    plain: dict[tuple[FlowKey, Direction], bytes] = {}
    for i, wire in enumerate(wires):
        flow = FlowKey(FLOW.client_ip, FLOW.client_port + i, FLOW.server_ip, 443)
        for event in wire.events(one_byte, flow):
            out: list[StreamEvent] = tracker.feed(event)
            for item in out:
                if isinstance(item, StreamData):
                    key = (item.flow, item.direction)
                    plain[key] = plain.get(key, b"") + item.data
    return list(tracker.finish()), plain


def _plain_ok(plain: dict[tuple[FlowKey, Direction], bytes], index: int = 0) -> bool:
    flow = FlowKey(FLOW.client_ip, FLOW.client_port + index, FLOW.server_ip, 443)
    return (
        plain.get((flow, Direction.TO_SERVER)) == REQUEST
        and plain.get((flow, Direction.TO_CLIENT)) == RESPONSE
    )


@pytest.mark.parametrize("one_byte", [False, True], ids=["whole", "byte-by-byte"])
@pytest.mark.parametrize(("name", "version", "ciphers"), CASES, ids=[c[0] for c in CASES])
def test_rsa_key_exchange_decrypts_with_the_server_key_and_the_key_log(
    name: str, version: V, ciphers: str, one_byte: bool, tmp_path: Path
) -> None:
    keylog = tmp_path / "keys.log"
    wire = connect(client_context(version, ciphers, keylog), server_context(version, ciphers))
    (plain_conn,), _ = run([wire])
    assert plain_conn.outcome == "established" and plain_conn.decryption == "no-keys"
    assert plain_conn.app_bytes_to_server > len(REQUEST)
    for keys, source in (
        (load_tls_keys([str(KEY)]), "server key"),
        (load_tls_keys(keylog_path=str(keylog)), "key log"),
    ):
        (conn,), plain = run([wire], keys, one_byte)
        assert conn.decryption == "decrypted" and conn.decrypted_with == source
        assert _plain_ok(plain)
        # Facts do not depend on keys or segmentation (only record end times and sizes do).
        assert conn.certificates == plain_conn.certificates
        for got, want in (
            (conn.client_hello, plain_conn.client_hello),
            (conn.server_hello, plain_conn.server_hello),
        ):
            assert got is not None and want is not None
            assert replace(got, ts=0.0, frame=0) == replace(want, ts=0.0, frame=0)


def test_rsa_keylog_line_alone_decrypts(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    wire = connect(client_context(keylog=keylog), server_context())
    rsa_only = "\n".join(ln for ln in keylog.read_text().splitlines() if ln.startswith("RSA "))
    keys = TlsKeys(keylog=parse_keylog(rsa_only))
    (conn,), plain = run([wire], keys)
    assert conn.decryption == "decrypted" and _plain_ok(plain)


@pytest.mark.parametrize(("name", "version", "ciphers"), EPHEMERAL, ids=[c[0] for c in EPHEMERAL])
def test_ephemeral_key_exchange_needs_a_key_log(
    name: str, version: V, ciphers: str, tmp_path: Path
) -> None:
    keylog = tmp_path / "keys.log"
    wire = connect(client_context(version, ciphers, keylog), server_context(version, ciphers))
    (conn,), plain = run([wire], load_tls_keys([str(KEY)]))
    assert conn.outcome == "established"
    assert conn.decryption == "needs-key-log" and "key log" in conn.decryption_detail
    assert plain == {}
    (conn,), plain = run([wire], load_tls_keys(keylog_path=str(keylog)))
    assert conn.decryption == "decrypted" and _plain_ok(plain)
    if version == V.TLSv1_3:
        assert len(conn.certificates) == 2  # the key log opened the encrypted Certificate


def test_tls13_without_keys_says_the_certificate_is_encrypted() -> None:
    wire = connect(client_context(V.TLSv1_3), server_context(V.TLSv1_3))
    (conn,), _ = run([wire])
    assert conn.version == 0x0304 and conn.outcome == "established"
    assert conn.certificates == () and conn.certificate_encrypted


def test_wrong_server_key_is_a_key_mismatch() -> None:
    wire = connect(client_context(), server_context())
    (conn,), plain = run([wire], load_tls_keys([str(OTHER_KEY)]))
    assert conn.decryption == "key-mismatch" and "CN=ocs.contoso.com" in conn.decryption_detail
    assert plain == {}


def test_wrong_key_log_secret_fails_authentication(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    wire = connect(client_context(keylog=keylog), server_context())
    label, random, secret = next(
        ln.split() for ln in keylog.read_text().splitlines() if ln.startswith("CLIENT_RANDOM")
    )
    bad = f"{label} {random} {'00' * 48}\n"
    (conn,), plain = run([wire], TlsKeys(keylog=parse_keylog(bad)))
    assert conn.decryption == "bad-record-mac" and plain == {}
    assert secret != "00" * 48


def test_resumed_session_uses_the_earlier_handshake_or_says_it_cannot() -> None:
    client = client_context()
    server = server_context()
    first = connect(client, server)
    second = connect(client, server, session=first.session)
    conns, plain = run([first, second], load_tls_keys([str(KEY)]))
    assert [c.resumed for c in conns] == [False, True]
    assert conns[1].decrypted_with == "earlier handshake in the capture"
    assert _plain_ok(plain, 1)
    (alone,), plain = run([second], load_tls_keys([str(KEY)]))
    assert alone.resumed and alone.decryption == "resumed-no-master" and plain == {}


def test_rejected_certificate_is_a_failed_handshake_with_the_alert() -> None:
    wire = connect(client_context(trust=False), server_context())
    assert wire.error is not None
    (conn,), _ = run([wire])
    assert conn.outcome == "failed"
    alert = conn.first_fatal_alert
    assert alert is not None and alert.sender == "client" and alert.name == "unknown_ca"
    assert conn.decryption == "nothing-to-decrypt"


def test_no_common_cipher_is_a_server_alert_without_server_hello() -> None:
    wire = connect(
        client_context(ciphers="AES128-SHA"), server_context(ciphers="AES256-GCM-SHA384")
    )
    (conn,), _ = run([wire])
    assert conn.server_hello is None and conn.outcome == "failed"
    alert = conn.first_fatal_alert
    assert alert is not None and alert.sender == "server" and alert.name == "handshake_failure"


def test_capture_starting_mid_connection_is_unknown() -> None:
    wire = connect(client_context(), server_context())
    wire.chunks = wire.chunks[4:]  # after the handshake
    (conn,), _ = run([wire], load_tls_keys([str(KEY)]))
    assert conn.outcome == "unknown" and conn.client_hello is None


def _without_server_hello(wire: Wire) -> Wire:
    """The same connection with the ServerHello's message type garbled (as an unreadable or
    synthetic server flight would be): the hellos are no longer both in the capture."""
    index, (direction, data) = next(
        (i, c) for i, c in enumerate(wire.chunks) if c[0] == Direction.TO_CLIENT
    )
    assert data[0] == 22 and data[5] == 2  # a handshake record opening with ServerHello
    garbled = data[:5] + b"\xfe" + data[6:]
    return replace(
        wire, chunks=[*wire.chunks[:index], (direction, garbled), *wire.chunks[index + 1 :]]
    )


def test_missing_hellos_are_a_decryption_failure_only_when_keys_were_given() -> None:
    wire = _without_server_hello(connect(client_context(), server_context()))
    (without_keys,), _ = run([wire])
    assert without_keys.server_hello is None
    assert without_keys.decryption == "no-keys"
    (with_keys,), plain = run([wire], load_tls_keys([str(KEY)]))
    assert with_keys.decryption == "missing-handshake" and plain == {}
