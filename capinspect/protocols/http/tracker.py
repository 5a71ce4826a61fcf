"""Pairs HTTP requests with their responses on every reassembled TCP flow.

The TCP reassembler (capinspect/flows) announces each flow it follows with a ``FlowOpened`` and
then delivers ``StreamData``/``StreamGap``/``StreamEnd`` per direction. For flows it classified
as ``http`` the tracker runs one :class:`HttpMessageReader` per direction and pairs messages in
order (HTTP/1.x answers requests in the order they were sent, pipelined or not).

An exchange is returned as soon as its response is complete. One connection returns at most
``Limits.max_http_exchanges_per_flow`` exchanges, and after those only the ones a phone's update
depends on (check-ins, firmware files: :func:`always_kept`): a keep-alive connection carrying
thousands of requests must not grow memory without bound. What was left out is counted in one
``limit.max_http_exchanges_per_flow`` anomaly when the connection ends.

A request that will never get a response is returned once the server's direction has ended
(nothing more can come) or at :meth:`HttpTracker.finish`, with ``response=None``. A flow is
forgotten when both directions have ended, so memory follows the number of open connections,
not the length of the capture.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from capinspect.anomalies import AnomalySink
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import (
    Anomaly,
    Direction,
    FlowKey,
    FlowOpened,
    StreamData,
    StreamEnd,
    StreamEvent,
    StreamGap,
)
from capinspect.protocols.http.messages import HttpExchange, HttpRequest, HttpResponse
from capinspect.protocols.http.parser import HttpMessage, HttpMessageReader

_UPDATE_PATHS = (".upx", "deviceupdate", "requesthandler", ".nbt", ".cat", ".cab")
"""Request paths a phone's update depends on: the check-in (``/RequestHandler/ucdevice.upx``)
and the firmware files (``/DeviceUpdateFiles_Int/…/CPE.nbt``, ``.cat``, ``.cab``)."""


def always_kept(request: HttpRequest) -> bool:
    """Whether an exchange is kept beyond ``max_http_exchanges_per_flow``: a check-in or a
    firmware download is the evidence a verdict rests on."""
    path = request.path.lower()
    return any(part in path for part in _UPDATE_PATHS)


@dataclass(slots=True)
class _Flow:
    opened: FlowOpened
    requests: HttpMessageReader
    responses: HttpMessageReader
    waiting: deque[HttpRequest] = field(default_factory=deque)
    """Complete requests, oldest first, whose response has not been seen."""
    early: deque[HttpResponse] = field(default_factory=deque)
    """Responses that completed before their request did (an early 413, a capture that
    lost the request's end): paired with the next request to complete."""
    requests_in_progress: int = 0
    """Requests whose headers were read but whose body has not ended."""
    ended: set[Direction] = field(default_factory=set)
    next_index: int = 0
    anomalies: list[Anomaly] = field(default_factory=list)
    """Anomalies not yet attached to an exchange of this flow."""
    left_out: int = 0
    """Exchanges beyond ``max_http_exchanges_per_flow`` not returned."""
    first_left_out: tuple[int, float] | None = None
    """(frame, ts) of the first exchange left out."""


def _describe(flow: FlowKey) -> str:
    return f"{flow.client_ip}:{flow.client_port} → {flow.server_ip}:{flow.server_port}"


class HttpTracker:
    """Stream events in, :class:`HttpExchange` values out (see module docstring)."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, sink: AnomalySink | None = None) -> None:
        self.limits = limits
        self.sink = sink if sink is not None else AnomalySink()
        self._flows: dict[FlowKey, _Flow] = {}

    def feed(self, event: StreamEvent) -> list[HttpExchange]:
        """Take one stream event; return the exchanges it completed."""
        if isinstance(event, FlowOpened):
            return self._open(event)
        state = self._flows.get(event.flow)
        if state is None:
            return []  # not an HTTP flow (tls, dns) or one we were never told about
        out: list[HttpExchange] = []
        reader = state.requests if event.direction == Direction.TO_SERVER else state.responses
        if isinstance(event, StreamData):
            messages = reader.feed(event.data, event.frame, event.ts, event.first_frame)
        elif isinstance(event, StreamGap):
            messages = reader.gap(event.size, event.frame, event.ts)
        else:
            messages = reader.close(event.reason, event.frame, event.ts)
        self._absorb(state, event.direction, messages, out)
        if isinstance(event, StreamEnd):
            state.ended.add(event.direction)
            if Direction.TO_CLIENT in state.ended:
                # The server can say nothing more: every complete request is unanswered.
                self._flush_waiting(state, out)
            if len(state.ended) == 2:
                self._flush_waiting(state, out)
                self._drop_orphans(state)
                del self._flows[event.flow]
        return out

    def forget(self, flow: FlowKey) -> None:
        """Stop parsing ``flow`` and drop what was buffered for it (it turned out not to matter)."""
        self._flows.pop(flow, None)

    def finish(self) -> list[HttpExchange]:
        """End of input: close every open flow as ``eof`` and return what was pending."""
        out: list[HttpExchange] = []
        for key in list(self._flows):
            state = self._flows[key]
            ts = state.opened.ts
            for direction in (Direction.TO_SERVER, Direction.TO_CLIENT):
                if direction not in state.ended:
                    out.extend(self.feed(StreamEnd(key, direction, "eof", None, ts)))
        return out

    @property
    def anomalies(self) -> list[Anomaly]:
        """The anomalies its sink kept so far."""
        return self.sink.kept

    # -- internals ---------------------------------------------------------------------------

    def _open(self, event: FlowOpened) -> list[HttpExchange]:
        out: list[HttpExchange] = []
        previous = self._flows.get(event.flow)
        if previous is not None:
            # The same four-tuple reused: the old connection is over.
            self._flush_waiting(previous, out)
            self._drop_orphans(previous)
            del self._flows[event.flow]
        if event.kind != "http":
            return out
        if len(self._flows) >= self.limits.max_flows:
            self._record(
                None,
                Anomaly(
                    "limit.max_flows",
                    f"{_describe(event.flow)}: more than {self.limits.max_flows} HTTP flows "
                    "open at once; this one is not parsed",
                    event.frame,
                    event.ts,
                ),
            )
            return out
        self._flows[event.flow] = _Flow(
            opened=event,
            requests=HttpMessageReader("request", self.limits),
            responses=HttpMessageReader("response", self.limits),
        )
        return out

    def _absorb(
        self,
        state: _Flow,
        direction: Direction,
        messages: list[HttpMessage],
        out: list[HttpExchange],
    ) -> None:
        self._collect_anomalies(state)
        if direction == Direction.TO_SERVER:
            for method, target in state.requests.take_started_requests():
                state.responses.expect_method(method, target)
                state.requests_in_progress += 1
        for message in messages:
            if isinstance(message, HttpRequest):
                state.requests_in_progress = max(0, state.requests_in_progress - 1)
                if state.early:
                    self._emit(state, message, state.early.popleft(), out)
                else:
                    state.waiting.append(message)
                    if len(state.waiting) > self.limits.max_http_exchanges_per_flow:
                        # Requests the server never answers must not pile up either: the
                        # oldest is given up as unanswered.
                        self._emit(state, state.waiting.popleft(), None, out)
                continue
            if message.status == 101 or (
                200 <= message.status < 300
                and state.waiting
                and state.waiting[0].method.upper() == "CONNECT"
            ):
                state.requests.become_opaque()
            if state.waiting:
                self._emit(state, state.waiting.popleft(), message, out)
            elif state.requests_in_progress > len(state.early):
                state.early.append(message)
            else:
                self._orphan(state, message)

    def _collect_anomalies(self, state: _Flow) -> None:
        where = _describe(state.opened.flow)
        for reader in (state.requests, state.responses):
            for anomaly in reader.anomalies:
                self._record(
                    state,
                    Anomaly(anomaly.code, f"{where}: {anomaly.detail}", anomaly.frame, anomaly.ts),
                )
            reader.anomalies.clear()

    def _record(self, state: _Flow | None, anomaly: Anomaly) -> None:
        self.sink.add(anomaly)
        if state is not None:
            state.anomalies.append(anomaly)

    def _emit(
        self,
        state: _Flow,
        request: HttpRequest,
        response: HttpResponse | None,
        out: list[HttpExchange],
    ) -> None:
        if state.next_index >= self.limits.max_http_exchanges_per_flow and not always_kept(request):
            state.left_out += 1
            if state.first_left_out is None:
                state.first_left_out = (request.frame, request.ts)
            state.next_index += 1  # the indices of the exchanges kept show the hole
            return
        out.append(
            HttpExchange(
                flow=state.opened.flow,
                index=state.next_index,
                request=request,
                response=response,
                client_mac=state.opened.client_mac,
                vlans=state.opened.vlans,
                anomalies=tuple(state.anomalies),
            )
        )
        state.anomalies.clear()
        state.next_index += 1

    def _flush_waiting(self, state: _Flow, out: list[HttpExchange]) -> None:
        while state.waiting:
            self._emit(state, state.waiting.popleft(), None, out)

    def _drop_orphans(self, state: _Flow) -> None:
        """Responses whose request the capture never held cannot form an exchange: say so.
        Called once per connection as it is forgotten: also says what the bound left out."""
        self._collect_anomalies(state)
        if state.left_out:
            frame, ts = state.first_left_out or (None, state.opened.ts)
            limit = self.limits.max_http_exchanges_per_flow
            self._record(
                None,
                Anomaly(
                    "limit.max_http_exchanges_per_flow",
                    f"{_describe(state.opened.flow)}: {state.left_out} HTTP exchanges after the"
                    f" first {limit} of this connection were counted, not kept (check-ins and"
                    " firmware downloads are always kept)",
                    frame,
                    ts,
                ),
            )
            state.left_out = 0
        for response in state.early:
            self._orphan(state, response)
        state.early.clear()
        # Anomalies that no exchange took along stay in self.anomalies only.
        state.anomalies.clear()

    def _orphan(self, state: _Flow, response: HttpResponse) -> None:
        self._record(
            state,
            Anomaly(
                "http.response-without-request",
                f"{_describe(state.opened.flow)}: HTTP {response.status} response with no "
                "request for it in the capture",
                response.frame,
                response.ts,
            ),
        )
