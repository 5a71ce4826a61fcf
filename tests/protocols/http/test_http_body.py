"""Bodies as their bytes arrive: what is kept, counted and hashed."""

from __future__ import annotations

import hashlib

from capinspect.protocols.http.body import TEXT_BODY_KEPT, BodyAccumulator, body_budget, empty_body


def test_body_budget_keeps_checkins_and_text_not_firmware() -> None:
    limit = 1 << 20
    assert (
        body_budget("/RequestHandler/ucdevice.upx", 200, "application/octet-stream", limit) == limit
    )
    assert body_budget("/x/CPE.nbt", 500, "text/html", limit) == TEXT_BODY_KEPT
    assert body_budget("/x/CPE.nbt", 404, "application/octet-stream", limit) == TEXT_BODY_KEPT
    assert body_budget("/x/CPE.nbt", 200, "application/octet-stream", limit) == 0
    assert body_budget("/x/CPE.nbt", 200, "", limit) == TEXT_BODY_KEPT
    assert body_budget("/", 200, "text/html; charset=utf-8", limit) == TEXT_BODY_KEPT


def test_a_body_is_kept_up_to_its_budget_and_hashed_whole() -> None:
    body = BodyAccumulator(4, 10, False)
    body.add(b"abcdef")
    body.add(memoryview(b"ghij"))
    built = body.build(True, None)
    assert (built.data, built.size, built.expected, built.kept_all) == (b"abcd", 10, 10, False)
    assert built.sha256 == hashlib.sha256(b"abcdefghij").hexdigest() and built.complete


def test_a_gap_makes_the_body_incomplete_and_unhashed() -> None:
    body = BodyAccumulator(100, None, True)
    body.add(b"abc")
    body.had_gap = True
    built = body.build(True, None)
    assert (built.complete, built.cut, built.sha256, built.chunked) == (False, "gap", None, True)


def test_an_empty_body_is_complete() -> None:
    built = empty_body()
    assert built.size == 0 and built.sha256 == hashlib.sha256(b"").hexdigest()
