"""RFC 5424 formatting (held to the RFC's ABNF), octet-counted framing, the bounded queue.

The queue's promises: :meth:`SyslogSender.emit` never waits (no collector, a full queue), what
does not fit is dropped and counted, and a collector that goes away and comes back gets the
rest, after a reconnection.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capinspect.errors import CapinspectError
from capinspect.events.syslog import (
    FACILITY,
    SyslogSender,
    Target,
    format_message,
    frame_tcp,
    parse_target,
)

# RFC 5424 §6 ABNF, transcribed (SD-NAME: PRINTUSASCII except '=', SP, ']', '"').
_SD_NAME = r"[!#-<>-\\^-~]{1,32}"
_PARAM_VALUE = r'(?:[^"\\\]]|\\["\\\]])*'
_SD_ELEMENT = rf'\[{_SD_NAME}(?: {_SD_NAME}="{_PARAM_VALUE}")*\]'
RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>(?P<version>[1-9]\d{0,2}) "
    r"(?P<timestamp>-|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})) "
    r"(?P<hostname>-|[!-~]{1,255}) (?P<app>-|[!-~]{1,48}) (?P<procid>-|[!-~]{1,128}) "
    rf"(?P<msgid>-|[!-~]{{1,32}}) (?P<sd>-|(?:{_SD_ELEMENT})+)(?: (?P<msg>.*))?",
    re.DOTALL,
)


def parse(message: bytes) -> dict[str, Any]:
    match = RFC5424.fullmatch(message.decode("ascii"))
    assert match is not None, message
    return match.groupdict()


def event(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "@timestamp": "2026-11-29T06:39:44.432559Z",
        "message": "FAIL: download.acl-denied",
        "event": {"action": "verdict-changed", "severity": 3, "sequence": 8},
        "host": {"name": "site-1.example"},
        "capinspect": {"schema": "events@1"},
    }
    base.update(over)
    return base


def test_a_message_follows_the_rfc_grammar() -> None:
    fields = parse(format_message(event(), procid=4242))
    assert int(fields["pri"]) == FACILITY * 8 + 3 and fields["version"] == "1"
    assert fields["timestamp"] == "2026-11-29T06:39:44.432559Z"
    assert fields["hostname"] == "site-1.example" and fields["app"] == "capinspect"
    assert fields["procid"] == "4242" and fields["msgid"] == "verdict-changed"
    assert fields["sd"].startswith('[origin software="capinspect" swVersion="')
    assert fields["sd"].endswith('[meta sequenceId="8"]')
    assert json.loads(fields["msg"]) == event()


@given(
    host=st.text(max_size=300),
    action=st.text(max_size=40),
    message=st.text(),
    severity=st.integers(-5, 20),
)
def test_any_event_gives_a_valid_message(
    host: str, action: str, message: str, severity: int
) -> None:
    ev = event(host={"name": host}, message=message)
    ev["event"] = {"action": action, "severity": severity, "sequence": 0}
    fields = parse(format_message(ev, procid=1))
    assert 0 <= int(fields["pri"]) <= 191
    assert json.loads(fields["msg"]) == ev
    assert "\n" not in fields["msg"]


def test_a_time_no_calendar_shows_is_the_nil_value() -> None:
    assert parse(format_message(event(**{"@timestamp": "1e+30"})))["timestamp"] == "-"


def test_tcp_framing_is_octet_counted() -> None:
    message = format_message(event())
    framed = frame_tcp(message)
    length, _, rest = framed.partition(b" ")
    assert int(length) == len(rest) and rest == message


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("udp://127.0.0.1:514", Target("udp", "127.0.0.1", 514)),
        ("tcp://logs.example:6514", Target("tcp", "logs.example", 6514)),
        ("udp://[::1]:5514", Target("udp", "::1", 5514)),
        ("tcp://collector", Target("tcp", "collector", 514)),
        ("unix:/dev/log", Target("unix", path="/dev/log")),
    ],
)
def test_targets(text: str, target: Target) -> None:
    assert parse_target(text) == target
    assert parse_target(str(target)) == target


@pytest.mark.parametrize("text", ["http://x:514", "udp://", "unix:", "tcp://x:99999", "x"])
def test_bad_targets_say_what_is_expected(text: str) -> None:
    with pytest.raises(CapinspectError, match="--syslog"):
        parse_target(text)


# -- the queue --------------------------------------------------------------------------------


class Collector:
    """A TCP syslog collector on loopback reading octet-counted messages."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.port = self.server.getsockname()[1]
        self.messages: list[bytes] = []
        self._stop = False
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.server.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b" " in buf:
                length, _, rest = buf.partition(b" ")
                if len(rest) < int(length):
                    break
                self.messages.append(rest[: int(length)])
                buf = rest[int(length) :]

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.server.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # wakes the reader; the peer sees the FIN
            except OSError:
                pass
            conn.close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.close()


def wait_for(condition: Any, why: str = "", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out {why}"
        time.sleep(0.01)


def test_every_event_is_delivered_in_order(collector: Collector) -> None:
    sender = SyslogSender(Target("tcp", "127.0.0.1", collector.port))
    for n in range(1, 501):
        sender.emit(event(event={"action": "stage-reached", "severity": 6, "sequence": n}))
    sender.close()
    assert (sender.sent, sender.dropped) == (500, 0)
    wait_for(lambda: len(collector.messages) == 500)
    sequences = [json.loads(parse(m)["msg"])["event"]["sequence"] for m in collector.messages]
    assert sequences == list(range(1, 501))


def test_without_a_collector_emit_never_waits_and_counts_drops() -> None:
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    sender = SyslogSender(Target("tcp", "127.0.0.1", port), queue_size=100, drain_timeout=0.2)
    started = time.perf_counter()
    for _ in range(10_000):
        sender.emit(event())
    took = time.perf_counter() - started
    assert took < 1.0  # 10k emits: microseconds each, never a connection attempt's wait
    assert sender.dropped >= 10_000 - 100
    sender.close()
    assert sender.sent == 0 and sender.dropped == 10_000
    assert "0 event(s) sent, 10000 dropped" in (sender.note() or "")
    assert "refused" in (sender.note() or "").lower()


def test_a_collector_that_goes_away_and_comes_back(collector: Collector) -> None:
    port = collector.port
    sender = SyslogSender(
        Target("tcp", "127.0.0.1", port), queue_size=20, backoff_first=0.05, backoff_max=0.2
    )
    for n in range(1, 11):
        sender.emit(event(event={"action": "a", "severity": 6, "sequence": n}))
    wait_for(lambda: len(collector.messages) == 10)
    collector.close()  # the collector stops (its connections closed)
    time.sleep(0.2)
    for n in range(11, 61):  # 50 events while it is away: 20 wait, 30 dropped at once
        sender.emit(event(event={"action": "a", "severity": 6, "sequence": n}))
    time.sleep(0.3)
    assert sender.dropped >= 30
    back = Collector(port)
    try:
        wait_for(lambda: sender.queued == 0)
        for n in range(61, 71):
            sender.emit(event(event={"action": "a", "severity": 6, "sequence": n}))
        sender.close()
        wait_for(lambda: len(back.messages) == sender.sent - 10, f"{sender.note()} {back.messages}")
    finally:
        back.close()
    assert sender.sent + sender.dropped == 70
    assert sender.connects >= 2
    got = [json.loads(parse(m)["msg"])["event"]["sequence"] for m in back.messages]
    assert got[-10:] == list(range(61, 71)) and got == sorted(got)


def test_udp_datagrams(tmp_path: Any) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    sender = SyslogSender(Target("udp", "127.0.0.1", receiver.getsockname()[1]))
    for n in range(1, 4):
        sender.emit(event(event={"action": "a", "severity": 6, "sequence": n}))
    sender.close()
    got = [parse(receiver.recv(65536)) for _ in range(3)]
    receiver.close()
    assert [json.loads(f["msg"])["event"]["sequence"] for f in got] == [1, 2, 3]
    assert sender.sent == 3


def test_unix_datagram_socket(tmp_path: Any) -> None:
    path = str(tmp_path / "log")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.settimeout(5)
    sender = SyslogSender(parse_target(f"unix:{path}"))
    sender.emit(event())
    sender.close()
    assert json.loads(parse(receiver.recv(65536))["msg"]) == event()
    receiver.close()
