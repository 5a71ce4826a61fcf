"""The benchmark's capture generator: deterministic, a valid pcap, and honest truth.

The benchmark's correctness check is only as good as the generator: if it wrote broken frames or
a truth file that disagrees with its packets, the runner would blame capinspect for the
generator's bug. So the frames are cross-checked with independent dissectors (tshark, scapy).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import generate  # noqa: E402

PACKETS = 3000
PHONES = 5


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One small capture shared by the tests (5 phones: every phone kind, the QinQ one too)."""
    out = tmp_path_factory.mktemp("bench") / "small.pcap"
    truth = generate(PACKETS, PHONES, 7, out)
    return out, truth


def records(path: Path) -> list[tuple[float, bytes]]:
    """Plain struct walk of a classic pcap, independent of the generator's writer."""
    data = path.read_bytes()
    magic, major, minor, _z, _s, _snap, link = struct.unpack_from("<IHHiIII", data)
    assert (magic, major, minor, link) == (0xA1B2C3D4, 2, 4, 1)
    out = []
    off = 24
    while off < len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, off)
        assert incl == orig
        out.append((sec + usec / 1e6, data[off + 16 : off + 16 + incl]))
        off += 16 + incl
    assert off == len(data)
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(
    tmp_path: Path, capture: tuple[Path, dict[str, Any]]
) -> None:
    path, truth = capture
    again = tmp_path / "again.pcap"
    truth2 = generate(PACKETS, PHONES, 7, again)
    assert again.read_bytes() == path.read_bytes()
    assert {**truth2, "capture": {}} == {**truth, "capture": {}}
    assert {**truth2["capture"], "file": ""} == {**truth["capture"], "file": ""}
    other = tmp_path / "other.pcap"
    generate(PACKETS, PHONES, 8, other)
    assert other.read_bytes() != path.read_bytes()


def test_phone_facts_do_not_depend_on_capture_size(
    tmp_path: Path, capture: tuple[Path, dict[str, Any]]
) -> None:
    """The runner compares the 100k and 1M reports phone by phone; that needs this."""
    _path, truth = capture
    bigger = generate(PACKETS * 2, PHONES + 1, 7, tmp_path / "bigger.pcap")
    assert bigger["phones"][:PHONES] == truth["phones"]


def test_records_timestamps_and_ip_lengths(capture: tuple[Path, dict[str, Any]]) -> None:
    path, truth = capture
    recs = records(path)
    assert len(recs) == PACKETS == truth["capture"]["packets"]
    assert path.stat().st_size == truth["capture"]["bytes"]
    times = [t for t, _ in recs]
    assert times == sorted(times)
    assert 500 < times[-1] - times[0] <= 600
    for _t, frame in recs:
        assert len(frame) >= 60
        off = 12
        ethertype = struct.unpack_from("!H", frame, off)[0]
        while ethertype in (0x8100, 0x88A8):
            off += 4
            ethertype = struct.unpack_from("!H", frame, off)[0]
        if ethertype != 0x0800:
            continue
        ip = frame[off + 2 :]
        total = struct.unpack_from("!H", ip, 2)[0]
        assert total <= len(ip)
        assert total == len(ip) or len(frame) == 60  # only minimum-size padding follows
        if ip[9] == 17:
            assert struct.unpack_from("!H", ip, 24)[0] == total - 20


@pytest.mark.tshark
def test_tshark_reads_it_and_sees_every_planted_phone(
    capture: tuple[Path, dict[str, Any]],
) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    path, truth = capture

    def fields(display_filter: str, *names: str) -> list[list[str]]:
        cmd = ["tshark", "-n", "-r", str(path), "-Y", display_filter, "-T", "fields"]
        for name in names:
            cmd += ["-e", name]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
        return [line.split("\t") for line in done.stdout.splitlines()]

    assert len(fields("frame", "frame.number")) == PACKETS
    assert fields("_ws.malformed or _ws.expert.severity >= error", "frame.number") == []
    phones = truth["phones"]
    assert [p["kind"] for p in phones] == ["upgrade", "current", "interim", "missing", "tls"]
    assert [p["vlans"] for p in phones if p["vlans"]] == [[100], [200, 100]]
    informs = fields(
        'dhcp.option.dhcp == 8 and dhcp.option.vendor_class_id == "MS-UC-Client"',
        "eth.src",
        "ieee8021ad.id",
        "vlan.id",
    )
    boots = {p["mac"]: p["boots"] for p in phones}
    seen: dict[str, int] = {}
    for mac, _outer, _inner in informs:
        seen[mac] = seen.get(mac, 0) + 1
    assert seen == boots
    tagged = {mac: (outer, inner) for mac, outer, inner in informs if outer or inner}
    assert tagged == {phones[1]["mac"]: ("", "100"), phones[3]["mac"]: ("200", "100")}
    acks = fields("dhcp.option.dhcp == 5 and dhcp.option.vendor.value", "dhcp.option.vendor.value")
    assert len(acks) == sum(boots.values())
    posts = fields('http.request.uri contains "ucdevice.upx"', "ip.src", "http.user_agent")
    by_ip: dict[str, int] = {}
    for src, agent in posts:
        assert agent == "Microsoft UCPhone Device"
        by_ip[src] = by_ip.get(src, 0) + 1
    assert by_ip == {p["ip"]: p["checkins"] for p in phones if p["checkins"]}
    gets = fields('http.request.uri contains "CPE.nbt"', "http.request.full_uri")
    assert sorted(u for (u,) in gets) == sorted(d["url"] for p in phones for d in p["downloads"])
    codes = fields(
        "http.response.code and tcp.srcport == 80 and ip.src == 10.10.0.10",
        "http.response.code",
        "http.content_length_header",
    )
    downloads = sorted((str(d["status"]), str(d["bytes"])) for p in phones for d in p["downloads"])
    assert sorted((c, n) for c, n in codes if c != "200" or int(n) > 10_000) == downloads
    sni = fields(
        "tls.handshake.extensions_server_name", "ip.src", "tls.handshake.extensions_server_name"
    )
    assert [phones[4]["ip"], "ucupdates-r2.contoso.com"] in sni
    lookups = fields(
        'dns.qry.name == "ucupdates-r2.contoso.com" and dns.flags.response == 1', "ip.dst", "dns.a"
    )
    assert sorted(ip for ip, _a in lookups) == sorted(
        p["ip"] for p in phones for _ in range(p["boots"])
    )
    assert {a for _ip, a in lookups} == {"10.10.0.10"}


def test_scapy_decodes_a_phones_inform_ack(capture: tuple[Path, dict[str, Any]]) -> None:
    """Option 43 sub-options and option 120 as protocol.md §1.2/§1.4 describe them."""
    scapy_all = pytest.importorskip("scapy.all")
    path, truth = capture
    phone = truth["phones"][1]  # the 802.1Q-tagged one
    found = []
    for _t, frame in records(path):
        pkt = scapy_all.Ether(frame)
        if scapy_all.DHCP not in pkt or pkt[scapy_all.IP].dst != phone["ip"]:
            continue
        opts = {o[0]: o[1] for o in pkt[scapy_all.DHCP].options if isinstance(o, tuple)}
        found.append((pkt[scapy_all.Dot1Q].vlan, opts))
    assert len(found) == 1
    vlan, opts = found[0]
    assert vlan == 100
    assert opts["message-type"] == 5
    assert opts["domain"] == b"contoso.com"
    assert opts["vendor_specific"] == (
        b"\x01\x0cMS-UC-Client\x02\x05https\x03\x0focs.contoso.com\x04\x03443"
        b"\x05\x25/CertProv/CertProvisioningService.svc"
    )
    assert bytes(opts[120]) == b"\x00\x03ocs\x07contoso\x03com\x00"


def test_truth_lists_the_phones(capture: tuple[Path, dict[str, Any]]) -> None:
    path, truth = capture
    on_disk = json.loads(path.with_name(path.name + ".truth.json").read_text())
    assert on_disk == truth
    phones = truth["phones"]
    assert len(phones) == PHONES
    assert len({p["mac"] for p in phones}) == len({p["ip"] for p in phones}) == PHONES
    for p in phones:
        assert p["checkins"] == len(p["firmware_reported"])
        assert len(p["downloads"]) <= len(p["offered"])
        assert p["expected_verdict"] in ("pass", "fail", "inconclusive")
    raw = path.read_bytes()
    for p in phones:
        assert bytes.fromhex(p["mac"].replace(":", "")) in raw
