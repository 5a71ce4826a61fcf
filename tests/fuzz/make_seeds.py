"""Write the fuzzers' seed inputs under tests/fuzz/corpus/<target>/ from the lab captures.

    python tests/fuzz/make_seeds.py

Seeds are named ``seed-*``; crash reproducers found by a fuzzer are kept next to them as
``crash-*`` (docs/robustness.md). Both are replayed by test_fuzz.py.
"""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from netmon_files import Frame, netmon_file  # noqa: E402

from capinspect.decode.decoder import Decoder  # noqa: E402
from capinspect.model import IpProto, Packet  # noqa: E402
from capinspect.pipeline import analyze_paths  # noqa: E402
from capinspect.sources.pcapfile import open_capture  # noqa: E402

CORPUS = HERE / "corpus"
LAB = ROOT / "pcaps"
SMALL_CAPTURES = ("healthy-no-update.pcap", "option43-truncated.pcap", "acl-denied.pcap")


def _write(target: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{hashlib.sha1(data).hexdigest()[:12]}").write_bytes(data)


def _packets(name: str) -> list[Packet]:
    decoder = Decoder()
    out: list[Packet] = []
    with open_capture(str(LAB / name)) as capture:
        for frame in capture:
            pkt = decoder.decode(frame)
            if isinstance(pkt, Packet):
                out.append(pkt)
    return out


def _engine_input(packets: list[Packet]) -> bytes:
    """The engine target's ``[kind, length, chunk]`` form of a capture's phone traffic."""
    out = bytearray()
    for pkt in packets:
        if pkt.proto == IpProto.UDP and 67 in (pkt.sport, pkt.dport):
            kind = 1 if pkt.dport == 67 else 2
        elif pkt.proto == IpProto.UDP and 53 in (pkt.sport, pkt.dport):
            kind = 3 if pkt.dport == 53 else 4
        elif pkt.proto == IpProto.TCP and pkt.tcp_flags & 0x02 and pkt.dport == 80:
            out += bytes([7, 0])
            continue
        elif pkt.proto == IpProto.TCP and pkt.payload and 80 in (pkt.sport, pkt.dport):
            kind = 5 if pkt.dport == 80 else 6
        else:
            continue
        for at in range(0, len(pkt.payload), 255):
            chunk = pkt.payload[at : at + 255]
            out += bytes([kind, len(chunk)]) + chunk
    return bytes(out)


def main() -> None:
    for name in SMALL_CAPTURES:
        raw = (LAB / name).read_bytes()
        _write("reader", raw[:3000])
        _write("decode", b"\x00" + raw[40 : 40 + 400])
        packets = _packets(name)
        streams: dict[tuple[str, int], bytearray] = {}
        for pkt in packets:
            if pkt.proto == IpProto.UDP and 67 in (pkt.sport, pkt.dport):
                _write("dhcp", pkt.payload)
            elif pkt.proto == IpProto.UDP and 53 in (pkt.sport, pkt.dport):
                _write("dns", pkt.payload)
            elif pkt.proto == IpProto.TCP and pkt.payload and 80 in (pkt.sport, pkt.dport):
                streams.setdefault((pkt.src_ip, pkt.sport), bytearray()).extend(pkt.payload)
        for (_, port), data in streams.items():
            role_byte = b"\x01" if port != 80 else b"\x00"
            _write("http", role_byte + bytes(data[:4000]))
        for exchange in analyze_paths([str(LAB / name)]).http:
            if exchange.request.body.data:
                _write("checkin", exchange.request.body.data)
            if exchange.response is not None and exchange.response.body.data:
                _write("checkin", exchange.response.body.data[:4000])
        _write("engine", _engine_input(packets))
    for seed in _ntp_seeds():
        _write("ntp", seed)
    _write("reader", (LAB / "multi-phone.pcapng").read_bytes()[:3000])
    _write("reader", _netmon_seed(3))
    _write("reader", _zip_seed(_netmon_seed(1)))


def _ntp_seeds() -> list[bytes]:
    """A client request, a server answer, a Kiss-o'-Death, a control message, an authenticator."""
    from scapy.layers.ntp import NTPHeader

    now = 3_990_000_000.0  # NTP seconds (2026)
    answer = bytes(NTPHeader(mode=4, stratum=2, orig=now - 1, recv=now, sent=now + 0.001))
    kiss = bytearray(answer)
    kiss[1], kiss[12:16] = 0, b"RATE"
    return [
        bytes(NTPHeader(mode=3, version=3, sent=now)),
        answer,
        bytes(kiss),
        bytes([0x16, 0x02, 0x00, 0x01]) + bytes(8),
        answer + b"\x00\x00\x00\x01" + bytes(16),
    ]


def _netmon_seed(minor: int) -> bytes:
    """A Network Monitor file with every kind of media the reader tells apart."""
    frame = (LAB / "healthy-no-update.pcap").read_bytes()[40:382]
    media = (1, 0xFFE0, 9, 0xFFFD, 0xE001, 2)
    return netmon_file([Frame(frame, i * 1000, media=m) for i, m in enumerate(media)], minor=minor)


def _zip_seed(member: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("capture.cap", member)
    return out.getvalue()


if __name__ == "__main__":
    main()
