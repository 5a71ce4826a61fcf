"""The server-log report's tables as data (report/logs/tables.py), before any format escapes."""

from __future__ import annotations

from pathlib import Path

from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.report.logs.model import LogsResult, load_logs
from capinspect.report.logs.tables import (
    clock_table,
    files_table,
    identity_table,
    ladder_table,
    paths,
    problems_table,
    tally,
)

FIXTURES = Path(__file__).resolve().parents[2] / "logs" / "fixtures"


def _seed() -> LogsResult:
    return load_logs(
        [str(FIXTURES / "seed-iis.log")], [str(FIXTURES / "seed-audit.log")], DEFAULT_EXPECTATIONS
    )


def test_files_and_clock_tables_of_the_seed_logs() -> None:
    result = _seed()
    files = files_table(result)
    assert files.headers == ("file", "kind", "lines used", "notes")
    assert [row[1:3] for row in files.rows] == [("IIS W3C", "7"), ("audit", "3")]
    assert "dates month-first (logged), day-first (request, timestamps)" in files.rows[1][3]
    clocks = clock_table(result)
    assert clocks is not None
    assert clocks.rows[0][0] == "audit log vs IIS log"
    assert problems_table(result) is None
    assert paths(result) == [str(FIXTURES / "seed-iis.log"), str(FIXTURES / "seed-audit.log")]
    assert tally(result) == "1 phone(s): 1 pass"


def test_identity_and_ladder_of_the_seed_phone() -> None:
    (rep,) = _seed().phones
    ident = dict(identity_table(rep, None).rows)
    assert ident["MAC"] == "00:21:63:0f:20:7b"
    assert ident["serial"] == "C185H001209"
    assert ident["user"] == "ruisilva@demo.local"
    assert ident["lines"] == "7 IIS line(s), 3 audit row(s)"
    ladder = ladder_table(rep, None, None)
    sources = {row[1] for row in ladder.rows}
    assert sources == {"iis-log", "audit-log"}
    assert all(len(row) == len(ladder.headers) for row in ladder.rows)
    assert any("CPE.nbt" in row[-1] for row in ladder.rows)
    # Day and time on every row: a ladder crossing midnight still reads in order.
    assert all(row[0].startswith("2009-03-06 ") for row in ladder.rows)


def test_unreadable_files_and_loose_lines_are_counted(tmp_path: Path) -> None:
    log = tmp_path / "u_ex.log"
    log.write_text(
        "2026-11-29 06:39:44 10.77.0.1 GET /DeviceUpdateFiles_Int/x/CPE.nbt - 80 - "
        "10.77.0.102 Microsoft+UCPhone+Device 404 0 2 2\n"
    )
    result = load_logs([str(log)], [str(tmp_path / "absent.log")], DEFAULT_EXPECTATIONS)
    rows = files_table(result).rows
    assert rows[-1][:3] == (str(tmp_path / "absent.log"), "unreadable", "0")
    assert tally(result).startswith("1 phone(s): 1 fail")
