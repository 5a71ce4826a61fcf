"""A phone's TCP connection attempts: the SYN, and whether the server accepted, refused or
never answered.

The reassembler follows a flow only from its first payload, so a connection that never carries
a byte (a refused port, a server that does not answer) leaves no stream event. This tracker
sees the SYN and RST segments of the phones' addresses (the engine feeds only those:
``engine._Interest``) and says what became of each attempt:

* ``accepted`` — the server answered with a SYN-ACK;
* ``refused`` — it answered with a RST (nothing listens on the port, or a firewall refuses);
* ``no-answer`` — the client's SYNs (the first and its retransmissions) got nothing back by the
  end of the capture.

Bounds: ``Limits.max_tcp_connects`` attempts (``limit.max_tcp_connects`` once), at most
:data:`MAX_SYNS_KEPT` SYN frames each. Time is packet time only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from capinspect.anomalies import AnomalySink
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.model import TCP_ACK, TCP_RST, TCP_SYN, Anomaly, FlowKey, Packet

ACCEPTED = "accepted"
REFUSED = "refused"
NO_ANSWER = "no-answer"
MAX_SYNS_KEPT = 8
"""SYN frames kept per attempt (the first and its retransmissions)."""


@dataclass(frozen=True, slots=True)
class TcpConnect:
    """One connection attempt: the client's SYN(s) and the server's answer."""

    flow: FlowKey
    frame: int
    ts: float
    client_mac: str | None
    vlans: tuple[int, ...]
    syn_frames: tuple[int, ...]
    outcome: str
    """``accepted``, ``refused`` or ``no-answer``."""
    answer_frame: int | None = None
    answer_ts: float | None = None
    last_syn_ts: float = 0.0

    @property
    def frames(self) -> tuple[int, ...]:
        return (*self.syn_frames, *((self.answer_frame,) if self.answer_frame else ()))


@dataclass(slots=True)
class _Pending:
    pkt: Packet
    syns: list[int] = field(default_factory=list)
    last_ts: float = 0.0


class ConnectTracker:
    """Feed the phones' TCP segments with SYN or RST set; read :meth:`finish` at the end."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, sink: AnomalySink | None = None) -> None:
        self.limits = limits
        self.sink = sink if sink is not None else AnomalySink()
        self._pending: dict[tuple[str, int, str, int], _Pending] = {}
        self._done: list[TcpConnect] = []
        self._full = False

    def feed(self, pkt: Packet) -> None:
        flags = pkt.tcp_flags
        if flags & TCP_SYN and not flags & TCP_ACK:
            key = (pkt.src_ip, pkt.sport, pkt.dst_ip, pkt.dport)
            pending = self._pending.get(key)
            if pending is None:
                if len(self._pending) + len(self._done) >= self.limits.max_tcp_connects:
                    if not self._full:
                        self._full = True
                        self.sink.add(
                            Anomaly(
                                "limit.max_tcp_connects",
                                f"{self.limits.max_tcp_connects} TCP connection attempts kept;"
                                " later ones are not tracked",
                                pkt.frame,
                                pkt.ts,
                            )
                        )
                    return
                pending = self._pending[key] = _Pending(pkt)
            if len(pending.syns) < MAX_SYNS_KEPT:
                pending.syns.append(pkt.frame)
            pending.last_ts = pkt.ts
            return
        key = (pkt.dst_ip, pkt.dport, pkt.src_ip, pkt.sport)
        pending = self._pending.get(key)
        if pending is None:
            return
        if flags & TCP_SYN:
            self._close(key, ACCEPTED, pkt)
        elif flags & TCP_RST:
            self._close(key, REFUSED, pkt)

    def _close(self, key: tuple[str, int, str, int], outcome: str, answer: Packet | None) -> None:
        pending = self._pending.pop(key)
        first = pending.pkt
        self._done.append(
            TcpConnect(
                flow=FlowKey(first.src_ip, first.sport, first.dst_ip, first.dport),
                frame=first.frame,
                ts=first.ts,
                client_mac=first.src_mac,
                vlans=first.vlans,
                syn_frames=tuple(pending.syns),
                outcome=outcome,
                answer_frame=answer.frame if answer is not None else None,
                answer_ts=answer.ts if answer is not None else None,
                last_syn_ts=pending.last_ts,
            )
        )

    def connects_so_far(self) -> tuple[TcpConnect, ...]:
        pending = [
            TcpConnect(
                FlowKey(p.pkt.src_ip, p.pkt.sport, p.pkt.dst_ip, p.pkt.dport),
                p.pkt.frame,
                p.pkt.ts,
                p.pkt.src_mac,
                p.pkt.vlans,
                tuple(p.syns),
                NO_ANSWER,
                last_syn_ts=p.last_ts,
            )
            for p in self._pending.values()
        ]
        return tuple(sorted((*self._done, *pending), key=lambda c: c.frame))

    def finish(self) -> tuple[TcpConnect, ...]:
        for key in list(self._pending):
            self._close(key, NO_ANSWER, None)
        return tuple(sorted(self._done, key=lambda c: c.frame))
