"""The IIS sub-status / Win32 tables hold what the checks and the seed rely on."""

from __future__ import annotations

import re

from capinspect.knowledge.iis import IIS_SUBSTATUS, WIN32_STATUS, describe_iis


def test_required_ranges_present() -> None:
    wanted = ["400", "500.0", "500.19", "500.21", "500.22", "503"]
    wanted += [f"401.{n}" for n in range(1, 6)]
    wanted += [f"403.{n}" for n in range(1, 21)]
    wanted += [f"404.{n}" for n in range(0, 21)]
    assert [code for code in wanted if code not in IIS_SUBSTATUS] == []
    assert any(code.startswith("502.") for code in IIS_SUBSTATUS)


def test_keys_are_well_formed() -> None:
    assert all(re.fullmatch(r"[1-5][0-9]{2}(\.[0-9]{1,2})?", code) for code in IIS_SUBSTATUS)


def test_meanings_the_checks_depend_on() -> None:
    assert "SSL required" in IIS_SUBSTATUS["403.4"]
    assert "client certificate required" in IIS_SUBSTATUS["403.7"]
    assert "directory listing denied" in IIS_SUBSTATUS["403.14"]
    assert "untrusted" in IIS_SUBSTATUS["403.16"] and "expired" in IIS_SUBSTATUS["403.17"]
    assert "MIME" in IIS_SUBSTATUS["404.3"] and "extension denied" in IIS_SUBSTATUS["404.7"]
    assert "hidden namespace" in IIS_SUBSTATUS["404.8"]
    assert "double escape" in IIS_SUBSTATUS["404.11"]
    assert "ACL" in IIS_SUBSTATUS["500.19"] and "500 19 5" in IIS_SUBSTATUS["500.19"]


def test_win32_status() -> None:
    assert set(WIN32_STATUS) >= {0, 2, 3, 5, 64, 121, 1236}
    assert "access denied" in WIN32_STATUS[5] and "not found" in WIN32_STATUS[2]


def test_describe() -> None:
    assert describe_iis(500, "500.19").startswith("HTTP 500.19 Internal Server Error — config")
    assert describe_iis(404, None).startswith("HTTP 404 Not Found — not found")
    assert describe_iis(403, "404.0") == "HTTP 403 Forbidden"
    assert describe_iis(599, None) == "HTTP 599"
