"""Capture file reader: every container and byte order, compression, damage at every offset."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import BinaryIO, cast

import pytest
import zstandard
from hypothesis import example, given, settings
from hypothesis import strategies as st
from locations import corpus_files, lab_captures
from scapy.layers.inet import IP, UDP, Ether
from scapy.utils import PcapNgWriter, wrpcap
from streamfeed import tr

from capinspect.errors import InputError
from capinspect.model import RawFrame
from capinspect.sources import pcapfile
from capinspect.sources.pcapfile import CaptureReader, open_capture

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "zeek-traces"

FRAME_A = bytes(Ether(src="00:11:22:33:44:55") / IP(dst="10.0.0.1") / UDP(dport=53) / b"a")
FRAME_B = bytes(Ether(src="00:11:22:33:44:66") / IP(dst="10.0.0.2") / UDP(dport=67) / b"bb")


def classic_pcap(
    records: list[tuple[int, int, bytes, int]],
    *,
    order: str = "<",
    nanoseconds: bool = False,
    snaplen: int = 65535,
    linktype: int = 1,
) -> bytes:
    """A classic pcap file: records are (seconds, fraction, data, orig_len)."""
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)
    for sec, frac, data, orig_len in records:
        out += struct.pack(order + "IIII", sec, frac, len(data), orig_len) + data
    return out


def pcapng_block(order: str, block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def pcapng_shb(order: str) -> bytes:
    return pcapng_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def pcapng_idb(order: str, linktype: int, tsresol: int | None = None, snaplen: int = 0) -> bytes:
    body = struct.pack(order + "HHI", linktype, 0, snaplen)
    if tsresol is not None:
        body += struct.pack(order + "HH", 9, 1) + bytes([tsresol]) + b"\x00" * 3
        body += struct.pack(order + "HH", 0, 0)
    return pcapng_block(order, 1, body)


def pcapng_epb(order: str, interface: int, units: int, data: bytes) -> bytes:
    head = struct.pack(
        order + "IIIII", interface, units >> 32, units & 0xFFFFFFFF, len(data), len(data)
    )
    return pcapng_block(order, 6, head + data)


def read_all(path: Path) -> tuple[list[RawFrame], object]:
    with open_capture(str(path)) as capture:
        frames = list(capture)
    return frames, capture


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nanoseconds", [False, True])
def test_classic_pcap_both_byte_orders_and_resolutions(
    tmp_path: Path, order: str, nanoseconds: bool
) -> None:
    frac = 500_000_000 if nanoseconds else 500_000
    path = tmp_path / "x.pcap"
    path.write_bytes(
        classic_pcap(
            [(100, frac, FRAME_A, len(FRAME_A)), (101, 0, FRAME_B, 1500)],
            order=order,
            nanoseconds=nanoseconds,
        )
    )
    with open_capture(str(path), source=3, first_index=10) as capture:
        frames = list(capture)
    assert capture.format == ("pcap-ns" if nanoseconds else "pcap")
    assert [f.index for f in frames] == [10, 11]
    assert frames[0] == RawFrame(10, 100.5, 1, FRAME_A, len(FRAME_A), 3)
    assert frames[1].orig_len == 1500 and frames[1].data == FRAME_B
    assert capture.frames == 2 and capture.anomalies == []
    assert capture.bytes_read == path.stat().st_size


def test_scapy_written_pcap_and_pcapng_read_the_same(tmp_path: Path) -> None:
    packets = [Ether(FRAME_A), Ether(FRAME_B)]
    packets[0].time, packets[1].time = 1700000000.25, 1700000001.5
    wrpcap(str(tmp_path / "a.pcap"), packets)
    with PcapNgWriter(str(tmp_path / "a.pcapng")) as writer:
        for packet in packets:
            writer.write(packet)
    classic, _ = read_all(tmp_path / "a.pcap")
    nextgen, capture = read_all(tmp_path / "a.pcapng")
    assert capture.format == "pcapng"  # type: ignore[attr-defined]
    assert [(f.data, f.ts) for f in classic] == [(f.data, f.ts) for f in nextgen]
    assert classic[0].ts == pytest.approx(1700000000.25)


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_sections_interfaces_and_tsresol(tmp_path: Path, order: str) -> None:
    data = (
        pcapng_shb(order)
        + pcapng_idb(order, 1)  # microseconds
        + pcapng_idb(order, 101, tsresol=9)  # nanoseconds, raw IP
        + pcapng_epb(order, 0, 5_000_000, FRAME_A)
        + pcapng_block(order, 0x99, b"mystery")
        + pcapng_block(order, 0x99, b"again")
        + pcapng_block(order, 5, b"\x00" * 12)  # interface statistics: known, skipped
        + pcapng_epb(order, 1, 6_500_000_000, FRAME_B[14:])
        + pcapng_shb(">" if order == "<" else "<")  # a second section, other byte order
        + pcapng_idb(">" if order == "<" else "<", 1, tsresol=0x80 | 10)  # 2**-10 s
        + pcapng_epb(">" if order == "<" else "<", 0, 7 * 1024, FRAME_A)
    )
    path = tmp_path / "multi.pcapng"
    path.write_bytes(data)
    frames, capture = read_all(path)
    assert [(f.ts, f.linktype) for f in frames] == [(5.0, 1), (6.5, 101), (7.0, 1)]
    assert frames[1].data == FRAME_B[14:]
    codes = [a.code for a in capture.anomalies]  # type: ignore[attr-defined]
    assert codes == ["pcapng.unknown-block"]  # once per type, not per block


def test_pcapng_simple_and_obsolete_packet_blocks(tmp_path: Path) -> None:
    order = "<"
    obsolete = struct.pack(order + "HHIIII", 0, 0, 0, 2_000_000, len(FRAME_A), len(FRAME_A))
    simple = struct.pack(order + "I", len(FRAME_B)) + FRAME_B
    data = (
        pcapng_shb(order)
        + pcapng_idb(order, 1)
        + pcapng_block(order, 2, obsolete + FRAME_A)
        + pcapng_block(order, 3, simple)
    )
    path = tmp_path / "old.pcapng"
    path.write_bytes(data)
    frames, _ = read_all(path)
    assert [(f.data, f.ts) for f in frames] == [(FRAME_A, 2.0), (FRAME_B, 2.0)]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_capture_detected_by_magic_not_name(tmp_path: Path, compression: str) -> None:
    plain = classic_pcap([(1, 0, FRAME_A, len(FRAME_A))] * 3)
    if compression == "gzip":
        packed = gzip.compress(plain)
    else:
        packed = zstandard.ZstdCompressor().compress(plain)
    path = tmp_path / "capture.bin"  # misleading name on purpose
    path.write_bytes(packed)
    frames, capture = read_all(path)
    assert capture.format == f"pcap+{compression}"  # type: ignore[attr-defined]
    assert len(frames) == 3
    assert capture.bytes_read == len(packed)  # type: ignore[attr-defined]
    assert capture.sha256() == hashlib.sha256(packed).hexdigest()  # type: ignore[attr-defined]


def test_corrupt_gzip_after_a_good_start_is_an_anomaly(tmp_path: Path) -> None:
    noise = random.Random(7)
    plain = classic_pcap([(1, 0, noise.randbytes(500), 500) for _ in range(200)])
    packed = bytearray(gzip.compress(plain))
    packed[len(packed) // 2 : len(packed) // 2 + 50] = b"\x00" * 50
    path = tmp_path / "bad.pcap.gz"
    path.write_bytes(bytes(packed))
    frames, capture = read_all(path)
    codes = {a.code for a in capture.anomalies}  # type: ignore[attr-defined]
    assert codes & {"capture.bad-compression", "capture.truncated-record", "capture.bad-record"}
    assert 0 < len(frames) < 200


def test_bad_gzip_checksum_is_a_compression_anomaly(tmp_path: Path) -> None:
    noise = random.Random(8)
    packed = bytearray(gzip.compress(classic_pcap([(1, 0, noise.randbytes(500), 500)] * 400)))
    packed[-8] ^= 0xFF  # CRC32 in the gzip trailer
    path = tmp_path / "crc.pcap.gz"
    path.write_bytes(bytes(packed))
    frames, capture = read_all(path)
    assert [a.code for a in capture.anomalies] == ["capture.bad-compression"]  # type: ignore[attr-defined]
    assert len(frames) == 400  # every byte before the bad trailer was decompressed and kept


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"GIF89a....................", "not a pcap or pcapng file (magic 0x47494638)"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "cut short"),
    ],
)
def test_unusable_files_raise_input_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f.pcap"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_capture(str(path))


def test_missing_file_and_directory_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        open_capture(str(tmp_path / "nope.pcap"))
    with pytest.raises(InputError, match="directory"):
        open_capture(str(tmp_path))


def test_file_is_never_modified(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(classic_pcap([(1, 0, FRAME_A, len(FRAME_A))]))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    read_all(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_snaplen_time_backwards_and_absurd_length(tmp_path: Path) -> None:
    body = classic_pcap([(10, 0, FRAME_A, len(FRAME_A)), (9, 0, FRAME_B, len(FRAME_B))], snaplen=40)
    body += struct.pack("<IIII", 11, 0, 300 << 20, 300 << 20) + b"junk"
    path = tmp_path / "odd.pcap"
    path.write_bytes(body)
    frames, capture = read_all(path)
    codes = [a.code for a in capture.anomalies]  # type: ignore[attr-defined]
    assert len(frames) == 2
    assert codes.count("capture.snaplen-exceeded") == 2
    assert "capture.time-backwards" in codes
    bad = [a for a in capture.anomalies if a.code == "capture.bad-record"]  # type: ignore[attr-defined]
    assert bad and "byte offset" in bad[0].detail


def test_repeated_anomalies_are_capped_and_summarised(tmp_path: Path) -> None:
    path = tmp_path / "back.pcap"
    path.write_bytes(classic_pcap([(100 - i, 0, FRAME_A, len(FRAME_A)) for i in range(50)]))
    _, capture = read_all(path)
    anomalies = capture.anomalies  # type: ignore[attr-defined]
    assert len(anomalies) == 21
    assert "29 more like this" in anomalies[-1].detail


def _small_files() -> list[tuple[str, bytes, set[int]]]:
    """(kind, file bytes, the cut sizes that fall exactly between records)."""
    records = [(1, 0, FRAME_A, len(FRAME_A)), (2, 0, FRAME_B, len(FRAME_B))]
    first = 24 + 16 + len(FRAME_A)
    pcap_clean = {24, first, first + 16 + len(FRAME_B)}
    blocks = [
        pcapng_shb("<"),
        pcapng_idb("<", 1),
        pcapng_epb("<", 0, 1, FRAME_A),
        pcapng_epb("<", 0, 2, FRAME_B),
    ]
    ends = [sum(len(b) for b in blocks[: i + 1]) for i in range(len(blocks))]
    return [("pcap", classic_pcap(records), pcap_clean), ("pcapng", b"".join(blocks), set(ends))]


@pytest.mark.parametrize(("kind", "content", "clean_cuts"), _small_files())
def test_cut_at_every_offset(
    tmp_path: Path, kind: str, content: bytes, clean_cuts: set[int]
) -> None:
    """A file copied while still being written: frames before the cut, an anomaly, no crash."""
    full, _ = _read_bytes(tmp_path, content)
    assert len(full) == 2
    header = 24 if kind == "pcap" else 12
    for size in range(1, len(content) + 1):
        if size < header:
            with pytest.raises(InputError):
                _read_bytes(tmp_path, content[:size])
            continue
        frames, capture = _read_bytes(tmp_path, content[:size])
        assert frames == full[: len(frames)]
        codes = [a.code for a in capture.anomalies]  # type: ignore[attr-defined]
        assert codes == ([] if size in clean_cuts else ["capture.truncated-record"]), size


def _read_bytes(tmp_path: Path, content: bytes) -> tuple[list[RawFrame], object]:
    path = tmp_path / "cut.pcap"
    path.write_bytes(content)
    return read_all(path)


@given(st.binary(max_size=300))
def test_random_bytes_after_a_valid_header_never_raise(
    tmp_path_factory: object, tail: bytes
) -> None:
    for head in (classic_pcap([]), pcapng_shb("<") + pcapng_idb("<", 1)):
        path = Path(tmp_path_factory.mktemp("h")) / "r.pcap"  # type: ignore[attr-defined]
        path.write_bytes(head + tail)
        with open_capture(str(path)) as capture:
            for frame in capture:
                assert isinstance(frame.data, bytes)


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=199))
def test_mutated_pcap_never_raises_anything_but_input_error(
    tmp_path_factory: object, noise: bytes, at: int
) -> None:
    base = bytearray(_small_files()[1][1])
    base[at : at + len(noise)] = noise
    path = Path(tmp_path_factory.mktemp("m")) / "m.pcapng"  # type: ignore[attr-defined]
    path.write_bytes(bytes(base))
    try:
        with open_capture(str(path)) as capture:
            list(capture)
    except InputError:
        pass


def test_corpus_multi_interface_pcapng() -> None:
    path = CORPUS / "pcapng-multi-interface.pcapng"
    if not path.exists():
        pytest.skip("corpus not present")
    frames, capture = read_all(path)
    assert capture.format == "pcapng"  # type: ignore[attr-defined]
    assert len(frames) == 6
    if shutil.which("tshark") is None:
        return
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    expected = [line.split("\t") for line in out if line]
    assert [(round(f.ts, 6), f.orig_len) for f in frames] == [
        (round(float(ts), 6), int(length)) for ts, length in expected
    ]


@pytest.mark.skipif(shutil.which("capinfos") is None, reason="capinfos not installed")
def test_corpus_frame_counts_match_capinfos() -> None:
    files = sorted(CORPUS.glob("*.pcap*")) if CORPUS.is_dir() else []
    if not files:
        pytest.skip("corpus not present")
    for path in files:
        out = (
            subprocess.run(
                ["capinfos", "-M", "-c", "-T", str(path)], capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()
        )
        expected = int(out[-1].split("\t")[-1])
        frames, capture = read_all(path)
        assert len(frames) == expected, path.name


def test_small_cut_gzip_keeps_the_frames_before_the_cut(tmp_path: Path) -> None:
    # GzipFile.read dropped what it had decompressed when it met the cut, so a .gz smaller
    # than one read (64 KiB decompressed) cut anywhere read as "cannot decompress".
    noise = random.Random(9)
    plain = classic_pcap([(1, 0, noise.randbytes(200), 200) for _ in range(40)])
    packed = gzip.compress(plain)
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(packed[: len(packed) * 3 // 4])
    frames, capture = read_all(path)
    assert 0 < len(frames) < 40
    assert [f.data for f in frames] == [
        plain[40 + i * 216 : 40 + i * 216 + 200] for i in range(len(frames))
    ]
    codes = {a.code for a in capture.anomalies}  # type: ignore[attr-defined]
    assert codes & {"capture.bad-compression", "capture.truncated-record"}


def _both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """(records, frames, anomaly codes) with runs of EPBs batched, and block by block."""

    def read() -> tuple[list[object], int, list[tuple[str, int | None]]]:
        reader = open_capture(str(path))
        records = list(reader.records())
        return records, reader.frames, [(a.code, a.frame, a.detail) for a in reader.anomalies]

    batched = read()
    with monkeypatch.context() as patch:
        patch.setattr(CaptureReader, "_epb_run", lambda *args: None)
        one_by_one = read()
    return batched, one_by_one


@pytest.mark.parametrize(
    "path",
    [p for p in lab_captures() + corpus_files() if p.suffix == ".pcapng"],
    ids=lambda p: p.name,
)
def test_epb_runs_read_as_block_by_block(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batched, one_by_one = _both_ways(path, monkeypatch)
    assert batched == one_by_one


_EPB_CASES = st.lists(
    st.tuples(
        st.sampled_from(["epb", "epb", "epb", "idb", "spb", "bad-trailer", "bad-id", "big-caplen"]),
        st.integers(0, 2),  # interface
        st.integers(0, 2**40),  # timestamp units
        st.binary(min_size=0, max_size=40),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["<", ">"]), _EPB_CASES, st.integers(0, 12))
def test_epb_runs_agree_on_random_sections(
    order: str, blocks: list[tuple[str, int, int, bytes]], cut: int
) -> None:
    """Interfaces with other link types and resolutions, blocks the run must stop before
    (bad trailer, unknown interface, caplen past the block), a file cut mid-block."""
    out = pcapng_shb(order) + pcapng_idb(order, 1) + pcapng_idb(order, 1, tsresol=9, snaplen=16)
    for kind, interface, units, data in blocks:
        if kind == "idb":
            out += pcapng_idb(order, 113 if interface == 2 else 1, 3 + interface, 16 * interface)
        elif kind == "spb":
            out += pcapng_block(order, 3, struct.pack(order + "I", len(data)) + data)
        else:
            block = bytearray(pcapng_epb(order, 7 if kind == "bad-id" else interface, units, data))
            if kind == "bad-trailer":
                block[-1] ^= 0x10 if order == "<" else 0
                block[-4] ^= 0x10 if order == ">" else 0
            if kind == "big-caplen":  # past the block by a few bytes (padding) or far
                struct.pack_into(order + "I", block, 20, len(data) + (1, 4, 5, 64)[units % 4])
            out += bytes(block)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.pcapng"
        path.write_bytes(out[: len(out) - cut])
        with pytest.MonkeyPatch.context() as patch:
            batched, one_by_one = _both_ways(path, patch)
    assert batched == one_by_one


@settings(max_examples=200, deadline=None)
@example([24, 100], 64, 10)  # the first chunk ends exactly where a record does
@example([24, 24, 24, 30], 64, 3)
@given(
    st.lists(st.integers(0, 600), min_size=0, max_size=60),
    st.sampled_from([16, 64, 100, 512, 4096]),
    st.integers(0, 40),
)
def test_chunks_bridged_without_copying_read_as_joined(
    sizes: list[int], chunk: int, cut: int
) -> None:
    """Records cut between read chunks, in every position (header or data), a file cut short:
    the bridged reading gives the records and anomalies of joining each chunk to the tail."""
    records = [(i, i * 7 % 1_000_000, bytes([i % 251]) * n, n) for i, n in enumerate(sizes)]
    data = classic_pcap(records)
    data = data[: max(24, len(data) - cut)]

    def read() -> tuple[list[object], list[tuple[str, str]]]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "c.pcap"
            path.write_bytes(data)
            reader = open_capture(str(path))
            got = list(reader.records())
            return got, [(a.code, a.detail.split(": ", 1)[1]) for a in reader.anomalies]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pcapfile, "CHUNK_SIZE", chunk)
        bridged = read()
        patch.setattr(
            CaptureReader, "_next_chunk", lambda self, order: (self._fill(chunk), None)[1]
        )
        joined = read()
    assert bridged == joined
    ends = [24 + sum(16 + n for n in sizes[: i + 1]) for i in range(len(sizes))]
    whole = [
        payload for (_, _, payload, _), end in zip(records, ends, strict=True) if end <= len(data)
    ]
    assert [record[3] for record in bridged[0]] == whole  # type: ignore[index]


class _Reads(io.RawIOBase):
    """A file whose ``read`` returns exactly the chunks it was fed, one per call, as a pipe or
    a slow decompressor may: the reader pulls its bytes, so ``tr`` feeds it through this."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.chunks: list[bytes] = []
        self._at = 0
        self._pending = b""

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        assert (offset, whence) == (0, 0)
        self._at, self._pending = 0, b""
        return 0

    def read(self, size: int = -1, /) -> bytes:
        if not self._pending:
            if self._at == len(self.chunks):
                return b""
            self._pending, self._at = self.chunks[self._at], self._at + 1
        size = len(self._pending) if size < 0 else size
        out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def frames(self) -> list[RawFrame]:
        self.path.write_bytes(b"".join(self.chunks))  # only its size is read
        self.reader = CaptureReader(str(self.path), stream=cast(BinaryIO, self))
        with self.reader:
            return list(self.reader)


@pytest.mark.parametrize(
    ("container", "junk_code"),
    [("pcap", "capture.bad-record"), ("pcapng", "pcapng.oversize-block")],
)
def test_read_whole_a_byte_per_read_and_with_trailing_junk(
    tmp_path: Path, container: str, junk_code: str
) -> None:
    if container == "pcap":
        data = classic_pcap([(1, 0, FRAME_A, len(FRAME_A)), (2, 5, FRAME_B, len(FRAME_B))])
    else:
        data = (
            pcapng_shb("<")
            + pcapng_idb("<", 1)
            + pcapng_epb("<", 0, 1_000_000, FRAME_A)
            + pcapng_epb("<", 0, 2_000_000, FRAME_B)
        )
    fed = tr(
        lambda: _Reads(tmp_path / "capture"),
        lambda reads, chunk, _: reads.chunks.append(chunk) or (),
        data,
        end=lambda reads, _: reads.frames(),
        state=lambda reads: [(a.code, a.detail) for a in reads.reader.anomalies],
    )
    assert [f.data for f in fed.whole] == [FRAME_A, FRAME_B]
    assert fed.whole_parser.reader.anomalies == []
    # The junk reads as a record header with an absurd length: noted, after both frames.
    assert fed.junk == fed.whole
    assert [a.code for a in fed.junk_parser.reader.anomalies] == [junk_code]
