"""A lab capture and the logs its IIS stand-in wrote: one phone, one merged ladder, the clocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from locations import PCAPS

from capinspect.devices import DeviceSession
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.logs import load_logs

SHIFT = timedelta(hours=1, minutes=23, seconds=7)


def _sessions(name: str) -> tuple[DeviceSession, ...]:
    report = evaluate(analyze_paths([str(PCAPS / f"{name}.pcap")]), DEFAULT_EXPECTATIONS)
    return tuple(d.session for d in report.devices)


def test_interim_upgrade_capture_and_its_logs_merge() -> None:
    sessions = _sessions("interim-upgrade")
    result = load_logs(
        [str(PCAPS / "interim-upgrade.iis.log")],
        [str(PCAPS / "interim-upgrade.audit.log")],
        DEFAULT_EXPECTATIONS,
        sessions,
    )
    corr = result.correlation
    assert corr is not None
    # same machine, same clock: only IIS's whole-second resolution is left
    assert corr.iis.offset is not None and abs(corr.iis.offset) < 1.0
    assert corr.audit.offset is not None and abs(corr.audit.offset) < 1.0
    assert corr.iis.matches >= 7 and corr.devices == (("00:21:63:0f:20:7b",) * 2,)
    ladder = corr.timelines["00:21:63:0f:20:7b"]
    sources = {s.source for s in ladder}
    assert sources == {"capture", "iis-log", "audit-log"}
    assert all((s.frame is None) == (s.source != "capture") for s in ladder)
    assert [s.ts for s in ladder] == sorted(s.ts for s in ladder)
    # every IIS line found its request in the capture
    assert {w for w, _ in corr.matched if "iis" in w} == {
        f"interim-upgrade.iis.log:{n}" for n in range(5, 12)
    }
    (phone,) = result.phones
    assert "checkin.interim-step" in [f.check_id for f in phone.findings]


def _shift_iis(text: str) -> str:
    out = []
    for line in text.splitlines():
        if line[:4].isdigit():
            moment = datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S") + SHIFT
            line = f"{moment:%Y-%m-%d %H:%M:%S}{line[19:]}"
        out.append(line)
    return "\r\n".join(out) + "\r\n"


def _shift_audit(text: str) -> str:
    out = []
    for line in text.splitlines():
        if line[:2].isdigit():
            first, rest = line[:19], line[19:]
            moment = datetime.strptime(first, "%m-%d-%Y %H:%M:%S") + SHIFT
            line = f"{moment:%m-%d-%Y %H:%M:%S}{rest}"
        out.append(line)
    return "\r\n".join(out) + "\r\n"


@pytest.mark.parametrize("name", ["interim-upgrade", "acl-denied"])
def test_a_server_clock_off_by_83_minutes_is_found(tmp_path: Path, name: str) -> None:
    iis = tmp_path / "u_ex.log"
    audit = tmp_path / "audit.log"
    iis.write_text(_shift_iis((PCAPS / f"{name}.iis.log").read_text()))
    audit.write_text(_shift_audit((PCAPS / f"{name}.audit.log").read_text()))
    result = load_logs([str(iis)], [str(audit)], DEFAULT_EXPECTATIONS, _sessions(name))
    corr = result.correlation
    assert corr is not None and corr.iis.offset is not None and corr.audit.offset is not None
    assert abs(corr.iis.offset + SHIFT.total_seconds()) < 1.0
    assert abs(corr.audit.offset + SHIFT.total_seconds()) < 1.0
    (key,) = {cap for _, cap in corr.devices}
    ladder = corr.timelines[key]
    first_log = next(s for s in ladder if s.source == "iis-log")
    first_capture_checkin = next(
        s for s in ladder if s.source == "capture" and s.stage == "checkin"
    )
    assert abs(first_log.ts - first_capture_checkin.ts) < 1.0


def test_acl_denied_lab_logs_give_the_same_finding_as_the_capture() -> None:
    result = load_logs(
        [str(PCAPS / "acl-denied.iis.log")],
        [str(PCAPS / "acl-denied.audit.log")],
        DEFAULT_EXPECTATIONS,
    )
    (phone,) = result.phones
    assert [f.check_id for f in phone.findings] == ["download.acl-denied"]
    assert result.correlation is None and result.has_fail
