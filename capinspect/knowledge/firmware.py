"""Firmware versions and the update rules that depend on them.

Every constant says where it comes from. Versions are compared numerically, part by part
(``1.0.522.98`` < ``1.0.522.103``), never as strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from capinspect.knowledge.sources import ARTICLE, UPDATING_LPE_2013

Version = tuple[int, ...]

_VERSION_RE = re.compile(r"\d+(?:\.\d+){1,3}")


def parse_version(text: str | None) -> Version | None:
    """``"1.0.522.34"`` → ``(1, 0, 522, 34)``; ``None`` when no dotted number is in ``text``."""
    if not text:
        return None
    match = _VERSION_RE.search(text)
    if match is None:
        return None
    return tuple(int(part) for part in match.group(0).split("."))


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


INTERIM_THRESHOLD: Version = (1, 0, 522, 98)
"""Below this, a phone first gets the interim build (the Device Update troubleshooting article: "If
the previous version of the device is less than 1.0.522.98, it will first get updated to an interim
build (1.0.522.103)". Its step 4 says "1.0.522.98 or lower"; the audit-log example and the first
wording agree on *less than*, which is what capinspect uses.)"""

INTERIM_VERSION: Version = (1, 0, 522, 103)
"""The interim build served from the ``OCInterim`` virtual directory (the article's audit log, row
2)."""

INTERIM_PATH_MARKER = "/ocinterim/"
"""Path element of the interim build's URL.

The article's: ``/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt``."""

LEGACY_CHECKIN_VERSION: Version = (1, 0, 452, 0)
"""Firmware that asks for ``/UCDeviceUpdates/ucdevice.upx`` (the article's step 10; Edi's comment on
it)."""

UNKNOWN_VERSION_TIMESTAMP = "1601"
"""An installed module with an empty version and a 01-01-1601 timestamp (the Windows FILETIME
epoch) means the phone reports nothing the server knows (the article's audit log, row 1)."""


IMAGE_SUFFIXES = (".nbt",)
"""The firmware image itself (``CPE.nbt``); the ``.cat`` catalog and ``.xml`` description of an
update package are small by nature (the OCS "14" pre-release "Updating Devices" page), so only
images have a minimum size."""

MIN_IMAGE_BYTES = 100 * 1024
"""Smallest body capinspect accepts as a firmware image: an inference, not a published number.

The article says the interim CPE.nbt "has a few megs" (its download took 137810 ms); a reader's
"download" of the same file took 7 ms (``GET …/OCInterim/ENU/CPE.nbt … 200 0 0 7``) and the
browser showed a blank page. No phone image can fit in 100 KB, so a 200 under it is a page or a
placeholder, not firmware; the floor stays far below any real image (and below the lab's
150-300 KB stand-in images) so that it never fails a real one."""

FETCH_START_WINDOW = 60.0
"""Seconds after the check-in by which a phone that accepts an offer has asked for the file.

The article's IIS log shows the phone starting each GET within a second of its check-in
(17:10:39 check-in, GET logged at 17:12:57 after 137810 ms; 17:18:54 check-in, GET logged at
17:21:45 after 170679 ms; IIS logs a request when it ends); a reader's GET came in the same
second as the check-in. 60 s is that with a wide margin (inference)."""

DOWNLOAD_TIMES_SEEN = (137.810, 170.679)
"""Seconds the two downloads in the article's IIS log took (time-taken 137810 and 170679 ms)."""

IDLE_BEFORE_RESTART = 300.0
"""The phone installs after five minutes without use, then restarts (article, update flow step 6
and troubleshooting step 12)."""

UPDATE_CYCLE = FETCH_START_WINDOW + max(DOWNLOAD_TIMES_SEEN) + IDLE_BEFORE_RESTART
"""How long a capture must run after an offer to see the whole update: the fetch, the download,
the idle wait and the restart (about 9 minutes; the article's audit log shows the next check-in
8 minutes after the offer)."""


@dataclass(frozen=True, slots=True)
class FirmwareFamily:
    """A family of phones that share firmware images, and the newest build capinspect knows."""

    name: str
    vendors_models: tuple[tuple[str, str], ...]
    """(vendor, model) pairs as the phones report them (compared case-insensitively)."""
    newest_known: Version
    source: str
    supported: bool = True


FAMILIES: tuple[FirmwareFamily, ...] = (
    FirmwareFamily(
        name="Communicator Phone Edition (Tanjay)",
        vendors_models=(("Polycom", "CX700"), ("LG-Nortel", "IP8540"), ("Microsoft", "Tanjay")),
        newest_known=(3, 5, 6907, 0),
        source=(
            f"{ARTICLE}: 3.5.6907.0 is the latest OCS 2007 R2 build when the article was "
            "written and the build the example server offers; later builds (3.5.6907.187, "
            f".207) exist (a reader's IIS log in the article; {UPDATING_LPE_2013}): set the "
            "target in --expect when your server carries one"
        ),
    ),
    FirmwareFamily(
        name="Microsoft DV1",
        vendors_models=(("Microsoft", "DV1"),),
        newest_known=(0,),
        source=(
            f"{ARTICLE}, troubleshooting step 6: 'Microsoft DV1 is no longer supported and "
            "even the interim update will not work'"
        ),
        supported=False,
    ),
)


def family_for(vendor: str | None, model: str | None) -> FirmwareFamily | None:
    """The family of a phone by its reported model (vendor only disambiguates)."""
    if not model:
        return None
    lmodel = model.strip().lower()
    lvendor = (vendor or "").strip().lower()
    candidates = [fam for fam in FAMILIES for v, m in fam.vendors_models if m.lower() == lmodel]
    for fam in candidates:
        if any(v.lower() == lvendor for v, _ in fam.vendors_models):
            return fam
    return candidates[0] if candidates else None


def needs_interim(version: Version) -> bool:
    """True when the phone must take 1.0.522.103 before any newer build (the article)."""
    return version < INTERIM_THRESHOLD


def is_lync_phone_edition(version: Version) -> bool:
    """Lync Phone Edition firmware is 4.0.7577.x (Jeff Schertz, "Updating Lync Phone Edition
    Devices for Lync 2013")."""
    return version[:1] == (4,)
