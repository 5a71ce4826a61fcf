"""Every inconclusive verdict names the section of docs/capturing.md that would have caught the
missing stage: the table covers every stage, and every anchor exists in the document."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from locations import PCAPS, ROOT, lab_captures

from capinspect.checks.base import Verdict
from capinspect.checks.verdict import judge
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.knowledge.capturing import CAPTURE_SECTIONS, CAPTURING_DOC, capture_advice
from capinspect.pipeline import analyze_paths, evaluate

DOC = ROOT / CAPTURING_DOC


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: inline markup dropped, lower case, every character that is
    not a letter, digit, space, hyphen or underscore removed, spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = text.replace("`", "").replace("*", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def doc_anchors(markdown: str) -> dict[str, str]:
    """Anchor → heading text of every ATX heading outside fenced code, duplicates numbered as
    GitHub numbers them (``-1``, ``-2``)."""
    anchors: dict[str, str] = {}
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if fenced or match is None:
            continue
        base = github_anchor(match.group(2))
        anchor, number = base, 0
        while anchor in anchors:
            number += 1
            anchor = f"{base}-{number}"
        anchors[anchor] = match.group(2)
    return anchors


def first_frames(source: Path, target: Path, count: int) -> Path:
    """The first ``count`` records of a little-endian classic pcap: a capture stopped early."""
    data = source.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    offset = 24
    for _ in range(count):
        caplen = struct.unpack_from("<I", data, offset + 8)[0]
        offset += 16 + caplen
    target.write_bytes(data[:offset])
    return target


def test_github_anchor_rules() -> None:
    assert github_anchor("Capturing the phone's boot (DHCP)") == "capturing-the-phones-boot-dhcp"
    assert github_anchor("On the phone's switch port (mirror / SPAN)") == (
        "on-the-phones-switch-port-mirror--span"
    )
    assert github_anchor("The `ucupdates-r2` lookup") == "the-ucupdates-r2-lookup"
    assert list(doc_anchors("# A\n## A\n```\n# not a heading\n```\n")) == ["a", "a-1"]


def test_every_stage_coverage_can_report_has_a_section() -> None:
    stages = set()
    for capture in lab_captures():
        report = evaluate(analyze_paths([str(capture)]), DEFAULT_EXPECTATIONS)
        stages |= {s.stage for item in report.devices for s in item.verdict.coverage}
    assert {"dhcp", "dns", "checkin", "download"} <= stages  # the lab covers every stage
    assert stages <= set(CAPTURE_SECTIONS)


def test_every_anchor_is_a_heading_of_the_document() -> None:
    anchors = doc_anchors(DOC.read_text(encoding="utf-8"))
    for stage, section in CAPTURE_SECTIONS.items():
        assert section.anchor in anchors, (stage, section.anchor)
        assert anchors[section.anchor] == section.title, stage
        assert github_anchor(section.title) == section.anchor


def test_the_documents_own_links_resolve() -> None:
    text = DOC.read_text(encoding="utf-8")
    anchors = doc_anchors(text)
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links
    assert [link for link in links if link not in anchors] == []
    for target in re.findall(r"\]\(([\w./-]+\.md)\)", text):
        assert (DOC.parent / target).is_file(), target


def test_advice_names_the_sections_in_order_once() -> None:
    advice = capture_advice(["dhcp", "dns", "checkin"], encrypted=False)
    titles = [CAPTURE_SECTIONS[s].title for s in ("dhcp", "dns", "checkin", "logs")]
    positions = [advice.index(f"'{title}' in {CAPTURING_DOC}") for title in titles]
    assert positions == sorted(positions)
    assert advice.count(CAPTURE_SECTIONS["checkin"].title) == 1


def test_encrypted_check_in_points_at_decryption_not_at_power_on() -> None:
    advice = capture_advice(["checkin"], encrypted=True)
    assert CAPTURE_SECTIONS["https"].advice in advice
    assert CAPTURE_SECTIONS["checkin"].advice not in advice
    assert f"'{CAPTURE_SECTIONS['logs'].title}'" in advice


def test_nothing_known_missing_still_names_the_document() -> None:
    assert CAPTURING_DOC in capture_advice([], encrypted=False)
    assert CAPTURING_DOC in capture_advice(["a-stage-from-the-future"], encrypted=False)


@pytest.mark.parametrize(
    ("frames", "missing"),
    [(12, ["checkin"]), (8, ["dns", "checkin"])],
    ids=["stopped-before-the-check-in", "stopped-after-dhcp"],
)
def test_capture_cut_short_names_the_section(
    frames: int, missing: list[str], tmp_path: Path
) -> None:
    """healthy-no-update.pcap: DHCP (frames 1-6), the ucupdates-r2 lookup (9-10), the check-in
    (14-18). Stopped early, judging the phone on its coverage alone (the check-in finding's
    severity aside) gives an inconclusive verdict naming the sections that would have caught the
    rest, and not the one it caught."""
    capture = first_frames(PCAPS / "healthy-no-update.pcap", tmp_path / "short.pcap", frames)
    report = evaluate(analyze_paths([str(capture)]), DEFAULT_EXPECTATIONS)
    [item] = report.devices
    verdict = judge(item.session, [])
    assert verdict.verdict == Verdict.INCONCLUSIVE
    assert [s.stage for s in verdict.coverage if not s.seen] == missing
    assert verdict.advice is not None
    for stage in [*missing, "logs"]:
        assert f"see '{CAPTURE_SECTIONS[stage].title}' in docs/capturing.md" in verdict.advice
    assert CAPTURE_SECTIONS["dhcp"].title not in verdict.advice  # DHCP was caught


def test_https_capture_cut_before_the_downloads_is_inconclusive_with_advice(
    tmp_path: Path,
) -> None:
    """https-healthy.pcap stopped after the TLS check-in (frame 30), before the downloads: the
    report's verdict is inconclusive and its advice names the HTTPS section and the logs."""
    capture = first_frames(PCAPS / "https-healthy.pcap", tmp_path / "short.pcap", 30)
    report = evaluate(analyze_paths([str(capture)]), DEFAULT_EXPECTATIONS)
    [item] = report.devices
    assert item.verdict.verdict == Verdict.INCONCLUSIVE
    advice = item.verdict.advice or ""
    assert "see 'Capturing the check-in (HTTP and HTTPS)' in docs/capturing.md" in advice
    assert "see 'Taking the server logs' in docs/capturing.md" in advice
    assert "--tls-key" in advice
