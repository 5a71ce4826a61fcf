"""Device Update audit logs: the seed's header and rows, comment 1's wrapped row, ``;`` files."""

from __future__ import annotations

import calendar
from pathlib import Path

from capinspect.logs.audit import DMY, MDY, parse_audit_text, parse_modules, read_audit_log

FIXTURES = Path(__file__).parent / "fixtures"


def _utc(*parts: int) -> float:
    return float(calendar.timegm((*parts, 0, 0, 0)))


def test_seed_rows() -> None:
    log = read_audit_log(str(FIXTURES / "seed-audit.log"))
    assert not log.problems and log.had_header and log.delimiter == ","
    assert (log.date_orders["logged"], log.date_orders["culture"]) == (MDY, DMY)
    first, second, third = log.records
    assert first.mac == "00:21:63:0f:20:7b" and first.mac_text == "0021630F207B"
    assert (first.vendor, first.model, first.revision, first.locale) == (
        "LG-Nortel",
        "IP8540",
        "A",
        "ENU",
    )
    assert first.serial == "C185H001209" and first.user == "ruisilva@demo.local"
    assert first.client_ip is None and first.device_type == "UCPhone"
    # 03-06-2009 is 6 March (the IIS log's date); the phone's 06-03-2009 09:07:20 too.
    assert first.logged_ts == _utc(2009, 3, 6, 17, 7, 20)
    assert first.request_ts == _utc(2009, 3, 6, 9, 7, 20)
    assert first.firmware is None and first.reports_nothing_known
    assert first.requested[0].timestamp == _utc(1601, 1, 1, 0, 0, 0)
    assert first.response == ()
    (interim,) = second.response
    assert interim.version == "1.0.522.103"
    assert interim.path == "/deviceupdatefiles_int/ocinterim/enu/cpe.nbt"
    assert interim.timestamp == _utc(2008, 12, 16, 4, 43, 58)
    assert third.firmware == "1.0.522.103"
    assert third.response[0].version == "3.5.6907.0"


def test_comment_1_row_wrapped_mid_timestamp_with_us_dates() -> None:
    log = read_audit_log(str(FIXTURES / "comment1.txt"))
    (row,) = log.records
    assert row.lines == 2 and row.mac == "00:1b:9e:f3:bc:18"
    assert row.logged_ts == _utc(2009, 6, 30, 16, 47, 51)
    assert row.request_ts == _utc(2009, 6, 30, 16, 47, 50)  # 4:47:50 PM
    assert row.reports_nothing_known
    (offer,) = row.response
    assert (offer.file_name, offer.version) == ("", "1.0.522.103")
    assert offer.timestamp == _utc(2009, 5, 20, 2, 3, 46)


def test_semicolon_delimited_variant_with_several_modules() -> None:
    header = (
        "Logging DateTime;User Name;User Host Address;Device Type;Request DateTime;Mac Address;"
        "Serial Number;Vendor;Model;Revision;Locale;Requested<FileName;Version;TimeStamp>"
        "[# Seperated for Multiple];Response<FileName;Version;TimeStamp>[# Seperated for Multiple]"
    )
    row = (
        "03-06-2009 17:18:54;u@x;10.0.0.5;UCPhone;06-03-2009 17:18:53;0021630F207B;C1;LG-Nortel;"
        "IP8540;A;ENU;cpe.nbt;1.0.522.103;16-12-2008 04:43:58#cpe.cat;1.0.522.103;16-12-2008 "
        "04:43:58;http://h/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/"
        "CPE.nbt;3.5.6907.0;16-12-2008 04:43:58"
    )
    empty = "03-06-2009 17:30:00;u@x;10.0.0.5;UCPhone;06-03-2009 17:30:00;0021630F207B;C1;" + (
        "LG-Nortel;IP8540;A;ENU;cpe.nbt;3.5.6907.0;16-12-2008 04:43:58;"
    )
    log = parse_audit_text("\n".join([header, row, empty]))
    assert log.delimiter == ";" and not log.problems
    first, second = log.records
    assert [m.file_name for m in first.requested] == ["cpe.nbt", "cpe.cat"]
    assert first.response[0].version == "3.5.6907.0" and first.client_ip == "10.0.0.5"
    assert second.firmware == "3.5.6907.0" and second.response == ()


def test_inner_comma_modules_and_headerless_rows() -> None:
    assert [(m.file_name, m.version) for m in parse_modules("a,1.0,ts#b,2.0,ts", ",")] == [
        ("a", "1.0"),
        ("b", "2.0"),
    ]
    text = (
        '13-06-2009 10:00:00,u,,UCPhone,13-06-2009 10:00:00,"0021630F207B","S","Polycom",'
        '"CX700","A","NLD",cpe.nbt;1.0.522.101;01-01-1601 00:00:00,'
    )
    (row,) = parse_audit_text(text).records
    assert row.logged_ts == _utc(2009, 6, 13, 10, 0, 0)  # a day above 12 settles the order
    assert row.locale == "NLD" and row.firmware == "1.0.522.101"


def test_rows_that_do_not_fit_are_problems() -> None:
    log = parse_audit_text("Logging DateTime,User Name\n01-02-2009 10:00:00,a,b,c,d\nhello")
    assert not log.records
    assert {p.code for p in log.problems} == {"audit-log.unparsed-row", "audit-log.stray-text"}


def test_a_wrapped_row_keeps_both_of_its_lines_as_read() -> None:
    log = read_audit_log(str(FIXTURES / "comment1.txt"))
    (row,) = log.records
    assert row.lines == 2
    assert row.raw.startswith("06/30/2009 16:47:51,tanjay@")
    assert row.raw.endswith(";1.0.522.103;5/20/2009\n2:03:46 AM")
