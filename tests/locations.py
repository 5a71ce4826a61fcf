"""Where the project's lab captures and the third-party corpus are (importable by any test)."""

from __future__ import annotations

import os
import shutil
import subprocess
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


def netns_skip_reason() -> str | None:
    """Why tests that need root, network namespaces, tcpdump and tcpreplay cannot run here."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, AF_PACKET)"
    for tool in ("ip", "tcpdump", "tcpreplay"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = f"capi-probe-{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        return "cannot create network namespaces here"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


NETNS_REASON = netns_skip_reason()
needs_netns = pytest.mark.skipif(NETNS_REASON is not None, reason=NETNS_REASON or "")
