"""The server logs' JSON: each line's fields as data; the same merged timelines, streamed
or whole."""

from __future__ import annotations

from locations import ROOT

from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.logs.audit import AuditModule, read_audit_log
from capinspect.logs.iis import parse_iis_text
from capinspect.report.logs.json import iis_line_json, module_json
from capinspect.report.logs.model import load_logs

FIXTURES = ROOT / "tests" / "logs" / "fixtures"


def test_an_offered_file_is_named_by_its_url_and_a_requested_one_by_its_name() -> None:
    offered = AuditModule(
        "http://ocs.demo.local/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt",
        "1.0.522.103",
        "16-12-2008 04:43:58",
        1229402638.0,
    )
    assert module_json(offered) == {
        "name": "CPE.nbt",
        "version": "1.0.522.103",
        "timestamp": "2008-12-16T04:43:58.000000Z",
        "timestamp_text": "16-12-2008 04:43:58",
        "url": "http://ocs.demo.local/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt",
        "nothing_installed": False,
    }
    row = read_audit_log(str(FIXTURES / "seed-audit.log")).records[0]
    (requested,) = row.requested
    out = module_json(requested)
    assert (out["name"], out["version"], out["url"]) == ("cpe.nbt", None, None)
    assert out["nothing_installed"] is True and out["timestamp_text"] == "01-01-1601 00:00:00"


def test_an_iis_line_with_every_default_field() -> None:
    log = parse_iis_text(
        "2026-11-29 06:39:44 10.77.0.1 GET /DeviceUpdateFiles_Int/x/CPE.nbt a=1&b=2 80 "
        "CONTOSO\\jdoe 10.77.0.102 Microsoft+UCPhone+Device 404 3 50 17\n",
        "u_ex261129.log",
    )
    (rec,) = log.records
    out = iis_line_json(rec)
    assert out["source"] == {
        "file": "u_ex261129.log",
        "path": "u_ex261129.log",
        "line": 1,
        "lines": 1,
    }
    assert (out["method"], out["uri_stem"], out["uri_query"]) == (
        "GET",
        "/DeviceUpdateFiles_Int/x/CPE.nbt",
        "a=1&b=2",
    )
    assert (out["server_ip"], out["port"], out["username"], out["client_ip"]) == (
        "10.77.0.1",
        80,
        "CONTOSO\\jdoe",
        "10.77.0.102",
    )
    assert (out["status"], out["substatus"], out["win32_status"], out["iis_status"]) == (
        404,
        3,
        50,
        "404.3",
    )
    assert out["time"] == "2026-11-29T06:39:44.000000Z" and out["time_taken_ms"] == 17
    assert out["start_time"] == "2026-11-29T06:39:43.983000Z"
    assert out["missing_fields"] == [] and out["raw"].startswith("2026-11-29 06:39:44 10.77.0.1")


def test_the_streamed_and_the_whole_json_document_carry_the_same_merged_timelines() -> None:
    """``analyze`` writes one device at a time (report/json.py ``device_extra``); ``with_logs``
    edits a whole document: a device's ``log_timeline`` must not depend on the path taken."""
    import io
    import json

    from locations import PCAPS

    from capinspect.pipeline import analyze_paths, evaluate
    from capinspect.report.json import dumps, report_document, write_report
    from capinspect.report.logs import device_logs, logs_document, with_logs

    report = evaluate(analyze_paths([str(PCAPS / "acl-denied.pcap")]), DEFAULT_EXPECTATIONS)
    result = load_logs(
        [str(PCAPS / "acl-denied.iis.log")],
        [str(PCAPS / "acl-denied.audit.log")],
        DEFAULT_EXPECTATIONS,
        tuple(d.session for d in report.devices),
    )
    streamed = io.StringIO()
    write_report(report, streamed, {"logs": logs_document(result)}, device_logs(result))
    whole = with_logs(dumps(report_document(report)), "json", result)
    assert json.loads(streamed.getvalue()) == json.loads(whole)
    (device,) = json.loads(whole)["devices"]
    assert len(device["log_timeline"]["steps"]) > len(device["timeline"])
