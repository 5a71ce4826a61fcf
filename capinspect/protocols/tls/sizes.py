"""How much plaintext a protected TLS record can hold, from its size and the suite alone.

Without keys a record's length still says a lot: the cipher adds a known overhead (RFC 5246
6.2.3, RFC 5288, RFC 7905, RFC 8446 5.2). A stream cipher adds its MAC; a CBC suite adds an
explicit IV (TLS 1.1 and later), its MAC and 1 to a block of padding, so the plaintext is
known to within a block; an AEAD suite adds its explicit nonce and tag, so the plaintext is
known exactly (TLS 1.3 hides its padding, so there it is an upper bound).
"""

from __future__ import annotations

from capinspect.protocols.tls.messages import CIPHER_SUITES

_MAC_SIZES = {"MD5": 16, "SHA1": 20, "SHA256": 32, "SHA384": 48}
_BLOCK_SIZES = {"AES": 16, "CAMELLIA": 16, "3DES": 8, "DES": 8}


def plaintext_range(suite: int | None, version: int | None, size: int) -> tuple[int, int] | None:
    """The (smallest, largest) plaintext a record of ``size`` protected bytes can carry under
    this suite and version; None when the suite is unknown or the size impossible."""
    info = CIPHER_SUITES.get(suite if suite is not None else -1)
    if info is None or version is None:
        return None
    cipher = info.cipher
    if version == 0x0304 or info.kx == "TLS13":
        # inner content type (1 byte) + tag (16); padding may hide bytes: an upper bound.
        tag = 8 if cipher.endswith("CCM8") else 16
        high = size - tag - 1
        return (0, high) if high >= 0 else None
    if info.aead:
        if cipher.startswith("CHACHA20"):
            overhead = 16
        else:
            overhead = 8 + (8 if cipher.endswith("CCM8") else 16)
        exact = size - overhead
        return (exact, exact) if exact >= 0 else None
    mac = _MAC_SIZES.get(info.mac, 0)
    if cipher.startswith("RC4") or cipher == "NULL":
        exact = size - mac
        return (exact, exact) if exact >= 0 else None
    block = next((b for name, b in _BLOCK_SIZES.items() if cipher.startswith(name)), 16)
    iv = block if version >= 0x0302 else 0
    low, high = size - iv - mac - block, size - iv - mac - 1
    if high < 0:
        return None
    return max(0, low), high


def plaintext_total(
    suite: int | None, version: int | None, sizes: list[int]
) -> tuple[int, int] | None:
    """The plaintext range of several records together (None if any cannot be read)."""
    low = high = 0
    for size in sizes:
        found = plaintext_range(suite, version, size)
        if found is None:
            return None
        low, high = low + found[0], high + found[1]
    return low, high
