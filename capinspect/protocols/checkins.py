"""The check-in tracker: each ``POST …/ucdevice.upx`` parsed once, as its exchange completes.

The engine feeds every completed HTTP exchange here; a check-in's request and response bodies
are parsed (``protocols/upx.py``) the moment the exchange is done, and never again: the devices
stage, the checks and ``capinspect live``'s repeated evaluations all read these records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from capinspect.protocols.checkin import CheckinRequest, CheckinResponse, FirmwareModule
from capinspect.protocols.http.messages import HttpExchange
from capinspect.protocols.upx import (
    checkin_path_kind,
    is_checkin_path,
    parse_checkin_request,
    parse_checkin_response,
)


@dataclass(frozen=True, slots=True)
class Checkin:
    """A ``POST …/ucdevice.upx`` and what the Device Update Service answered."""

    exchange: HttpExchange
    request: CheckinRequest
    response: CheckinResponse | None
    path_kind: str

    @property
    def frame(self) -> int:
        return self.exchange.request.frame

    @property
    def ts(self) -> float:
        return self.exchange.request.ts

    @property
    def status(self) -> int | None:
        resp = self.exchange.response
        return resp.status if resp is not None else None

    @property
    def firmware(self) -> str | None:
        """The version the phone reported; ``None`` for an empty version (nothing known)."""
        return self.request.firmware_version

    @property
    def offered(self) -> tuple[FirmwareModule, ...]:
        return self.response.files if self.response is not None else ()


def interpret_checkin(exchange: HttpExchange) -> Checkin:
    """Parse both bodies of a check-in exchange."""
    request = parse_checkin_request(exchange.request.body.data)
    response = None
    if exchange.response is not None and exchange.response.body.data:
        response = parse_checkin_response(exchange.response.body.data)
    elif exchange.response is not None:
        response = CheckinResponse(problems=("the response has no body",))
    return Checkin(exchange, request, response, checkin_path_kind(exchange.request.path))


class CheckinTracker:
    """Parses each check-in exchange once; ``checkins()`` hands them on in frame order."""

    def __init__(self) -> None:
        self._done: list[Checkin] = []
        self.parsed = 0
        """How many check-ins were parsed (a test holds live mode to one parse each)."""

    def feed(self, exchanges: Iterable[HttpExchange]) -> None:
        for exchange in exchanges:
            if is_checkin_path(exchange.request.path):
                self._done.append(interpret_checkin(exchange))
                self.parsed += 1

    def checkins(self) -> tuple[Checkin, ...]:
        return tuple(sorted(self._done, key=lambda c: (c.exchange.request.frame, c.exchange.index)))
