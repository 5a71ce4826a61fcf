"""``capinspect logs`` and ``analyze --iis-log/--audit-log`` as a user meets them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from locations import PCAPS, ROOT

from capinspect.cli import main
from capinspect.run.render import formats

from .spies import StepSpy, invoke

FIXTURES = ROOT / "tests" / "logs" / "fixtures"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_logs_alone_tell_the_seeds_story() -> None:
    code, out, err = run(
        "logs",
        "--iis-log",
        str(FIXTURES / "seed-iis.log"),
        "--iis-log",
        str(FIXTURES / "seed-acl-denied.txt"),
        "--audit-log",
        str(FIXTURES / "seed-audit.log"),
    )
    assert code == 1, err
    assert "00:21:63:0f:20:7b LG-Nortel IP8540 [FAIL]" in out
    assert "download.acl-denied" in out and "checkin.interim-step" in out
    assert "137810 ms" in out and "170679 ms" in out


def test_logs_json_document() -> None:
    code, out, _ = run(
        "logs",
        "--format",
        "json",
        "--iis-log",
        str(FIXTURES / "comment19-iis.txt"),
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["schema"] == "capinspect/logs@1"
    (phone,) = doc["phones"]
    assert phone["findings"][0]["id"] == "download.not-found"
    assert phone["findings"][0]["lines"] == ["comment19-iis.txt:3"]
    assert doc["problems_total"] == 2


def test_nothing_readable_is_one_line_and_exit_2(tmp_path: Path) -> None:
    prose = tmp_path / "notes.txt"
    prose.write_text("the phone does not update\n")
    for args in (
        ("logs",),
        ("logs", "--iis-log", str(tmp_path / "missing.log")),
        ("logs", "--iis-log", str(prose), "--audit-log", str(prose)),
    ):
        code, out, err = run(*args)
        assert code == 2 and out == ""
        assert err.startswith("capinspect: error: ") and err.count("\n") == 1


def test_one_bad_file_among_good_ones_is_reported_not_fatal(tmp_path: Path) -> None:
    code, out, _ = run(
        "logs",
        "--iis-log",
        str(tmp_path / "missing.log"),
        "--iis-log",
        str(FIXTURES / "comment19-iis.txt"),
    )
    assert code == 1 and "unreadable: cannot read" in out


def test_analyze_with_the_lab_logs_shows_clock_and_merged_timeline() -> None:
    code, out, err = run(
        "analyze",
        str(PCAPS / "interim-upgrade.pcap"),
        "--iis-log",
        str(PCAPS / "interim-upgrade.iis.log"),
        "--audit-log",
        str(PCAPS / "interim-upgrade.audit.log"),
    )
    assert code == 0, err
    assert "Server logs" in out and "capture − iis-log = " in out
    assert "merged timeline (capture clock)" in out and "interim-upgrade.iis.log:6" in out


def test_analyze_json_carries_logs_and_log_timeline() -> None:
    code, out, _ = run(
        "analyze",
        "--format",
        "json",
        str(PCAPS / "acl-denied.pcap"),
        "--iis-log",
        str(PCAPS / "acl-denied.iis.log"),
        "--audit-log",
        str(PCAPS / "acl-denied.audit.log"),
    )
    assert code == 1
    doc = json.loads(out)
    logs = doc["logs"]
    assert abs(logs["clock_offset"]["iis_log"]["seconds"]) < 1
    (phone,) = logs["phones"]
    assert phone["capture_device"] == doc["devices"][0]["key"]
    sources = {s["source"] for s in phone["log_timeline"]}
    assert sources == {"capture", "iis-log", "audit-log"}
    assert any(s["line"] == "acl-denied.iis.log:6" for s in phone["log_timeline"])


def test_analyze_markdown_has_a_server_log_section_per_phone() -> None:
    code, out, _ = run(
        "analyze",
        str(PCAPS / "acl-denied.pcap"),
        "--iis-log",
        str(PCAPS / "acl-denied.iis.log"),
        "--format",
        "markdown",
    )
    assert code == 1 and "## Server logs" in out
    assert "#### Merged ladder (capture clock, UTC)" in out
    assert "| `acl-denied.iis.log:6` |" in out.replace("iis-log | ", "")


# -- the logs as data: what a script reads without parsing prose ----------------------------


def _records(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s["record"] for p in doc["phones"] for s in p["timeline"]]


def test_a_script_reads_the_articles_lines_as_fields() -> None:
    code, out, _ = run(
        "logs",
        "--format",
        "json",
        "--iis-log",
        str(FIXTURES / "seed-iis.log"),
        "--iis-log",
        str(FIXTURES / "seed-acl-denied.txt"),
        "--audit-log",
        str(FIXTURES / "seed-audit.log"),
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["schema"] == "capinspect/logs@1"
    records = _records(doc)
    iis = {(r["source"]["file"], r["source"]["line"]): r for r in records if r["kind"] == "iis"}
    audit = sorted((r for r in records if r["kind"] == "audit"), key=lambda r: r["source"]["line"])
    assert len(iis) == 8 and len(audit) == 3

    denied = iis[("seed-acl-denied.txt", 1)]
    assert denied["uri_stem"] == (
        "/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/CPE.nbt"
    )
    assert (denied["status"], denied["substatus"], denied["win32_status"]) == (500, 19, 5)
    assert denied["method"] == "GET" and denied["port"] == 80 and denied["uri_query"] is None
    assert denied["user_agent"] == "Microsoft UCPhone Device"
    assert denied["time"] == "2009-03-06T12:35:36.000000Z" and denied["time_taken_ms"] == 62
    assert denied["source"]["lines"] == 3 and denied["raw"].count("\n") == 2
    assert denied["client_ip"] is None and "c-ip" in denied["missing_fields"]

    interim = iis[("seed-iis.log", 7)]
    assert interim["uri_stem"] == "/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt"
    assert (interim["status"], interim["substatus"], interim["time_taken_ms"]) == (200, 0, 137810)
    assert interim["logged"] == "2009-03-06 17:12:57"
    assert interim["start_time"] == "2009-03-06T17:10:39.190000Z"

    assert [r["reported_version"] for r in audit] == [None, None, "1.0.522.103"]
    assert [r["reports_nothing_known"] for r in audit] == [True, True, False]
    assert [r["offered_versions"] for r in audit] == [[], ["1.0.522.103"], ["3.5.6907.0"]]
    offer = audit[1]["offered"][0]
    assert offer == {
        "name": "CPE.nbt",
        "version": "1.0.522.103",
        "timestamp": "2008-12-16T04:43:58.000000Z",
        "timestamp_text": "16-12-2008 04:43:58",
        "url": "http://ocs.demo.local/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt",
        "nothing_installed": False,
    }
    requested = audit[2]["requested"][0]
    assert (requested["name"], requested["version"], requested["url"]) == (
        "cpe.nbt",
        "1.0.522.103",
        None,
    )
    row = audit[0]
    assert row["mac"] == "00:21:63:0f:20:7b" and row["mac_text"] == "0021630F207B"
    assert (row["serial"], row["vendor"], row["model"], row["revision"], row["locale"]) == (
        "C185H001209",
        "LG-Nortel",
        "IP8540",
        "A",
        "ENU",
    )
    assert row["user"] == "ruisilva@demo.local" and row["device_type"] == "UCPhone"
    assert row["logging_time"] == "2009-03-06T17:07:20.000000Z"
    assert row["request_time_text"] == "06-03-2009 09:07:20"
    # The prose stays for people.
    assert all(s["summary"] for p in doc["phones"] for s in p["timeline"])


@pytest.mark.parametrize("fixture", ["seed-iis.log", "seed-iis-wrapped.txt"])
def test_crlf_lf_and_utf16_give_the_same_records(tmp_path: Path, fixture: str) -> None:
    text = (FIXTURES / fixture).read_text(encoding="utf-8").replace("\r\n", "\n")
    variants = {
        "lf.log": text.encode("utf-8"),
        "crlf.log": text.replace("\n", "\r\n").encode("utf-8"),
        "utf16.log": text.replace("\n", "\r\n").encode("utf-16"),
    }
    seen = []
    for name, data in variants.items():
        path = tmp_path / name
        path.write_bytes(data)
        code, out, err = run("logs", "--format", "json", "--iis-log", str(path))
        assert code in (0, 1), err
        records = _records(json.loads(out))
        for r in records:
            assert r["source"]["file"] == name
            r["source"] = {k: v for k, v in r["source"].items() if k not in ("file", "path")}
        seen.append(records)
    assert seen[0] and seen[0] == seen[1] == seen[2]


def test_logs_markdown_and_html_one_section_per_phone_and_unattributed_lines() -> None:
    args = [
        "logs",
        "--iis-log",
        str(FIXTURES / "seed-iis.log"),
        "--audit-log",
        str(FIXTURES / "seed-audit.log"),
        "--iis-log",
        str(FIXTURES / "comment19-iis.txt"),
    ]
    code, md, _ = run(*args, "--format", "markdown")
    assert code == 1
    assert md.startswith("# capinspect server logs: `seed-iis.log`")
    assert "## 1. `00:21:63:0f:20:7b` LG-Nortel IP8540 — PASS" in md
    assert "## 2. Lines not tied to a phone — FAIL" in md
    assert "### Log ladder (IIS log's clock)" in md and "comment19-iis.txt:3" in md
    assert "  - *log lines:* `comment19-iis.txt:3`" in md
    code, page, _ = run(*args, "--format", "html")
    assert code == 1 and page.startswith("<!DOCTYPE html>")
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in page
    assert page.count('<section class="phone"') == 2
    assert "Lines not tied to a phone" in page and "download.not-found" in page


# -- redaction ------------------------------------------------------------------------------

ACL_IDENTIFIERS = (
    "0021630f4410",
    "00:21:63:0f:44:10",
    "00-21-63-0f-44-10",
    "10.77.0.102",
    "10.77.0.1",
    "jdoe",
    "contoso",
    "c185h002817",
)
"""Every MAC, address, user, serial and domain of the acl-denied logs."""


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_logs_redact_leaves_no_identifier_of_the_logs(fmt: str) -> None:
    args = ["logs", "--iis-log", str(PCAPS / "acl-denied.iis.log")]
    args += ["--audit-log", str(PCAPS / "acl-denied.audit.log"), "--format", fmt]
    code, plain, _ = run(*args)
    assert code == 1 and "contoso" in plain.lower()
    code, out, err = run(*args, "--redact")
    assert code == 1, err
    low = out.lower()
    for identifier in ACL_IDENTIFIERS:
        assert identifier not in low, (identifier, fmt)
    assert "00:21:63:00:00:01" in low and "serial-1" in low and "domain1.example" in low


def test_analyze_redact_covers_the_logs_with_the_reports_pseudonyms() -> None:
    args = ["analyze", str(PCAPS / "acl-denied.pcap"), "--redact"]
    args += ["--iis-log", str(PCAPS / "acl-denied.iis.log")]
    args += ["--audit-log", str(PCAPS / "acl-denied.audit.log")]
    for fmt in ("text", "markdown", "html", "json"):
        code, out, err = run(*args, "--format", fmt)
        assert code == 1, err
        assert "acl-denied.iis.log:6" in out, fmt
        for identifier in ACL_IDENTIFIERS:
            assert identifier not in out.lower(), (identifier, fmt)
    doc = json.loads(out)
    (device,) = doc["devices"]
    (phone,) = doc["logs"]["phones"]
    assert phone["capture_device"] == device["key"] == phone["mac"]
    assert device["log_timeline"] is not None  # the ladder is still found under the pseudonym
    assert {r["host_address"] for r in _records(doc["logs"]) if r["kind"] == "audit"} == set(
        device["ips"]
    )


# -- the merged timeline inside each device -------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "status"),
    [("acl-denied", (500, 19, 5)), ("interim-upgrade", (200, 0, 0))],
)
def test_each_device_carries_its_merged_timeline(
    scenario: str, status: tuple[int, int, int]
) -> None:
    code, out, err = run(
        "analyze",
        "--format",
        "json",
        str(PCAPS / f"{scenario}.pcap"),
        "--iis-log",
        str(PCAPS / f"{scenario}.iis.log"),
        "--audit-log",
        str(PCAPS / f"{scenario}.audit.log"),
    )
    assert code in (0, 1), err
    doc = json.loads(out)
    (device,) = doc["devices"]
    merged = device["log_timeline"]
    assert merged["log_phones"] == [device["mac"]]
    offsets = merged["clock_offset"]
    assert offsets == doc["logs"]["clock_offset"]
    assert offsets["iis_log"]["matches"] >= 1 and abs(offsets["iis_log"]["seconds"]) < 1
    steps = merged["steps"]
    times = [s["time"] for s in steps]
    assert times == sorted(times)
    capture = [s for s in steps if s["source"] == "capture"]
    logs = [s for s in steps if s["source"] != "capture"]
    assert [s["frame"] for s in capture] == [s["frame"] for s in device["timeline"]]
    assert all(s["direction"] and s["frame"] for s in capture)
    assert {s["source"] for s in logs} == {"iis-log", "audit-log"}
    for step in logs:
        record = step["record"]
        assert record["source"]["file"] == step["line"].split(":")[0]
        # the offset applied is stated: log time + shift = time on the capture's clock
        assert abs(_epoch(step["log_time"]) + step["shift_seconds"] - _epoch(step["time"])) < 2e-3
        assert abs(step["shift_seconds"]) < 1
    downloads = [
        s["record"]
        for s in logs
        if s["source"] == "iis-log" and s["record"]["uri_stem"].endswith("/CPE/CPE.nbt")
    ]
    assert downloads
    r = downloads[0]
    assert (r["status"], r["substatus"], r["win32_status"]) == status
    offered = [
        m["version"] for s in logs if s["source"] == "audit-log" for m in s["record"]["offered"]
    ]
    assert "3.5.6907.0" in offered


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- the shared step after the engine ---------------------------------------------------------


def test_logs_take_redaction_and_formats_from_the_shared_step(step_spy: StepSpy) -> None:
    iis = str(PCAPS / "acl-denied.iis.log")
    assert formats("logs") == ["text", "json", "markdown", "html"]
    for fmt in formats("logs"):
        step_spy.calls.clear()
        step_spy.rendered.clear()
        result = invoke("logs", "--iis-log", iis, "--redact", "--format", fmt)
        assert result.exit_code == 1, result.stderr  # the ACL denial is a fail
        assert result.stdout == f"<{fmt} logs>\n"
        assert step_spy.calls == ["logs_alone", "write_logs"]
        ((name, face, (logs,)),) = step_spy.rendered
        assert (name, face) == (fmt, "logs")
        assert logs.phones and "10.77.0.102" not in repr(logs)
