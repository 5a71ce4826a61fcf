"""The devices stage: who is a phone, each phone's session, and the other clients.

``identity.py`` decides who is a phone from phone evidence; ``bindings.py`` joins addresses to
MACs over time; ``sessions.py`` joins every transaction to its phone and finishes the sessions;
``timeline.py`` draws each phone's ladder; ``model.py`` holds the values handed on.
"""

from capinspect.devices.bindings import AddressBindings, normalise_mac
from capinspect.devices.model import (
    Checkin,
    ClientActivity,
    DeviceSession,
    Download,
    FirmwareSighting,
    Identity,
    OtherClient,
    Population,
    TimelineStep,
    seconds,
)
from capinspect.devices.sessions import build_devices, build_population
from capinspect.knowledge.phone import FIRMWARE_SUFFIXES
from capinspect.protocols.checkins import interpret_checkin

__all__ = [
    "FIRMWARE_SUFFIXES",
    "AddressBindings",
    "Checkin",
    "ClientActivity",
    "DeviceSession",
    "Download",
    "FirmwareSighting",
    "Identity",
    "OtherClient",
    "Population",
    "TimelineStep",
    "build_devices",
    "build_population",
    "interpret_checkin",
    "normalise_mac",
    "seconds",
]
