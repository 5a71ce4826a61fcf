"""The server-log report in every format, and its redaction."""

from __future__ import annotations

import re
from pathlib import Path

from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.report.logs.json import standalone_document
from capinspect.report.logs.model import load_logs
from capinspect.report.logs.render import redact_logs, render_logs
from capinspect.report.redact import Pseudonyms


def test_redaction_covers_a_domain_user_of_the_iis_log(tmp_path: Path) -> None:
    path = tmp_path / "u_ex.log"
    path.write_text(
        "2026-11-29 06:39:44 10.77.0.1 GET /DeviceUpdateFiles_Int/x/CPE.nbt - 80 "
        "CONTOSO\\jdoe 10.77.0.102 Microsoft+UCPhone+Device 500 19 5 2\n"
    )
    result = load_logs([str(path)], [], DEFAULT_EXPECTATIONS)
    assert "jdoe" in render_logs(result, "json").lower()
    redacted = redact_logs(result, Pseudonyms())
    for fmt in ("text", "json", "markdown", "html"):
        out = render_logs(redacted, fmt).lower()
        for identifier in ("jdoe", "contoso", "10.77.0.102"):
            assert identifier not in out, (identifier, fmt)
        assert re.search(r"10\.77\.0\.1(?!\d)", out) is None, fmt
    (phone,) = standalone_document(redacted)["phones"]
    (step,) = phone["timeline"]
    assert step["record"]["username"] == "user1"
    assert step["record"]["client_ip"] == phone["ips"][0] != "10.77.0.102"
