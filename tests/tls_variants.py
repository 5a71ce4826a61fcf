"""Encrypted check-ins varied with scapy from the lab's https-healthy capture (no key used).

The lab capture's first boot is a phone's HTTPS check-in whose answer offers the interim file,
then a plain-HTTP download of it (frames 1-66; frames noted in ``knowledge/checkin_sizes.py``).
Each variant keeps frames of it, drops others and adds packets built from its own (the TCP
sequence numbers continued), so the TLS records stay real ciphertext:

* ``offer_fetched``: frames 1-66 as captured;
* ``nothing_offered``: the third boot (frames 134-164): an answer the size of "nothing";
* ``phone_alert``: after the request (frame 22) the phone sends an encrypted alert and FIN;
* ``server_reset``: after the request the server resets the connection;
* ``cut``: the capture ends right after the request;
* ``offer_unfetched``: the offer's answer, no download, the capture going on two minutes;
* ``offer_then_end``: the offer's answer, no download, and the capture ends at once.
"""

from __future__ import annotations

from pathlib import Path

from locations import PCAPS
from scapy.layers.inet import IP, TCP
from scapy.packet import Packet, Raw
from scapy.utils import rdpcap, wrpcap

LAB = PCAPS / "https-healthy.pcap"
REQUEST_FRAME = 22
"""The phone's encrypted check-in request (its second application data record)."""
SERVER_ACK_FRAME = 23


def _frames() -> list[Packet]:
    return list(rdpcap(str(LAB)))


def _after(packet: Packet, payload: bytes, *, flags: str, delay: float) -> Packet:
    """A packet of the same direction continuing ``packet``'s sequence numbers."""
    tcp = packet[TCP]
    seq = tcp.seq + len(bytes(tcp.payload)) + (1 if "F" in str(tcp.flags) else 0)
    built = packet.copy()
    built[TCP].seq = seq
    built[TCP].flags = flags
    built[TCP].remove_payload()
    if payload:
        built[TCP].add_payload(Raw(payload))
    del built[IP].len
    del built[IP].chksum
    del built[TCP].chksum
    built = built.__class__(bytes(built))
    built.time = packet.time + delay
    return built


def _write(path: Path, packets: list[Packet]) -> Path:
    wrpcap(str(path), packets, linktype=1)
    return path


def _encrypted_alert() -> bytes:
    # An alert record after ChangeCipherSpec: type 21, TLS 1.2, 48 protected bytes.
    return bytes([21, 3, 3, 0, 48]) + bytes(range(48))


def offer_fetched(path: Path) -> Path:
    return _write(path, _frames()[:66])


def nothing_offered(path: Path) -> Path:
    frames = _frames()
    return _write(path, frames[133:164])


def phone_alert(path: Path) -> Path:
    frames = _frames()
    request = frames[REQUEST_FRAME - 1]
    alert = _after(request, _encrypted_alert(), flags="PA", delay=0.001)
    fin = _after(alert, b"", flags="FA", delay=0.001)
    return _write(path, [*frames[:REQUEST_FRAME], alert, fin])


def server_reset(path: Path) -> Path:
    frames = _frames()
    ack = frames[SERVER_ACK_FRAME - 1]
    reset = _after(ack, b"", flags="R", delay=0.002)
    return _write(path, [*frames[:SERVER_ACK_FRAME], reset])


def cut(path: Path) -> Path:
    return _write(path, _frames()[:REQUEST_FRAME])


def offer_unfetched(path: Path) -> Path:
    frames = _frames()
    later = frames[8].copy()  # the phone's DNS query, two minutes on
    later.time = frames[29].time + 120
    return _write(path, [*frames[:30], later])


def offer_then_end(path: Path) -> Path:
    return _write(path, _frames()[:30])
