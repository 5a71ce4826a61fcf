"""capinspect's TLS against tshark's: decrypted streams and certificate facts.

The lab captures were decrypted by tshark with the same lab key and key log; the corpus's
tls_*.pcap certificates are read by tshark's x509 dissector. Skipped without tshark (or the
corpus).
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from locations import PCAPS, ZEEK_TRACES, needs_tshark

from capinspect.analysis import Analysis
from capinspect.engine import Engine
from capinspect.model import Direction, FlowKey, StreamData, StreamEvent
from capinspect.protocols.tls.keys import NO_KEYS, TlsKeys, load_tls_keys
from capinspect.protocols.tls.tracker import TlsTracker
from capinspect.sources.merge import iter_frames

CAPTURE = PCAPS / "https-healthy.pcap"
KEY = PCAPS / "https-healthy.key.pem"
KEYLOG = PCAPS / "https-healthy.keylog"
CORPUS_TLS = sorted(ZEEK_TRACES.glob("tls_*.pcap")) if ZEEK_TRACES.is_dir() else []

pytestmark = [pytest.mark.tshark, needs_tshark]


def _tshark(*args: str) -> str:
    proc = subprocess.run(
        ["tshark", "-n", *args], capture_output=True, text=True, timeout=120, check=True
    )
    return proc.stdout


def _analyse(
    capture: Path, keys: TlsKeys
) -> tuple[Analysis, dict[tuple[FlowKey, Direction], bytes]]:
    """Run the engine and keep the plaintext the TLS tracker handed to the HTTP tracker."""
    engine = Engine(tls_keys=keys)
    plain: dict[tuple[FlowKey, Direction], bytes] = {}
    original = engine.tls.feed

    def feed(event: StreamEvent) -> list[StreamEvent]:
        out = original(event)
        for item in out:
            if isinstance(item, StreamData):
                key = (item.flow, item.direction)
                plain[key] = plain.get(key, b"") + item.data
        return out

    engine.tls.feed = feed  # type: ignore[method-assign]
    for frame in iter_frames([str(capture)]):
        engine.feed(frame)
    return engine.finish(), plain


def _tshark_streams(option: str) -> dict[tuple[int, Direction], bytes]:
    """tshark's decrypted bytes per TLS connection (by client port) and direction."""
    streams = _tshark(
        "-r", str(CAPTURE), "-Y", "tls.handshake.type == 1", "-T", "fields", "-e", "tcp.stream"
    ).split()
    out: dict[tuple[int, Direction], bytes] = {}
    for stream in streams:
        text = _tshark("-r", str(CAPTURE), "-o", option, "-q", "-z", f"follow,tls,raw,{stream}")
        port = 0
        for line in text.splitlines():
            if line.startswith("Node 0:"):
                port = int(line.rsplit(":", 1)[1])
            elif line and all(c in "0123456789abcdef\t" for c in line):
                direction = Direction.TO_CLIENT if line.startswith("\t") else Direction.TO_SERVER
                key = (port, direction)
                out[key] = out.get(key, b"") + bytes.fromhex(line.strip())
    return out


@pytest.mark.parametrize(
    ("keys", "option"),
    [
        (load_tls_keys([str(KEY)]), f"tls.keys_list:10.77.0.1,443,http,{KEY}"),
        (load_tls_keys(keylog_path=str(KEYLOG)), f"tls.keylog_file:{KEYLOG}"),
    ],
    ids=["server-key", "key-log"],
)
def test_decrypted_streams_and_checkin_bodies_agree_with_tshark(keys: TlsKeys, option: str) -> None:
    analysis, plain = _analyse(CAPTURE, keys)
    theirs = _tshark_streams(option)
    ours = {(flow.client_port, direction): data for (flow, direction), data in plain.items()}
    assert len(ours) == 6 and ours == theirs
    # The check-in bodies capinspect parsed are the ones tshark shows, byte for byte.
    bodies = _tshark(
        "-r",
        str(CAPTURE),
        "-o",
        option,
        "-Y",
        "http.request.method == POST or (http.response and tcp.srcport == 443)",
        "-T",
        "fields",
        "-e",
        "http.file_data",
    ).splitlines()
    checkins = [ex for ex in analysis.http if ex.flow.server_port == 443]
    assert len(checkins) == 3
    ours_bodies = []
    for ex in checkins:
        assert ex.response is not None
        ours_bodies += [ex.request.body.data, ex.response.body.data]
    assert [b.decode() for b in ours_bodies] == bodies


def test_without_keys_nothing_is_decrypted() -> None:
    analysis, plain = _analyse(CAPTURE, NO_KEYS)
    assert plain == {} and not any(ex.flow.server_port == 443 for ex in analysis.http)
    assert [c.decryption for c in analysis.tls] == ["no-keys"] * 3


_X509 = [
    "frame.number",
    "x509ce.dNSName",
    "x509af.serialNumber",
    "x509af.utcTime",
    "x509af.algorithm.id",
]


def _tls_certificates(capture: Path) -> list[tuple[int, list[tuple[str, ...]]]]:
    """capinspect: per Certificate frame, (serial, SANs, validity) of each certificate."""
    tracker = TlsTracker()
    engine = Engine(follow_all=True)
    engine.tls = tracker
    for frame in iter_frames([str(capture)]):
        engine.feed(frame)
    analysis = engine.finish()
    out = []
    for conn in analysis.tls:
        if conn.certificate_frame is None:
            continue
        certs = [
            (
                c.serial,
                ",".join(c.dns_names),
                datetime.fromtimestamp(c.not_before, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                datetime.fromtimestamp(c.not_after, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            )
            for c in conn.certificates
        ]
        out.append((conn.certificate_frame, certs))
    return out


@cache
def _tshark_certificates(capture: Path) -> dict[int, dict[str, list[str]]]:
    argv = ["-r", str(capture), "-Y", "tls.handshake.type == 11", "-T", "fields"]
    for field in _X509:
        argv += ["-e", field]
    argv += ["-E", "occurrence=a", "-E", "aggregator=|"]
    rows: dict[int, dict[str, list[str]]] = {}
    for line in _tshark(*argv).splitlines():
        cols = line.split("\t") + [""] * len(_X509)
        rows[int(cols[0])] = {f: cols[i].split("|") if cols[i] else [] for i, f in enumerate(_X509)}
    return rows


@pytest.mark.parametrize(
    "capture",
    [PCAPS / "https-healthy.pcap", PCAPS / "https-untrusted.pcap", *CORPUS_TLS],
    ids=lambda p: p.name,
)
def test_certificate_facts_agree_with_tshark(capture: Path) -> None:
    ours = _tls_certificates(capture)
    theirs = _tshark_certificates(capture)
    assert ours, "no certificate read"
    for frame, certs in ours:
        # capinspect names the frame where the Certificate record starts, tshark the one where
        # its reassembly ends: the same message is tshark's first Certificate from there on.
        row = theirs[min(f for f in theirs if f >= frame)]
        serials = [s.replace(":", "").lstrip("0") for s in row["x509af.serialNumber"]]
        assert [c[0].lstrip("0") for c in certs] == serials
        # tshark lists utcTime notBefore, notAfter per certificate ("… (UTC)").
        times = [t.removesuffix(" (UTC)") for t in row["x509af.utcTime"]]
        if len(times) == 2 * len(certs):
            assert [t for c in certs for t in c[2:]] == times
        sans = [c[1] for c in certs if c[1]]
        assert ",".join(sans).split(",") == (row["x509ce.dNSName"] or [""])
