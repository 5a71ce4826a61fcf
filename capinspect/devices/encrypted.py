"""Encrypted check-ins judged without keys: what the capture shows of a check-in inside TLS.

Lync Phone Edition phones (and Communicator Phone Edition phones pointed at HTTPS) check in
over TLS; without the server's key or a key log the request and the answer are hidden, but not
everything is (docs/tls.md, "Encrypted check-ins judged without keys"):

* the handshake and the certificate (judged by the ``tls.*`` checks);
* the application data both ways: how many records, how big; the answer's plaintext size is
  known to within a cipher block (``protocols/tls/sizes.py``) and compared with a lab answer
  that offers a file and one that offers nothing (``knowledge/checkin_sizes.py``);
* alerts (their type is encrypted too once the handshake is done), and how the connection
  ended: FIN, RST, or the capture ended first;
* what followed: the firmware itself travels over plain HTTP, so a GET of a firmware file
  right after an encrypted check-in means the check-in offered it, and its URL names the
  version (``knowledge/update_paths.py``).

Each connection becomes an :class:`EncryptedCheckin` whose ``outcome`` is:

``offer-fetched``
    the server answered and the phone fetched a firmware file before its next check-in;
``nothing-offered``
    the server answered, no alert and no reset came before the answer, no download followed,
    and the answer is the size of one offering nothing, or the capture went on ``SETTLE``
    seconds after an answer of no telling size;
``offer-unfetched``
    as above but the answer is the size of an offer and the capture went on ``SETTLE``
    seconds without a download;
``rejected``
    the phone or the server sent an alert, reset or closed the connection before the answer
    (after a completed handshake: a failed handshake is ``tls.handshake-failed``'s);
``undecided``
    the evidence does not suffice (the capture cut the check-in, or ended within ``SETTLE``
    seconds of an answer that is not the size of one offering nothing): the report then names
    ``--tls-key``, ``--keylog`` and ``--audit-log``.

With ``--audit-log`` the matching audit row (MAC or client address, within the clock offset)
gives the firmware the phone reported and the files offered (``logs/fill.py``); the outcome
then follows the row where the capture alone could not decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from capinspect.devices.model import (
    NOTHING_OFFERED,
    OFFER_FETCHED,
    OFFER_UNFETCHED,
    REJECTED,
    UNDECIDED,
    DeviceSession,
    Download,
    EncryptedCheckin,
    TimelineStep,
    seconds,
)
from capinspect.knowledge.checkin_sizes import NOTHING, OFFER, answer_like, describe_references
from capinspect.knowledge.phone import is_sign_in_name, is_update_name
from capinspect.knowledge.update_paths import read_update_path
from capinspect.model import Direction
from capinspect.protocols.dhcp.messages import DhcpExchange
from capinspect.protocols.tls.messages import (
    DECRYPTED,
    ESTABLISHED,
    UNKNOWN,
    TlsConnection,
    suite_name,
    version_name,
)
from capinspect.protocols.tls.sizes import plaintext_total

FOLLOW_WINDOW = 600.0
"""Seconds after an encrypted check-in within which a firmware GET is taken as its offer being
fetched (a phone fetches at once; the next check-in ends the window sooner)."""

SETTLE = 60.0
"""Seconds the capture must go on after an answer, without a download, for "offered, not
fetched" (an answer the size of an offer) or "nothing offered" (an answer of no telling size)
to be said; less is undecided, as for ``download.not-attempted``."""

INFERRED = "inferred without decryption"

MAX_ENCRYPTED_CHECKINS = 64
"""Encrypted check-ins judged per phone (a phone checks in once a boot)."""


def option43_hosts(dhcp: Iterable[DhcpExchange]) -> set[str]:
    """The certificate provisioning hosts of option 43 (sub-option 3)."""
    hosts: set[str] = set()
    for exchange in dhcp:
        for seen in exchange.messages:
            o43 = seen.message.option43
            if seen.message.op == 2 and o43 is not None and o43.web_server_fqdn:
                hosts.add(o43.web_server_fqdn.lower().rstrip("."))
    return hosts


def checkin_connections(
    tls: Sequence[TlsConnection], sign_in_hosts: set[str]
) -> list[TlsConnection]:
    """The phone's service TLS that can carry a check-in and was not decrypted.

    A connection whose SNI is ucupdates-r2.* is a check-in's; one to a sign-in name (SRV,
    autodiscover) is not; one to option 43's certificate provisioning host is the sign-in's
    when the phone also reached an update name, a check-in's otherwise (one host may serve
    both). Failed handshakes are left to the ``tls.*`` checks."""
    update_sni = any(is_update_name(c.sni) for c in tls)
    found: list[TlsConnection] = []
    for conn in tls:
        sni = (conn.sni or "").lower().rstrip(".")
        if conn.decryption == DECRYPTED or conn.outcome not in (ESTABLISHED, UNKNOWN):
            continue
        if conn.outcome == UNKNOWN and not any(conn.app_record_counts):
            continue
        if is_sign_in_name(sni) or (update_sni and sni in sign_in_hosts):
            continue
        if is_update_name(sni) or conn.flow.server_port == 443:
            found.append(conn)
    return found[:MAX_ENCRYPTED_CHECKINS]


def _ended(conn: TlsConnection) -> tuple[str, bool, bool]:
    """How the connection ended in words; whether the capture cut it; whether a reset did."""
    if not conn.ends:
        return "still open when the capture ended (cut)", True, False
    first = conn.ends[0]
    who = "the phone" if first.direction == Direction.TO_SERVER else "the server"
    reset = any(e.reason == "rst" for e in conn.ends)
    if first.reason == "rst":
        return f"reset (RST, frame {first.frame})", False, True
    if first.reason in ("eof", "idle"):
        return "still open when the capture ended (cut)", True, False
    words = f"{who} closed it (FIN, frame {first.frame})"
    if reset:
        rst = next(e for e in conn.ends if e.reason == "rst")
        words += f", then a reset (RST, frame {rst.frame})"
    return words, False, reset


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _handshake_words(conn: TlsConnection) -> str:
    """The handshake and the certificate in one line (the ``tls.*`` checks judge them)."""
    if conn.version is None and conn.cipher_suite is None:
        words = "no handshake seen (version and cipher suite unknown)"
    else:
        words = f"{version_name(conn.version)} {suite_name(conn.cipher_suite)}"
    if conn.resumed:
        words += " (resumed: no certificate sent)"
    cert = conn.server_certificate
    if cert is not None and cert.problem is None:
        names = ", ".join(cert.names[:4]) or "no names"
        words += (
            f"; certificate for {names}, valid {_day(cert.not_before)} … {_day(cert.not_after)}, "
            f"chain of {len(conn.certificates)} issued by {cert.issuer}"
        )
    elif conn.certificate_encrypted:
        words += "; the certificate is encrypted (TLS 1.3)"
    return words


def _version_of(download: Download) -> str | None:
    """The version an update file's URL names; ``interim`` for the OCInterim folder."""
    found = read_update_path(download.exchange.request.path)
    if found is None:
        return None
    if found.layout.name == "interim":
        return "interim"
    return found.get("version")


def infer(
    conn: TlsConnection,
    downloads: Sequence[Download],
    next_ts: float | None,
    capture_end: float | None,
) -> EncryptedCheckin:
    """What one encrypted check-in was, from the capture alone."""
    to_server = [r for r in conn.app_records if r.direction == Direction.TO_SERVER]
    to_client = [r for r in conn.app_records if r.direction == Direction.TO_CLIENT]
    requests, answers = conn.app_record_counts
    basis: list[str] = []
    if conn.sni:
        basis.append(f"TLS to {conn.flow.server_ip}:{conn.flow.server_port} (SNI {conn.sni})")
    else:
        basis.append(f"TLS to {conn.flow.server_ip}:{conn.flow.server_port} (no SNI)")
    basis.append(_handshake_words(conn))
    basis.append(
        f"{requests} record(s) / {conn.app_bytes_to_server} bytes to the server, "
        f"{answers} record(s) / {conn.app_bytes_to_client} bytes back"
    )
    plain = plaintext_total(conn.cipher_suite, conn.version, [r.size for r in to_client])
    like = answer_like(*plain) if plain is not None and to_client else None
    if plain is not None and to_client:
        size = f"{plain[0]}" if plain[0] == plain[1] else f"{plain[0]}–{plain[1]}"
        looks = {
            OFFER: "like an answer offering a file",
            NOTHING: "like an answer offering nothing",
        }.get(like or "", "between an offer and nothing")
        basis.append(f"answer of {size} plaintext bytes, {looks} ({describe_references()})")
    ended, cut, reset = _ended(conn)
    basis.append(f"connection: {ended}")
    answer_ts = to_client[-1].ts if to_client else None
    first_answer = to_client[0].ts if to_client else None
    early_alerts = [a for a in conn.alerts if first_answer is None or a.ts < first_answer]
    fatal = [a for a in conn.alerts if a.fatal]
    for alert in (early_alerts or fatal)[:1]:
        name = alert.name if alert.description is not None else "alert (type encrypted)"
        basis.append(f"{alert.sender} sent an {name} in frame {alert.frame}")
    window_end = min(next_ts if next_ts is not None else float("inf"), conn.ts + FOLLOW_WINDOW)
    after = answer_ts if answer_ts is not None else conn.ts
    followed = tuple(d for d in downloads if d.offered_by is None and after <= d.ts < window_end)
    version = next((v for v in (_version_of(d) for d in followed) if v), None)

    def result(outcome: str) -> EncryptedCheckin:
        return EncryptedCheckin(
            connection=conn,
            outcome=outcome,
            basis=tuple(basis),
            request_records=requests,
            request_bytes=conn.app_bytes_to_server,
            answer_records=answers,
            answer_bytes=conn.app_bytes_to_client,
            answer_plaintext=plain if to_client else None,
            answer_like=like,
            ended=ended,
            downloads=followed,
            offered_version=version,
        )

    if early_alerts or (fatal and not to_client):
        return result(REJECTED)
    if not to_client:
        if cut:
            basis.append("the capture ended before the server answered")
            return result(UNDECIDED)
        if reset:
            basis.append("the connection was reset before the server answered")
        elif not to_server:
            basis.append("the phone closed the connection without sending a check-in")
        else:
            basis.append("the connection closed before the server answered")
        return result(REJECTED)
    if followed:
        names = ", ".join(d.file_name for d in followed[:3])
        basis.append(
            f"then a plain-HTTP GET of {names} (frame {followed[0].frame}, "
            f"{seconds(max(0.0, followed[0].ts - after))} after the answer)"
            + (
                ": the interim file (OCInterim folder)"
                if version == "interim"
                else f": its URL names version {version}"
                if version
                else ""
            )
        )
        return result(OFFER_FETCHED)
    settled = capture_end is not None and capture_end - after >= SETTLE
    waited = seconds(max(0.0, (capture_end or after) - after))
    if cut and not settled:
        basis.append(f"the capture ended {waited} after the answer, the connection still open")
        return result(UNDECIDED)
    if like is None and not settled:
        basis.append(
            f"the answer's size says nothing and the capture ended {waited} after it, too soon "
            "to tell whether a download follows"
        )
        return result(UNDECIDED)
    if like == OFFER:
        if settled:
            basis.append(
                f"no firmware GET in the {seconds((capture_end or after) - after)} the capture "
                "went on"
            )
            return result(OFFER_UNFETCHED)
        basis.append(f"no firmware GET, but the capture ended {waited} after the answer")
        return result(UNDECIDED)
    basis.append("no firmware GET followed and no alert came")
    return result(NOTHING_OFFERED)


def infer_checkins(
    tls: Sequence[TlsConnection],
    downloads: Sequence[Download],
    dhcp: Iterable[DhcpExchange],
    capture_end: float | None,
) -> tuple[EncryptedCheckin, ...]:
    """Every encrypted check-in of one phone, judged (in connection order)."""
    conns = checkin_connections(tls, option43_hosts(dhcp))
    out: list[EncryptedCheckin] = []
    for index, conn in enumerate(conns):
        next_ts = conns[index + 1].ts if index + 1 < len(conns) else None
        out.append(infer(conn, downloads, next_ts, capture_end))
    return tuple(out)


def timeline_steps(items: Sequence[EncryptedCheckin]) -> list[TimelineStep]:
    """One ladder line per encrypted check-in, at the server's last answer record (or the
    connection's start when there was none); ``details["inferred"]`` marks them."""
    steps: list[TimelineStep] = []
    for item in items:
        conn = item.connection
        answer = [r for r in conn.app_records if r.direction == Direction.TO_CLIENT]
        frame, ts = (answer[-1].frame, answer[-1].ts) if answer else (conn.frame, conn.ts)
        details: dict[str, object] = {"inferred": True, "outcome": item.outcome}
        server = f"{conn.flow.server_ip}:{conn.flow.server_port}"
        steps.append(
            TimelineStep(
                ts, frame, "checkin", "from-server", server, "checkin-encrypted", item, details
            )
        )
    return steps


def with_timeline(session: DeviceSession) -> DeviceSession:
    """The session whose ladder shows its encrypted check-ins as they are now judged."""
    kept = [s for s in session.timeline if not s.details.get("inferred")]
    steps = sorted([*kept, *timeline_steps(session.encrypted_checkins)], key=_step_order)
    return replace(session, timeline=tuple(steps))


def _step_order(step: TimelineStep) -> tuple[float, int]:
    return (step.ts, step.frame)
