"""Compiling capture filters: libpcap in process and ``tcpdump -ddd`` give the same programs.

The comparisons need libpcap and tcpdump and skip without them; what happens when neither is
installed, and how tcpdump is looked for, is checked everywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from capinspect.errors import LiveCaptureError
from capinspect.sources import bpf
from capinspect.sources.bpf import (
    BPF_MAXINSNS,
    compile_filter,
    compile_with_libpcap,
    compile_with_tcpdump,
    pack_filter,
    parse_ddd,
)

SNAPLEN = 262_144
TCPDUMP = bpf.tcpdump()
LIBPCAP = bpf.libpcap()
needs_both = pytest.mark.skipif(
    TCPDUMP is None or LIBPCAP is None,
    reason="comparing needs both libpcap and tcpdump"
    + (" (tcpdump is not installed)" if TCPDUMP is None else "")
    + (" (libpcap is not installed)" if LIBPCAP is None else ""),
)

EXPRESSIONS = [
    "",
    "udp port 67 or udp port 68",
    "vlan 120 and (udp port 67 or udp port 68 or port 53 or tcp port 80)",
    "vlan and vlan and tcp port 443",
    "ip broadcast",
    "ether host 00:21:63:0f:20:7b and not arp",
    "ip6 and tcp port 443",
    "ip[6:2] & 0x1fff != 0",
    "greater 1000",
    "host 10.0.0.5",
]


@needs_both
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_libpcap_in_process_compiles_what_tcpdump_compiles(expression: str) -> None:
    assert TCPDUMP is not None and LIBPCAP is not None
    ours = compile_with_libpcap(expression, SNAPLEN, LIBPCAP)
    theirs = compile_with_tcpdump(expression, SNAPLEN, TCPDUMP)
    assert ours == theirs and ours[-1][0] == 0x06  # ends with BPF_RET


@needs_both
@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("tcp port banana", "unknown port 'banana'"),
        ("udp port 67 or", "syntax error"),
        ("ether proto nosuch", "nosuch"),
        ("ip6 and tcp[tcpflags] & tcp-syn != 0", "expression rejects all packets"),
    ],
)
def test_both_reject_a_bad_filter_with_libpcaps_words(expression: str, reason: str) -> None:
    assert TCPDUMP is not None and LIBPCAP is not None
    messages = []
    for compile_it in (
        lambda: compile_with_libpcap(expression, SNAPLEN, LIBPCAP),
        lambda: compile_with_tcpdump(expression, SNAPLEN, TCPDUMP),
    ):
        with pytest.raises(LiveCaptureError) as caught:
            compile_it()
        messages.append(str(caught.value))
    assert messages[0].startswith(f"bad capture filter {expression!r}: ")
    assert reason in messages[0] and "\n" not in messages[0]
    assert messages[0] == messages[1]


@pytest.mark.skipif(LIBPCAP is None, reason="libpcap is not installed")
def test_a_nul_byte_is_refused_before_libpcap_sees_a_shorter_filter() -> None:
    assert LIBPCAP is not None
    with pytest.raises(LiveCaptureError, match="NUL byte"):
        compile_with_libpcap("udp port 67\x00 or tcp", SNAPLEN, LIBPCAP)


@pytest.mark.skipif(TCPDUMP is None, reason="tcpdump is not installed")
def test_tcpdump_is_the_fallback_when_libpcap_does_not_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert TCPDUMP is not None
    monkeypatch.setattr(bpf, "libpcap", lambda: None)
    program = compile_filter("udp port 67", SNAPLEN)
    assert program == compile_with_tcpdump("udp port 67", SNAPLEN, TCPDUMP)
    with pytest.raises(LiveCaptureError, match="bad capture filter 'udp port nope'"):
        compile_filter("udp port nope", SNAPLEN)


def test_without_libpcap_or_tcpdump_a_filter_is_one_line_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bpf, "libpcap", lambda: None)
    monkeypatch.setattr(bpf, "tcpdump", lambda: None)
    with pytest.raises(LiveCaptureError) as caught:
        compile_filter("udp port 67", SNAPLEN)
    message = str(caught.value)
    assert "\n" not in message and "'udp port 67'" in message
    assert "apt-get install tcpdump" in message and "drop --filter" in message


def test_tcpdump_is_looked_for_in_sbin_and_only_as_an_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A masked tool (a file that cannot be run, such as /dev/null bound over it) is not there.
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    tool = sbin / "tcpdump"
    tool.write_text("#!/bin/sh\nexit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(bpf, "_SBIN", (str(sbin),))
    tool.chmod(0o644)
    assert bpf.tcpdump() is None
    tool.chmod(0o755)
    assert bpf.tcpdump() == str(tool)


def test_a_program_longer_than_the_kernel_takes_is_refused() -> None:
    text = f"{BPF_MAXINSNS + 1}\n" + "6 0 0 0\n" * (BPF_MAXINSNS + 1)
    with pytest.raises(LiveCaptureError, match="the kernel takes at most 4096"):
        bpf._checked("huge", parse_ddd("huge", text))
    assert len(bpf._checked("fits", parse_ddd("fits", "1\n6 0 0 0\n"))) == 1


@pytest.mark.parametrize("text", ["", "two\n", "2\n6 0 0 0\n", "1\n6 0 0\n"])
def test_malformed_tcpdump_output_is_an_error_not_a_program(text: str) -> None:
    with pytest.raises(LiveCaptureError, match="tcpdump gave"):
        parse_ddd("udp", text)


@pytest.mark.skipif(sys.byteorder != "little", reason="the bytes below are little-endian")
def test_pack_filter_is_struct_sock_filter() -> None:
    assert pack_filter([(0x28, 0, 0, 12), (0x06, 1, 2, 0x40000)]) == bytes.fromhex(
        "280000000c0000000600010200000400"
    )
