"""The NTP header by hand (RFC 5905 §7.3; SNTP, RFC 4330, uses the same 48 bytes).

``parse_ntp`` takes one UDP payload and returns an :class:`NtpMessage`, or ``None`` for the
control and private modes (6 and 7: ntpq/ntpdc traffic, another format, not a time message);
bytes that cannot be an NTP message raise :class:`~capinspect.errors.Malformed` (caught by the
tracker, which makes it an ``ntp.malformed`` anomaly). Bytes after the header (NTPv4 extension
fields, an authenticator) are counted, not read.

NTP timestamps count seconds from 1900 modulo 2**32: a value with the top bit clear is read as
the era starting in 2036 (RFC 4330 §3), so captures from either side of 2036 read right.
"""

from __future__ import annotations

import struct

from capinspect.errors import Malformed, Truncated
from capinspect.protocols.ntp.messages import NtpMessage

HEADER_BYTES = 48
NTP_PORT = 123
_UNIX_FROM_1900 = 2_208_988_800
_ERA = 1 << 32
_header = struct.Struct(">BBbbii4s8s8s8s8s").unpack_from
_FRACTION = float(1 << 32)


def ntp_time(raw: bytes) -> float | None:
    """POSIX seconds from an 8-byte NTP timestamp; ``None`` when it is zero (not set)."""
    seconds: int = int.from_bytes(raw[:4], "big")
    fraction: int = int.from_bytes(raw[4:8], "big")
    if not seconds and not fraction:
        return None
    if not seconds & 0x8000_0000:
        seconds += _ERA  # era 1 (2036-2104), RFC 4330 §3
    return seconds - _UNIX_FROM_1900 + fraction / _FRACTION


def parse_ntp(data: bytes) -> NtpMessage | None:
    """One NTP message from a UDP payload (see the module docstring)."""
    if not data:
        raise Truncated("empty UDP payload on port 123", 0)
    first = data[0]
    leap, version, mode = first >> 6, (first >> 3) & 0x07, first & 0x07
    if not 1 <= version <= 4:
        raise Malformed(f"NTP version {version} (1-4 exist)", 0)
    if mode in (6, 7):
        return None
    if mode == 0:
        raise Malformed("NTP mode 0 is reserved", 0)
    if len(data) < HEADER_BYTES:
        raise Truncated(f"{len(data)} bytes; an NTP header has {HEADER_BYTES}", len(data))
    (
        _,
        stratum,
        poll,
        precision,
        root_delay,
        root_dispersion,
        reference_id,
        reference_raw,
        origin_raw,
        receive_raw,
        transmit_raw,
    ) = _header(data)
    return NtpMessage(
        leap=leap,
        version=version,
        mode=mode,
        stratum=stratum,
        poll=poll,
        precision=precision,
        root_delay=root_delay / 65536,
        root_dispersion=root_dispersion / 65536,
        reference_id=reference_id,
        reference_ts=ntp_time(reference_raw),
        origin_ts=ntp_time(origin_raw),
        receive_ts=ntp_time(receive_raw),
        transmit_ts=ntp_time(transmit_raw),
        origin_raw=origin_raw,
        transmit_raw=transmit_raw,
        extra_bytes=len(data) - HEADER_BYTES,
    )
