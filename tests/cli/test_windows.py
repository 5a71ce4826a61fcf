"""Windows as a place to run capinspect: every command but ``live`` needs nothing POSIX-only.

The commands run in a subprocess whose start-up (tests/fake_windows/sitecustomize.py) takes
away what Windows lacks: fcntl, resource, termios, pwd, grp; ``socket.AF_PACKET`` and the
ancillary-data helpers; ``select.poll``; ``os.fork`` and ``os.sched_*``; fork and forkserver
(only spawn is left, so ``analyze --jobs`` must work with spawned workers); and ``sys.platform``
reads ``win32``. ``live`` must then refuse in one line, saying what to do instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from locations import PCAPS, ROOT

FAKE_SITE = Path(__file__).resolve().parents[1] / "fake_windows"
MULTI = PCAPS / "multi-phone.pcapng"


def run_as_windows(
    *args: str, cwd: Path = ROOT, platform: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m capinspect ARGS`` in an interpreter made to look like Windows.

    ``platform=False`` keeps ``sys.platform`` as it is (spawned workers need the real one for
    the standard library's own spawn plumbing; see the sitecustomize)."""
    environ = dict(os.environ)
    environ.update(env or {})
    environ["PYTHONPATH"] = os.pathsep.join([str(FAKE_SITE), str(ROOT)])
    environ["CAPINSPECT_FAKE_WINDOWS"] = "1"
    environ.pop("CAPINSPECT_DEBUG", None)
    if platform:
        environ["CAPINSPECT_FAKE_WIN32_PLATFORM"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "capinspect", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_the_pretence_holds() -> None:
    """The fake Windows really takes the POSIX-only pieces away (else the tests prove nothing)."""
    environ = dict(os.environ)
    environ.update(
        PYTHONPATH=str(FAKE_SITE), CAPINSPECT_FAKE_WINDOWS="1", CAPINSPECT_FAKE_WIN32_PLATFORM="1"
    )
    probe = (
        "import sys, os, socket, select, multiprocessing\n"
        "blocked = []\n"
        "for name in ('fcntl', 'resource', 'termios', 'pwd', 'grp'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        blocked.append(name)\n"
        "print(sys.platform, len(blocked), hasattr(socket, 'AF_PACKET'), hasattr(select, 'poll'),"
        " hasattr(os, 'fork'), multiprocessing.get_all_start_methods())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=environ, capture_output=True, text=True, check=True
    )
    assert done.stdout.split(maxsplit=1) == ["win32", "5 False False False ['spawn']\n"]


def test_analyze_runs_without_posix(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    evidence = tmp_path / "evidence.pcapng"
    done = run_as_windows(
        "analyze", str(MULTI), "--format", "json", "-o", str(report), "--evidence", str(evidence)
    )
    assert done.returncode == 1, done.stderr  # the capture holds failing phones on purpose
    assert done.stdout == b""
    document = json.loads(report.read_text(encoding="utf-8"))
    assert len(document["devices"]) == 4
    assert evidence.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng section header


def test_analyze_text_to_stdout_without_posix() -> None:
    done = run_as_windows("analyze", str(MULTI))
    assert done.returncode == 1, done.stderr
    text = done.stdout.decode("utf-8")
    assert text.startswith("capinspect ")
    assert "FAIL" in text


def test_directory_input_and_relative_output_without_posix(tmp_path: Path) -> None:
    """A folder of captures and ``-o`` relative to the working directory, as typed in cmd.exe."""
    folder = tmp_path / "captures"
    folder.mkdir()
    (folder / "a.pcap").write_bytes((PCAPS / "acl-denied.pcap").read_bytes())
    done = run_as_windows("timeline", "captures", "-o", "ladder.txt", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ucdevice.upx" in (tmp_path / "ladder.txt").read_text(encoding="utf-8")


def test_timeline_baseline_explain_logs_without_posix(tmp_path: Path) -> None:
    timeline = run_as_windows("timeline", str(MULTI), "--format", "json")
    assert timeline.returncode == 0, timeline.stderr
    assert json.loads(timeline.stdout)["devices"]

    expect = tmp_path / "expect.toml"
    baseline = run_as_windows("baseline", str(PCAPS / "healthy-no-update.pcap"), "-o", str(expect))
    assert baseline.returncode == 0, baseline.stderr
    assert "[" in expect.read_text(encoding="utf-8")
    compared = run_as_windows(
        "analyze", "--expect", str(expect), str(PCAPS / "healthy-no-update.pcap")
    )
    assert compared.returncode == 0, compared.stderr

    explained = run_as_windows("explain", "500.19")
    assert explained.returncode == 0, explained.stderr
    assert b"500.19" in explained.stdout

    logs = run_as_windows(
        "logs",
        "--iis-log",
        str(PCAPS / "acl-denied.iis.log"),
        "--audit-log",
        str(PCAPS / "acl-denied.audit.log"),
    )
    assert logs.returncode in (0, 1, 4), logs.stderr
    assert b"acl-denied.iis.log:" in logs.stdout


def test_jobs_with_spawned_workers_only() -> None:
    """``--jobs`` with spawn, Windows' only start method: the worker function is importable and
    its arguments picklable, and the result is the sequential one."""
    files = [str(PCAPS / "dns-nxdomain.pcap"), str(PCAPS / "https-healthy.pcap")]
    key = ["--tls-key", str(PCAPS / "https-healthy.key.pem")]  # the keys go to the workers too
    parallel = run_as_windows(
        "analyze", "-j", "2", "--format", "json", *key, *files, platform=False
    )
    sequential = run_as_windows("analyze", "--format", "json", *key, *files, platform=False)
    assert parallel.returncode == sequential.returncode == 1, parallel.stderr
    assert b"2 files analysed apart" in parallel.stderr
    one, other = json.loads(parallel.stdout), json.loads(sequential.stdout)
    assert one["devices"] == other["devices"]
    checkins = [c for device in one["devices"] for c in device.get("checkins", [])]
    assert len(checkins) >= 2  # the HTTPS check-in, decrypted in a spawned worker, among them


@pytest.mark.parametrize(
    "args", [["-i", "Ethernet 2", "--duration", "5"], []], ids=["with-interface", "alone"]
)
def test_live_says_in_one_line_that_it_needs_linux(args: list[str]) -> None:
    done = run_as_windows("live", *args)
    assert done.returncode == 2
    assert done.stdout == b""
    lines = done.stderr.decode("utf-8").splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("capinspect: error: live capture needs Linux (an AF_PACKET socket)")
    for advice in ("Wireshark/dumpcap", "pktmon", "capinspect analyze"):
        assert advice in line


@pytest.mark.parametrize("command", ["analyze", "timeline"])
def test_redirected_stdout_in_an_ansi_code_page(command: str, tmp_path: Path) -> None:
    """``capinspect analyze x > report.txt`` in cmd.exe: stdout is cp1252, which has no arrows;
    the report is written in UTF-8 rather than ending in a UnicodeEncodeError."""
    done = run_as_windows(command, str(MULTI), env={"PYTHONIOENCODING": "cp1252"})
    assert done.returncode in (0, 1, 4), done.stderr
    assert "→" in done.stdout.decode("utf-8") or "⇢" in done.stdout.decode("utf-8")


def test_live_help_still_works_off_linux() -> None:
    done = run_as_windows("live", "--help")
    assert done.returncode == 0
    assert b"--interface" in done.stdout
