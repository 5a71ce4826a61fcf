"""``hot_value``: the per-frame values keep the behaviour of a frozen dataclass that the rest of
the pipeline relies on (value equality, hashing, ``replace``) while building cheaply."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from capinspect.model import ArpPacket, Packet, hot_value


def _packet(**changes: object) -> Packet:
    fields: dict[str, object] = dict(
        frame=7,
        ts=1.5,
        src_mac="00:04:f2:00:00:01",
        dst_mac=None,
        vlans=(10,),
        src_ip="10.0.0.5",
        dst_ip="10.0.0.1",
        proto=17,
        sport=68,
        dport=67,
        payload=b"\x01\x01",
    )
    fields.update(changes)
    return Packet(**fields)  # type: ignore[arg-type]


def test_equal_values_compare_and_hash_equal() -> None:
    a, b = _packet(), _packet()
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert _packet(dport=68) != a


def test_replace_builds_a_new_value_and_leaves_the_old_one() -> None:
    a = _packet()
    b = dataclasses.replace(a, frame=8)
    assert (a.frame, b.frame) == (7, 8)
    assert b.payload is a.payload


def test_a_new_hot_value_is_a_slotted_value_with_defaults() -> None:
    @hot_value
    class Point:
        x: int
        y: int = 0

    assert Point(1) == Point(1, 0) and hash(Point(1)) == hash(Point(1, 0))
    assert Point.__slots__ == ("x", "y")
    assert {Point(1): "a"}[Point(1)] == "a"


def test_packets_are_slotted() -> None:
    with pytest.raises(AttributeError):
        _packet().not_a_field = 1  # type: ignore[attr-defined]
    assert not hasattr(_packet(), "__dict__")
    arp = ArpPacket(1, 1.0, (), 1, "00:04:f2:00:00:01", "10.0.0.5", "", "10.0.0.1")
    assert not hasattr(arp, "__dict__") and hash(arp) == hash(dataclasses.replace(arp))


def test_the_type_checker_refuses_an_assignment(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    script = tmp_path / "assign.py"
    script.write_text(
        textwrap.dedent(
            """
            from capinspect.model import hot_value

            @hot_value
            class Point:
                x: int

            Point(1).x = 2
            """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "c"),
            str(script),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "read-only" in result.stdout, result.stdout
