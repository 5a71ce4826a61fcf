"""``--syslog``: events as RFC 5424 messages, sent from a bounded queue by a thread of its own.

The message (RFC 5424 §6): ``<PRI>1 TIMESTAMP HOSTNAME capinspect PROCID MSGID SD MSG`` where
PRI is facility local0 with the event's severity, TIMESTAMP the event's packet time, HOSTNAME
the sensor, MSGID the event's action, SD the IANA-registered ``origin`` (software, version)
and ``meta`` (sequenceId: gaps show lost messages) elements, and MSG the event as one line of
ASCII JSON (no BOM: MSG-ANY), the same object ``--events`` writes.

Transports: UDP (one message a datagram, RFC 5426), TCP with octet-counted framing (RFC 6587
§3.4.1: ``LEN SP MSG``), a local Unix datagram socket (``unix:/dev/log``).

The capture never waits for the network: :meth:`SyslogSender.emit` appends to a bounded queue
(dropping, counted, when it is full) and returns; the sender thread connects, reconnects with
exponential backoff and notices a collector that went away (a TCP peer's FIN or RST is read
before each send). What cannot be known is not counted as delivered: UDP has no
acknowledgement, so a datagram to a collector that is down is lost silently until the kernel
reports the refusal; the final note says what was sent, what was dropped and why.
"""

from __future__ import annotations

import errno
import json
import os
import select
import socket
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from capinspect import __version__
from capinspect.errors import CapinspectError

FACILITY = 16
"""local0: the facility sites give to applications of their own."""
DEFAULT_QUEUE = 10_000
"""Events held while the collector is slow or away before new ones are dropped (a few MiB)."""
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
"""Seconds between reconnection attempts: doubled after each failure up to this."""
CONNECT_TIMEOUT = 5.0
DRAIN_TIMEOUT = 5.0
"""Seconds the end of a run waits for the queue to be delivered before counting the rest as
dropped."""
MAX_UDP = 65_000
"""A datagram's payload at most (IPv4's limit less headers); longer messages are dropped."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where ``--syslog`` sends: ``udp``/``tcp`` with host and port, or ``unix`` with a path."""

    scheme: str
    host: str = ""
    port: int = 514
    path: str = ""

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_target(text: str) -> Target:
    """``udp://HOST[:PORT]``, ``tcp://HOST[:PORT]`` (port 514 by default) or ``unix:PATH``."""
    if text.startswith("unix:"):
        path = text[5:].removeprefix("//")
        if not path:
            raise CapinspectError(f"--syslog {text!r}: unix: needs a socket path (unix:/dev/log)")
        return Target("unix", path=path)
    parts = urlsplit(text)
    if parts.scheme not in ("udp", "tcp") or not parts.hostname:
        raise CapinspectError(
            f"--syslog {text!r}: expected udp://HOST:514, tcp://HOST:514 or unix:/dev/log"
        )
    try:
        port = parts.port or 514
    except ValueError:
        raise CapinspectError(f"--syslog {text!r}: the port is not a number 1-65535") from None
    return Target(parts.scheme, parts.hostname, port)


def _printusascii(value: str, limit: int) -> str:
    """A header field: PRINTUSASCII (33-126), at most ``limit`` characters, ``-`` if empty."""
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit]
    return cleaned or "-"


def _param(value: str) -> str:
    """An SD-PARAM value with '"', '\\' and ']' escaped (RFC 5424 §6.3.3)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_message(event: dict[str, Any], procid: int | None = None) -> bytes:
    """One event as an RFC 5424 message (no framing)."""
    severity = int(event.get("event", {}).get("severity", 6))
    prival = FACILITY * 8 + min(max(severity, 0), 7)
    timestamp = event.get("@timestamp") or "-"
    if not timestamp.endswith("Z"):  # a time no calendar shows: NILVALUE, not a bad TIMESTAMP
        timestamp = "-"
    hostname = _printusascii(str(event.get("host", {}).get("name", "")), 255)
    msgid = _printusascii(str(event.get("event", {}).get("action", "")), 32)
    pid = _printusascii(str(os.getpid() if procid is None else procid), 128)
    sequence = event.get("event", {}).get("sequence")
    sd = f'[origin software="capinspect" swVersion="{_param(__version__)}"]'
    if isinstance(sequence, int) and 1 <= sequence <= 2_147_483_647:
        sd += f'[meta sequenceId="{sequence}"]'
    body = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
    header = f"<{prival}>1 {timestamp} {hostname} capinspect {pid} {msgid} {sd} "
    return (header + body).encode("ascii")


def frame_tcp(message: bytes) -> bytes:
    """Octet-counted framing (RFC 6587 §3.4.1): ``MSG-LEN SP SYSLOG-MSG``."""
    return str(len(message)).encode("ascii") + b" " + message


class SyslogSender:
    """A bounded queue of events and the thread that delivers them; see the module docstring."""

    def __init__(
        self,
        target: Target,
        queue_size: int = DEFAULT_QUEUE,
        *,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
        drain_timeout: float = DRAIN_TIMEOUT,
    ) -> None:
        self.target = target
        self.queue_size = max(1, queue_size)
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.drain_timeout = drain_timeout
        self.sent = 0
        self.dropped = 0
        """Events not delivered: the queue was full, a message too long, left at the end."""
        self.connects = 0
        self.last_error: str | None = None
        self._queue: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._abort = False
        self._sock: socket.socket | None = None
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="capinspect-syslog", daemon=True)
        self._thread.start()

    # -- the capture's side: never waits ------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        with self._cond:
            if len(self._queue) >= self.queue_size:
                self.dropped += 1
                return
            self._queue.append(event)
            self._cond.notify()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def reopen(self) -> None:
        """Nothing to reopen: the connection is kept (and remade) by the sender thread."""

    def close(self) -> None:
        """Deliver what is queued (at most :attr:`drain_timeout` seconds), then stop; what is
        left is counted as dropped."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(self.drain_timeout)
        with self._cond:
            self._abort = True
            self.dropped += len(self._queue)
            self._queue.clear()
            self._cond.notify()
        self._thread.join(1.0)

    def note(self) -> str | None:
        line = f"syslog {self.target}: {self.sent} event(s) sent, {self.dropped} dropped"
        if self.last_error and (self.dropped or self.connects != 1):
            line += f" (last error: {self.last_error})"
        return line

    # -- the sender thread --------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.backoff_first
        while True:
            with self._cond:
                while not self._queue and not self._closing and not self._abort:
                    self._cond.wait()
                if self._abort or (self._closing and not self._queue):
                    break
                event = self._queue[0]
            if not self._deliver(event):
                self._disconnect()
                with self._cond:  # backoff, cut short only by the end of the run
                    self._cond.wait_for(lambda: self._abort, timeout=delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_first
            with self._cond:
                if self._queue and self._queue[0] is event:
                    self._queue.popleft()
                elif self._abort:  # counted as left over by close() while it was on its way
                    self.dropped -= 1
        self._disconnect()

    def _deliver(self, event: dict[str, Any]) -> bool:
        """Send one event; ``False`` when the collector cannot be reached (retry later)."""
        message = format_message(event, self._pid)
        if self.target.scheme != "tcp" and len(message) > MAX_UDP:
            with self._cond:
                self.dropped += 1
            self.last_error = f"a message of {len(message)} bytes is too long for a datagram"
            return True
        try:
            sock = self._connected()
            if self.target.scheme == "tcp":
                sock.sendall(frame_tcp(message))
            else:
                sock.send(message)
        except OSError as exc:
            self.last_error = exc.strerror or str(exc)
            return False
        self.sent += 1
        return True

    def _connected(self) -> socket.socket:
        sock = self._sock
        if sock is not None and self.target.scheme == "tcp" and _peer_gone(sock):
            self._disconnect()
            sock = None
        if sock is None:
            sock = self._sock = self._connect()
            self.connects += 1
        return sock

    def _connect(self) -> socket.socket:
        target = self.target
        if target.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            address: Any = target.path
        else:
            kind = socket.SOCK_STREAM if target.scheme == "tcp" else socket.SOCK_DGRAM
            infos = socket.getaddrinfo(target.host, target.port, type=kind)
            family, _, _, _, address = infos[0]
            sock = socket.socket(family, kind)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock

    def _disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _peer_gone(sock: socket.socket) -> bool:
    """A collector never writes to us: a readable TCP socket means it closed or reset."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(4096, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError as exc:
        return exc.errno != errno.EAGAIN
