"""Reports of scapy-made sign-in captures (tests/lpe_signin.py) through the whole pipeline."""

from __future__ import annotations

from pathlib import Path

from lpe_signin import write_signin

from capinspect.checks.base import Finding
from capinspect.expectations import Expectations
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.model import DeviceReport


def phone_report(tmp_path: Path, **knobs: object) -> DeviceReport:
    """The one phone's report for a sign-in capture built with ``knobs``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_signin(tmp_path / "signin.pcap", **knobs)
    report = evaluate(analyze_paths([str(path)]), Expectations())
    (device,) = report.devices
    return device


def findings(device: DeviceReport, check_id: str) -> list[Finding]:
    return [f for f in device.findings if f.check_id == check_id]
