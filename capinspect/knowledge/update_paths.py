"""Where the Device Update service puts a firmware file: the layout of an offered file's URL path.

The service answers a check-in with the URL of the file made for *this* phone: the path names the
device type, vendor, model, hardware revision, locale and version of the update, so a path whose
segments are not the phone's own points at an update made for another phone (the article's
readers met exactly that: Dutch update files on the server, English phones). The layouts below
are read from the article "Troubleshooting OCS 2007 R2 Device Update Service for Communicator
Phone Edition" (Rui Silva, 2009):

* its audit log rows offer
  ``http://ocs.demo.local/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt`` (the interim build) and
  ``http://ocs.demo.local/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/CPE.nbt``
  to an LG-Nortel IP8540, revision A, locale ENU (the same values the phone sent in that row);
* its IIS log lines show the phone fetching exactly those paths, and a reader's IIS log shows
  ``/DeviceUpdateFiles_Int/UCPhone/Polycom/CX700/A/ENU/3.5.6907.207/CPE/CPE.nbt``;
* Microsoft's file store for Lync (the Get-CsDeviceUpdate clean-up script walks it) has the same
  order: ``DeviceUpdateStore\\<DeviceType>\\<Brand>\\<Model>\\<Revision>\\<Locale>\\<Version>\\…``.

External URLs use ``DeviceUpdateFiles_Ext`` with the same layout below it (the article's
troubleshooting step 4 names both virtual directories).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from capinspect.knowledge.sources import ARTICLE, GET_CSDEVICEUPDATE

UPDATE_VDIRS = ("deviceupdatefiles_int", "deviceupdatefiles_ext")
"""The virtual directories that serve update files (article, troubleshooting step 4)."""

IDENTITY_FIELDS = ("device_type", "vendor", "model", "revision", "locale")
"""Path segments that must equal what the phone says about itself in its check-in."""


@dataclass(frozen=True, slots=True)
class PathLayout:
    """One layout: ``segments`` after the host, each a field name, ``=literal`` (compared
    case-insensitively), ``@vdir`` (one of :data:`UPDATE_VDIRS`) or ``*`` (one or more
    trailing segments: the file, e.g. ``CPE/CPE.nbt``)."""

    name: str
    segments: tuple[str, ...]
    example: str
    source: str


LAYOUTS: tuple[PathLayout, ...] = (
    PathLayout(
        name="interim",
        segments=("@vdir", "=OCInterim", "locale", "*"),
        example="/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt",
        source=f"{ARTICLE}: audit log row 2 and the IIS log line of the interim download",
    ),
    PathLayout(
        name="update",
        segments=("@vdir", "device_type", "vendor", "model", "revision", "locale", "version", "*"),
        example="/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/CPE.nbt",
        source=(
            f"{ARTICLE}: audit log row 3, its IIS log and a reader's (Polycom/CX700/A/ENU/"
            f"3.5.6907.207); {GET_CSDEVICEUPDATE}"
        ),
    ),
)
"""Tried in order: the interim layout first, so ``OCInterim`` is never read as a device type."""


@dataclass(frozen=True, slots=True)
class UpdatePath:
    """An update file's path read against a layout: the values of its named segments."""

    layout: PathLayout
    values: tuple[tuple[str, str], ...]
    """(field, segment as written), in path order."""

    def get(self, name: str) -> str | None:
        for key, value in self.values:
            if key == name:
                return value
        return None


def _match(layout: PathLayout, parts: list[str]) -> UpdatePath | None:
    values: list[tuple[str, str]] = []
    for i, spec in enumerate(layout.segments):
        if spec == "*":
            return UpdatePath(layout, tuple(values)) if len(parts) > i else None
        if i >= len(parts):
            return None
        part = parts[i]
        if spec == "@vdir":
            if part.lower() not in UPDATE_VDIRS:
                return None
        elif spec.startswith("="):
            if part.lower() != spec[1:].lower():
                return None
        else:
            values.append((spec, part))
    return UpdatePath(layout, tuple(values)) if len(parts) == len(layout.segments) else None


def read_update_path(path: str) -> UpdatePath | None:
    """The layout an update file's path follows and its segment values; ``None`` when the path is
    in neither layout (another server's layout: nothing can be said about its segments)."""
    parts = [unquote(p) for p in path.split("/") if p]
    for layout in LAYOUTS:
        found = _match(layout, parts)
        if found is not None:
            return found
    return None
