"""Key derivation on its own: from the handshake's facts and the user's keys to record keys, or
the reason there are none (docs/tls.md's reason codes)."""

from __future__ import annotations

from capinspect.model import Direction
from capinspect.protocols.tls import crypto
from capinspect.protocols.tls.keys import (
    MAX_SESSIONS,
    NO_KEYS,
    Handshake,
    KeyDeriver,
    KeyFailure,
    RecordKeys,
    TlsKeys,
    parse_keylog,
)
from capinspect.protocols.tls.messages import ClientHello, ServerHello

CLIENT_RANDOM = bytes(range(32))
SERVER_RANDOM = bytes(range(32, 64))
MASTER = bytes(48)
RSA_AES128_GCM = 0x009C
ECDHE_RSA_AES128_GCM = 0xC02F


def hello(session_id: bytes = b"") -> ClientHello:
    return ClientHello(1, 1.0, 0x0303, CLIENT_RANDOM, session_id, (RSA_AES128_GCM,), (0,), ())


def server(suite: int = RSA_AES128_GCM, version: int = 0x0303, session: bytes = b"") -> ServerHello:
    return ServerHello(2, 1.1, 0x0303, SERVER_RANDOM, session, suite, 0, (), version)


def handshake(sh: ServerHello, *, resumed: bool = False, epms: bytes | None = None) -> Handshake:
    return Handshake(hello(sh.session_id), sh, resumed, b"", epms, None, None)


def keylog(*lines: str) -> TlsKeys:
    return TlsKeys(keylog=parse_keylog("\n".join(lines)))


def test_the_key_logs_master_secret_gives_both_directions() -> None:
    derived = KeyDeriver(keylog(f"CLIENT_RANDOM {CLIENT_RANDOM.hex()} {MASTER.hex()}")).tls12(
        handshake(server())
    )
    assert isinstance(derived, RecordKeys)
    assert (derived.source, derived.master) == ("key log", MASTER)
    assert isinstance(derived.to_server, crypto.Tls12AeadCipher)


def test_why_not_is_said_with_a_reason_code() -> None:
    log = keylog(f"CLIENT_RANDOM {bytes(32).hex()} {MASTER.hex()}")  # another connection's
    cases = [
        (KeyDeriver(log).tls12(handshake(server(suite=0xFFFE))), "unsupported-cipher"),
        (KeyDeriver(log).tls12(handshake(server(version=0x0300))), "unsupported-version"),
        (KeyDeriver(log).tls12(handshake(server(), resumed=True)), "resumed-no-master"),
        (KeyDeriver(log).tls12(handshake(server(ECDHE_RSA_AES128_GCM))), "keylog-no-entry"),
        (KeyDeriver(log).tls12(handshake(server())), "missing-handshake"),
        (KeyDeriver(log).tls12(handshake(server(), epms=b"\x01" * 128)), "keylog-no-entry"),
        (KeyDeriver(log).tls13_handshake(hello(), server(0x1301, 0x0304)), "keylog-no-entry"),
        (KeyDeriver(log).tls13_handshake(None, server(0x1301, 0x0304)), "missing-handshake"),
    ]
    for derived, reason in cases:
        assert isinstance(derived, KeyFailure), reason
        assert derived.reason == reason and derived.detail


def test_without_keys_nothing_is_tried() -> None:
    deriver = KeyDeriver(NO_KEYS)
    assert not deriver.can_try
    assert deriver.tls13_handshake(hello(), server(0x1301, 0x0304)) is None
    assert deriver.tls13_traffic_secret(hello(), Direction.TO_SERVER) is None


def test_a_resumed_session_uses_the_master_secret_remembered_from_its_full_handshake() -> None:
    deriver = KeyDeriver(NO_KEYS)
    deriver.remember(MASTER, b"sess", [b"ticket"])
    assert deriver.can_try
    derived = deriver.tls12(handshake(server(session=b"sess"), resumed=True))
    assert isinstance(derived, RecordKeys)
    assert derived.source == "earlier handshake in the capture"


def test_remembered_sessions_are_bounded() -> None:
    deriver = KeyDeriver(NO_KEYS)
    for n in range(MAX_SESSIONS + 5):
        deriver.remember(MASTER, n.to_bytes(4, "big"), [])
    last = (MAX_SESSIONS + 4).to_bytes(4, "big")
    assert isinstance(deriver.tls12(handshake(server(session=last), resumed=True)), KeyFailure)


def test_tls13_traffic_secrets_come_from_the_key_log() -> None:
    secret = bytes([7]) * 32
    deriver = KeyDeriver(keylog(f"CLIENT_TRAFFIC_SECRET_0 {CLIENT_RANDOM.hex()} {secret.hex()}"))
    assert deriver.tls13_traffic_secret(hello(), Direction.TO_SERVER) == secret
    missing = deriver.tls13_traffic_secret(hello(), Direction.TO_CLIENT)
    assert isinstance(missing, KeyFailure) and "SERVER_TRAFFIC_SECRET_0" in missing.detail
