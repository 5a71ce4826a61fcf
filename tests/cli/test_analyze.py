"""The command line as a user (or a script) meets it: output, exit status, one-line errors."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tls_variants
from click.testing import CliRunner
from locations import PCAPS

from capinspect.cli import main
from capinspect.run.render import formats

from .spies import HTTPS, KEYLOG, PHONE_IP, PHONE_MAC, StepSpy, invoke

HEALTHY = str(PCAPS / "healthy-no-update.pcap")
ACL = str(PCAPS / "acl-denied.pcap")
MULTI = str(PCAPS / "multi-phone.pcapng")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_healthy_capture_exits_0_with_a_pass_verdict() -> None:
    code, out, err = run("analyze", HEALTHY)
    assert code == 0, err
    assert "PASS" in out and "00:21:63" in out
    assert "\x1b[" not in out  # not a terminal: no colour


def test_failing_capture_exits_1_and_says_what_to_fix() -> None:
    code, out, _ = run("analyze", ACL)
    assert code == 1
    assert "download.acl-denied" in out and "fix:" in out and "500.19" in out


def test_json_report_is_versioned_and_complete() -> None:
    code, out, _ = run("analyze", "--format", "json", MULTI)
    assert code == 1
    doc = json.loads(out)
    assert doc["schema"] == "capinspect/report@1"
    assert doc["summary"]["devices"] == 4
    assert doc["inputs"][0]["sha256"] and doc["inputs"][0]["format"] == "pcapng"
    for device in doc["devices"]:
        assert device["verdict"] in ("pass", "warn", "fail", "inconclusive")
        for finding in device["findings"]:
            assert finding["id"] and finding["explanation"] and finding["remediation"]


def test_timeline_prints_a_ladder_and_json() -> None:
    code, out, _ = run("timeline", str(PCAPS / "interim-upgrade.pcap"))
    assert code == 0
    assert "DHCPINFORM" in out and "opt43 https://ocs.demo.local:443/CertProv/" in out
    assert "POST /RequestHandler/ucdevice.upx" in out
    code, out, _ = run("timeline", "--format", "json", str(PCAPS / "interim-upgrade.pcap"))
    assert json.loads(out)["schema"] == "capinspect/timeline@1"


def test_output_file_and_refusal_to_overwrite_an_input(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, _, _ = run("analyze", "--format", "json", "-o", str(target), HEALTHY)
    assert code == 0 and json.loads(target.read_text())["schema"] == "capinspect/report@1"
    copy = tmp_path / "copy.pcap"
    copy.write_bytes(Path(HEALTHY).read_bytes())
    code, _, err = run("analyze", "-o", str(copy), str(copy))
    assert code == 2 and "refusing to overwrite" in err
    assert copy.read_bytes() == Path(HEALTHY).read_bytes()


def test_baseline_then_expect_names_both_values(tmp_path: Path) -> None:
    expect = tmp_path / "expect.toml"
    code, _, err = run("baseline", HEALTHY, "-o", str(expect))
    assert code == 0, err
    text = expect.read_text()
    assert 'server_version = "3.5.6907.0"' in text
    edited = tmp_path / "edited.toml"
    edited.write_text(
        text.replace('server_version = "3.5.6907.0"', 'server_version = "3.5.6907.99"')
    )
    code, out, _ = run("analyze", "--expect", str(edited), HEALTHY)
    assert code == 0  # a mismatch is a warning, not a failure
    assert "checkin.unexpected-response" in out
    assert "3.5.6907.99" in out and "3.5.6907.0" in out
    code, out, _ = run("analyze", "--expect", str(expect), HEALTHY)
    assert "checkin.unexpected-response" not in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("hello, this is not a capture"), "not a pcap or pcapng"),
        (lambda p: p.write_bytes(gzip.compress(b"not a capture either")), "not a pcap"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "input.pcap"
    make(path)  # type: ignore[operator]
    code, out, err = run("analyze", str(path))
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_expect_file_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "expect.toml"
    bad.write_text("nonsense = [")
    code, _, err = run("analyze", "--expect", str(bad), HEALTHY)
    assert code == 2 and "not valid TOML" in err


def test_usage_error_is_exit_2() -> None:
    code, _, _ = run("analyze")
    assert code == 2
    code, _, _ = run("analyze", "--format", "yaml", HEALTHY)
    assert code == 2


def test_several_inputs_and_a_directory_merge(tmp_path: Path) -> None:
    code, out, _ = run("analyze", "--format", "json", HEALTHY, ACL)
    doc = json.loads(out)
    assert code == 1 and len(doc["inputs"]) == 2
    (tmp_path / "a.pcap").write_bytes(Path(HEALTHY).read_bytes())
    code, out, _ = run("analyze", "--format", "json", str(tmp_path))
    assert code == 0 and json.loads(out)["inputs"][0]["path"].endswith("a.pcap")


def test_no_color_env_and_real_process_exit_status() -> None:
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "-m", "capinspect", "analyze", "--color", "auto", ACL],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    assert "\x1b[" not in proc.stdout
    assert proc.stderr == ""


def test_capture_without_phones_says_what_it_saw(corpus_dir: Path) -> None:
    code, out, _ = run("analyze", str(corpus_dir / "http_get.pcap"))
    assert code == 4  # nothing judged: a ticket bot must not read "healthy"
    assert "capture.no-phone-traffic" in out and "saw" in out


def test_unrelated_traffic_exits_4_in_every_format(tmp_path: Path) -> None:
    """A capture of traffic that is no phone's (a web client): analysed, nothing judged."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    path = tmp_path / "web.pcap"
    wrpcap(
        str(path),
        [
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / TCP(sport=40000 + i, dport=80, flags="S")
            for i in range(3)
        ],
    )
    for fmt in ("text", "json", "markdown", "html"):
        code, out, err = run("analyze", "--format", fmt, str(path))
        assert code == 4, (fmt, err)
        assert out and err == ""


def test_every_phone_inconclusive_exits_4_and_a_key_makes_it_0(tmp_path: Path) -> None:
    """A capture cut during the phone's encrypted check-in: inconclusive without a key
    (tests/tls_variants.py); https-healthy.pcap is judged without one (inferred) or with one."""
    cut = str(tls_variants.cut(tmp_path / "cut.pcap"))
    code, out, _ = run("analyze", "--format", "json", cut)
    assert [d["verdict"] for d in json.loads(out)["devices"]] == ["inconclusive"]
    assert code == 4
    capture = str(PCAPS / "https-healthy.pcap")
    code, out, _ = run("analyze", "--format", "json", capture)
    assert [d["verdict_inferred"] for d in json.loads(out)["devices"]] == [True]
    assert code == 0
    code, _, err = run("analyze", "--keylog", str(PCAPS / "https-healthy.keylog"), capture)
    assert code == 0, err


def test_fail_outranks_nothing_judged_and_one_judged_phone_is_enough(tmp_path: Path) -> None:
    """Precedence 1 > 4 > 0: a failing phone wins; a judged phone next to an inconclusive one
    makes the run 0 (the inconclusive phone is in the report)."""
    cut = str(tls_variants.cut(tmp_path / "cut.pcap"))
    code, _, _ = run("analyze", ACL, cut)
    assert code == 1
    code, out, _ = run("analyze", "--format", "json", HEALTHY, cut)
    assert sorted(d["verdict"] for d in json.loads(out)["devices"]) == ["inconclusive", "pass"]
    assert code == 0


def test_help_epilogs_list_every_exit_status() -> None:
    for command in ("analyze", "logs", "live"):
        code, out, _ = run(command, "--help")
        assert code == 0
        for line in ("0  analysed", "1  analysed", "2  usage", "3  internal", "4  analysed"):
            assert line in out, (command, line)


def test_readme_exit_status_table_names_4() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    assert "| 4 |" in table and "inconclusive" in table


def test_baseline_of_one_capture_flags_another_servers_update_host(tmp_path: Path) -> None:
    """Two real lab captures: contoso.com's server as the baseline, demo.local's answering."""
    expect = tmp_path / "expect.toml"
    assert run("baseline", HEALTHY, "-o", str(expect))[0] == 0
    code, out, _ = run(
        "analyze", "--format", "json", "--expect", str(expect), str(PCAPS / "interim-upgrade.pcap")
    )
    doc = json.loads(out)
    findings = {f["id"]: f for f in doc["devices"][0]["findings"]}
    mismatch = findings["checkin.unexpected-response"]
    assert "https://ocs.demo.local/RequestHandler/ucdevice.upx" in mismatch["summary"]
    assert "https://ocs.contoso.com/RequestHandler/" in mismatch["summary"]
    assert "ocs.demo.local" in findings["dhcp.option43-unexpected"]["summary"]
    assert "ocs.contoso.com" in findings["dhcp.option43-unexpected"]["summary"]
    assert findings["dns.ucupdates-wrong-domain"]["observed"] == "ucupdates-r2.demo.local"


CHECKIN_STEP = "POST /RequestHandler/ucdevice.upx"


def test_timeline_decrypts_with_a_key_log_or_the_server_key() -> None:
    code, plain, _ = run("timeline", HTTPS)
    assert code == 0 and CHECKIN_STEP not in plain  # encrypted: no check-in step
    for option, path in (
        ("--keylog", "https-healthy.keylog"),
        ("--tls-key", "https-healthy.key.pem"),
    ):
        code, out, err = run("timeline", option, str(PCAPS / path), HTTPS)
        assert code == 0, err
        assert CHECKIN_STEP in out and "offers CPE.nbt 1.0.522.103" in out


def test_timeline_bad_key_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "key.pem"
    bad.write_text("not a key")
    code, _, err = run("timeline", "--tls-key", str(bad), HTTPS)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_timeline_redact_hides_every_identifier_with_analyzes_pseudonyms() -> None:
    keylog = str(PCAPS / "https-healthy.keylog")
    originals = ("00:21:63:0f:a5:01", "10.77.0.131", "contoso.com", "tls@")
    for fmt in ("text", "json"):
        code, out, err = run("timeline", "--redact", "--keylog", keylog, "--format", fmt, HTTPS)
        assert code == 0, err
        assert CHECKIN_STEP in out
        assert not [o for o in originals if o in out.lower()], fmt
    _, ladder, _ = run("timeline", "--redact", "--keylog", keylog, "--format", "json", HTTPS)
    _, report, _ = run("analyze", "--redact", "--keylog", keylog, "--format", "json", HTTPS)
    timeline_device = json.loads(ladder)["devices"][0]
    report_device = json.loads(report)["devices"][0]
    assert timeline_device["mac"] == report_device["mac"] != "00:21:63:0f:a5:01"
    assert timeline_device["timeline"] == report_device["timeline"]
    code, kept, _ = run("timeline", "--redact", "--keep-names", "contoso.com", HTTPS)
    assert "ucupdates-r2.contoso.com" in kept and "10.77.0.131" not in kept


def test_baseline_of_an_encrypted_checkin_refuses_and_says_how_to_give_a_key(
    tmp_path: Path,
) -> None:
    expect = tmp_path / "expect.toml"
    code, _, err = run("baseline", HTTPS, "-o", str(expect))
    assert code == 2 and not expect.exists()
    assert len(err.strip().splitlines()) == 1
    assert "encrypted" in err and "server_version" in err and "target_firmware" in err
    assert "--tls-key" in err and "--keylog" in err and "--partial" in err


def test_baseline_partial_writes_what_was_seen_and_says_so_in_the_file(tmp_path: Path) -> None:
    expect = tmp_path / "expect.toml"
    code, _, err = run("baseline", "--partial", HTTPS, "-o", str(expect))
    assert code == 0, err
    assert "partial baseline" in err and "--keylog" in err
    text = expect.read_text()
    partial_line = next(line for line in text.splitlines() if "PARTIAL" in line)
    assert partial_line.startswith("# ") and "server_version" in partial_line
    assert 'sip_domain = "contoso.com"' in text and "server_version =" not in text
    code, _, err = run("analyze", "--expect", str(expect), HTTPS)
    assert code == 0, err  # valid expectations; the check-ins are judged without keys (inferred)


@pytest.mark.parametrize(
    ("option", "name"),
    [("--keylog", "https-healthy.keylog"), ("--tls-key", "https-healthy.key.pem")],
)
def test_baseline_with_a_key_is_whole(tmp_path: Path, option: str, name: str) -> None:
    expect = tmp_path / "expect.toml"
    code, _, err = run("baseline", option, str(PCAPS / name), HTTPS, "-o", str(expect))
    assert code == 0, err
    text = expect.read_text()
    assert "PARTIAL" not in text and "partial" not in err
    assert 'server_version = "3.5.6907.0"' in text and "target_firmware" in text


def test_baseline_of_plain_http_is_never_partial(tmp_path: Path) -> None:
    expect = tmp_path / "expect.toml"
    code, _, err = run("baseline", HEALTHY, "-o", str(expect))
    assert code == 0 and "PARTIAL" not in expect.read_text() and "partial" not in err


@pytest.mark.parametrize("command", ["analyze", "timeline"])
def test_color_always_colours_a_pipe_even_with_no_color_set(command: str) -> None:
    """`capinspect analyze --color always x.pcap | less -R`: a real process, stdout a pipe."""
    env = dict(os.environ, NO_COLOR="1", PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    for choice, coloured in (("always", True), ("auto", False), ("never", False)):
        proc = subprocess.run(
            [sys.executable, "-m", "capinspect", command, "--color", choice, ACL],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode in (0, 1), proc.stderr
        assert ("\x1b[" in proc.stdout) is coloured, choice
        assert "00:21:63" in proc.stdout


def test_color_always_reaches_an_output_file_and_auto_never_does(tmp_path: Path) -> None:
    for choice, coloured in (("always", True), ("auto", False)):
        target = tmp_path / f"{choice}.txt"
        code, out, _ = run("analyze", "--color", choice, "-o", str(target), ACL)
        assert code == 1 and out == ""
        assert ("\x1b[" in target.read_text(encoding="utf-8")) is coloured
    code, out, _ = run("analyze", "--color", "always", ACL)
    assert code == 1 and "\x1b[" in out  # CliRunner: stdout is no terminal either


SEVERITY_RANK = {"info": 0, "warn": 1, "fail": 2}


def test_reports_never_show_a_finding_more_severe_than_checks_lists_it() -> None:
    """Every finding of every lab capture, in the JSON and the text report: at most the
    severity `capinspect checks` gives (a check may lower it where evidence is weaker)."""
    import re

    from locations import lab_captures

    _, listing, _ = run("checks")
    listed = {line.split()[0]: line.split()[1] for line in listing.splitlines() if line.strip()}
    seen = 0
    for capture in lab_captures():
        _, out, err = run("analyze", "--format", "json", str(capture))
        doc = json.loads(out)
        findings = [*doc["capture_findings"], *(f for d in doc["devices"] for f in d["findings"])]
        _, text, _ = run("analyze", "--color", "never", str(capture))
        for finding in findings:
            seen += 1
            assert finding["id"] in listed, finding["id"]
            assert SEVERITY_RANK[finding["severity"]] <= SEVERITY_RANK[listed[finding["id"]]]
            label = rf"{finding['severity'].upper()}\s+{re.escape(finding['id'])}\b"
            assert re.search(label, text), (capture.name, label)
    assert seen > 30


def test_server_logs_that_judge_a_phone_count_as_judged(corpus_dir: Path) -> None:
    """No phone in the capture, but the IIS log given with it judges one (PASS): 0, not 4."""
    capture = str(corpus_dir / "http_get.pcap")
    code, out, err = run("analyze", "--iis-log", str(PCAPS / "interim-upgrade.iis.log"), capture)
    assert code == 0, err
    assert "[PASS]" in out and "capture.no-phone-traffic" in out
    code, _, _ = run("analyze", "--iis-log", str(PCAPS / "acl-denied.iis.log"), capture)
    assert code == 1


# -- the shared step after the engine ---------------------------------------------------------


def test_analyze_takes_keys_redaction_and_formats_from_the_shared_step(step_spy: StepSpy) -> None:
    for fmt in formats("report"):
        step_spy.calls.clear()
        step_spy.rendered.clear()
        result = invoke("analyze", "--keylog", KEYLOG, "--redact", "--format", fmt, HTTPS)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"<{fmt} report>\n"
        assert step_spy.calls == ["tls_keys", "conclude", "redact", "write"]
        ((name, face, (report, logs, _page)),) = step_spy.rendered
        assert (name, face, logs) == (fmt, "report", None)
        (device,) = report.devices
        assert device.session.checkins, "the step's keys reached the engine"
        assert PHONE_MAC not in repr(report) and PHONE_IP not in repr(report)
