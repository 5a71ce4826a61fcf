"""NTP values: one message as read from a UDP payload, and one client's request/answer exchange.

Timestamps are POSIX seconds (UTC, float) converted from the 64-bit NTP format (seconds since
1900 and a 32-bit fraction, RFC 5905 §6); an all-zero timestamp means "not set" and is ``None``.
The raw 8 bytes of the transmit and origin timestamps are kept: a server copies the request's
transmit timestamp into its answer's origin timestamp, which is how an answer is paired with
the request it answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.model import FlowKey

MODE_NAMES = {
    0: "reserved",
    1: "symmetric active",
    2: "symmetric passive",
    3: "client",
    4: "server",
    5: "broadcast",
    6: "control",
    7: "private",
}
"""RFC 5905 §7.3 (modes 6 and 7: RFC 1305 control messages, ntpd's private mode)."""
CLIENT = 3
SERVER = 4
LEAP_ALARM = 3
"""Leap indicator 3: the server's clock is not synchronised (RFC 5905 §7.3)."""
UNSYNCHRONISED_STRATUM = 16


@dataclass(frozen=True, slots=True)
class NtpMessage:
    """One NTP message's 48-byte header (RFC 5905 §7.3), as sent."""

    leap: int
    version: int
    mode: int
    stratum: int
    poll: int
    precision: int
    root_delay: float
    """Seconds (16.16 signed fixed point on the wire)."""
    root_dispersion: float
    reference_id: bytes
    reference_ts: float | None
    origin_ts: float | None
    receive_ts: float | None
    transmit_ts: float | None
    origin_raw: bytes
    transmit_raw: bytes
    extra_bytes: int = 0
    """Bytes after the header (NTPv4 extension fields, a key id and MAC): counted, not read."""

    @property
    def mode_name(self) -> str:
        return MODE_NAMES.get(self.mode, str(self.mode))

    @property
    def kiss_code(self) -> str | None:
        """A server's Kiss-o'-Death code (stratum 0: ``DENY``, ``RATE``…, RFC 5905 §7.4)."""
        if self.mode != SERVER or self.stratum != 0:
            return None
        return self.reference_id.decode("ascii", "replace").rstrip("\x00") or "(empty)"

    @property
    def reference_text(self) -> str:
        """The reference id for people: ASCII for strata 0-1, an IPv4 address above."""
        if self.stratum <= 1:
            text = self.reference_id.decode("ascii", "replace").rstrip("\x00")
            return text if text.isprintable() else self.reference_id.hex()
        return ".".join(str(b) for b in self.reference_id)

    @property
    def usable_time(self) -> str | None:
        """Why an answer gives the client no time (None when it does): a kiss code, a server
        that says it is not synchronised, or no transmit timestamp."""
        if self.kiss_code is not None:
            return f"Kiss-o'-Death {self.kiss_code}"
        if self.leap == LEAP_ALARM or self.stratum >= UNSYNCHRONISED_STRATUM:
            return "the server says its own clock is not synchronised"
        if self.transmit_ts is None:
            return "no transmit timestamp"
        return None


@dataclass(frozen=True, slots=True)
class NtpSeen:
    """One NTP message on the wire."""

    message: NtpMessage
    frame: int
    ts: float


@dataclass(frozen=True, slots=True)
class NtpExchange:
    """A client's requests to one server (the first and its retries) and the answer, if any.

    ``server_offset`` is the server's clock minus the capture's clock, from the capture times of
    the request and the answer and the server's receive and transmit timestamps (RFC 5905 §8,
    with the capture standing in for the client): the time the client learns is the capture's
    time plus this offset. ``client_offset`` is the client's own clock, before the answer, minus
    the capture's clock: from the transmit timestamp of its request, when it sets one.
    """

    flow: FlowKey
    """Client address and port → server address and port 123."""
    client_mac: str | None
    vlans: tuple[int, ...]
    requests: tuple[NtpSeen, ...]
    answer: NtpSeen | None
    answered_request: int | None = None
    """Index in ``requests`` of the request the answer answers (its origin timestamp)."""
    retries_dropped: int = 0
    """Requests beyond the ones kept (counted)."""

    @property
    def ts(self) -> float:
        first = self.requests[0] if self.requests else self.answer
        return first.ts if first is not None else 0.0

    @property
    def frame(self) -> int:
        first = self.requests[0] if self.requests else self.answer
        return first.frame if first is not None else 0

    @property
    def frames(self) -> tuple[int, ...]:
        seen = [*self.requests, *((self.answer,) if self.answer else ())]
        return tuple(s.frame for s in seen)

    @property
    def retries(self) -> int:
        return max(0, len(self.requests) + self.retries_dropped - 1)

    @property
    def request(self) -> NtpSeen | None:
        """The request the answer answers, else the last one sent."""
        if self.answered_request is not None:
            return self.requests[self.answered_request]
        return self.requests[-1] if self.requests else None

    @property
    def round_trip(self) -> float | None:
        """Seconds between the answered request and the answer, by the capture's clock."""
        request = self.request
        if self.answer is None or request is None:
            return None
        return self.answer.ts - request.ts

    @property
    def server_offset(self) -> float | None:
        answer = self.answer
        if answer is None or answer.message.usable_time is not None:
            return None
        sent = answer.message.transmit_ts
        assert sent is not None
        request = self.request
        received = answer.message.receive_ts
        if request is None or received is None:
            return sent - answer.ts
        return ((received - request.ts) + (sent - answer.ts)) / 2

    @property
    def client_offset(self) -> float | None:
        for seen in self.requests:
            if seen.message.transmit_ts is not None:
                return seen.message.transmit_ts - seen.ts
        return None
