"""NTP values: what a message's header says for people, and an exchange's offsets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from capinspect.model import FlowKey
from capinspect.protocols.ntp.messages import CLIENT, SERVER, NtpExchange, NtpMessage, NtpSeen

FLOW = FlowKey("10.0.0.5", 1024, "10.0.0.1", 123)


def _message(mode: int, **changes: object) -> NtpMessage:
    base = NtpMessage(
        leap=0,
        version=3,
        mode=mode,
        stratum=2,
        poll=6,
        precision=-20,
        root_delay=0.0,
        root_dispersion=0.0,
        reference_id=bytes([192, 0, 2, 7]),
        reference_ts=None,
        origin_ts=None,
        receive_ts=None,
        transmit_ts=1000.0,
        origin_raw=b"\x00" * 8,
        transmit_raw=b"\x01" * 8,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_reference_and_kiss_codes_read_for_people() -> None:
    assert _message(SERVER).reference_text == "192.0.2.7"
    assert _message(SERVER, stratum=1, reference_id=b"GPS\x00").reference_text == "GPS"
    kiss = _message(SERVER, stratum=0, reference_id=b"RATE")
    assert kiss.kiss_code == "RATE" and kiss.usable_time == "Kiss-o'-Death RATE"
    assert _message(CLIENT, stratum=0, reference_id=b"RATE").kiss_code is None
    assert _message(SERVER, leap=3).usable_time is not None
    assert _message(SERVER, stratum=16).usable_time is not None
    assert _message(SERVER, transmit_ts=None).usable_time == "no transmit timestamp"
    assert _message(SERVER).usable_time is None
    assert _message(CLIENT).mode_name == "client"


def test_an_exchange_counts_retries_and_measures_offsets() -> None:
    # The phone's clock says 1000 at capture time 4000 (it is 3000 s behind); the server
    # received at 5000.5 and answered at 5000.5 by its clock, one second after the last try.
    first = NtpSeen(_message(CLIENT, transmit_ts=1000.0), 10, 4000.0)
    retry = NtpSeen(_message(CLIENT, transmit_ts=1002.0), 11, 4002.0)
    answer = NtpSeen(_message(SERVER, receive_ts=5002.5, transmit_ts=5002.5), 12, 4003.0)
    exchange = NtpExchange(FLOW, None, (), (first, retry), answer, answered_request=1)
    assert exchange.retries == 1 and exchange.frames == (10, 11, 12) and exchange.frame == 10
    assert exchange.request is retry
    assert exchange.round_trip == pytest.approx(1.0)
    assert exchange.server_offset == pytest.approx(1000.0)
    assert exchange.client_offset == pytest.approx(-3000.0)


def test_an_unanswered_or_unusable_exchange_gives_no_server_offset() -> None:
    request = NtpSeen(_message(CLIENT), 1, 10.0)
    unanswered = NtpExchange(FLOW, None, (), (request,), None, retries_dropped=2)
    assert unanswered.retries == 2 and unanswered.round_trip is None
    assert unanswered.server_offset is None
    kiss = NtpSeen(_message(SERVER, stratum=0, reference_id=b"DENY"), 2, 10.1)
    denied = NtpExchange(FLOW, None, (), (request,), kiss)
    assert denied.server_offset is None and denied.round_trip == pytest.approx(0.1)
