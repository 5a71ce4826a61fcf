"""The shipped default-filter program: libpcap's program for the default filter, run by the kernel.

Three things are checked: the data is what tcpdump and libpcap compile the default filter to
today (skipped without them); ``capinspect live`` uses it with no compiler installed; and the
kernel's own classic-BPF interpreter, running it as the socket filter of a Unix datagram
socket (no root, no interface, no tool needed), keeps exactly the frames libpcap's semantics of
the filter text keep (the same frames go through ``tcpdump -r`` where it is installed).
"""

from __future__ import annotations

import ctypes
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, GRE, Dot1AD, Dot1Q, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw
from scapy.utils import rdpcap, wrpcap

from capinspect.errors import LiveCaptureError
from capinspect.sources import bpf, bpf_programs, live
from capinspect.sources.bpf import (
    BPF_MAXINSNS,
    DLT_EN10MB,
    Instruction,
    compile_with_libpcap,
    compile_with_tcpdump,
    pack_filter,
    sock_fprog,
)
from capinspect.sources.bpf_programs import (
    EN10MB,
    EN10MB_INNER,
    EN10MB_OUTER,
    INNER_OFFSET,
    PROGRAMS,
    precompiled,
    relocate,
)

SO_ATTACH_FILTER = 26
TCPDUMP = bpf.tcpdump()
LIBPCAP = bpf.libpcap()


def _as_source(program: list[Instruction]) -> str:
    """The program as bpf_programs.py writes it, to paste there after a filter change."""
    return "\n".join(f"    ({c}, {jt}, {jf}, {k})," for c, jt, jf, k in program)


# -- the data is libpcap's program for the default filter -------------------------------------


def test_shipped_text_and_snaplen_are_the_live_default() -> None:
    assert bpf_programs.FILTER == live.DEFAULT_FILTER
    assert bpf_programs.INNER_FILTER == live.INNER_FILTER
    assert bpf_programs.SNAPLEN == live.SNAPLEN
    assert set(PROGRAMS) == {DLT_EN10MB}


def test_shipped_program_is_well_formed_classic_bpf() -> None:
    assert 20 < len(EN10MB) <= BPF_MAXINSNS
    for pc, (code, jt, jf, k) in enumerate(EN10MB):
        assert 0 <= code < 1 << 16 and 0 <= jt < 256 and 0 <= jf < 256 and 0 <= k < 1 << 32
        if code == 0x05:  # BPF_JA: ahead, inside the program
            assert pc + 1 + k < len(EN10MB)
        elif code & 0x07 == 0x05:  # BPF_JMP: every target lies ahead, inside the program
            assert pc + 1 + max(jt, jf) < len(EN10MB)
    returns = {k for code, _jt, _jf, k in EN10MB if code == 0x06}  # BPF_RET|BPF_K
    assert EN10MB[-1][0] == 0x06 and returns == {0, live.SNAPLEN}
    assert len(pack_filter(list(EN10MB))) == 8 * len(EN10MB)


@pytest.mark.skipif(TCPDUMP is None, reason="tcpdump is not installed: nothing to recompile with")
def test_shipped_program_is_what_tcpdump_compiles() -> None:
    assert TCPDUMP is not None
    fresh = compile_with_tcpdump(live.DEFAULT_FILTER, live.SNAPLEN, TCPDUMP)
    assert fresh == list(EN10MB_OUTER), "regenerate EN10MB_OUTER:\n" + _as_source(fresh)
    fresh = compile_with_tcpdump(live.INNER_FILTER, live.SNAPLEN, TCPDUMP)
    assert fresh == list(EN10MB_INNER), "regenerate EN10MB_INNER:\n" + _as_source(fresh)


@pytest.mark.skipif(LIBPCAP is None, reason="libpcap is not installed: nothing to recompile with")
def test_shipped_program_is_what_libpcap_compiles() -> None:
    assert LIBPCAP is not None
    fresh = compile_with_libpcap(live.DEFAULT_FILTER, live.SNAPLEN, LIBPCAP)
    assert fresh == list(EN10MB_OUTER), "regenerate EN10MB_OUTER:\n" + _as_source(fresh)
    fresh = compile_with_libpcap(live.INNER_FILTER, live.SNAPLEN, LIBPCAP)
    assert fresh == list(EN10MB_INNER), "regenerate EN10MB_INNER:\n" + _as_source(fresh)


def test_only_the_exact_text_and_snaplen_are_precompiled() -> None:
    assert precompiled(live.DEFAULT_FILTER, live.SNAPLEN) == list(EN10MB)
    assert precompiled(live.DEFAULT_FILTER + " ", live.SNAPLEN) is None
    assert precompiled(live.DEFAULT_FILTER, 65535) is None
    assert precompiled(live.DEFAULT_FILTER, live.SNAPLEN, dlt=113) is None  # Linux SLL


def test_live_needs_no_compiler_for_the_default_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bpf, "libpcap", lambda: None)
    monkeypatch.setattr(bpf, "tcpdump", lambda: None)
    assert live.compile_filter(live.DEFAULT_FILTER) == list(EN10MB)
    with pytest.raises(LiveCaptureError) as caught:
        live.compile_filter("vlan 120 and udp port 67")
    message = str(caught.value)
    assert "\n" not in message and "'vlan 120 and udp port 67'" in message
    assert "apt-get install tcpdump" in message and "drop --filter" in message


# -- the kernel runs it as libpcap means it -----------------------------------------------------


def _dhcp(sport: int = 68, dport: int = 67) -> Packet:
    return IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=sport, dport=dport) / Raw(b"x")


_MAC = {"src": "00:21:63:0f:20:7b", "dst": "ff:ff:ff:ff:ff:ff"}
_RTP = IP(src="10.20.0.23", dst="10.0.0.9") / UDP(sport=5004, dport=5004) / Raw(b"r" * 40)
_BIG_DNS = IP(src="10.0.0.5", dst="10.20.0.23", id=7) / UDP(sport=53, dport=5353) / Raw(b"d" * 64)
_FIRST, _LATER = fragment(_BIG_DNS, fragsize=32)[:2]
_RTP_FIRST = fragment(_RTP, fragsize=24)[0]

FRAMES: list[tuple[str, Packet, bool]] = [
    ("dhcp", Ether(**_MAC) / _dhcp(), True),
    ("dhcp server to client", Ether(**_MAC) / _dhcp(67, 68), True),
    ("dhcp on a voice vlan", Ether(**_MAC) / Dot1Q(vlan=120) / _dhcp(), True),
    ("dns behind QinQ", Ether(**_MAC) / Dot1AD(vlan=10) / Dot1Q(vlan=100) / _dhcp(5000, 53), True),
    ("dhcp behind three tags", Ether(**_MAC) / Dot1AD() / Dot1Q() / Dot1Q() / _dhcp(), False),
    ("http", Ether(**_MAC) / IP() / TCP(sport=50000, dport=80), True),
    ("https from the server", Ether(**_MAC) / IP() / TCP(sport=443, dport=50000), True),
    ("tagged https", Ether(**_MAC) / Dot1Q(vlan=120) / IP() / TCP(dport=443), True),
    ("dns over ipv6", Ether(**_MAC) / IPv6() / UDP(sport=5000, dport=53), True),
    ("sip", Ether(**_MAC) / IP() / TCP(sport=5061, dport=5061), False),
    ("udp 80 is not http", Ether(**_MAC) / IP() / UDP(sport=80, dport=80), False),
    ("rtp", Ether(**_MAC) / _RTP, False),
    ("tagged rtp", Ether(**_MAC) / Dot1Q(vlan=120) / _RTP, False),
    ("first fragment of dns", Ether(**_MAC) / _FIRST, True),
    ("later fragment of dns", Ether(**_MAC) / _LATER, True),
    ("first fragment of rtp", Ether(**_MAC) / _RTP_FIRST, False),
    ("arp", Ether(**_MAC) / ARP(psrc="10.20.0.23", pdst="10.20.0.1"), True),
    ("tagged arp", Ether(**_MAC) / Dot1Q(vlan=120) / ARP(), True),
    ("ipv4 without payload", Ether(**_MAC) / IP(proto=17), False),
    ("runt", Ether(**_MAC, type=0x0800), False),
]


def _kernel_keeps(program: list[Instruction], frames: list[bytes]) -> list[bool]:
    """Which frames pass ``program`` attached to a Unix datagram socket (the kernel runs it)."""
    sender, receiver = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with sender, receiver:
        code = ctypes.create_string_buffer(pack_filter(program))
        receiver.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, sock_fprog(code, len(program)))
        receiver.setblocking(False)
        kept = []
        for frame in frames:
            sender.send(frame)
            try:
                kept.append(receiver.recv(65536) == frame)
            except BlockingIOError:
                kept.append(False)
        return kept


@pytest.mark.parametrize(("name", "packet", "expected"), FRAMES, ids=[f[0] for f in FRAMES])
def test_the_kernel_running_it_keeps_what_may_concern_a_phone(
    name: str, packet: Packet, expected: bool
) -> None:
    assert _kernel_keeps(list(EN10MB), [bytes(packet)]) == [expected], name


_OUTER = IP(src="192.0.2.1", dst="192.0.2.99", flags="DF")
_MIRROR = Ether(src="00:11:22:33:44:55", dst="00:aa:bb:cc:dd:ee")


def _erspan_ii(inner: Packet) -> Packet:
    gre = GRE(seqnum_present=1, sequence_number=9, proto=0x88BE)
    return _MIRROR / _OUTER / gre / ERSPAN_II(ver=1, session_id=7) / inner


def _vxlan(inner: Packet) -> Packet:
    return _MIRROR / _OUTER / UDP(sport=49152, dport=4789) / VXLAN(vni=7) / inner


# Envelopes the prologue does not look into: the outer program keeps them for the decoder.
_OTHER_ENVELOPES = {
    "erspan iii": lambda inner: _MIRROR / _OUTER / GRE(proto=0x22EB) / ERSPAN_III(ver=2) / inner,
    "gre with a key": lambda inner: (
        _MIRROR / _OUTER / GRE(key_present=1, key=3, proto=0x6558) / inner
    ),
    "vxlan over ipv6": lambda inner: _MIRROR / IPv6() / UDP(sport=1, dport=4789) / VXLAN() / inner,
    "tagged erspan ii": lambda inner: (
        _MIRROR
        / Dot1Q(vlan=5)
        / _OUTER
        / GRE(seqnum_present=1, proto=0x88BE)
        / ERSPAN_II(ver=1)
        / inner
    ),
    "vxlan from port 53": lambda inner: (
        _MIRROR / _OUTER / UDP(sport=53, dport=4789) / VXLAN() / inner
    ),
    "erspan ii of version 2": lambda inner: (
        _MIRROR / _OUTER / GRE(seqnum_present=1, proto=0x88BE) / ERSPAN_II(ver=2) / inner
    ),
}


@pytest.mark.parametrize("wrap", [_erspan_ii, _vxlan], ids=["erspan ii", "vxlan"])
def test_the_kernel_looks_inside_a_remote_mirror(wrap: Callable[[Packet], Packet]) -> None:
    """Inside ERSPAN II and VXLAN, the frame is judged as it would be on a local mirror."""
    frames = [bytes(wrap(packet)) for _name, packet, _kept in FRAMES]
    for frame, (_name, packet, _kept) in zip(frames, FRAMES, strict=True):
        assert frame[INNER_OFFSET:] == bytes(packet)
    assert _kernel_keeps(list(EN10MB), frames) == [kept for _name, _packet, kept in FRAMES]


@pytest.mark.parametrize("name", sorted(_OTHER_ENVELOPES))
def test_other_envelopes_reach_the_decoder(name: str) -> None:
    frames = [bytes(_OTHER_ENVELOPES[name](packet)) for _name, packet, _kept in FRAMES]
    assert _kernel_keeps(list(EN10MB), frames) == [True] * len(frames)


def test_relocation_moves_packet_loads_only() -> None:
    program = ((0x28, 0, 0, 12), (0xB1, 0, 0, 14), (0x48, 0, 0, 16), (0x15, 1, 2, 80), (6, 0, 0, 1))
    assert relocate(program, 50) == (
        (0x28, 0, 0, 62), (0xB1, 0, 0, 64), (0x48, 0, 0, 66), (0x15, 1, 2, 80), (6, 0, 0, 1),
    )  # fmt: skip
    with pytest.raises(ValueError):
        relocate(((0x20, 0, 0, 0xFFFFF000 + 44),), 50)  # an ancillary load


def test_a_program_that_rejects_everything_rejects_everything() -> None:
    # The harness can fail: a drop-all program keeps nothing, an accept-all one everything.
    frames = [bytes(packet) for _name, packet, _kept in FRAMES]
    assert _kernel_keeps([(0x06, 0, 0, 0)], frames) == [False] * len(frames)
    assert _kernel_keeps([(0x06, 0, 0, 0xFFFF)], frames) == [True] * len(frames)


@pytest.mark.skipif(TCPDUMP is None, reason="tcpdump is not installed: nothing to compare with")
def test_tcpdump_reading_the_frames_keeps_the_same_ones(tmp_path: Path) -> None:
    assert TCPDUMP is not None
    frames = [bytes(packet) for _name, packet, _kept in FRAMES]
    assert len(set(frames)) == len(frames)
    capture, kept = tmp_path / "frames.pcap", tmp_path / "kept.pcap"
    wrpcap(str(capture), [packet for _name, packet, _kept in FRAMES], linktype=DLT_EN10MB)
    subprocess.run(
        [TCPDUMP, "-r", str(capture), "-w", str(kept), "--", live.DEFAULT_FILTER],
        capture_output=True,
        timeout=60,
        check=True,
    )
    written = {bytes(packet) for packet in rdpcap(str(kept))}
    assert [frame in written for frame in frames] == _kernel_keeps(list(EN10MB), frames)
