"""Shared test fixtures: where the project's lab captures and the third-party corpus are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from locations import ZEEK_TRACES

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def corpus_dir() -> Path:
    if not ZEEK_TRACES.is_dir():
        pytest.skip(f"third-party corpus not found at {ZEEK_TRACES}")
    return ZEEK_TRACES
