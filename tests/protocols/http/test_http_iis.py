"""Reading IIS sub-status and error codes from error page bodies."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from capinspect.protocols.http.iis import iis_error_code, iis_substatus

IIS7_500_19 = b"""<!DOCTYPE html><html><head><title>IIS 7.0 Detailed Error - 500.19 - Internal
Server Error</title></head><body><div id="content"><h3>HTTP Error 500.19 - Internal Server
Error</h3><h4>The requested page cannot be accessed because the related configuration data for
the page is invalid.</h4><table><tr><th>Module</th><td>IIS Web Core</td></tr><tr><th>Error
Code</th><td>0x80070005</td></tr></table></div></body></html>"""
IIS6_403_4 = b"<h2>HTTP Error 403.4 - Forbidden: SSL is required to view this resource.<br>"


def test_substatus_from_iis7_and_iis6_pages() -> None:
    assert iis_substatus(500, IIS7_500_19) == "500.19"
    assert iis_substatus(403, IIS6_403_4) == "403.4"
    assert iis_substatus(404, b"<h3>HTTP Error 404.0 - Not Found</h3>") == "404.0"


def test_substatus_must_match_the_status() -> None:
    assert iis_substatus(200, IIS7_500_19) is None
    assert iis_substatus(404, b"no sub-status here") is None


def test_utf16_page() -> None:
    assert iis_substatus(404, "HTTP Error 404.7 - Not Found".encode("utf-16")) == "404.7"


def test_error_code() -> None:
    assert iis_error_code(IIS7_500_19) == "0x80070005"
    assert iis_error_code(b"Error Code: 0x8007000d") == "0x8007000D"
    assert iis_error_code(b"<p>nothing</p>") is None


@given(st.integers(min_value=100, max_value=599), st.binary(max_size=400))
def test_random_bodies_never_raise(status: int, body: bytes) -> None:
    result = iis_substatus(status, body)
    assert result is None or result.startswith(f"{status}.")
    iis_error_code(body)
