from pathlib import Path

from capinspect.checks import ALL_SPECS
from capinspect.checks.catalog import render_catalog

DOC = Path(__file__).resolve().parents[2] / "docs" / "checks.md"


def test_docs_checks_md_is_generated_from_the_specs() -> None:
    assert DOC.read_text(encoding="utf-8") == render_catalog(), (
        "docs/checks.md is stale: python -m capinspect.checks.catalog > docs/checks.md"
    )


def test_ids_are_unique_dotted_and_sourced() -> None:
    ids = [spec.id for spec in ALL_SPECS]
    assert len(ids) == len(set(ids))
    for spec in ALL_SPECS:
        area, _, name = spec.id.partition(".")
        areas = {"dhcp", "time", "dns", "signin", "tls", "checkin", "download", "device"}
        assert area in areas | {"capture", "logs"}
        assert name and name == name.lower()
        assert spec.source and spec.explanation and spec.remediation
