"""devices/signin.py and devices/clock.py on their own: name resolutions, the provisioning
connections matched to option 43's host and port, and the time a phone believed."""

from __future__ import annotations

from factories import lookup

from capinspect.devices.clock import PhoneTime
from capinspect.devices.signin import resolve
from capinspect.model import FlowKey
from capinspect.protocols.ntp.messages import NtpExchange, NtpMessage, NtpSeen

T0 = 1_796_860_800.0


def _msg(mode: int, transmit: float | None, **kw: object) -> NtpMessage:
    fields: dict[str, object] = dict(
        leap=0, version=3, mode=mode, stratum=2 if mode == 4 else 0, poll=6, precision=-10,
        root_delay=0.0, root_dispersion=0.0, reference_id=b"\x0a\x00\x00\x01",
        reference_ts=None, origin_ts=None, receive_ts=transmit, transmit_ts=transmit,
        origin_raw=bytes(8), transmit_raw=bytes(8),
    )  # fmt: skip
    fields.update(kw)
    return NtpMessage(**fields)  # type: ignore[arg-type]


def _exchange(
    request_ts: float, phone: float | None, answer: tuple[float, float] | None
) -> NtpExchange:
    requests = (NtpSeen(_msg(3, phone), 1, request_ts),)
    got = NtpSeen(_msg(4, answer[1]), 2, answer[0]) if answer is not None else None
    flow = FlowKey("10.0.0.9", 123, "10.0.0.3", 123)
    return NtpExchange(flow, None, (), requests, got, 0 if got else None)


def test_the_phone_believes_its_own_clock_until_an_answer_then_the_learnt_time() -> None:
    clock = PhoneTime(
        ("10.0.0.3",),
        2,
        (_exchange(T0, 1_262_304_000.0, (T0 + 10, T0 + 10 + 3600)),),
    )
    before = clock.clock_at(T0 + 5)
    assert before is not None and before.source == "own-clock"
    assert before.time == 1_262_304_005.0
    after = clock.clock_at(T0 + 20)
    assert after is not None and after.source == "ntp" and after.frame == 2
    assert abs(after.time - (T0 + 20 + 3600)) < 5.1  # the request's capture time counts half


def test_no_transmit_timestamp_and_no_answer_leave_the_clock_unknown() -> None:
    clock = PhoneTime((), None, (_exchange(T0, None, None),))
    assert clock.clock_at(T0 + 5) is None and clock.unanswered and not clock.answered
    assert clock.requests_sent == 1


def test_a_kiss_o_death_answer_counts_as_unanswered() -> None:
    exchange = _exchange(T0, None, (T0 + 1, T0))
    assert exchange.answer is not None
    kissed = NtpExchange(
        exchange.flow, None, (), exchange.requests,
        NtpSeen(_msg(4, T0, stratum=0, reference_id=b"DENY"), 2, T0 + 1), 0,
    )  # fmt: skip
    clock = PhoneTime((), None, (kissed,))
    assert clock.unanswered == (kissed,) and clock.clock_at(T0 + 2) is None


def test_resolve_reads_the_phones_own_lookups_after_the_option_by_frame() -> None:
    ok = lookup(5, 100.0, qname="pool.contoso.com", addresses=("10.0.0.11",))
    missing = lookup(7, 100.0, qname="web.contoso.com", rcode="NXDOMAIN", addresses=())
    early = lookup(1, 10.0, qname="old.contoso.com", addresses=("10.0.0.12",))
    silent = lookup(9, 100.0, qname="mute.contoso.com", rcode=None, addresses=())
    after = 2  # the frame of the DHCP answer: lookups are read after it, by frame
    assert resolve("Pool.Contoso.com.", [ok], after).status == "resolved"
    assert resolve("web.contoso.com", [missing], after).status == "nxdomain"
    assert resolve("old.contoso.com", [early], after).status == "not-looked-up"
    assert resolve("mute.contoso.com", [silent], after).status == "unanswered"
    assert resolve("10.0.0.10", [], after).addresses == ("10.0.0.10",)


def test_offsets_read_in_the_unit_that_fits() -> None:
    from capinspect.devices.clock import describe_offset

    assert describe_offset(0.0091) == "+0.009 s"
    assert describe_offset(-750.0) == "-12.5 min"
    assert describe_offset(3 * 3600.0) == "+3.0 h"
    assert describe_offset(-30 * 86_400.0) == "-30.0 days"


def test_transmit_timestamps_that_do_not_tick_with_the_capture_are_not_a_clock() -> None:
    """Two requests 1 s apart whose transmit timestamps are years apart (random, as some
    clients send for privacy) say nothing about the phone's clock; ticking ones do."""
    flow = FlowKey("10.0.0.9", 123, "10.0.0.3", 123)

    def clock(second: float) -> PhoneTime:
        requests = (NtpSeen(_msg(3, 1_262_304_000.0), 1, T0), NtpSeen(_msg(3, second), 2, T0 + 1))
        return PhoneTime((), None, (NtpExchange(flow, None, (), requests, None),))

    assert clock(1_262_304_001.5).clock_at(T0 + 2) is not None
    assert clock(1_500_000_000.0).clock_at(T0 + 2) is None
