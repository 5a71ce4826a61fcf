"""The raw read floor (`python -m bench.floor FILE`): walk a classic pcap's records, nothing else.

Why: it is the least any pure-Python reader must spend (1 MB reads, one ``struct`` unpack per
record), so "capinspect / floor" says how much of capinspect's time is decoding and analysis
rather than getting the bytes in. Prints the record count, so the runner can check it.
"""

from __future__ import annotations

import struct
import sys

CHUNK = 1 << 20


def count_records(path: str) -> int:
    """Number of records in a little-endian classic pcap (what bench.generate writes)."""
    rec = struct.Struct("<IIII")
    unpack = rec.unpack_from
    n = 0
    with open(path, "rb") as fh:
        head = fh.read(24)
        if head[:4] != b"\xd4\xc3\xb2\xa1":
            raise SystemExit(f"{path}: not a little-endian classic pcap")
        buf = b""
        while True:
            data = fh.read(CHUNK)
            if not data:
                break
            buf = buf + data if buf else data
            off = 0
            end = len(buf)
            while off + 16 <= end:
                _sec, _usec, incl, _orig = unpack(buf, off)
                if off + 16 + incl > end:
                    break
                off += 16 + incl
                n += 1
            buf = buf[off:]
    return n


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.floor FILE", file=sys.stderr)
        return 2
    print(count_records(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
