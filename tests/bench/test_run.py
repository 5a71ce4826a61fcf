"""bench.run's correctness checks, and capinspect held to the --noisy-pcs capture's truth.

The noisy capture is what a busy mirror port carries: PCs looking up ucupdates-r2 and the
pool's names, PCs' TLS to the pool with certificates for other names, an admin fetching the
update files in a browser, Windows DHCPINFORMs and Android leases. Only the planted phones are
phones; every other host must stay out of the devices, without a verdict or a finding.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import NOISY_PCS, VARIANTS, PcNoise, Variant, generate  # noqa: E402
from bench.run import (  # noqa: E402
    check_against_truth,
    check_other_clients,
    device_facts,
    ensure_capture,
    noise_summary,
    non_phone_devices,
    size_of,
    truth_facts,
    warm_page_cache,
)

PACKETS = 4000
PHONES = 5
SEED = 9
NOISY = PcNoise(pcs=40, dns=0.02, tls=0.06, http=0.03, dhcp=0.02)
"""The generator test's shares: every kind of noise is in these 4000 packets."""


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """The capinspect JSON report of the noisy capture and its truth (generated once)."""
    from capinspect.expectations import Expectations
    from capinspect.pipeline import analyze_paths, evaluate
    from capinspect.report.json import report_document

    path = tmp_path_factory.mktemp("noisy") / "noisy.pcap"
    truth = generate(PACKETS, PHONES, SEED, path, NOISY)
    report = report_document(evaluate(analyze_paths([str(path)]), Expectations()))
    # The report is what bench.run reads back from `capinspect analyze --format json`.
    return json.loads(json.dumps(report, default=str)), truth


def test_planted_phones_keep_their_facts_among_the_noise(
    noisy: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    report, truth = noisy
    devices = {d["key"]: d for d in report["devices"]}
    for phone in truth["phones"]:
        assert phone["mac"] in devices, phone["kind"]
        assert device_facts(devices[phone["mac"]]) == truth_facts(phone), phone["kind"]


def test_tls_phones_handshake_is_checked_against_the_truth(
    noisy: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """The tls phone's check-in handshake (version, suite, SNI, certificate names, record
    sizes) is part of the facts compared; a report that read it otherwise is a problem."""
    report, truth = noisy
    phone = next(p for p in truth["phones"] if p["kind"] == "tls")
    assert all(p["tls_checkin"] is None for p in truth["phones"] if p["kind"] != "tls")
    dev = next(d for d in report["devices"] if d["key"] == phone["mac"])
    expected = {
        "version": "TLS 1.2",
        "cipher_suite": "TLS_RSA_WITH_AES_128_CBC_SHA",
        "sni": "ucupdates-r2.contoso.com",
        "certificate_names": ["ocs.contoso.com", "ucupdates-r2.contoso.com"],
        "application_bytes_to_server": 624,  # the 578-byte POST under AES-128-CBC-SHA
        "application_bytes_to_client": 592,  # the 541-byte answer
    }
    assert device_facts(dev)["tls_checkin"] == truth_facts(phone)["tls_checkin"] == expected
    wrong = json.loads(json.dumps(report))
    conn = next(d for d in wrong["devices"] if d["key"] == phone["mac"])["tls"][0]
    conn["server_hello"]["cipher_suite"] = "TLS_RSA_WITH_AES_256_CBC_SHA"
    problems = check_against_truth(wrong, truth)
    assert len(problems) == 1 and "(tls) tls_checkin" in problems[0]


def test_only_the_planted_phones_are_devices(
    noisy: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    report, truth = noisy
    assert truth["expected"]["other_update_service_clients"], "the capture has no noise"
    judged = sorted(d["key"] for d in report["devices"] if d.get("verdict") or d.get("findings"))
    assert judged == truth["expected"]["devices"]
    assert non_phone_devices(report, truth) == []
    assert sorted(str(d["mac"]) for d in report["devices"]) == truth["expected"]["devices"]
    assert noise_summary(report, truth).startswith("non-phone devices with a verdict: 0 ")


def test_bench_correctness_check_passes_on_the_noisy_capture(
    noisy: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """What `bench.run --noisy` requires: the phones' facts, no other device, and the other
    clients of the update service listed as the truth says (when the report lists them)."""
    report, truth = noisy
    assert check_against_truth(report, truth) == []


def test_non_phone_devices_names_the_noisy_host() -> None:
    """A host reported by address is matched to the noisy host the truth file lists."""
    truth: dict[str, Any] = {
        "phones": [{"mac": "00:04:f2:b0:00:00"}],
        "noisy_hosts": [
            {
                "mac": "3c:52:82:00:00:05",
                "ip": "10.30.0.15",
                "kind": "windows-pc",
                "activities": {"dns-lookup": 2, "tls-hello": 1},
            }
        ],
        "expected": {"other_update_service_clients": ["3c:52:82:00:00:05"], "may_be_listed": []},
    }
    report = {
        "devices": [
            {"key": "00:04:f2:b0:00:00", "verdict": "pass", "findings": []},
            {
                "key": "ip:10.30.0.15",
                "verdict": "fail",
                "findings": [{"id": "dns.ucupdates-nxdomain"}, {"id": "checkin.not-observed"}],
            },
            {"key": "3c:52:82:00:09:99", "verdict": None, "findings": []},
        ]
    }
    extra = non_phone_devices(report, truth)
    assert extra == [
        {
            "key": "ip:10.30.0.15",
            "host": "noisy windows-pc 3c:52:82:00:00:05: dns-lookup, tls-hello",
            "verdict": "fail",
            "findings": ["checkin.not-observed", "dns.ucupdates-nxdomain"],
        },
        {
            "key": "3c:52:82:00:09:99",
            "host": "a background host the generator did not plant as a phone",
            "verdict": None,
            "findings": [],
        },
    ]
    assert noise_summary(report, truth) == (
        "non-phone devices with a verdict: 1 (non-phone devices reported: 2; the report lists no "
        "other clients)"
    )


def test_other_clients_against_the_truth() -> None:
    """Listed by address or MAC; a must-list host missing, a phone or a DHCP-only host listed
    are problems; a pool-name-only host may be either way."""
    truth: dict[str, Any] = {
        "phones": [{"mac": "00:04:f2:b0:00:00", "ip": "10.20.1.20"}],
        "noisy_hosts": [
            {"mac": "3c:52:82:00:00:05", "ip": "10.30.0.15"},
            {"mac": "3c:52:82:00:00:06", "ip": "10.30.0.16"},
            {"mac": "3c:52:82:00:00:07", "ip": "10.30.0.17"},
            {"mac": "da:a1:19:00:00:01", "ip": "10.30.2.11"},
        ],
        "expected": {
            "other_update_service_clients": ["3c:52:82:00:00:05", "3c:52:82:00:00:06"],
            "may_be_listed": ["3c:52:82:00:00:07"],
        },
    }

    def report(*clients: dict[str, Any]) -> dict[str, Any]:
        return {"devices": [], "other_update_clients": {"listed": list(clients), "not_listed": 0}}

    good = report(
        {"key": "ip:10.30.0.15", "mac": None, "ips": ["10.30.0.15"]},
        {"key": "3c:52:82:00:00:06", "mac": "3c:52:82:00:00:06", "ips": []},
    )
    assert check_other_clients(good, truth) == []
    assert check_other_clients({"devices": []}, truth) == []
    assert "other clients listed: 2 of 2 expected, 0 of 1 pool-name-only, 0 others" in (
        noise_summary(good, truth)
    )
    bad = report(
        {"key": "ip:10.30.0.15", "mac": None, "ips": ["10.30.0.15"]},
        {"key": "3c:52:82:00:00:07", "mac": "3c:52:82:00:00:07", "ips": ["10.30.0.17"]},
        {"key": "da:a1:19:00:00:01", "mac": "da:a1:19:00:00:01", "ips": ["10.30.2.11"]},
        {"key": "ip:10.20.1.20", "mac": None, "ips": ["10.20.1.20"]},
    )
    assert check_other_clients(bad, truth) == [
        "other client 3c:52:82:00:00:06 (touched the update service) not listed",
        "da:a1:19:00:00:01 listed as an other client but did not touch the service",
        "planted phone 00:04:f2:b0:00:00 listed as an other client (ip:10.20.1.20)",
    ]


def test_noisy_sizes_get_their_own_noisy_capture(tmp_path: Path) -> None:
    quiet, loud = size_of("4k", 1), size_of("4k", 1, noisy=True)
    assert quiet.pc_noise == PcNoise() and loud.pc_noise == NOISY_PCS
    assert loud.path.name == "cap4k-noisy.pcap" and loud.label == "4k-noisy"
    assert quiet.path.name == "cap4k.pcap"
    loud.path = tmp_path / loud.path.name
    ensure_capture(loud, 1)
    truth = json.loads(loud.truth_path.read_text())
    assert truth["generator"]["noise"] == NOISY_PCS.as_dict()
    assert truth["noisy_hosts"]
    stamp = loud.path.stat().st_mtime_ns
    ensure_capture(loud, 1)  # same parameters: kept
    assert loud.path.stat().st_mtime_ns == stamp
    loud.pc_noise = PcNoise()  # asked without noise: written again, without
    ensure_capture(loud, 1)
    assert "noisy_hosts" not in json.loads(loud.truth_path.read_text())


@pytest.mark.parametrize("variant", ["ipv6", "tls", "erspan2", "vxlan"])
def test_bench_correctness_check_passes_on_every_variant(variant: str, tmp_path: Path) -> None:
    """`bench.run --variant`: the planted phones' facts and verdicts hold in every mix."""
    from capinspect.expectations import Expectations
    from capinspect.pipeline import analyze_paths, evaluate
    from capinspect.report.json import report_document

    path = tmp_path / f"{variant}.pcap"
    truth = generate(PACKETS, PHONES, SEED, path, variant=VARIANTS[variant])
    result = analyze_paths([str(path)])
    report = json.loads(json.dumps(report_document(evaluate(result, Expectations())), default=str))
    assert check_against_truth(report, truth) == []
    assert len(truth["phones"]) == PHONES
    tunnels = dict(result.stats.tunnels)
    expected = {"erspan2": {"erspan-ii": PACKETS}, "vxlan": {"vxlan": PACKETS}}
    assert tunnels == expected.get(variant, {})


def test_variant_sizes_get_their_own_capture() -> None:
    plain, v6 = size_of("4k", 1), size_of("4k", 1, variant="ipv6")
    assert plain.variant == Variant() and v6.variant == VARIANTS["ipv6"]
    assert v6.path.name == "cap4k-ipv6.pcap" and v6.label == "4k-ipv6"
    assert (v6.group, size_of("1m", 1, variant="ipv6").group) == ("-ipv6", "-ipv6")
    assert size_of("4k", 1, noisy=True, variant="vxlan").path.name == "cap4k-noisy-vxlan.pcap"
    with pytest.raises(ValueError, match="unknown variant"):
        size_of("4k", 1, variant="gre")


def test_the_page_cache_is_warmed_with_the_whole_capture(tmp_path: Path) -> None:
    """The warm-up reads the whole capture, however many reads that takes."""
    capture = tmp_path / "capture.pcap"
    capture.write_bytes(bytes(range(256)) * ((20 << 20) // 256 + 3))
    assert warm_page_cache(capture) == capture.stat().st_size


def test_main_warms_the_cache_before_every_timed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``bench.run`` reads the capture, untimed, right before each tool's each run."""
    import bench.run as bench_run

    monkeypatch.chdir(tmp_path)  # main() moves to the project root; this moves back after
    monkeypatch.setattr(bench_run, "OUT", tmp_path)
    size = size_of("4k", 1)
    size.path.write_bytes(bytes(24))
    size.truth_path.write_text("{}")
    events: list[str] = []
    monkeypatch.setattr(bench_run, "ensure_capture", lambda size, seed: None)
    monkeypatch.setattr(bench_run, "compile_bytecode", lambda: None)
    monkeypatch.setattr(bench_run, "machine", lambda: {})

    def warm(path: Path) -> int:
        events.append(f"warm {path.name}")
        return 0

    def measure(cmd: list[str], stdout: Path | None) -> dict[str, Any]:
        events.append(f"measure {Path(cmd[-1]).name}")
        assert stdout is not None
        stdout.write_text(str(size.packets))
        return {"returncode": 0, "wall_s": 0.1, "max_rss_kb": 1024, "stderr_tail": ""}

    monkeypatch.setattr(bench_run, "warm_page_cache", warm)
    monkeypatch.setattr(bench_run, "measure", measure)
    assert bench_run.main(["--sizes", "4k", "--runs", "3", "--tools", "floor"]) == 0
    assert events == ["warm cap4k.pcap", "measure cap4k.pcap"] * 3
