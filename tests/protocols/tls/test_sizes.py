"""protocols/tls/sizes.py: the plaintext a protected record can carry, checked against the
lab capture decrypted with its key."""

from __future__ import annotations

from locations import PCAPS

from capinspect.model import Direction
from capinspect.pipeline import analyze_paths
from capinspect.protocols.tls.keys import load_tls_keys
from capinspect.protocols.tls.sizes import plaintext_range, plaintext_total

TLS12 = 0x0303
AES128_SHA = 0x002F
AES256_GCM = 0x009D
RC4_SHA = 0x0005
CHACHA = 0xCCA8


def test_aead_and_stream_suites_give_the_exact_size() -> None:
    assert plaintext_range(AES256_GCM, TLS12, 720) == (696, 696)
    assert plaintext_range(CHACHA, TLS12, 116) == (100, 100)
    assert plaintext_range(RC4_SHA, TLS12, 120) == (100, 100)


def test_cbc_is_known_to_within_a_block() -> None:
    low, high = plaintext_range(AES128_SHA, TLS12, 676) or (0, 0)
    assert (low, high) == (624, 639) and high - low == 15
    # TLS 1.0 has no explicit IV: 16 bytes more of plaintext.
    assert plaintext_range(AES128_SHA, 0x0301, 676) == (640, 655)


def test_unknown_or_impossible_gives_none() -> None:
    assert plaintext_range(0x1234, TLS12, 100) is None
    assert plaintext_range(AES128_SHA, None, 100) is None
    assert plaintext_range(AES256_GCM, TLS12, 10) is None
    assert plaintext_total(AES128_SHA, TLS12, [676, 5]) is None
    assert plaintext_total(AES256_GCM, TLS12, []) == (0, 0)


def test_every_lab_answer_lies_in_its_estimated_range() -> None:
    capture = str(PCAPS / "https-healthy.pcap")
    keys = load_tls_keys([str(PCAPS / "https-healthy.key.pem")], None, None)
    decrypted = analyze_paths([capture], tls_keys=keys).tls
    assert len(decrypted) == 3
    for conn in decrypted:
        assert conn.decryption == "decrypted"
        for direction, plain in (
            (Direction.TO_SERVER, conn.app_bytes_to_server),
            (Direction.TO_CLIENT, conn.app_bytes_to_client),
        ):
            sizes = [r.size for r in conn.app_records if r.direction == direction]
            low, high = plaintext_total(conn.cipher_suite, conn.version, sizes) or (-1, -1)
            assert low <= plain <= high
