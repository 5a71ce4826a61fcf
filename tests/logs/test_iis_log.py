"""IIS W3C logs as they reach support: the seed's block, its wrapped excerpts, readers' lines."""

from __future__ import annotations

from pathlib import Path

from streamfeed import JUNK, with_junk

from capinspect.logs.iis import align, parse_iis_text, read_iis_log

FIXTURES = Path(__file__).parent / "fixtures"


def test_seed_block_reads_every_line_with_the_ip_columns_left_out() -> None:
    log = read_iis_log(str(FIXTURES / "seed-iis.log"))
    assert not log.problems
    assert log.header_blocks == 1 and log.software == "Microsoft Internet Information Services 7.0"
    assert len(log.records) == 7
    assert log.missing_fields == {"s-ip": 7, "c-ip": 7}
    interim = log.records[2]
    assert (interim.method, interim.stem) == ("GET", "/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt")
    assert (interim.status, interim.substatus, interim.win32_status) == (200, 0, 0)
    assert interim.time_taken_ms == 137810 and interim.server_port == 80
    assert interim.user_agent == "Microsoft UCPhone Device"
    # Logged when it ended (17:12:57): it started in the second of the check-in, 17:10:39.
    checkin = log.records[1]
    assert int(interim.start_ts) == int(checkin.ts)
    assert log.records[5].time_taken_ms == 170679


def test_wrapped_lines_are_rejoined_mid_url_and_mid_user_agent() -> None:
    log = read_iis_log(str(FIXTURES / "seed-iis-wrapped.txt"))
    assert not log.problems
    assert [r.stem for r in log.records] == [
        "/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt",
        "/DeviceUpdateFiles_Int/UCPhone/LG-Nortel/IP8540/A/ENU/3.5.6907.0/CPE/CPE.nbt",
    ]
    assert [r.lines for r in log.records] == [2, 3]
    assert log.records[1].user_agent == "Microsoft UCPhone Device"
    assert [r.time_taken_ms for r in log.records] == [137810, 170679]


def test_the_500_19_5_line_keeps_status_substatus_and_win32() -> None:
    (rec,) = read_iis_log(str(FIXTURES / "seed-acl-denied.txt")).records
    assert (rec.status, rec.substatus, rec.win32_status, rec.time_taken_ms) == (500, 19, 5, 62)
    assert rec.iis_status == "500.19"


def test_en_dashes_and_prose_around_pasted_lines() -> None:
    log = read_iis_log(str(FIXTURES / "comment19-iis.txt"))
    assert [(r.method, r.status, r.server_port) for r in log.records] == [
        ("GET", 404, 80),
        ("POST", 200, 443),
    ]
    assert log.records[0].query is None and log.records[0].username is None
    assert {p.code for p in log.problems} == {"iis-log.stray-text"}


def test_any_field_order_and_several_header_blocks() -> None:
    text = "\n".join(
        [
            "#Software: Microsoft Internet Information Services 7.5",
            "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-substatus "
            "sc-win32-status time-taken cs(User-Agent)",
            "2011-01-02 10:00:00 10.0.0.9 GET /DeviceUpdateFiles_Int/x/CPE.nbt 403 4 5 3 "
            "Microsoft+UCPhone+Device",
            "2011-01-02 10:00:01 10.0.0.50 GET /default.aspx 200 0 0 3 Mozilla/5.0",
            "#Software: Microsoft Internet Information Services 7.5",
            "#Date: 2011-01-03 00:00:00",
            "#Fields: time cs-method cs-uri-stem sc-status c-ip",
            "08:00:00 POST /UCDeviceUpdates/ucdevice.upx 404 10.0.0.9",
        ]
    )
    log = parse_iis_text(text)
    assert log.header_blocks == 2 and log.other_records == 1
    first, second = log.records
    assert (first.client_ip, first.iis_status, first.win32_status) == ("10.0.0.9", "403.4", 5)
    assert (second.stem, second.status, second.client_ip) == (
        "/UCDeviceUpdates/ucdevice.upx",
        404,
        "10.0.0.9",
    )
    assert second.ts - first.ts > 20 * 3600  # the date came from #Date


def test_a_line_that_fits_no_field_order_is_a_problem_not_a_crash() -> None:
    log = parse_iis_text("2011-01-02 10:00:00 GET\n2011-13-45 99:00:00 GET / - 80 - - ua 200 0 0 1")
    assert not log.records
    assert {p.code for p in log.problems} <= {"iis-log.unparsed-line", "iis-log.bad-time"}
    assert len(log.problems) == 2


def test_align_prefers_leaving_out_addresses() -> None:
    tokens = "2009-03-06 17:07:20 POST /x - 443 - UA 200 0 0 124".split()
    fields = tuple(
        "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
        "cs(user-agent) sc-status sc-substatus sc-win32-status time-taken".split()
    )
    placed = align(tokens, fields)
    assert placed is not None
    assert set(fields) - set(placed[1]) == {"s-ip", "c-ip"}


def test_each_record_keeps_its_lines_as_read_and_its_logged_time() -> None:
    log = read_iis_log(str(FIXTURES / "seed-iis-wrapped.txt"))
    first, second = log.records
    assert first.raw == (
        "2009-03-06 17:12:57 GET /DeviceUpdateFiles_Int/OCInterim/ENU/\n"
        "CPE.nbt - 80 - Microsoft+UCPhone+Device 200 0 0 137810"
    )
    assert second.raw.count("\n") == 2 and second.raw.endswith("200 0 0 170679")
    assert first.logged_text == "2009-03-06 17:12:57"
    headerless = parse_iis_text(
        "#Date: 2009-03-06 16:00:51\n#Fields: time cs-method cs-uri-stem sc-status\n"
        "17:07:20 POST /RequestHandler/ucdevice.upx 200\n"
    )
    (only,) = headerless.records
    assert only.logged_text == "2009-03-06 17:07:20"  # the date from #Date, as IIS meant it
    assert only.raw == "17:07:20 POST /RequestHandler/ucdevice.upx 200"


def test_junk_after_the_last_line_keeps_every_record() -> None:
    # A log is read line by line, not as a byte stream: of streamfeed's feedings only the junk
    # case applies (a paste that ends in a stray line, a file cut mid-line).
    text = (FIXTURES / "seed-iis.log").read_text()
    clean, after = with_junk(parse_iis_text, text.rstrip("\n") + "\n", JUNK.decode("latin-1"))
    assert after.records == clean.records and len(clean.records) == 7
    # Each junk line is named as what it is, not taken for a record.
    assert [p.code for p in after.problems] == ["iis-log.stray-text"] * 2
    assert not clean.problems
