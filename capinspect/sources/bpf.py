"""Capture filters as classic BPF programs: libpcap compiles them, the kernel runs them.

Why two compilers: libpcap is the one implementation of tcpdump's filter language anyone
should trust, and it is reachable two ways. Through ctypes (``pcap_compile`` on a
``pcap_open_dead`` handle) when the shared library is installed, which costs no process and
no Python dependency; and through ``tcpdump -ddd`` when only the program is there. Both are
libpcap's own code generator and optimiser, so they give the same program (the tests compare
them). Without either, only the default filter can be used: its program ships compiled in
:mod:`capinspect.sources.bpf_programs`.

Both compilers are asked for Ethernet (``DLT_EN10MB``): capinspect live reads Ethernet and
loopback interfaces through AF_PACKET, and the kernel gives both with a 14-byte Ethernet header.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator

from capinspect.errors import LiveCaptureError

Instruction = tuple[int, int, int, int]
"""One ``struct sock_filter``: (code, jt, jf, k), as ``tcpdump -ddd`` prints it."""

DLT_EN10MB = 1
"""libpcap's link type for Ethernet (``-y EN10MB``)."""
BPF_MAXINSNS = 4096
"""The most instructions the Linux kernel accepts in a classic BPF socket filter."""

NO_COMPILER = (
    "--filter needs libpcap to compile {expression!r}, and neither libpcap nor tcpdump is "
    "installed: install tcpdump (Debian: apt-get install tcpdump) or drop --filter "
    "(the default filter ships compiled)"
)

_SONAMES = ("libpcap.so.1", "libpcap.so.0.8", "libpcap.so")
"""The shared library's names: upstream's soname, Debian's historical one, the dev link."""
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")
"""Where distributions put tcpdump, often outside an ordinary user's PATH."""


class _BpfInsn(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class _BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_BpfInsn))]


def _names() -> Iterator[str]:
    """The well-known sonames, then what the loader's cache knows (asked only if needed)."""
    yield from _SONAMES
    found = ctypes.util.find_library("pcap")
    if found and found not in _SONAMES:
        yield found


@functools.cache
def libpcap() -> ctypes.CDLL | None:
    """libpcap loaded with the four functions compiling needs typed, or None when absent.

    A name that exists but does not load (a broken or masked file) counts as absent.
    """
    for name in _names():
        try:
            lib = ctypes.CDLL(name)
            lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.pcap_open_dead.restype = ctypes.c_void_p
            lib.pcap_compile.argtypes = [
                ctypes.c_void_p,
                ctypes.POINTER(_BpfProgram),
                ctypes.c_char_p,
                ctypes.c_int,
                ctypes.c_uint32,
            ]
            lib.pcap_compile.restype = ctypes.c_int
            lib.pcap_geterr.argtypes = [ctypes.c_void_p]
            lib.pcap_geterr.restype = ctypes.c_char_p
            lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
            lib.pcap_freecode.restype = None
            lib.pcap_close.argtypes = [ctypes.c_void_p]
            lib.pcap_close.restype = None
        except (OSError, AttributeError):
            continue
        return lib
    return None


def tcpdump() -> str | None:
    """tcpdump's path when it is installed and executable (also in sbin, off a user's PATH)."""
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN])
    return shutil.which("tcpdump", path=search)


def _checked(expression: str, program: list[Instruction]) -> list[Instruction]:
    if not program:
        raise LiveCaptureError(f"libpcap gave no BPF program for {expression!r}")
    if len(program) > BPF_MAXINSNS:
        raise LiveCaptureError(
            f"capture filter {expression!r} compiles to {len(program)} BPF instructions; "
            f"the kernel takes at most {BPF_MAXINSNS}: simplify it"
        )
    return program


def compile_with_libpcap(expression: str, snaplen: int, lib: ctypes.CDLL) -> list[Instruction]:
    """``pcap_compile`` on a dead Ethernet handle, optimised, netmask 0: as ``tcpdump -ddd``."""
    if "\x00" in expression:
        raise LiveCaptureError(f"bad capture filter {expression!r}: it contains a NUL byte")
    handle = lib.pcap_open_dead(DLT_EN10MB, snaplen)
    if not handle:
        raise LiveCaptureError("libpcap could not open a handle to compile the capture filter")
    try:
        program = _BpfProgram()
        if lib.pcap_compile(handle, ctypes.byref(program), expression.encode(), 1, 0) != 0:
            reason = (lib.pcap_geterr(handle) or b"").decode(errors="replace").strip()
            raise LiveCaptureError(
                f"bad capture filter {expression!r}: {reason or 'libpcap rejected it'}"
            )
        try:
            insns = [
                (i.code, i.jt, i.jf, i.k)
                for i in (program.bf_insns[n] for n in range(program.bf_len))
            ]
        finally:
            lib.pcap_freecode(ctypes.byref(program))
    finally:
        lib.pcap_close(handle)
    return _checked(expression, insns)


def compile_with_tcpdump(expression: str, snaplen: int, path: str) -> list[Instruction]:
    """``tcpdump -y EN10MB -ddd``: no interface is opened; libpcap's words on a bad filter."""
    proc = subprocess.run(
        [path, "-y", "EN10MB", "-s", str(snaplen), "-ddd", "--", expression],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        words = [ln for ln in proc.stderr.splitlines() if ln.strip() and "Warning" not in ln]
        reason = words[-1].strip() if words else f"tcpdump exited with {proc.returncode}"
        reason = reason.removeprefix("tcpdump: ")
        raise LiveCaptureError(f"bad capture filter {expression!r}: {reason}")
    return _checked(expression, parse_ddd(expression, proc.stdout))


def parse_ddd(expression: str, text: str) -> list[Instruction]:
    """The instructions of ``tcpdump -ddd`` output: a count, then four decimals per line."""
    words = text.split()
    try:
        count = int(words[0])
        numbers = [int(v) for v in words[1:]]
    except (IndexError, ValueError):
        raise LiveCaptureError(f"tcpdump gave no BPF program for {expression!r}") from None
    if len(numbers) != count * 4:
        raise LiveCaptureError(f"tcpdump gave a malformed BPF program for {expression!r}")
    it = iter(numbers)
    return [(code, jt, jf, k) for code, jt, jf, k in zip(it, it, it, it, strict=True)]


def compile_filter(expression: str, snaplen: int) -> list[Instruction]:
    """Compile a capture filter with libpcap: in process when it loads, else through tcpdump.

    An expression libpcap rejects, or no compiler at all, is a one-line
    :class:`LiveCaptureError` (the CLI's exit status 2).
    """
    lib = libpcap()
    if lib is not None:
        return compile_with_libpcap(expression, snaplen, lib)
    path = tcpdump()
    if path is not None:
        return compile_with_tcpdump(expression, snaplen, path)
    raise LiveCaptureError(NO_COMPILER.format(expression=expression))


def pack_filter(program: list[Instruction]) -> bytes:
    """The ``struct sock_filter`` array SO_ATTACH_FILTER points at."""
    return b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in program)


def sock_fprog(code: ctypes.Array[ctypes.c_char], length: int) -> bytes:
    """``struct sock_fprog`` for SO_ATTACH_FILTER: the count and a pointer into ``code``.

    ``code`` (a :func:`ctypes.create_string_buffer` of :func:`pack_filter`) must stay alive
    until setsockopt returns; the kernel copies the program.
    """
    return struct.pack("@HP", length, ctypes.addressof(code))
