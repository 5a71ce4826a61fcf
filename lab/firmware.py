"""Version arithmetic and the deterministic fake firmware shared by the IIS stand-in and the phone.

Both sides derive the same bytes from the file's URL path, so the phone can verify that what it
downloaded is exactly what the server meant to serve, without a shared file on disk.
"""

from __future__ import annotations

import hashlib
import random

INTERIM_THRESHOLD = "1.0.522.98"
INTERIM_VERSION = "1.0.522.103"
INTERIM_TIMESTAMP = "16-12-2008 04:43:58"
DEFAULT_TARGET = "3.5.6907.0"


def parse_version(text: str) -> tuple[int, ...]:
    """Turn a dotted firmware version into a tuple so that 1.0.522.103 sorts after 1.0.522.98."""
    return tuple(int(part) for part in text.strip().split("."))


def version_lt(a: str, b: str) -> bool:
    """Compare dotted versions numerically (string comparison gets .103 vs .98 wrong)."""
    return parse_version(a) < parse_version(b)


def firmware_bytes(path: str) -> bytes:
    """Return 150-300 KB of pseudo-random bytes seeded by the URL path.

    Real CPE.nbt images are several MB; a smaller size keeps every capture under 1 MB while still
    spanning many TCP segments, which is what the analyzer's reassembly has to cope with.
    """
    seed = int.from_bytes(hashlib.sha256(path.lower().encode()).digest()[:8], "big")
    rng = random.Random(seed)
    size = rng.randint(150_000, 300_000)
    return b"NBT0" + rng.randbytes(size - 4)
