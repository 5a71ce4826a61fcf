"""Log files named by Windows paths: findings cite ``u_ex090306.log:12``, not the whole path."""

from __future__ import annotations

import pytest
from locations import PCAPS

from capinspect.logs.audit import parse_audit_lines
from capinspect.logs.files import file_label
from capinspect.logs.iis import parse_iis_lines


@pytest.mark.parametrize(
    ("path", "label"),
    [
        (r"C:\inetpub\logs\LogFiles\W3SVC1\u_ex090306.log", "u_ex090306.log"),
        (r"D:\logs/W3SVC1\u_ex090306.log", "u_ex090306.log"),
        (
            r"\\ocs-share\DeviceUpdateFiles\Logs\RequestHandlerAuditLog_ocs_20090306.log",
            "RequestHandlerAuditLog_ocs_20090306.log",
        ),
        ("/var/tmp/case-17/u_ex090306.log", "u_ex090306.log"),
        ("u_ex090306.log", "u_ex090306.log"),
        ("<text>", "<text>"),
    ],
)
def test_file_label_cuts_either_separator(path: str, label: str) -> None:
    assert file_label(path) == label


def test_records_of_a_windows_path_cite_the_file_name() -> None:
    iis = parse_iis_lines(
        (PCAPS / "acl-denied.iis.log").read_text(encoding="utf-8").splitlines(),
        r"C:\inetpub\logs\LogFiles\W3SVC1\u_ex261129.log",
    )
    assert iis.records and all(r.where.startswith("u_ex261129.log:") for r in iis.records)
    audit = parse_audit_lines(
        (PCAPS / "acl-denied.audit.log").read_text(encoding="utf-8").splitlines(),
        r"C:\Program Files\Microsoft Office Communications Server 2007 R2\Web Components"
        r"\DeviceUpdateFiles\Logs\Server\Audit\imageUpdates\RequestHandlerAuditLog_ocs_261129.log",
    )
    assert audit.records
    assert all(r.where.startswith("RequestHandlerAuditLog_ocs_261129.log:") for r in audit.records)
