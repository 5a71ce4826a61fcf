"""Files that are not captures: each is named in one line, with the command that helps, exit 2.

The files are synthesized from the signatures identify.py cites (an ETL's first buffer header
and logger event, the evtx file header, a cabinet's magic) or copied from the lab (IIS and
audit logs)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from locations import PCAPS

from capinspect.cli import main
from capinspect.errors import InputError
from capinspect.sources.capture import open_capture
from capinspect.sources.identify import describe, is_etl


def etl_bytes(header_type: int = 2) -> bytes:
    """A WMI_BUFFER_HEADER (72 bytes, contents irrelevant here) and the logger's
    SYSTEM_TRACE_HEADER: version 2, the header type, flags 0xC0, size, hook ID 0."""
    buffer_header = struct.pack("<II", 0x10000, 0x200) + bytes(64)
    system = struct.pack("<HBBHH", 2, header_type, 0xC0, 0x170, 0x0000)
    return buffer_header + system + bytes(0x170)


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


def one_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("header_type", [1, 2])
def test_etl_by_signature_whatever_its_name(tmp_path: Path, header_type: int) -> None:
    path = tmp_path / "NetTrace.bin"
    path.write_bytes(etl_bytes(header_type))
    line = one_line(*cli("analyze", str(path)))
    assert "an ETW trace" in line
    assert "pktmon etl2pcap NetTrace.bin --out NetTrace.pcapng" in line
    assert "Message Analyzer" in line and "retired" in line


def test_etl_by_name_and_inside_gzip(tmp_path: Path) -> None:
    named = tmp_path / "PktMon.etl"
    named.write_bytes(b"\x01\x02\x03\x04" + bytes(100))
    assert "pktmon etl2pcap PktMon.etl --out PktMon.pcapng" in one_line(*cli("analyze", str(named)))
    packed = tmp_path / "trace.gz"
    packed.write_bytes(gzip.compress(etl_bytes()))
    assert "an ETW trace" in one_line(*cli("analyze", str(packed)))


def test_signature_needs_the_logger_header() -> None:
    assert is_etl(etl_bytes())
    damaged = bytearray(etl_bytes())
    damaged[75] = 0x80
    assert not is_etl(bytes(damaged))
    assert not is_etl(bytes(200))


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"ElfFile\x00" + bytes(120), ("Windows event log (.evtx)", "--iis-log/--audit-log")),
        (bytes(4) + b"LfLe" + bytes(100), ("Windows event log (.evt)",)),
        (b"MSCF" + bytes(100), ("cabinet", "pktmon etl2pcap", "expand")),
        (b"7z\xbc\xaf\x27\x1c" + bytes(40), ("7-Zip archive", "7z x")),
        (b"Rar!\x1a\x07\x00" + bytes(40), ("RAR archive",)),
        (
            b"No.     Time           Source                Destination           Protocol\n",
            ("text export", "Save As"),
        ),
        ("plain words\r\n".encode("utf-16"), ("but text", "plain words")),
        (b"\x00\x01\x02\x03" + bytes(60), ("magic 0x00010203", "nor a Network Monitor")),
    ],
)
def test_other_files_are_named(tmp_path: Path, content: bytes, words: tuple[str, ...]) -> None:
    path = tmp_path / "given.pcap"
    path.write_bytes(content)
    line = one_line(*cli("analyze", str(path)))
    for word in words:
        assert word in line, line


@pytest.mark.parametrize(
    ("log", "option"),
    [("acl-denied.iis.log", "--iis-log"), ("acl-denied.audit.log", "--audit-log")],
)
def test_server_logs_given_as_capture_point_to_their_option(
    tmp_path: Path, log: str, option: str
) -> None:
    path = tmp_path / "server.cap"
    path.write_bytes((PCAPS / log).read_bytes())
    line = one_line(*cli("analyze", str(path)))
    assert f"capinspect analyze CAPTURE {option} {path}" in line


def test_describe_never_fails_on_odd_heads() -> None:
    for head in (b"", b"\xff\xfe\x00", b"\xef\xbb\xbf", bytes(range(256)), b"#\n"):
        text = describe("f", head)
        assert text.startswith("f: ") and "\n" not in text


def test_reader_error_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "x.evtx"
    path.write_bytes(b"ElfFile\x00" + bytes(100))
    with pytest.raises(InputError, match="evtx"):
        open_capture(str(path))
