"""WireReader: every read is bounded, restrict_to confines a TLV, names never loop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capinspect.errors import Malformed, Truncated
from capinspect.wire import WireReader, plain_name, read_name


def test_reads_numbers_big_endian_and_tracks_offset() -> None:
    reader = WireReader(b"\x01\x02\x03\x04\x05\x06\x07")
    assert reader.u8() == 1
    assert reader.u16() == 0x0203
    assert reader.u32() == 0x04050607
    assert reader.at_end()
    assert reader.offset == 7


def test_reading_past_the_end_raises_truncated_not_index_error() -> None:
    reader = WireReader(b"\x01")
    with pytest.raises(Truncated):
        reader.u16()
    assert reader.offset == 0  # a failed read consumes nothing
    assert reader.read(1) == b"\x01"
    with pytest.raises(Truncated):
        reader.peek_u8()


def test_restrict_to_confines_reads_and_skips_the_rest_of_the_window() -> None:
    reader = WireReader(b"\xaa\xbb\xcc\xdd")
    with reader.restrict_to(3):
        assert reader.u8() == 0xAA
        with pytest.raises(Truncated):
            reader.read(3)
    assert reader.offset == 3
    assert reader.u8() == 0xDD


def test_restrict_to_longer_than_the_buffer_is_truncated() -> None:
    reader = WireReader(b"\x00\x01")
    with pytest.raises(Truncated), reader.restrict_to(5):
        pass


def test_window_outside_the_data_is_malformed() -> None:
    with pytest.raises(Malformed):
        WireReader(b"abc", offset=2, end=1)


def test_read_name_follows_backward_pointers() -> None:
    data = b"\x03com\x00\x07example\xc0\x00"
    assert read_name(data, 0) == ("com", 5, True)
    assert read_name(data, 5) == ("example.com", 15, True)


def test_read_name_refuses_pointer_loops() -> None:
    with pytest.raises(Malformed):
        read_name(b"\xc0\x00", 0)
    # label then a pointer back to the label's own start: strictly decreasing rule stops it
    with pytest.raises(Malformed):
        read_name(b"\x01a\xc0\x00", 0)


def test_read_name_without_root_label_is_reported_not_raised() -> None:
    assert read_name(b"\x03sip\x03com", 0) == ("sip.com", 8, False)


def test_read_name_escapes_odd_bytes() -> None:
    assert read_name(b"\x03a.\x01\x00", 0)[0] == "a\\.\\001"


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=70))
def test_read_name_on_random_bytes_returns_or_raises_malformed(data: bytes, start: int) -> None:
    if start > len(data):
        return
    try:
        read_name(data, start)
    except Malformed:
        pass


@given(st.binary(max_size=80), st.integers(0, 3))
def test_plain_name_is_read_name_where_it_answers(data: bytes, start: int) -> None:
    quick = plain_name(data, start)
    if quick is None:
        return
    name, _, terminated = read_name(data, start)
    assert terminated and quick == name


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"\x0cucupdates-r2\x07contoso\x03com\x00", "ucupdates-r2.contoso.com"),
        (b"\x00", ""),
        (b"\x03a.b\x00", None),  # a dot inside a label: read_name escapes it
        (b"\x03a\\b\x00", None),
        (b"\x03a b\x00", None),
        (b"\xc0\x0c", None),  # a pointer
        (b"\x03abc", None),  # no root label
        (b"\x05abc\x00", None),  # a label running past the end
    ],
)
def test_plain_name_cases(wire: bytes, expected: str | None) -> None:
    assert plain_name(wire, 0) == expected
