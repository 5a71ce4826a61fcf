"""A phone's time: the NTP servers DHCP gave it, what it asked, and the clock it ends up with.

A phone checks certificates against its own clock. Lync Phone Edition takes its time from the
network at boot (NTP servers from DHCP, else its defaults; which option it reads is not
published, so option 42 is shown as the phone was given it); a phone that gets no answer keeps
the clock it had, which its own NTP requests reveal when they carry a transmit timestamp.

:class:`PhoneTime` says, for any moment of the capture, which time the phone believed then:
the capture's time plus the offset its last usable NTP answer taught it; before any answer,
its own clock as its requests show it; otherwise unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from capinspect.protocols.dhcp.messages import DhcpExchange
from capinspect.protocols.ntp.messages import NtpExchange, NtpSeen

NTP_OPTION = 42
CLOCK_JITTER = 2.0
"""Seconds two requests' transmit timestamps may drift from the capture's clock between them
and still be read as the phone's clock."""


def describe_offset(value: float) -> str:
    """A clock offset for people: ``+0.009 s``, ``-12.5 min``, ``-30.0 days``."""
    size = abs(value)
    if size < 120:
        return f"{value:+.3f} s"
    if size < 2 * 86_400:
        return f"{value / 60:+.1f} min" if size < 7200 else f"{value / 3600:+.1f} h"
    return f"{value / 86_400:+.1f} days"


@dataclass(frozen=True, slots=True)
class PhoneClock:
    """The time the phone believed at one moment, and where that belief comes from."""

    time: float
    source: str
    """``ntp`` (learnt from an answer) or ``own-clock`` (its requests' transmit timestamp)."""
    frame: int
    """The NTP answer or request that shows it."""


@dataclass(frozen=True, slots=True)
class PhoneTime:
    """One phone's time section (docs/json-schema.md, ``Device.time``)."""

    ntp_servers: tuple[str, ...]
    """Option 42 of the DHCP answers the phone got, in order."""
    option42_frame: int | None
    exchanges: tuple[NtpExchange, ...]

    @property
    def answered(self) -> tuple[NtpExchange, ...]:
        """Exchanges whose answer gives the phone a time."""
        return tuple(
            ex
            for ex in self.exchanges
            if ex.answer is not None and ex.answer.message.usable_time is None
        )

    @property
    def unanswered(self) -> tuple[NtpExchange, ...]:
        """Exchanges with requests and no usable answer (none, a kiss code, unsynchronised)."""
        return tuple(
            ex
            for ex in self.exchanges
            if ex.requests and (ex.answer is None or ex.answer.message.usable_time is not None)
        )

    @property
    def requests_sent(self) -> int:
        return sum(len(ex.requests) + ex.retries_dropped for ex in self.exchanges)

    def clock_at(self, ts: float) -> PhoneClock | None:
        """The time the phone believed at capture time ``ts`` (None when the capture cannot
        tell)."""
        learnt = [ex for ex in self.answered if ex.answer is not None and ex.answer.ts <= ts]
        if learnt:
            last = learnt[-1]
            offset = last.server_offset
            assert offset is not None and last.answer is not None
            return PhoneClock(ts + offset, "ntp", last.answer.frame)
        stamped = [
            seen
            for ex in self.exchanges
            for seen in ex.requests
            if seen.message.transmit_ts is not None and seen.ts <= ts
        ]
        if not stamped or not _ticks_with_the_capture(stamped):
            return None
        first = stamped[0]
        assert first.message.transmit_ts is not None
        return PhoneClock(ts + first.message.transmit_ts - first.ts, "own-clock", first.frame)


def _ticks_with_the_capture(requests: Sequence[NtpSeen]) -> bool:
    """Whether the requests' transmit timestamps read as a clock: between any two requests they
    advance as the capture's clock does (within :data:`CLOCK_JITTER`). A client that fills the
    field with random bytes (some do, for privacy) fails this as soon as it sends twice; a
    single request cannot be told apart and is taken as sent."""
    ordered = sorted(requests, key=lambda seen: seen.ts)
    for before, after in zip(ordered, ordered[1:], strict=False):
        assert before.message.transmit_ts is not None and after.message.transmit_ts is not None
        phone = after.message.transmit_ts - before.message.transmit_ts
        if abs(phone - (after.ts - before.ts)) > CLOCK_JITTER:
            return False
    return True


def _option42(dhcp: Iterable[DhcpExchange]) -> tuple[tuple[str, ...], int | None]:
    servers: list[str] = []
    frame: int | None = None
    for exchange in dhcp:
        for seen in exchange.messages:
            option = seen.message.option(NTP_OPTION)
            if seen.message.op != 2 or option is None:
                continue
            value = option.value
            if isinstance(value, list):
                servers.extend(str(v) for v in value)
                frame = frame or seen.frame
    return tuple(dict.fromkeys(servers)), frame


def phone_time(dhcp: Sequence[DhcpExchange], ntp: Sequence[NtpExchange]) -> PhoneTime | None:
    """The phone's time section; None when it got no NTP server and sent no NTP."""
    servers, frame = _option42(dhcp)
    if not servers and not ntp:
        return None
    return PhoneTime(servers, frame, tuple(sorted(ntp, key=lambda ex: ex.frame)))
