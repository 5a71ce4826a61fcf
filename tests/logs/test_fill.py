"""logs/fill.py: the audit log fills in encrypted check-ins (``analyze --audit-log``).

The fixture https-healthy-audit.log holds the three rows the lab's Device Update server would
have logged for tests/../pcaps/https-healthy.pcap, written an hour ahead (the server's local
time), so the clock offset has to be found."""

from __future__ import annotations

from pathlib import Path

import tls_variants
from click.testing import CliRunner
from locations import PCAPS

from capinspect.checks.base import Severity, Verdict
from capinspect.cli import main
from capinspect.devices import Population, build_population
from capinspect.devices.model import NOTHING_OFFERED, OFFER_FETCHED, UNDECIDED
from capinspect.expectations import Expectations
from capinspect.logs.audit import AuditRecord, parse_audit_text
from capinspect.logs.fill import audit_offset, fill_population, read_audit_rows
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.report.model import DeviceReport
from capinspect.report.timeline import step_summary

FIXTURE = Path(__file__).parent / "fixtures" / "https-healthy-audit.log"


def _rows(*keep: int, edit: tuple[tuple[str, str], ...] = ()) -> tuple[AuditRecord, ...]:
    """Rows of the fixture (1-based, after the header), with text replaced as ``edit`` says."""
    header, *rows = FIXTURE.read_text(encoding="utf-8").splitlines()
    chosen = [rows[i - 1] for i in keep] if keep else rows
    text = "\n".join([header, *chosen]) + "\n"
    for old, new in edit:
        assert old in text
        text = text.replace(old, new)
    return parse_audit_text(text, "audit.log").records


def _judge(capture: Path, rows: tuple[AuditRecord, ...]) -> DeviceReport:
    report = evaluate(analyze_paths([str(capture)]), Expectations(), audit=rows)
    (device,) = report.devices
    return device


def test_each_encrypted_check_in_takes_its_row() -> None:
    rows = read_audit_rows([str(FIXTURE)])
    assert len(rows) == 3
    device = _judge(PCAPS / "https-healthy.pcap", rows)
    session = device.session
    fills = [e.audit for e in session.encrypted_checkins]
    assert all(f is not None for f in fills)
    assert [f.firmware for f in fills if f] == ["1.0.522.34", "1.0.522.103", "3.5.6907.0"]
    assert [f.where for f in fills if f] == [f"{FIXTURE.name}:{n}" for n in (2, 3, 4)]
    assert all(f.matched_by == "MAC" and round(f.offset) == -3600 for f in fills if f)
    assert [len(f.offered) for f in fills if f] == [1, 1, 0]
    assert [e.outcome for e in session.encrypted_checkins] == [
        OFFER_FETCHED,
        OFFER_FETCHED,
        NOTHING_OFFERED,
    ]
    # The phone's identity and firmware now come from the log, said so.
    assert (session.identity.vendor, session.identity.model) == ("LG-Nortel", "IP8540")
    assert [s.version for s in session.firmware_seen] == ["1.0.522.34", "1.0.522.103", "3.5.6907.0"]
    assert all(s.source.startswith("from the audit log") for s in session.firmware_seen)
    assert device.verdict.verdict == Verdict.PASS and device.verdict.inferred
    summaries = [f.summary for f in device.findings if f.check_id.startswith("checkin.encrypted")]
    assert summaries and all("from the audit log" in s for s in summaries)
    steps = [s for s in session.timeline if s.details.get("inferred")]
    assert len(steps) == 3 and all("from the audit log" in step_summary(s) for s in steps)


def test_rows_of_another_phone_or_time_fill_nothing() -> None:
    other = _rows(edit=(('"0021630FA501"', '"0021630FA5FF"'),))
    device = _judge(PCAPS / "https-healthy.pcap", other)
    assert all(e.audit is None for e in device.session.encrypted_checkins)
    # One row only: it fills the one check-in it lies next to, no other.
    population = fill_population(_population(), _rows(2))
    fills = [e.audit for e in population.phones[0].encrypted_checkins]
    assert fills[0] is None and fills[2] is None
    assert fills[1] is not None and fills[1].firmware == "1.0.522.103"


def _population() -> Population:
    return build_population(analyze_paths([str(PCAPS / "https-healthy.pcap")]))


def test_the_row_decides_what_the_capture_could_not(tmp_path: Path) -> None:
    capture = tls_variants.offer_then_end(tmp_path / "offer-then-end.pcap")
    alone = _judge(capture, ())
    assert alone.verdict.verdict == Verdict.INCONCLUSIVE
    # The row says a current phone was offered nothing: the check-in is judged, from the log.
    offer = (
        ",http://ocs.contoso.com/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt;1.0.522.103;"
        "16-12-2008 04:43:58"
    )
    nothing = _rows(1, edit=((offer, ","), ("cpe.nbt;1.0.522.34;", "cpe.nbt;3.5.6907.0;")))
    device = _judge(capture, nothing)
    (item,) = device.session.encrypted_checkins
    assert item.outcome == NOTHING_OFFERED and item.audit is not None
    assert device.verdict.verdict == Verdict.PASS and device.verdict.inferred
    assert any("from the audit log" in b for b in item.basis)
    # The row says it offered a file: the capture still ended too soon to say it was not fetched.
    offered = _judge(capture, _rows(1))
    (item,) = offered.session.encrypted_checkins
    assert item.outcome == UNDECIDED and offered.verdict.verdict == Verdict.INCONCLUSIVE


def test_an_old_phone_offered_nothing_per_the_log_is_no_update_offered(tmp_path: Path) -> None:
    capture = tls_variants.nothing_offered(tmp_path / "nothing.pcap")
    old = _rows(3, edit=(("cpe.nbt;3.5.6907.0;", "cpe.nbt;1.0.522.103;"),))
    device = _judge(capture, old)
    assert device.verdict.verdict == Verdict.FAIL
    root = device.verdict.root_cause
    assert root is not None and root.check_id == "checkin.no-update-offered"
    assert root.severity == Severity.FAIL and root.inferred
    assert "1.0.522.103 (from the audit log" in root.summary
    # The same row reporting the current version: nothing to fix.
    assert _judge(capture, _rows(3)).verdict.verdict == Verdict.PASS


def test_offset_needs_a_matching_row() -> None:
    population = _population()
    assert audit_offset(population.phones, ()) is None
    found = audit_offset(population.phones, _rows())
    assert found is not None and round(found[0]) == -3600


def test_cli_fills_from_the_audit_log() -> None:
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            str(PCAPS / "https-healthy.pcap"),
            "--audit-log",
            str(FIXTURE),
            "--color",
            "never",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the terminal report wraps its lines
    assert "from the audit log (https-healthy-audit.log:2, matched by MAC)" in said
    assert "PASS (inferred without decryption)" in said
    assert "LG-Nortel IP8540" in said
