"""Encoders and decoders for the DHCP option payloads the phones care about (protocol.md §1).

The runner uses the encoders to build raw option-43 bytes for dnsmasq, and the phone emulator uses
the decoders on what it actually receives, so a mismatch between what was configured and what went
over the wire shows up as a lab failure instead of silently producing a misleading capture.
"""

from __future__ import annotations

MS_UC_CLIENT = "MS-UC-Client"
CERT_PROV_PATH = "/CertProv/CertProvisioningService.svc"


def encode_option43(suboptions: list[tuple[int, str]]) -> bytes:
    """Encode MS-UC-Client sub-options as flat code/len/value TLVs, as DHCPUtil does (no 0xFF)."""
    out = bytearray()
    for code, value in suboptions:
        raw = value.encode("ascii")
        out += bytes([code, len(raw)]) + raw
    return bytes(out)


def decode_option43(data: bytes) -> dict[str, object]:
    """Decode vendor TLVs tolerantly, reporting truncation rather than raising.

    A Cisco router that cuts option 43 at 90 bytes leaves a sub-option whose length byte claims
    more data than is present; the phone keeps going, so the decoder must too.
    """
    subs: list[dict[str, object]] = []
    truncated = False
    ended = False
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            ended = True
            break
        if i + 1 >= len(data):
            truncated = True
            break
        length = data[i + 1]
        value = data[i + 2 : i + 2 + length]
        if len(value) < length:
            truncated = True
        subs.append(
            {
                "code": code,
                "length": length,
                "value": value.decode("ascii", "replace"),
                "complete": len(value) == length,
            }
        )
        i += 2 + length
    return {"suboptions": subs, "truncated": truncated, "end_marker": ended}


def encode_option120(names: list[str]) -> bytes:
    """Encode option 120 with encoding byte 0 and uncompressed RFC 1035 labels (RFC 3361)."""
    out = bytearray([0])
    for name in names:
        for label in name.rstrip(".").split("."):
            raw = label.encode("ascii")
            out += bytes([len(raw)]) + raw
        out += b"\x00"
    return bytes(out)


def decode_option120(data: bytes) -> dict[str, object]:
    """Decode option 120; handles enc 0 (names, incl. compression pointers) and enc 1 (IPv4)."""
    if not data:
        return {"encoding": None, "names": [], "addresses": []}
    enc = data[0]
    body = data[1:]
    if enc == 1:
        addrs = [".".join(str(b) for b in body[i : i + 4]) for i in range(0, len(body) - 3, 4)]
        return {"encoding": 1, "names": [], "addresses": addrs}
    names: list[str] = []
    i = 0
    guard = 0
    while i < len(body) and guard < 64:
        guard += 1
        labels: list[str] = []
        j = i
        jumped = False
        hops = 0
        while j < len(body) and hops < 64:
            hops += 1
            ln = body[j]
            if ln == 0:
                j += 1
                break
            if ln & 0xC0 == 0xC0 and j + 1 < len(body):
                ptr = ((ln & 0x3F) << 8) | body[j + 1]
                if not jumped:
                    i = j + 2
                jumped = True
                j = ptr
                continue
            labels.append(body[j + 1 : j + 1 + ln].decode("ascii", "replace"))
            j += 1 + ln
        if not jumped:
            i = j
        names.append(".".join(labels))
    return {"encoding": enc, "names": names, "addresses": []}
