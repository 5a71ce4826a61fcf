"""Limits: one frozen value of named bounds, shared by every stage and every worker process."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.protocols.http.parser import HttpMessageReader
from capinspect.protocols.upx import parse_checkin_request


def test_defaults_are_one_frozen_value() -> None:
    assert DEFAULT_LIMITS == Limits()
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.max_flows = 1  # type: ignore[misc]
    # --jobs hands the limits to worker processes.
    assert pickle.loads(pickle.dumps(DEFAULT_LIMITS)) == DEFAULT_LIMITS


def test_every_bound_is_positive() -> None:
    for field in dataclasses.fields(Limits):
        assert getattr(DEFAULT_LIMITS, field.name) > 0, field.name


def test_the_bounds_fit_together() -> None:
    limits = DEFAULT_LIMITS
    # A check-in body kept whole can be parsed whole.
    assert limits.max_xml_bytes <= limits.max_body_kept
    # A header block fits in what a direction may buffer; a flow is classified on fewer bytes.
    assert limits.max_classify_bytes <= limits.max_header_bytes <= limits.max_stream_buffer
    assert limits.dns_timeout < limits.flow_idle_timeout


def test_a_smaller_bound_is_what_the_stages_obey() -> None:
    small = dataclasses.replace(DEFAULT_LIMITS, max_xml_bytes=32, max_header_bytes=40)
    body = b"<Request><Model>IP8540</Model></Request>"
    assert parse_checkin_request(body).model == "IP8540"
    assert parse_checkin_request(body, small).model is None
    reader = HttpMessageReader("request", small)
    reader.feed(b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 64 + b"\r\n\r\n", 1, 1.0)
    assert [a.code for a in reader.anomalies] == ["http.header-too-large"]
