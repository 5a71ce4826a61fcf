"""Fragment reassembly: any order, overlaps, expiry in packet time, the datagram bound."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from capinspect.decode.ipfrag import IpDefragmenter, Ipv4Defragmenter
from capinspect.limits import Limits

KEY = (b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 42, 17)
DATA = bytes(range(256)) * 10  # 2560 bytes


def pieces(size: int = 800) -> list[tuple[int, bool, bytes]]:
    chunks = [DATA[i : i + size] for i in range(0, len(DATA), size)]
    return [(i * size, i < len(chunks) - 1, c) for i, c in enumerate(chunks)]


def test_every_arrival_order_reassembles() -> None:
    for order in itertools.permutations(pieces()):
        defrag = Ipv4Defragmenter()
        results = [defrag.add(KEY, o, mf, d, n, float(n)) for n, (o, mf, d) in enumerate(order, 1)]
        assert results[:-1] == [None] * (len(order) - 1)
        done = results[-1]
        assert done is not None and done.payload == DATA
        assert done.frames == (1, 2, 3, 4)
        assert len(defrag) == 0 and defrag.anomalies == []


def test_duplicate_fragment_is_harmless_and_differing_overlap_recorded() -> None:
    defrag = IpDefragmenter()
    first, second, *_ = pieces()
    defrag.add(KEY, *first[:2], first[2], 1, 1.0)
    defrag.add(KEY, *first[:2], first[2], 2, 1.0)
    assert defrag.anomalies == []
    forged = b"X" * 100
    defrag.add(KEY, 750, True, forged, 3, 1.0)
    assert [a.code for a in defrag.anomalies] == ["ip.fragment-overlap"]
    for n, (o, mf, d) in enumerate(pieces()[1:], 4):
        done = defrag.add(KEY, o, mf, d, n, 1.0)
    # The first copy of every byte wins: 750..800 stayed genuine, 800..850 came first forged.
    assert done is not None
    assert done.payload == DATA[:800] + b"X" * 50 + DATA[850:]
    assert [a.code for a in defrag.anomalies] == ["ip.fragment-overlap"] * 2


def test_incomplete_datagram_expires_in_packet_time() -> None:
    defrag = IpDefragmenter(Limits(fragment_timeout=5.0))
    o, mf, d = pieces()[0]
    defrag.add(KEY, o, mf, d, 1, 100.0)
    defrag.expire(104.0)
    assert len(defrag) == 1
    defrag.expire(106.0)
    assert len(defrag) == 0
    assert [(a.code, a.frame) for a in defrag.anomalies] == [("ip.fragment-incomplete", 1)]


def test_finish_reports_leftovers() -> None:
    defrag = IpDefragmenter()
    defrag.add(KEY, 0, True, b"a" * 8, 7, 1.0)
    defrag.finish()
    assert [a.code for a in defrag.anomalies] == ["ip.fragment-incomplete"]
    assert "capture ended" in defrag.anomalies[0].detail


def test_bounded_number_of_datagrams() -> None:
    defrag = IpDefragmenter(Limits(max_ip_fragments=3))
    for ident in range(5):
        defrag.add((b"a", b"b", ident, 17), 0, True, b"x" * 8, ident + 1, 1.0)
    assert len(defrag) == 3
    assert [a.code for a in defrag.anomalies] == ["limit.max_ip_fragments"] * 2


def test_fragment_beyond_largest_datagram_dropped() -> None:
    defrag = IpDefragmenter()
    assert defrag.add(KEY, 65_528, False, b"y" * 100, 1, 1.0) is None
    assert [a.code for a in defrag.anomalies] == ["ip.fragment-too-large"]
    assert len(defrag) == 0


@given(
    st.lists(
        st.tuples(st.integers(0, 300), st.booleans(), st.binary(max_size=64)),
        max_size=20,
    )
)
def test_random_fragments_never_raise(fragments: list[tuple[int, bool, bytes]]) -> None:
    defrag = IpDefragmenter(Limits(max_ip_fragments=4))
    for n, (offset, more, data) in enumerate(fragments, 1):
        done = defrag.add((b"s", b"d", n % 3, 6), offset * 8, more, data, n, float(n))
        if done is not None:
            assert isinstance(done.payload, bytes)
    defrag.finish()
