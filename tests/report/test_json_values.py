"""JSON values of the reconstructed transactions, and the two conversions every document uses."""

from __future__ import annotations

from factories import healthy_boot

from capinspect.anomalies import AnomalySink
from capinspect.report.json_values import dhcp_exchange, dns_lookup, iso, plain


def test_an_anomaly_says_its_count_only_when_it_stands_for_several() -> None:
    sink = AnomalySink(keep=1)
    for frame in (1, 2, 3):
        sink.note("tcp.overlap-conflict", "different bytes", frame, 1.5)
    kept, more = (plain(a) for a in sink.anomalies())
    assert kept == {
        "code": "tcp.overlap-conflict",
        "detail": "different bytes",
        "frame": 1,
        "ts": 1.5,
    }
    assert more["count"] == 2 and more["frame"] is None
    assert more["detail"] == "2 more like this (3 in all)"


def test_times_and_transactions() -> None:
    assert iso(0.0) == "1970-01-01T00:00:00.000000Z"
    boot = healthy_boot()
    inform = dhcp_exchange(boot.dhcp[1])
    assert inform["kind"] == "inform" and len(inform["messages"]) == 2
    assert inform["messages"][0]["dst_ip"] == "255.255.255.255"
    lookup = dns_lookup(boot.dns[0])
    assert lookup["qname"] == "ucupdates-r2.contoso.com" and lookup["rcode"] == "NOERROR"
