"""atheris harness for the ntp target (tests/fuzz/fuzz_targets.py); see docs/robustness.md.

python tests/fuzz/fuzz_ntp.py -max_total_time=60 tests/fuzz/corpus/ntp
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path[1:1] = [str(Path(__file__).resolve().parents[2])]  # capinspect without installing

with atheris.instrument_imports(include=["capinspect", "fuzz_targets"]):
    import fuzz_targets


def main() -> None:
    atheris.Setup(sys.argv, fuzz_targets.TARGETS["ntp"])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
