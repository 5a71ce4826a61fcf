"""Follows TLS connections: handshake facts without keys, plaintext with them.

The TCP reassembler classifies a flow as ``tls`` when its first payload is a handshake record;
the engine sends that flow's stream events here. Per direction a :class:`RecordReader` cuts
records and a :class:`HandshakeReader` joins handshake messages, so what the tracker sees does
not depend on how the bytes were segmented.

Without keys it records, per connection: the ClientHello (SNI, versions, cipher suites), the
ServerHello (version and suite chosen, resumption), the certificate chain (TLS 1.0-1.2: read
with ``cryptography``; TLS 1.3: encrypted, which is said), every alert with its sender, and the
handshake's outcome. With keys (:class:`~capinspect.protocols.tls.keys.TlsKeys`) it derives the
record keys at the first ChangeCipherSpec (TLS 1.0-1.2) or the ServerHello (TLS 1.3) and
decrypts records; application data comes back out of :meth:`TlsTracker.feed` as stream events
of a plaintext flow with the same :class:`FlowKey` (``FlowOpened(kind="http")``, then
``StreamData`` carrying the frames of the records), which the engine hands to the HTTP tracker
exactly like a plain-HTTP flow.

Where the master secret comes from, in order: a resumed session's secret from an earlier full
handshake in the capture (same session ID or ticket); the key log's ``CLIENT_RANDOM``; its
``RSA`` line; the server key whose public key matches the certificate (RSA key exchange only).
When none applies the reason is kept (``decryption``), and the first record that does not
authenticate stops decryption with ``bad-record-mac``. docs/tls.md lists the reason codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from capinspect.protocols.tls.keys import NO_KEYS, TlsKeys
from capinspect.protocols.tls.messages import (
    ALERT,
    APPLICATION_DATA,
    CERTIFICATE,
    CHANGE_CIPHER_SPEC,
    CIPHER_SUITES,
    CLIENT_HELLO,
    CLIENT_KEY_EXCHANGE,
    DECRYPTED,
    ESTABLISHED,
    EXT_PRE_SHARED_KEY,
    FAILED,
    FINISHED,
    HANDSHAKE,
    HANDSHAKE_NAMES,
    INCOMPLETE,
    KEY_UPDATE,
    NEW_SESSION_TICKET,
    NO_KEYS_GIVEN,
    NOTHING_TO_DECRYPT,
    SERVER_HELLO,
    SERVER_HELLO_DONE,
    UNKNOWN,
    CertificateInfo,
    CipherSuite,
    ClientHello,
    ServerHello,
    TlsAlert,
    TlsConnection,
    suite_name,
    version_name,
)
from capinspect.protocols.tls.parser import (
    HandshakeReader,
    RecordReader,
    TlsRecord,
    certificate_info,
    certificate_public_key_der,
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
MAX_SESSIONS = 10_000
"""Master secrets remembered by session ID / ticket, for resumed connections."""


@dataclass(slots=True)
class _Dir:
    records: RecordReader = field(default_factory=RecordReader)
    handshake: HandshakeReader = field(default_factory=HandshakeReader)
    encrypted: bool = False
    """Records from here on are protected (after ChangeCipherSpec; TLS 1.3 after ServerHello)."""
    cipher: crypto.RecordCipher | None = None
    finished: bool = False
    encrypted_records: int = 0
    app_bytes: int = 0
    ended: bool = False
    handshake_broken: bool = False
    broken_handled: bool = False


@dataclass(slots=True)
class _Conn:
    opened: FlowOpened
    dirs: tuple[_Dir, _Dir] = field(default_factory=lambda: (_Dir(), _Dir()))
    client_hello: ClientHello | None = None
    server_hello: ServerHello | None = None
    cert_ders: list[bytes] = field(default_factory=list)
    certificates: list[CertificateInfo] = field(default_factory=list)
    certificate_frame: int | None = None
    alerts: list[TlsAlert] = field(default_factory=list)
    transcript: bytearray = field(default_factory=bytearray)
    transcript_done: bool = False
    encrypted_pre_master: bytes | None = None
    resumed: bool = False
    tickets: list[bytes] = field(default_factory=list)
    keys_tried: bool = False
    master: bytes | None = None
    decryption: str | None = None
    decryption_detail: str = ""
    decrypted_with: str | None = None
    decrypted_records: int = 0
    plain_opened: bool = False
    client_first_encrypted_seen: bool = False
    server_after_client_encrypted: int = 0
    end_reason: str | None = None
    last_ts: float = 0.0
    anomalies: list[Anomaly] = field(default_factory=list)

    @property
    def version(self) -> int | None:
        return self.server_hello.selected_version if self.server_hello else None

    @property
    def tls13(self) -> bool:
        return self.version == 0x0304


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
        self._conns: dict[FlowKey, _Conn] = {}
        self._sessions: dict[bytes, bytes] = {}
        """Session IDs and tickets → master secret, for abbreviated handshakes."""

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
            self._conns[event.flow] = _Conn(event, last_ts=event.ts)
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

    def _record(self, conn: _Conn, direction: Direction, record: TlsRecord) -> list[StreamEvent]:
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
        self, conn: _Conn, direction: Direction, side: _Dir, record: TlsRecord
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
    def _plain_wanted(conn: _Conn) -> bool:
        """Only HTTP/1.x goes to the HTTP tracker (ALPN h2 would be noise to it)."""
        alpn = conn.server_hello.alpn if conn.server_hello else None
        return alpn in (None, "http/1.1", "http/1.0")

    def _alerts(self, conn: _Conn, direction: Direction, record: TlsRecord, data: bytes) -> None:
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
        conn: _Conn,
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
        self, conn: _Conn, direction: Direction, msg_type: int, body: bytes, record: TlsRecord
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

    def _fail(self, conn: _Conn, reason: str, detail: str) -> None:
        conn.decryption = reason
        conn.decryption_detail = detail

    def _derive_tls12(self, conn: _Conn) -> None:
        """At the first ChangeCipherSpec: find the master secret and set up both directions."""
        if conn.keys_tried:
            return
        conn.keys_tried = True
        ch, sh = conn.client_hello, conn.server_hello
        if ch is None or sh is None:
            self._fail(conn, "missing-handshake", "the capture does not hold both hellos")
            return
        keys = self.keys
        if keys.empty and not self._sessions:
            return
        suite = CIPHER_SUITES.get(sh.cipher_suite)
        name = suite_name(sh.cipher_suite)
        if suite is None or suite.cipher not in crypto.SUPPORTED_CIPHERS:
            self._fail(conn, "unsupported-cipher", f"{name} is not one capinspect decrypts")
            return
        if sh.selected_version < 0x0301:
            self._fail(conn, "unsupported-version", f"{version_name(sh.selected_version)}")
            return
        master, source = self._master_secret(conn, ch, sh, suite)
        if master is None:
            return
        conn.master = master
        conn.decrypted_with = source
        to_server, to_client = crypto.tls12_ciphers(
            sh.selected_version,
            suite,
            master,
            ch.random,
            sh.random,
            sh.encrypt_then_mac and not suite.aead,
        )
        client_side, server_side = conn.dirs
        client_side.cipher, server_side.cipher = to_server, to_client
        self._remember_sessions(conn)

    def _master_secret(
        self, conn: _Conn, ch: ClientHello, sh: ServerHello, suite: CipherSuite
    ) -> tuple[bytes | None, str | None]:
        keylog = self.keys.keylog
        if keylog is not None and ch.random in keylog.master_secrets:
            return keylog.master_secrets[ch.random], "key log"
        if conn.resumed:
            for handle in (sh.session_id, ch.session_ticket):
                if handle and handle in self._sessions:
                    return self._sessions[handle], "earlier handshake in the capture"
            self._fail(
                conn,
                "resumed-no-master",
                "the session was resumed (abbreviated handshake) and its master secret is "
                "neither in the capture (the full handshake that made it) nor in the key log",
            )
            return None, None
        prf_name = crypto.prf_hash(sh.selected_version, suite)
        ext_hash = (
            crypto.session_hash(prf_name, bytes(conn.transcript))
            if sh.extended_master_secret
            else None
        )
        epms = conn.encrypted_pre_master
        if keylog is not None and epms is not None and epms[:8] in keylog.rsa_pre_masters:
            logged = keylog.rsa_pre_masters[epms[:8]]
            return crypto.master_secret(prf_name, logged, ch.random, sh.random, ext_hash), (
                "key log"
            )
        name = suite_name(sh.cipher_suite)
        if suite.kx != "RSA":
            if self.keys.server_keys and keylog is None:
                self._fail(
                    conn,
                    "needs-key-log",
                    f"{name} uses ephemeral ({suite.kx}) key exchange: the server's private key "
                    "cannot decrypt it, only a key log (SSLKEYLOGFILE) can",
                )
            elif keylog is not None:
                self._fail(
                    conn,
                    "keylog-no-entry",
                    "the key log has no CLIENT_RANDOM line for "
                    f"client random {ch.random.hex()[:16]}…",
                )
            return None, None
        if epms is None:
            self._fail(conn, "missing-handshake", "no ClientKeyExchange in the capture")
            return None, None
        if not self.keys.server_keys:
            if keylog is not None:
                self._fail(
                    conn,
                    "keylog-no-entry",
                    "the key log has no CLIENT_RANDOM or RSA "
                    f"line for client random {ch.random.hex()[:16]}…",
                )
            return None, None
        public = certificate_public_key_der(conn.cert_ders[0]) if conn.cert_ders else None
        for server_key in self.keys.server_keys:
            if public is not None and server_key.public_der != public:
                continue
            pms = server_key.decrypt_pre_master(epms)
            if pms is None or len(pms) != 48:
                continue
            return crypto.master_secret(prf_name, pms, ch.random, sh.random, ext_hash), (
                "server key"
            )
        cert = conn.certificates[0] if conn.certificates else None
        subject = cert.subject if cert is not None else "the server certificate"
        self._fail(
            conn,
            "key-mismatch",
            f"no key given matches {subject}"
            + (f" (serial {cert.serial})" if cert is not None else "")
            + ": "
            + ", ".join(k.path for k in self.keys.server_keys),
        )
        return None, None

    def _derive_tls13(self, conn: _Conn) -> None:
        conn.keys_tried = True
        ch, sh = conn.client_hello, conn.server_hello
        keylog = self.keys.keylog
        if sh is None or self.keys.empty:
            return
        suite = CIPHER_SUITES.get(sh.cipher_suite)
        if suite is None or suite.cipher not in crypto.SUPPORTED_CIPHERS:
            self._fail(conn, "unsupported-cipher", f"{suite_name(sh.cipher_suite)}")
            return
        if keylog is None:
            self._fail(
                conn,
                "needs-key-log",
                "TLS 1.3 always uses ephemeral key exchange: "
                "the server's private key cannot decrypt it, only a key log can",
            )
            return
        if ch is None:
            self._fail(conn, "missing-handshake", "no ClientHello in the capture")
            return
        client = keylog.tls13_secrets.get(("CLIENT_HANDSHAKE_TRAFFIC_SECRET", ch.random))
        server = keylog.tls13_secrets.get(("SERVER_HANDSHAKE_TRAFFIC_SECRET", ch.random))
        if client is None or server is None:
            self._fail(
                conn,
                "keylog-no-entry",
                "the key log has no TLS 1.3 handshake secrets "
                f"for client random {ch.random.hex()[:16]}…",
            )
            return
        conn.dirs[0].cipher = crypto.Tls13Cipher(suite, client)
        conn.dirs[1].cipher = crypto.Tls13Cipher(suite, server)
        conn.decrypted_with = "key log"

    def _tls13_application_keys(self, conn: _Conn, direction: Direction) -> None:
        cipher = conn.dirs[direction].cipher
        keylog = self.keys.keylog
        ch = conn.client_hello
        if not isinstance(cipher, crypto.Tls13Cipher) or keylog is None or ch is None:
            return
        label = (
            "CLIENT_TRAFFIC_SECRET_0"
            if direction == Direction.TO_SERVER
            else ("SERVER_TRAFFIC_SECRET_0")
        )
        secret = keylog.tls13_secrets.get((label, ch.random))
        if secret is None:
            conn.dirs[direction].cipher = None
            self._fail(conn, "keylog-no-entry", f"the key log has no {label} for this connection")
            return
        cipher.rekey(secret)

    def _remember_sessions(self, conn: _Conn) -> None:
        if conn.master is None or len(self._sessions) >= MAX_SESSIONS:
            return
        sh = conn.server_hello
        if sh is not None and sh.session_id:
            self._sessions[sh.session_id] = conn.master
        for ticket in conn.tickets:
            self._sessions[ticket] = conn.master

    def _decrypt_failed(self, conn: _Conn, why: str, record: TlsRecord) -> None:
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
        self, conn: _Conn, direction: Direction, side: _Dir, event: StreamEvent
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
        self, conn: _Conn, reason: str, frame: int | None, ts: float
    ) -> list[StreamEvent]:
        if not conn.plain_opened:
            return []
        return [
            StreamEnd(conn.opened.flow, direction, reason, frame, ts)
            for direction, side in zip(Direction, conn.dirs, strict=True)
            if not side.ended
        ]

    def _finalize(self, conn: _Conn) -> None:
        if len(self.connections) >= MAX_CONNECTIONS_KEPT:
            self.connections_dropped += 1
            return
        outcome, detail = self._outcome(conn)
        decryption, decryption_detail = self._decryption(conn, outcome)
        op = conn.opened
        frames = [
            f
            for f in (
                conn.client_hello.frame if conn.client_hello else None,
                conn.server_hello.frame if conn.server_hello else None,
                conn.certificate_frame,
                conn.alerts[0].frame if conn.alerts else None,
            )
            if f
        ]
        self.connections.append(
            TlsConnection(
                flow=op.flow,
                frame=op.frame,
                ts=op.ts,
                client_mac=op.client_mac,
                vlans=op.vlans,
                client_hello=conn.client_hello,
                server_hello=conn.server_hello,
                certificates=tuple(conn.certificates),
                certificate_frame=conn.certificate_frame,
                certificate_encrypted=conn.tls13 and not conn.certificates,
                alerts=tuple(conn.alerts),
                outcome=outcome,
                outcome_detail=detail,
                resumed=conn.resumed,
                handshake_frames=tuple(sorted(set(frames))),
                app_bytes_to_server=conn.dirs[0].app_bytes,
                app_bytes_to_client=conn.dirs[1].app_bytes,
                decryption=decryption,
                decryption_detail=decryption_detail,
                decrypted_with=conn.decrypted_with if decryption == DECRYPTED else None,
                end_reason=conn.end_reason,
                last_ts=conn.last_ts,
                anomalies=tuple(conn.anomalies),
            )
        )

    @staticmethod
    def _outcome(conn: _Conn) -> tuple[str, str]:
        client, server = conn.dirs
        fatal = next((a for a in conn.alerts if a.fatal), None)
        if conn.client_hello is None and conn.server_hello is None:
            return UNKNOWN, "the capture began after the handshake"
        if conn.tls13 and not (client.cipher or server.cipher or conn.decrypted_records):
            if client.encrypted_records >= 2 or conn.server_after_client_encrypted:
                return ESTABLISHED, "TLS 1.3: application data flowed after the client's Finished"
            if fatal is not None:
                return FAILED, f"the {fatal.sender} sent a fatal {fatal.name} alert"
            if conn.end_reason in ("fin", "rst") and client.encrypted_records == 1:
                return UNKNOWN, (
                    "TLS 1.3 hides the end of the handshake: the client sent one encrypted "
                    "record and the connection closed (a rejected certificate looks like this)"
                )
        done = client.finished and server.finished
        if done:
            return ESTABLISHED, "both sides sent Finished" + (" (resumed)" if conn.resumed else "")
        if fatal is not None:
            return FAILED, f"the {fatal.sender} sent a fatal {fatal.name} alert"
        if any(side.records.broken == "gap" or side.handshake_broken for side in conn.dirs):
            return INCOMPLETE, "the capture lost part of the handshake"
        if conn.end_reason in ("fin", "rst"):
            return FAILED, f"the connection closed ({conn.end_reason}) during the handshake"
        return INCOMPLETE, "the capture ended during the handshake"

    def _decryption(self, conn: _Conn, outcome: str) -> tuple[str, str]:
        if conn.decryption == DECRYPTED:
            return DECRYPTED, conn.decryption_detail or f"decrypted with the {conn.decrypted_with}"
        if conn.decryption is not None:
            return conn.decryption, conn.decryption_detail
        if not (conn.dirs[0].app_bytes or conn.dirs[1].app_bytes) and outcome != ESTABLISHED:
            return NOTHING_TO_DECRYPT, "no application data"
        if self.keys.empty:
            return NO_KEYS_GIVEN, "no key given"
        return "incomplete", "the handshake needed to derive the keys is not in the capture"

    def _note(
        self,
        conn: _Conn | None,
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
