"""A TLS connection as the tracker follows it, and what it becomes when it ends.

:class:`ConnState` holds what the handshake showed so far (hellos, certificates, alerts, the
transcript for the extended master secret), the record ciphers of both directions and the
counters the outcome is judged from. :func:`finished` turns it into the frozen
:class:`TlsConnection` the report reads: the handshake's outcome (:func:`outcome`) and the
decryption status (:func:`decryption`, reason codes in docs/tls.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from capinspect.model import Anomaly, Direction, FlowOpened
from capinspect.protocols.tls import crypto
from capinspect.protocols.tls.messages import (
    DECRYPTED,
    ESTABLISHED,
    FAILED,
    INCOMPLETE,
    MAX_APP_RECORDS,
    NO_KEYS_GIVEN,
    NOTHING_TO_DECRYPT,
    UNKNOWN,
    AppRecord,
    CertificateInfo,
    ClientHello,
    ServerHello,
    TcpEnd,
    TlsAlert,
    TlsConnection,
)
from capinspect.protocols.tls.parser import HandshakeReader, RecordReader, TlsRecord


@dataclass(slots=True)
class DirState:
    """One direction of a followed TLS connection."""

    records: RecordReader = field(default_factory=RecordReader)
    handshake: HandshakeReader = field(default_factory=HandshakeReader)
    encrypted: bool = False
    """Records from here on are protected (after ChangeCipherSpec; TLS 1.3 after ServerHello)."""
    cipher: crypto.RecordCipher | None = None
    finished: bool = False
    encrypted_records: int = 0
    app_bytes: int = 0
    app_records: int = 0
    ended: bool = False
    handshake_broken: bool = False
    broken_handled: bool = False


@dataclass(slots=True)
class ConnState:
    """A TLS connection being followed: what the handshake showed so far, keys, counters."""

    opened: FlowOpened
    dirs: tuple[DirState, DirState] = field(default_factory=lambda: (DirState(), DirState()))
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
    app_records: list[AppRecord] = field(default_factory=list)
    ends: list[TcpEnd] = field(default_factory=list)

    def app_record(self, direction: Direction, record: TlsRecord) -> None:
        """Count one application data record and keep its protected size (the first few)."""
        self.dirs[direction].app_records += 1
        if len(self.app_records) < MAX_APP_RECORDS:
            size = len(record.fragment)
            self.app_records.append(AppRecord(record.first_frame, record.ts, direction, size))

    @property
    def version(self) -> int | None:
        return self.server_hello.selected_version if self.server_hello else None

    @property
    def tls13(self) -> bool:
        return self.version == 0x0304


def outcome(conn: ConnState) -> tuple[str, str]:
    """How the handshake ended (established, failed, incomplete, unknown) and why."""
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


def decryption(conn: ConnState, outcome: str, *, keys_given: bool) -> tuple[str, str]:
    """The connection's decryption status (docs/tls.md) and its words."""
    if conn.decryption == DECRYPTED:
        return DECRYPTED, conn.decryption_detail or f"decrypted with the {conn.decrypted_with}"
    if conn.decryption is not None:
        return conn.decryption, conn.decryption_detail
    if not (conn.dirs[0].app_bytes or conn.dirs[1].app_bytes) and outcome != ESTABLISHED:
        return NOTHING_TO_DECRYPT, "no application data"
    if not keys_given:
        return NO_KEYS_GIVEN, "no key given"
    return "incomplete", "the handshake needed to derive the keys is not in the capture"


def finished(conn: ConnState, *, keys_given: bool) -> TlsConnection:
    """The connection as the report reads it."""
    ended, detail = outcome(conn)
    status, status_detail = decryption(conn, ended, keys_given=keys_given)
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
    return TlsConnection(
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
        outcome=ended,
        outcome_detail=detail,
        resumed=conn.resumed,
        handshake_frames=tuple(sorted(set(frames))),
        app_bytes_to_server=conn.dirs[0].app_bytes,
        app_bytes_to_client=conn.dirs[1].app_bytes,
        decryption=status,
        decryption_detail=status_detail,
        decrypted_with=conn.decrypted_with if status == DECRYPTED else None,
        end_reason=conn.end_reason,
        last_ts=conn.last_ts,
        anomalies=tuple(conn.anomalies),
        app_records=tuple(conn.app_records),
        app_record_counts=(conn.dirs[0].app_records, conn.dirs[1].app_records),
        ends=tuple(conn.ends),
    )
