"""Where the project's lab captures and the third-party corpus are (importable by any test)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "pcaps"
CORPUS = Path(os.environ.get("CAPINSPECT_CORPUS", ROOT.parent / "shared" / "corpus"))
ZEEK_TRACES = CORPUS / "zeek-traces"


def corpus_files() -> list[Path]:
    """Every capture of ../shared/corpus/zeek-traces (empty when the corpus is absent)."""
    if not ZEEK_TRACES.is_dir():
        return []
    return sorted(p for p in ZEEK_TRACES.iterdir() if p.suffix in (".pcap", ".pcapng"))


def lab_captures() -> list[Path]:
    return sorted(p for p in PCAPS.iterdir() if p.suffix in (".pcap", ".pcapng"))


needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
