"""What a file given as a capture is when it is not one, and what to do instead: one line.

A Windows administrator's first try is often the wrong file: the ``.etl`` that ``netsh trace``
or ``pktmon`` wrote, the event log, the IIS log, a zip of several captures. ``not a pcap file
(magic 0x…)`` helps nobody; naming the file's kind and the exact command that turns it into
something capinspect reads does.

Signatures, each from the format's own documentation:

* ETL (Event Tracing for Windows log): the file is a sequence of buffers, each opening with a
  72-byte ``WMI_BUFFER_HEADER``; the first event of the first buffer is the logger's
  ``SYSTEM_TRACE_HEADER`` (Geoff Chappell, "SYSTEM_TRACE_HEADER" and "WMI_BUFFER_HEADER",
  geoffchappell.com/studies/windows/km/ntoskrnl/api/etw/tracelog/): at byte 72 its marker
  (version, header type 1 = 32-bit or 2 = 64-bit system header, flags 0xC0 =
  TRACE_HEADER_FLAG | TRACE_HEADER_EVENT_TRACE), then its size and hook ID 0x0000
  (EVENT_TRACE_GROUP_HEADER + EVENT_TRACE_TYPE_INFO: the TRACE_LOGFILE_HEADER event). A file
  named ``*.etl`` that no reader takes is also called one.
* EVTX: ``ElfFile\\0`` at byte 0 ([MS-EVEN6] / libevtx "Windows XML Event Log format"); the
  older ``.evt``: ``LfLe`` at byte 4.
* Zip: local file header ``PK\\3\\4`` (PKWARE APPNOTE.TXT 4.3.7); empty archive ``PK\\5\\6``.
* 7-Zip ``7z\\xbc\\xaf\\x27\\x1c``, RAR ``Rar!\\x1a\\x07``, cabinet ``MSCF``.
* IIS W3C logs: ``#Software: Microsoft Internet Information Services`` / ``#Fields:``
  directives (W3C Extended Log File Format); Device Update audit logs: the ``Logging
  DateTime,…`` header row the Device Update Service writes.
"""

from __future__ import annotations

import os

ETL_SUFFIX = ".etl"
SNIFF_SIZE = 4096
"""Bytes of the file looked at to say what it is."""


def is_etl(head: bytes, path: str = "") -> bool:
    """An ETW trace: the logger's system trace header right after the first buffer header."""
    if len(head) >= 80 and head[74] in (1, 2) and head[75] == 0xC0 and head[78:80] == b"\0\0":
        return True
    return path.lower().endswith(ETL_SUFFIX)


def describe(path: str, head: bytes) -> str:
    """The one-line error for ``path``, whose first bytes are ``head``, when no reader takes it."""
    name = os.path.basename(path) or path
    stem = os.path.splitext(name)[0]
    if is_etl(head, path):
        return (
            f"{path}: an ETW trace (.etl from netsh trace or pktmon), not a packet capture;"
            f" convert it on the Windows machine (Windows 10 1809 or later) with:"
            f" pktmon etl2pcap {name} --out {stem}.pcapng"
            " (Microsoft Message Analyzer, which read .etl files, is retired)"
        )
    if head.startswith(b"ElfFile\0"):
        return (
            f"{path}: a Windows event log (.evtx), not a packet capture; capinspect reads"
            " captures (pcap, pcapng, Network Monitor .cap) and, with --iis-log/--audit-log,"
            " the Device Update server's logs"
        )
    if head[4:8] == b"LfLe":
        return f"{path}: a Windows event log (.evt), not a packet capture"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return _archive(path, "a 7-Zip archive", f"7z x {name}")
    if head.startswith(b"Rar!\x1a\x07"):
        return _archive(path, "a RAR archive", f"unrar x {name}")
    if head.startswith(b"MSCF"):
        return (
            f"{path}: a Windows cabinet (.cab), not a capture; the one netsh trace writes next to"
            " its .etl holds system reports, the packets are in the .etl (convert it with"
            f" pktmon etl2pcap {stem}.etl --out {stem}.pcapng); any other: extract it"
            f" (expand {name} -F:* .) and give capinspect the capture"
        )
    text = _text(head)
    if text is not None:
        return _describe_text(path, text, head[:4].hex())
    return (
        f"{path}: not a pcap or pcapng file (magic 0x{head[:4].hex()}),"
        " nor a Network Monitor capture"
    )


def _archive(path: str, what: str, command: str) -> str:
    return f"{path}: {what}, not a capture; extract it ({command}) and give capinspect the capture"


def _text(head: bytes) -> str | None:
    """``head`` as text when it is text (UTF-8 or UTF-16 with a byte-order mark), else None."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return head[: len(head) // 2 * 2].decode("utf-16")
        except UnicodeDecodeError:
            return None
    if not head or b"\0" in head:
        return None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if printable >= 0.95 * len(text) else None


def _describe_text(path: str, text: str, magic: str) -> str:
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if text.startswith("#Software: Microsoft Internet Information Services") or (
        text.startswith("#") and "#Fields:" in text
    ):
        return (
            f"{path}: an IIS W3C log, not a packet capture; give it next to the capture:"
            f" capinspect analyze CAPTURE --iis-log {path}"
        )
    if first.startswith("Logging DateTime,") or ("Mac Address" in first and "Device Type" in first):
        return (
            f"{path}: a Device Update audit log, not a packet capture; give it next to the"
            f" capture: capinspect analyze CAPTURE --audit-log {path}"
        )
    if first.lstrip().startswith("No.") and "Time" in first and "Protocol" in first:
        return (
            f"{path}: a text export of a capture (Wireshark's File > Export Packet Dissections);"
            " save the capture itself instead (File > Save As, pcapng)"
        )
    shown = first[:40] + ("…" if len(first) > 40 else "")
    return f"{path}: not a pcap or pcapng file (magic 0x{magic}) but text (it starts: {shown!r})"
