"""The bundled captures (pcaps/) as reports, each analysed once per test session.

HTTPS captures are read with their lab server key (``pcaps/<name>.key.pem``), as a user who has
the key would, so their check-ins and offered URLs are in the report too.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from locations import PCAPS, lab_captures

from capinspect.expectations import Expectations
from capinspect.pipeline import analyze_paths, evaluate
from capinspect.protocols.tls.keys import NO_KEYS, load_tls_keys
from capinspect.report.model import Report

CAPTURES: list[Path] = lab_captures()

URL = re.compile(r"https?://\S+", re.I)


@cache
def bundled_report(capture: Path) -> Report:
    key = PCAPS / (capture.name.split(".")[0] + ".key.pem")
    keys = load_tls_keys([str(key)]) if key.exists() else NO_KEYS
    return evaluate(analyze_paths([str(capture)], tls_keys=keys), Expectations())


def offered_urls(report: Report) -> list[str]:
    """Every URL a check-in response offered a phone, as the service wrote it."""
    urls = []
    for item in report.devices:
        for checkin in item.session.checkins:
            for module in checkin.offered:
                for url in (module.internal_url, module.url, module.external_url):
                    if url and url not in urls:
                        urls.append(url)
    return urls
