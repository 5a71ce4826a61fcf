"""Exit statuses: 1 fail > 4 nothing judged > 0."""

from __future__ import annotations

import pytest

from capinspect.run.status import exit_status


@pytest.mark.parametrize(
    ("has_fail", "verdicts", "status"),
    [
        (False, [], 4),
        (True, [], 1),
        (False, ["inconclusive", "inconclusive"], 4),
        (True, ["inconclusive"], 1),
        (False, ["inconclusive", "warn"], 0),
        (False, ["pass"], 0),
        (True, ["pass", "fail"], 1),
    ],
)
def test_exit_status_precedence(has_fail: bool, verdicts: list[str], status: int) -> None:
    assert exit_status(has_fail, verdicts) == status
