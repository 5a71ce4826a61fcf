"""How big a check-in's answer is when it offers a file and when it offers nothing.

An HTTPS check-in without keys still shows the size of the server's answer (its TLS records,
less the cipher's overhead: ``protocols/tls/sizes.py``). These reference answers were measured
on capinspect's own lab captures, decrypted with their server key, so the plaintext sizes are
exact; the lab's Device Update server answers in the shape of the Device Update troubleshooting
article's examples.

**This is an inference, not a rule of the protocol.** A real server's answer differs with its
URLs, its host names and the number of files offered; the comparison only says which of the two
lab answers an encrypted answer is closer to. capinspect never decides an encrypted check-in on
its size alone: a firmware download that follows, an alert or a reset, and the audit log decide;
the size is shown beside them and breaks the tie only between "nothing offered" and "an offer
not fetched" (docs/tls.md).
"""

from __future__ import annotations

from dataclasses import dataclass

LAB_CAPTURE = (
    "capinspect lab capture pcaps/https-healthy.pcap (lab Device Update server, TLS 1.2 with RSA "
    "key exchange), decrypted with pcaps/https-healthy.key.pem"
)


@dataclass(frozen=True, slots=True)
class ReferenceAnswer:
    """One measured check-in answer."""

    offers: bool
    """The answer offers a file (the phone then fetches it over plain HTTP)."""
    http_bytes: int
    """The whole HTTP answer: status line, headers and body (the TLS plaintext)."""
    body_bytes: int
    what: str
    frames: tuple[int, ...]
    """The answer's frames in the lab capture (header record, body record)."""
    source: str


REFERENCE_ANSWERS: tuple[ReferenceAnswer, ...] = (
    ReferenceAnswer(
        offers=True,
        http_bytes=799,
        body_bytes=633,
        what="offers CPE.nbt 1.0.522.103 from the OCInterim folder (interim step)",
        frames=(24, 26),
        source=LAB_CAPTURE,
    ),
    ReferenceAnswer(
        offers=True,
        http_bytes=862,
        body_bytes=696,
        what="offers CPE.nbt 3.5.6907.0 under UCPhone/LG-Nortel/IP8540/A/ENU",
        frames=(90, 92),
        source=LAB_CAPTURE,
    ),
    ReferenceAnswer(
        offers=False,
        http_bytes=546,
        body_bytes=380,
        what="offers nothing (the phone runs the approved version)",
        frames=(158, 160),
        source=LAB_CAPTURE,
    ),
)

OFFER = "offer"
NOTHING = "nothing"


def size_boundary() -> float:
    """Half-way between the largest answer offering nothing and the smallest offering a file."""
    nothing = max(r.http_bytes for r in REFERENCE_ANSWERS if not r.offers)
    offer = min(r.http_bytes for r in REFERENCE_ANSWERS if r.offers)
    return (nothing + offer) / 2


def answer_like(low: int, high: int) -> str | None:
    """``offer`` or ``nothing`` when the plaintext range lies wholly on one side of the
    boundary; None when it straddles it."""
    boundary = size_boundary()
    if high < boundary:
        return NOTHING
    if low >= boundary:
        return OFFER
    return None


def describe_references() -> str:
    """One line for reports: the reference sizes and where they come from."""
    parts = ", ".join(
        f"{r.http_bytes} bytes ({'offer' if r.offers else 'nothing offered'})"
        for r in REFERENCE_ANSWERS
    )
    return f"lab answers {parts}; boundary {size_boundary():.0f} bytes"
