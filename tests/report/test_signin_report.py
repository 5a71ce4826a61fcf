"""The sign-in path and time sections in every report format (report/signin.py), from a
scapy-made capture through the CLI: JSON fields, text lines, Markdown and HTML tables."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from lpe_signin import NTP_IP, POOL, PROV_HOST, PROV_IP, write_signin

from capinspect.cli import main


def _run(path: Path, fmt: str) -> str:
    result = CliRunner().invoke(main, ["analyze", "--format", fmt, str(path)])
    assert result.exit_code in (0, 1, 4), result.output
    return result.output


def test_json_has_the_signin_and_time_sections(tmp_path: Path) -> None:
    path = write_signin(tmp_path / "s.pcap", trusted=False, ntp_answer=False, ntp_retries=1)
    (device,) = json.loads(_run(path, "json"))["devices"]
    signin, time = device["signin"], device["time"]
    assert signin["host"] == PROV_HOST and signin["port"] == 443
    assert signin["provisioning_url"].startswith(f"https://{PROV_HOST}:443/CertProv/")
    assert signin["provisioning_dns"]["status"] == "resolved"
    assert signin["provisioning_dns"]["addresses"] == [PROV_IP]
    (conn,) = signin["connections"]
    assert conn["connect"] == "accepted" and conn["phone_alert"] == "unknown_ca"
    assert conn["tls_outcome"] == "failed" and PROV_HOST in conn["certificate_names"]
    assert [p["name"] for p in signin["pool"]] == [POOL]
    assert time["ntp_servers"] == [NTP_IP] and time["answered"] is False
    assert time["unanswered_requests"] == 2
    (exchange,) = time["exchanges"]
    assert exchange["retries"] == 1 and exchange["answer"] is None
    assert exchange["server_from_option42"] is True
    assert exchange["phone_clock"].startswith("2010-01-01")
    stages = {step["stage"] for step in device["timeline"]}
    assert "ntp" in stages


def test_json_sections_are_null_without_option_43_or_ntp(tmp_path: Path) -> None:
    path = write_signin(tmp_path / "s.pcap", with_option43=False, ntp_server=None, ntp_sent=False)
    (device,) = json.loads(_run(path, "json"))["devices"]
    assert device["signin"] is None and device["time"] is None


def test_text_markdown_and_html_show_the_tables(tmp_path: Path) -> None:
    path = write_signin(tmp_path / "s.pcap", connect_outcome="refused")
    text = _run(path, "text")
    assert "Sign-in path: Certificate Provisioning URL" in text
    assert "Time (NTP): option 42 NTP servers: 10.30.0.3" in text
    markdown = _run(path, "markdown")
    assert "Sign-in path" in markdown and "refused" in markdown
    html = _run(path, "html")
    assert "Sign-in path" in html and "Time (NTP)" in html


def test_redact_leaves_no_address_or_name_in_the_sections(tmp_path: Path) -> None:
    path = write_signin(tmp_path / "s.pcap", trusted=False)
    for fmt in ("json", "text", "markdown", "html"):
        result = CliRunner().invoke(main, ["analyze", "--redact", "--format", fmt, str(path)])
        assert "Sign-in path" in result.output or '"signin"' in result.output
        for secret in (PROV_IP, NTP_IP, "contoso", "10.30.0.250", "00:04:f2:5a:10:01"):
            assert secret not in result.output, (fmt, secret)
