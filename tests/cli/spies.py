"""Spies on the shared step after the engine (capinspect/run/), for the per-command tests that
prove each command takes its keys, redaction and formats from it (fixtures in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from click.testing import CliRunner, Result
from locations import PCAPS
from replay import FileSource

from capinspect.cli import main
from capinspect.run.render import RENDERERS, Renderer
from capinspect.run.step import Step

HTTPS = str(PCAPS / "https-healthy.pcap")
KEYLOG = str(PCAPS / "https-healthy.keylog")
KEY_PEM = str(PCAPS / "https-healthy.key.pem")
PHONE_MAC = "00:21:63:0f:a5:01"
PHONE_IP = "10.77.0.131"

STEP_METHODS = (
    "tls_keys",
    "redact",
    "conclude",
    "timeline",
    "logs_alone",
    "write",
    "write_timeline",
    "write_logs",
)


@dataclass
class StepSpy:
    """What the commands asked of the shared step, and what its renderers were given."""

    calls: list[str] = field(default_factory=list)
    rendered: list[tuple[str, str, tuple[Any, ...]]] = field(default_factory=list)
    """(format, face, arguments) for each renderer called."""


def _recording(spy: StepSpy, name: str, face: str) -> Callable[..., str]:
    def render(*args: Any) -> str:
        spy.rendered.append((name, face, args))
        return f"<{name} {face}>\n"

    return render


def spy_on_step(monkeypatch: pytest.MonkeyPatch) -> StepSpy:
    """Every Step method the commands use records its call; every renderer of the table is
    replaced by one that records its arguments and writes ``<format face>``."""
    spy = StepSpy()
    for method in STEP_METHODS:
        original = getattr(Step, method)

        def wrapper(
            self: Step, *args: Any, _original: Any = original, _name: str = method, **kw: Any
        ) -> Any:
            spy.calls.append(_name)
            return _original(self, *args, **kw)

        monkeypatch.setattr(Step, method, wrapper)
    for name, renderer in list(RENDERERS.items()):
        monkeypatch.setitem(
            RENDERERS,
            name,
            Renderer(
                name,
                _recording(spy, name, "report"),
                _recording(spy, name, "logs") if renderer.logs else None,
                _recording(spy, name, "timeline") if renderer.timeline else None,
            ),
        )
    return spy


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def replay_files_as_interfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """``capinspect live -i FILE`` replays FILE in-process (no socket, no privilege)."""
    monkeypatch.setattr("capinspect.run.live.LiveSource", FileSource)
