"""open_capture: a file goes to its reader by its first bytes, never by its name."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest
from locations import PCAPS
from netmon_files import Frame, netmon_file
from scapy.layers.inet import IP, UDP, Ether

from capinspect.errors import InputError
from capinspect.sources.capture import open_capture
from capinspect.sources.netmon import NetmonReader
from capinspect.sources.pcapfile import CaptureReader

PCAP = PCAPS / "healthy-no-update.pcap"
ETH = bytes(Ether() / IP() / UDP(dport=67) / b"x")


def _frames(path: Path) -> int:
    with open_capture(str(path)) as reader:
        return len(list(reader.records()))


def test_each_container_goes_to_its_reader_whatever_its_name(tmp_path: Path) -> None:
    expected = _frames(PCAP)
    gz = tmp_path / "capture.txt"  # a misleading name
    gz.write_bytes(gzip.compress(PCAP.read_bytes()))
    archive = tmp_path / "capture.pcap"  # a zip named like a pcap
    with zipfile.ZipFile(archive, "w") as out:
        out.write(PCAP, "inner/healthy.pcap")
    netmon = tmp_path / "capture.pcapng"
    netmon.write_bytes(netmon_file([Frame(ETH), Frame(ETH, 10)]))
    with open_capture(str(gz)) as reader:
        assert isinstance(reader, CaptureReader) and reader.format == "pcap+gzip"
    with open_capture(str(archive)) as reader:
        assert reader.format.endswith("+zip")
    assert _frames(gz) == _frames(archive) == expected
    with open_capture(str(netmon)) as reader:
        assert isinstance(reader, NetmonReader) and reader.format.startswith("netmon2")
    assert _frames(netmon) == 2


def test_frames_are_numbered_from_first_index_for_the_source(tmp_path: Path) -> None:
    with open_capture(str(PCAP), source=3, first_index=100) as reader:
        first = next(iter(reader))
    assert (first.index, first.source) == (100, 3)


def test_unreadable_inputs_are_one_line_input_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    for path in (text, tmp_path / "missing.pcap", tmp_path):
        with pytest.raises(InputError) as caught:
            open_capture(str(path))
        assert "\n" not in str(caught.value)
