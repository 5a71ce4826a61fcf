"""What a followed TLS connection becomes when it ends: outcome and decryption status."""

from __future__ import annotations

from capinspect.model import FlowKey, FlowOpened
from capinspect.protocols.tls.connection import ConnState, decryption, finished, outcome
from capinspect.protocols.tls.messages import (
    DECRYPTED,
    ESTABLISHED,
    FAILED,
    INCOMPLETE,
    NO_KEYS_GIVEN,
    NOTHING_TO_DECRYPT,
    UNKNOWN,
    ClientHello,
    ServerHello,
)

FLOW = FlowKey("10.77.0.131", 50000, "10.77.0.1", 443)


def conn(*, hellos: bool = True, end: str | None = None) -> ConnState:
    state = ConnState(FlowOpened(FLOW, 1, 1.0, None, (), "tls", True), end_reason=end)
    if hellos:
        state.client_hello = ClientHello(1, 1.0, 0x0303, bytes(32), b"", (0x009C,), (0,), ())
        state.server_hello = ServerHello(2, 1.1, 0x0303, bytes(32), b"", 0x009C, 0, (), 0x0303)
    return state


def test_outcomes() -> None:
    assert outcome(conn(hellos=False))[0] == UNKNOWN
    done = conn()
    for side in done.dirs:
        side.finished = True
    assert outcome(done) == (ESTABLISHED, "both sides sent Finished")
    assert outcome(conn(end="rst"))[0] == FAILED
    assert outcome(conn())[0] == INCOMPLETE


def test_decryption_status() -> None:
    quiet = conn()
    assert decryption(quiet, INCOMPLETE, keys_given=False)[0] == NOTHING_TO_DECRYPT
    talking = conn()
    talking.dirs[0].app_bytes = 100
    assert decryption(talking, ESTABLISHED, keys_given=False) == (NO_KEYS_GIVEN, "no key given")
    assert decryption(talking, ESTABLISHED, keys_given=True)[0] == "incomplete"
    talking.decryption, talking.decrypted_with = DECRYPTED, "key log"
    assert decryption(talking, ESTABLISHED, keys_given=True) == (
        DECRYPTED,
        "decrypted with the key log",
    )


def test_finished_connection_carries_the_handshake_frames_and_counters() -> None:
    state = conn()
    state.dirs[1].app_bytes = 42
    state.certificate_frame = 3
    value = finished(state, keys_given=False)
    assert value.handshake_frames == (1, 2, 3)
    assert (value.app_bytes_to_server, value.app_bytes_to_client) == (0, 42)
    assert value.outcome == INCOMPLETE and value.decryption == NO_KEYS_GIVEN
    assert value.decrypted_with is None
