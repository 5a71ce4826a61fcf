"""Fixtures of the command-line tests: spies on the shared step, interfaces replayed from files."""

from __future__ import annotations

import pytest

from .spies import StepSpy, replay_files_as_interfaces, spy_on_step


@pytest.fixture
def step_spy(monkeypatch: pytest.MonkeyPatch) -> StepSpy:
    return spy_on_step(monkeypatch)


@pytest.fixture
def file_source(monkeypatch: pytest.MonkeyPatch) -> None:
    replay_files_as_interfaces(monkeypatch)
