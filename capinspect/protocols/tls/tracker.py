"""Follows TLS connections: handshake facts without keys, plaintext with them.

The TCP reassembler classifies a flow as ``tls`` when its first payload is a handshake record;
the engine sends that flow's stream events here. Per direction a :class:`RecordReader` cuts
records and a :class:`HandshakeReader` joins handshake messages, so what the tracker sees does
not depend on how the bytes were segmented.

Without keys it records, per connection: the ClientHello (SNI, versions, cipher suites), the
ServerHello (version and suite chosen, resumption), the certificate chain (TLS 1.0-1.2: read
with ``cryptography``; TLS 1.3: encrypted, which is said), every alert with its sender, and the
handshake's outcome. With keys (:class:`~capinspect.protocols.tls.keys.TlsKeys`) it has the
record keys derived (:class:`~capinspect.protocols.tls.keys.KeyDeriver`) at the first
ChangeCipherSpec (TLS 1.0-1.2) or the ServerHello (TLS 1.3) and decrypts records; application
data comes back out of :meth:`TlsTracker.feed` as stream events of a plaintext flow with the
same :class:`FlowKey` (``FlowOpened(kind="http")``, then ``StreamData`` carrying the frames of
the records), which the engine hands to the HTTP tracker exactly like a plain-HTTP flow. What
a connection is when it ends (outcome, decryption status) is decided in ``connection.py``.

Where the master secret comes from, in order: a resumed session's secret from an earlier full
handshake in the capture (same session ID or ticket); the key log's ``CLIENT_RANDOM``; its
``RSA`` line; the server key whose public key matches the certificate (RSA key exchange only).
When none applies the reason is kept (``decryption``), and the first record that does not
authenticate stops decryption with ``bad-record-mac``. docs/tls.md lists the reason codes.
"""

from __future__ import annotations

from capinspect.anomalies import AnomalySink
from capinspect.errors import Malformed
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
from capinspect.protocols.tls import crypto
from capinspect.protocols.tls.connection import ConnState, DirState, finished
from capinspect.protocols.tls.keys import (
    NO_KEYS,
    Derived,
    Handshake,
    KeyDeriver,
    KeyFailure,
    TlsKeys,
)
from capinspect.protocols.tls.messages import (
    ALERT,
    APPLICATION_DATA,
    CERTIFICATE,
    CHANGE_CIPHER_SPEC,
    CIPHER_SUITES,
    CLIENT_HELLO,
    CLIENT_KEY_EXCHANGE,
    DECRYPTED,
    EXT_PRE_SHARED_KEY,
    FINISHED,
    HANDSHAKE,
    HANDSHAKE_NAMES,
    KEY_UPDATE,
    NEW_SESSION_TICKET,
    SERVER_HELLO,
    SERVER_HELLO_DONE,
    TcpEnd,
    TlsAlert,
    TlsConnection,
)
from capinspect.protocols.tls.parser import (
    TlsRecord,
    certificate_info,
    parse_alerts,
    parse_certificate_list,
    parse_client_hello,
    parse_new_session_ticket,
    parse_rsa_client_key_exchange,
    parse_server_hello,
)

MAX_CONNECTIONS_KEPT = 50_000
"""TLS connections kept for the report; later ones are counted in an anomaly."""
MAX_ALERTS = 16
MAX_CERTIFICATES = 10
MAX_TRANSCRIPT = 512 * 1024
"""Handshake bytes kept for the extended master secret's session hash."""


def _describe(flow: FlowKey) -> str:
    return f"{flow.client_ip}:{flow.client_port} → {flow.server_ip}:{flow.server_port}"


class TlsTracker:
    """Stream events of ``tls`` flows in; plaintext stream events and connections out."""

    def __init__(
        self,
        limits: Limits = DEFAULT_LIMITS,
        keys: TlsKeys = NO_KEYS,
        sink: AnomalySink | None = None,
    ) -> None:
        self.limits = limits
        self.keys = keys
        self.sink = sink if sink is not None else AnomalySink()
        self.connections: list[TlsConnection] = []
        self.connections_dropped = 0
        self._conns: dict[FlowKey, ConnState] = {}
        self.deriver = KeyDeriver(keys)

    # -- stream events -----------------------------------------------------------------------

    @property
    def anomalies(self) -> list[Anomaly]:
        """The anomalies its sink kept so far."""
        return self.sink.kept

    def feed(self, event: StreamEvent) -> list[StreamEvent]:
        """Take one stream event of a TLS flow; return plaintext events for the HTTP tracker."""
        if isinstance(event, FlowOpened):
            out: list[StreamEvent] = []
            previous = self._conns.pop(event.flow, None)
            if previous is not None:
                out.extend(self._close_plain(previous, "eof", None, event.ts))
                self._finalize(previous)
            if len(self._conns) >= self.limits.max_flows:
                self._note(None, "limit.max_flows", "too many TLS connections open", event)
                return out
            self._conns[event.flow] = ConnState(event, last_ts=event.ts)
            return out
        conn = self._conns.get(event.flow)
        if conn is None:
            return []
        out = []
        side = conn.dirs[event.direction]
        conn.last_ts = max(conn.last_ts, event.ts)
        try:
            if isinstance(event, StreamData):
                records = side.records.feed(event.data, event.frame, event.ts, event.first_frame)
            elif isinstance(event, StreamGap):
                records = side.records.gap(event.size)
                if conn.plain_opened:
                    out.append(
                        StreamGap(event.flow, event.direction, event.size, event.frame, event.ts)
                    )
            else:
                records = []
            for record in records:
                out.extend(self._record(conn, event.direction, record))
        except Malformed as exc:  # _record catches per message; this guards the boundary
            self._note(conn, "tls.malformed", str(exc), event)
        if side.records.broken is not None and not side.ended:
            self._reader_broken(conn, event.direction, side, event)
        if isinstance(event, StreamEnd):
            side.ended = True
            conn.end_reason = conn.end_reason or event.reason
            conn.ends.append(TcpEnd(event.direction, event.reason, event.frame, event.ts))
            if conn.plain_opened:
                out.append(event)
            if all(d.ended for d in conn.dirs):
                del self._conns[event.flow]
                self._finalize(conn)
        return out

    def forget(self, flow: FlowKey) -> None:
        """The engine released this flow (it concerns no phone): drop it without a trace."""
        self._conns.pop(flow, None)

    def finish(self) -> tuple[TlsConnection, ...]:
        """End of input: connections still open are finalized as they stand."""
        for conn in list(self._conns.values()):
            conn.end_reason = conn.end_reason or "eof"
            self._finalize(conn)
        self._conns.clear()
        if self.connections_dropped:
            self.sink.add(
                Anomaly(
                    "limit.tls-connections",
                    f"{self.connections_dropped} TLS connections over {MAX_CONNECTIONS_KEPT} "
                    "were followed but not kept",
                )
            )
            self.connections_dropped = 0
        return tuple(sorted(self.connections, key=lambda c: c.frame))

    # -- records -----------------------------------------------------------------------------

    def _record(
        self, conn: ConnState, direction: Direction, record: TlsRecord
    ) -> list[StreamEvent]:
        side = conn.dirs[direction]
        if record.lost:
            if side.cipher is not None:
                side.cipher.lost()
            if record.content_type == HANDSHAKE and not side.encrypted:
                side.handshake_broken = True
            return []
        ctype = record.content_type
        if ctype == CHANGE_CIPHER_SPEC:
            if not conn.tls13:
                if direction == Direction.TO_CLIENT and not conn.dirs[0].encrypted:
                    # The server changes keys first only in an abbreviated (resumed) handshake.
                    conn.resumed = conn.resumed or not conn.cert_ders
                side.encrypted = True
                self._derive_tls12(conn)
            return []
        protected = side.encrypted and not (
            ctype == ALERT and len(record.fragment) == 2 and conn.tls13
        )
        if protected:
            return self._protected(conn, direction, side, record)
        if ctype == HANDSHAKE:
            if not side.handshake_broken:
                try:
                    for msg_type, body, raw in side.handshake.feed(record.fragment):
                        self._handshake(conn, direction, msg_type, body, raw, record)
                except Malformed as exc:
                    side.handshake_broken = True
                    self._note(conn, "tls.malformed-handshake", str(exc), record)
        elif ctype == ALERT:
            self._alerts(conn, direction, record, record.fragment)
        elif ctype == APPLICATION_DATA:
            side.app_bytes += len(record.fragment)
            self._note(
                conn,
                "tls.plaintext-application-data",
                "application data before ChangeCipherSpec",
                record,
            )
        return []

    def _protected(
        self, conn: ConnState, direction: Direction, side: DirState, record: TlsRecord
    ) -> list[StreamEvent]:
        side.encrypted_records += 1
        if direction == Direction.TO_SERVER:
            conn.client_first_encrypted_seen = True
        elif conn.client_first_encrypted_seen:
            conn.server_after_client_encrypted += 1
        if not conn.tls13 and side.encrypted_records == 1:
            side.finished = True  # the first record after ChangeCipherSpec is Finished
        if side.cipher is None:
            if record.content_type == ALERT:
                conn_alert = TlsAlert(record.first_frame, record.ts, direction, None, None)
                if len(conn.alerts) < MAX_ALERTS:
                    conn.alerts.append(conn_alert)
            elif record.content_type == APPLICATION_DATA and (side.finished or conn.tls13):
                side.app_bytes += len(record.fragment)
                conn.app_record(direction, record)
            return []
        try:
            inner, plain = side.cipher.decrypt(record.content_type, record.version, record.fragment)
        except crypto.DecryptError as exc:
            self._decrypt_failed(conn, str(exc), record)
            return []
        conn.decrypted_records += 1
        if conn.decryption is None or conn.decryption == "bad-record-mac":
            conn.decryption = DECRYPTED
        out: list[StreamEvent] = []
        if inner == HANDSHAKE:
            try:
                for msg_type, body, raw in side.handshake.feed(plain):
                    self._handshake(conn, direction, msg_type, body, raw, record)
            except Malformed as exc:
                self._note(conn, "tls.malformed-handshake", str(exc), record)
        elif inner == ALERT:
            self._alerts(conn, direction, record, plain)
        elif inner == APPLICATION_DATA:
            side.app_bytes += len(plain)
            conn.app_record(direction, record)
            if plain and self._plain_wanted(conn):
                flow = conn.opened.flow
                if not conn.plain_opened:
                    conn.plain_opened = True
                    op = conn.opened
                    out.append(
                        FlowOpened(
                            flow,
                            record.first_frame,
                            record.ts,
                            op.client_mac,
                            op.vlans,
                            "http",
                            op.syn_seen,
                        )
                    )
                out.append(
                    StreamData(flow, direction, plain, record.frame, record.ts, record.first_frame)
                )
        return out

    @staticmethod
    def _plain_wanted(conn: ConnState) -> bool:
        """Only HTTP/1.x goes to the HTTP tracker (ALPN h2 would be noise to it)."""
        alpn = conn.server_hello.alpn if conn.server_hello else None
        return alpn in (None, "http/1.1", "http/1.0")

    def _alerts(
        self, conn: ConnState, direction: Direction, record: TlsRecord, data: bytes
    ) -> None:
        try:
            pairs = parse_alerts(data)
        except Malformed as exc:
            self._note(conn, "tls.malformed-alert", str(exc), record)
            return
        for level, description in pairs:
            if len(conn.alerts) < MAX_ALERTS:
                conn.alerts.append(
                    TlsAlert(record.first_frame, record.ts, direction, level, description)
                )

    # -- handshake messages --------------------------------------------------------------------

    def _handshake(
        self,
        conn: ConnState,
        direction: Direction,
        msg_type: int,
        body: bytes,
        raw: bytes,
        record: TlsRecord,
    ) -> None:
        if not conn.transcript_done and len(conn.transcript) + len(raw) <= MAX_TRANSCRIPT:
            conn.transcript += raw
        try:
            self._message(conn, direction, msg_type, body, record)
        except Malformed as exc:
            name = HANDSHAKE_NAMES.get(msg_type, f"handshake type {msg_type}")
            self._note(conn, "tls.malformed-handshake", f"{name}: {exc}", record)

    def _message(
        self, conn: ConnState, direction: Direction, msg_type: int, body: bytes, record: TlsRecord
    ) -> None:
        to_server = direction == Direction.TO_SERVER
        if msg_type == CLIENT_HELLO and to_server:
            conn.client_hello = parse_client_hello(body, record.first_frame, record.ts)
        elif msg_type == SERVER_HELLO and not to_server:
            hello = parse_server_hello(body, record.first_frame, record.ts)
            conn.server_hello = hello
            if hello.hello_retry:
                return
            ch = conn.client_hello
            if hello.selected_version == 0x0304:
                conn.resumed = EXT_PRE_SHARED_KEY in hello.extensions
                for side in conn.dirs:
                    side.encrypted = True
                self._derive_tls13(conn)
            elif ch is not None and ch.session_id and ch.session_id == hello.session_id:
                conn.resumed = True
        elif msg_type == CERTIFICATE and not to_server:
            ders = parse_certificate_list(body, conn.tls13)
            conn.cert_ders = ders[:MAX_CERTIFICATES]
            conn.certificates = [certificate_info(der) for der in conn.cert_ders]
            conn.certificate_frame = record.first_frame
        elif msg_type == CLIENT_KEY_EXCHANGE and to_server:
            conn.transcript_done = True
            suite = CIPHER_SUITES.get(conn.server_hello.cipher_suite) if conn.server_hello else None
            if suite is not None and suite.kx == "RSA" and conn.version is not None:
                conn.encrypted_pre_master = parse_rsa_client_key_exchange(body, conn.version)
        elif msg_type == SERVER_HELLO_DONE and not to_server:
            pass
        elif msg_type == NEW_SESSION_TICKET and not to_server:
            ticket = parse_new_session_ticket(body, conn.tls13)
            if not conn.tls13:
                conn.tickets.append(ticket)
                self._remember_sessions(conn)
        elif msg_type == FINISHED:
            side = conn.dirs[direction]
            side.finished = True
            if conn.tls13:
                self._tls13_application_keys(conn, direction)
        elif msg_type == KEY_UPDATE and conn.tls13:
            cipher = conn.dirs[direction].cipher
            if isinstance(cipher, crypto.Tls13Cipher):
                cipher.rekey(cipher.next_secret())

    # -- keys ----------------------------------------------------------------------------------

    def _fail(self, conn: ConnState, reason: str, detail: str) -> None:
        conn.decryption = reason
        conn.decryption_detail = detail

    def _derive_tls12(self, conn: ConnState) -> None:
        """At the first ChangeCipherSpec: find the master secret and set up both directions."""
        if conn.keys_tried:
            return
        conn.keys_tried = True
        if not self.deriver.can_try:
            # No key and no remembered session: nothing was tried, so nothing "failed" (the
            # report says "no key given", not a reason keys did not work).
            return
        ch, sh = conn.client_hello, conn.server_hello
        if ch is None or sh is None:
            self._fail(conn, "missing-handshake", "the capture does not hold both hellos")
            return
        handshake = Handshake(
            ch,
            sh,
            conn.resumed,
            bytes(conn.transcript),
            conn.encrypted_pre_master,
            conn.cert_ders[0] if conn.cert_ders else None,
            conn.certificates[0] if conn.certificates else None,
        )
        self._apply(conn, self.deriver.tls12(handshake))

    def _derive_tls13(self, conn: ConnState) -> None:
        conn.keys_tried = True
        if conn.server_hello is not None:
            self._apply(conn, self.deriver.tls13_handshake(conn.client_hello, conn.server_hello))

    def _apply(self, conn: ConnState, derived: Derived) -> None:
        if derived is None:
            return
        if isinstance(derived, KeyFailure):
            self._fail(conn, derived.reason, derived.detail)
            return
        conn.master = derived.master
        conn.decrypted_with = derived.source
        client_side, server_side = conn.dirs
        client_side.cipher, server_side.cipher = derived.to_server, derived.to_client
        self._remember_sessions(conn)

    def _tls13_application_keys(self, conn: ConnState, direction: Direction) -> None:
        cipher = conn.dirs[direction].cipher
        if not isinstance(cipher, crypto.Tls13Cipher):
            return
        secret = self.deriver.tls13_traffic_secret(conn.client_hello, direction)
        if isinstance(secret, KeyFailure):
            conn.dirs[direction].cipher = None
            self._fail(conn, secret.reason, secret.detail)
        elif secret is not None:
            cipher.rekey(secret)

    def _remember_sessions(self, conn: ConnState) -> None:
        sh = conn.server_hello
        self.deriver.remember(conn.master, sh.session_id if sh is not None else b"", conn.tickets)

    def _decrypt_failed(self, conn: ConnState, why: str, record: TlsRecord) -> None:
        source = conn.decrypted_with or "the keys"
        if conn.decrypted_records:
            conn.decryption_detail = (
                f"decrypted {conn.decrypted_records} records, then one did not authenticate ({why})"
            )
            for side in conn.dirs:
                side.cipher = None
            self._note(conn, "tls.decrypt-failed", conn.decryption_detail, record)
            return
        if source == "server key":
            detail = (
                "the server key decrypted a pre-master secret that does not authenticate the "
                f"records ({why}): the key does not belong to this connection's certificate"
            )
        else:
            detail = f"the secret from the {source} does not decrypt this connection ({why})"
        self._fail(conn, "bad-record-mac", detail)
        for side in conn.dirs:
            side.cipher = None
        self._note(conn, "tls.decrypt-failed", detail, record)

    # -- endings --------------------------------------------------------------------------------

    def _reader_broken(
        self, conn: ConnState, direction: Direction, side: DirState, event: StreamEvent
    ) -> None:
        if side.broken_handled:
            return
        side.broken_handled = True
        reason = side.records.broken or ""
        if reason.startswith("malformed"):
            self._note(conn, "tls.malformed-record", reason, event)
        if side.cipher is not None:
            side.cipher = None
            if conn.decryption == DECRYPTED:
                conn.decryption_detail = "decryption stopped at a capture gap"

    def _close_plain(
        self, conn: ConnState, reason: str, frame: int | None, ts: float
    ) -> list[StreamEvent]:
        if not conn.plain_opened:
            return []
        return [
            StreamEnd(conn.opened.flow, direction, reason, frame, ts)
            for direction, side in zip(Direction, conn.dirs, strict=True)
            if not side.ended
        ]

    def _finalize(self, conn: ConnState) -> None:
        if len(self.connections) >= MAX_CONNECTIONS_KEPT:
            self.connections_dropped += 1
            return
        self.connections.append(finished(conn, keys_given=not self.keys.empty))

    def _note(
        self,
        conn: ConnState | None,
        code: str,
        detail: str,
        where: TlsRecord | StreamEvent | None,
    ) -> None:
        frame = getattr(where, "first_frame", None) or getattr(where, "frame", None)
        ts = getattr(where, "ts", None)
        if conn is not None:
            detail = f"{_describe(conn.opened.flow)}: {detail}"
        anomaly = Anomaly(code, detail, frame, ts)
        if conn is not None and len(conn.anomalies) < MAX_ALERTS:
            conn.anomalies.append(anomaly)
        self.sink.add(anomaly)
