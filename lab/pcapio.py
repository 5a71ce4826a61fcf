"""Minimal pcap reader, pcap/pcapng writers and the 802.1Q/QinQ tagging post-process.

The lab's kernel has no 802.1Q support, yet the analyzer must handle tagged voice-VLAN traffic as
a real trunk mirror port delivers it. Tags are therefore added after capture, on raw bytes, so the
rest of each frame stays exactly as the real stacks produced it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

LINKTYPE_ETHERNET = 1
TPID_8021Q = 0x8100
TPID_8021AD = 0x88A8
VOICE_PCP = 5


@dataclass
class Frame:
    """One captured frame with its timestamp split as the file stores it."""

    sec: int
    usec: int
    orig_len: int
    data: bytes


def read_pcap(path: Path) -> tuple[int, int, list[Frame]]:
    """Read a classic microsecond pcap (what tcpdump -w writes): linktype, snaplen, frames."""
    raw = path.read_bytes()
    magic = raw[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        raise ValueError(f"{path}: not a microsecond pcap (magic {magic.hex()})")
    _vmaj, _vmin, _tz, _sig, snaplen, linktype = struct.unpack(endian + "HHiIII", raw[4:24])
    frames: list[Frame] = []
    off = 24
    while off + 16 <= len(raw):
        sec, usec, incl, orig = struct.unpack(endian + "IIII", raw[off : off + 16])
        off += 16
        frames.append(Frame(sec, usec, orig, raw[off : off + incl]))
        off += incl
    return linktype, snaplen, frames


def write_pcap(path: Path, frames: list[Frame], snaplen: int = 262144) -> None:
    """Write little-endian microsecond pcap with Ethernet link type."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))
    for f in frames:
        out += struct.pack("<IIII", f.sec, f.usec, len(f.data), f.orig_len) + f.data
    path.write_bytes(bytes(out))


def _pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad4(value)


def write_pcapng(path: Path, frames: list[Frame], if_name: str, snaplen: int = 262144) -> None:
    """Write a single-interface pcapng (SHB, IDB, EPBs) with microsecond timestamps."""

    def block(btype: int, body: bytes) -> bytes:
        total = 12 + len(body)
        return struct.pack("<II", btype, total) + body + struct.pack("<I", total)

    shb_opts = _option(4, b"capinspect lab (tcpdump + 802.1Q post-process)") + _option(0, b"")
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts)
    idb_opts = _option(2, if_name.encode()) + _option(9, b"\x06") + _option(0, b"")
    idb = block(1, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, snaplen) + idb_opts)
    out = bytearray(shb + idb)
    for f in frames:
        ts = f.sec * 1_000_000 + f.usec
        body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(f.data), f.orig_len)
        out += block(6, body + _pad4(f.data))
    path.write_bytes(bytes(out))


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def frame_owner(data: bytes, macs: set[str], ips: dict[str, str]) -> str | None:
    """Attribute a frame to a phone MAC: by Ethernet address, ARP IPs, or BOOTP chaddr.

    Broadcasts (OFFERs sent to ff:ff.., ARP who-has) carry no phone MAC in the Ethernet header, but
    a trunk port would still have carried them on the phone's VLAN, so look inside.
    """
    if len(data) < 14:
        return None
    dst, src = _mac(data[0:6]), _mac(data[6:12])
    for m in (src, dst):
        if m in macs:
            return m
    ethertype = struct.unpack("!H", data[12:14])[0]
    if ethertype == 0x0806 and len(data) >= 42:
        for ip_bytes in (data[28:32], data[38:42]):
            ip = ".".join(str(b) for b in ip_bytes)
            if ip in ips:
                return ips[ip]
    if ethertype == 0x0800 and len(data) >= 34 and data[23] == 17:
        ihl = (data[14] & 0x0F) * 4
        udp = 14 + ihl
        ports = struct.unpack("!HH", data[udp : udp + 4])
        if set(ports) <= {67, 68} and len(data) >= udp + 8 + 34:
            chaddr = _mac(data[udp + 8 + 28 : udp + 8 + 34])
            if chaddr in macs:
                return chaddr
    return None


def tag_frames(frames: list[Frame], vlans: dict[str, tuple[int, ...]], ips: dict[str, str]) -> int:
    """Insert 802.1Q (one VLAN) or 802.1ad+802.1Q (two VLANs) tags; returns frames changed."""
    changed = 0
    macs = set(vlans)
    for f in frames:
        owner = frame_owner(f.data, macs, ips)
        if owner is None or not vlans[owner]:
            continue
        ids = vlans[owner]
        tags = b""
        for i, vid in enumerate(ids):
            tpid = TPID_8021AD if len(ids) == 2 and i == 0 else TPID_8021Q
            tags += struct.pack("!HH", tpid, (VOICE_PCP << 13) | vid)
        f.data = f.data[:12] + tags + f.data[12:]
        f.orig_len += len(tags)
        changed += 1
    return changed
