"""HTTP/1.x values produced by the passive parser and paired into exchanges."""

from __future__ import annotations

from dataclasses import dataclass

from capinspect.model import Anomaly, FlowKey


@dataclass(frozen=True, slots=True)
class HttpBody:
    """What was seen of a message body.

    ``data`` holds at most ``Limits.max_body_kept`` bytes (``kept_all`` says whether that was all
    of it); ``size`` counts every body byte seen; ``expected`` is the Content-Length (or ``None``
    for chunked / until-close bodies). ``complete`` is True when the framing said the body ended
    (Content-Length reached, last chunk, or close on an until-close body). ``cut`` names why an
    incomplete body ended: ``gap`` (bytes missing from the capture), ``rst``, ``eof`` (capture
    ended), ``fin`` (peer closed before Content-Length), ``idle`` (the reassembler gave up on a
    silent flow), ``malformed`` (a Content-Length or chunk size that cannot be trusted: the
    parser stopped reading that direction). ``sha256`` is of every byte seen, in
    hex, when the body had no gap.
    """

    data: bytes = b""
    size: int = 0
    expected: int | None = None
    chunked: bool = False
    complete: bool = True
    kept_all: bool = True
    cut: str | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    body: HttpBody
    frame: int
    """Frame that carried the request line."""
    ts: float
    end_frame: int
    end_ts: float

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def path(self) -> str:
        """The target without query string; for absolute-form targets, the path part."""
        target = self.target
        if "://" in target:
            rest = target.split("://", 1)[1]
            target = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        return target.split("?", 1)[0]

    @property
    def host(self) -> str | None:
        return self.header("host")


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    reason: str
    version: str
    headers: tuple[tuple[str, str], ...]
    body: HttpBody
    frame: int
    ts: float
    end_frame: int
    end_ts: float
    interim: tuple[int, ...] = ()
    """1xx statuses (e.g. 100 Continue) that came before this final response."""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


@dataclass(frozen=True, slots=True)
class HttpExchange:
    """A request and its response (``None`` when the capture holds none) on one TCP flow.

    ``client_mac`` and ``vlans`` come from the flow's client side. ``index`` is the position of
    this exchange on its flow (0 for the first; keep-alive connections carry several).
    """

    flow: FlowKey
    index: int
    request: HttpRequest
    response: HttpResponse | None
    client_mac: str | None = None
    vlans: tuple[int, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
