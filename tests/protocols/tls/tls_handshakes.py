"""Real TLS connections made in memory (Python ``ssl`` over MemoryBIO), as stream events.

OpenSSL on both sides, no sockets: each test picks versions, suites, session resumption or a
failing trust store, gets the exact bytes each side wrote, and feeds them to the TLS tracker
the way the TCP reassembler would (optionally one byte per "segment").
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from locations import PCAPS

from capinspect.model import Direction, FlowKey, FlowOpened, StreamData, StreamEnd, StreamEvent

FLOW = FlowKey("10.77.0.131", 50000, "10.77.0.1", 443)
KEY = PCAPS / "https-healthy.key.pem"
CHAIN = PCAPS / "https-healthy.crt.pem"
OTHER_KEY = PCAPS / "https-untrusted.key.pem"
REQUEST = (
    b"POST /RequestHandler/ucdevice.upx HTTP/1.1\r\nHost: ucupdates-r2.contoso.com\r\n"
    b"User-Agent: Microsoft UCPhone Device\r\nContent-Type: text/xml\r\nContent-Length: 21\r\n"
    b"\r\n<Request>hi</Request>"
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/7.0\r\nContent-Type: text/xml\r\n"
    b'Content-Length: 31\r\n\r\n<Response><Downloads Count="0"/>'
)


@dataclass
class Wire:
    """What went over the wire, in order: (direction, bytes written by one side at once)."""

    chunks: list[tuple[Direction, bytes]] = field(default_factory=list)
    session: ssl.SSLSession | None = None
    error: str | None = None
    cipher: str | None = None
    version: str | None = None

    def events(self, one_byte: bool = False, flow: FlowKey = FLOW) -> list[StreamEvent]:
        out: list[StreamEvent] = [FlowOpened(flow, 1, 1.0, "00:21:63:0f:a5:01", (), "tls", True)]
        frame = 1
        for direction, data in self.chunks:
            pieces = [data[i : i + 1] for i in range(len(data))] if one_byte else [data]
            for piece in pieces:
                frame += 1
                out.append(StreamData(flow, direction, piece, frame, float(frame), frame))
        for direction in (Direction.TO_SERVER, Direction.TO_CLIENT):
            frame += 1
            out.append(StreamEnd(flow, direction, "fin", frame, float(frame)))
        return out

    def stream(self, direction: Direction) -> bytes:
        return b"".join(data for d, data in self.chunks if d == direction)


def _versions(ctx: ssl.SSLContext, version: ssl.TLSVersion) -> None:
    """Pin one version (TLS 1.0/1.1 are deprecated in ``ssl``: that is the point here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = version
        ctx.maximum_version = version


def server_context(
    version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    ciphers: str = "AES128-SHA:AES256-GCM-SHA384",
    tickets: bool = True,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _versions(ctx, version)
    if version != ssl.TLSVersion.TLSv1_3:
        ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    ctx.load_cert_chain(str(CHAIN), str(KEY))
    return ctx


def client_context(
    version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    ciphers: str = "AES128-SHA:AES256-GCM-SHA384",
    keylog: Path | None = None,
    trust: bool = True,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _versions(ctx, version)
    if version != ssl.TLSVersion.TLSv1_3:
        ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
    if trust:
        ctx.load_verify_locations(str(CHAIN))
    if keylog is not None:
        ctx.keylog_filename = str(keylog)
    return ctx


def connect(
    client_ctx: ssl.SSLContext,
    server_ctx: ssl.SSLContext,
    session: ssl.SSLSession | None = None,
    request: bytes = REQUEST,
    response: bytes = RESPONSE,
    sni: str = "ucupdates-r2.contoso.com",
) -> Wire:
    """A handshake, one request and one response; a failed handshake stops after its alert."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=sni, session=session)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    wire = Wire()

    def pump() -> bool:
        moved = False
        data = c_out.read()
        if data:
            wire.chunks.append((Direction.TO_SERVER, data))
            s_in.write(data)
            moved = True
        data = s_out.read()
        if data:
            wire.chunks.append((Direction.TO_CLIENT, data))
            c_in.write(data)
            moved = True
        return moved

    done = [False, False]
    for _ in range(50):
        for i, side in enumerate((client, server)):
            if done[i]:
                continue
            try:
                side.do_handshake()
                done[i] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                wire.error = exc.reason or str(exc)
                pump()
                return wire
        if not pump() and all(done):
            break
    wire.cipher = (client.cipher() or ("",))[0]
    wire.version = client.version()
    client.write(request)
    pump()
    got = b""
    while len(got) < len(request):
        got += server.read(65536)
    server.write(response)
    pump()
    back = b""
    while len(back) < len(response):
        try:
            back += client.read(65536)
        except ssl.SSLWantReadError:
            if not pump():
                break
    pump()
    wire.session = client.session
    return wire
