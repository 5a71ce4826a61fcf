"""HTTP values: header lookup ignores case, the path drops the query and the absolute form."""

from __future__ import annotations

from dataclasses import replace

from factories import http

from capinspect.protocols.http.messages import HttpBody, HttpRequest, HttpResponse


def _request(target: str, headers: tuple[tuple[str, str], ...] = ()) -> HttpRequest:
    return HttpRequest("GET", target, "1.1", headers, HttpBody(), 1, 1.0, 1, 1.0)


def test_headers_are_found_whatever_their_case_first_wins() -> None:
    request = _request("/", (("Host", "ocs"), ("X-A", "1"), ("x-a", "2")))
    assert request.header("HOST") == request.host == "ocs"
    assert request.header("x-A") == "1"
    assert request.header("missing") is None
    headers = (("Content-Type", "text/xml"),)
    response = HttpResponse(200, "OK", "1.1", headers, HttpBody(), 2, 2.0, 2, 2.0)
    assert response.header("content-type") == "text/xml"


def test_path_drops_the_query_and_the_scheme_and_host() -> None:
    assert _request("/RequestHandler/ucdevice.upx?x=1").path == "/RequestHandler/ucdevice.upx"
    assert _request("http://ocs.contoso.com/DeviceUpdateFiles_Int/a.nbt").path == (
        "/DeviceUpdateFiles_Int/a.nbt"
    )
    assert _request("http://ocs.contoso.com").path == "/"
    assert _request("https://ocs/?q").path == "/"
    assert _request("*").path == "*"


def test_no_host_header_is_none() -> None:
    assert _request("/").host is None


def test_factory_exchange_keeps_request_and_response() -> None:
    exchange = http(30, 1003.0, "POST", "/RequestHandler/ucdevice.upx", resp_body=b"<a/>")
    assert exchange.request.method == "POST" and exchange.request.host is not None
    assert exchange.response is not None and exchange.response.body.data == b"<a/>"
    assert replace(exchange, response=None).response is None
