"""What a command asks of the step after the engine: typed values, filled from the options.

Each command's options map onto these one for one (docs/architecture.md, "The step after the
engine"); a new output (an event stream, a syslog target) is a :class:`~capinspect.run.sinks.Sink`
in :attr:`RunOptions.sinks`, so it reaches every command without a change to the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from capinspect.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from capinspect.run.sinks import Sink


@dataclass(frozen=True, slots=True)
class Keys:
    """TLS keys to decrypt HTTPS check-ins: server RSA keys (``--tls-key``, PEM or PFX, with
    ``--tls-key-password``) and an NSS key log (``--keylog``)."""

    paths: tuple[str, ...] = ()
    password: str | None = None
    keylog: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.paths or self.keylog)


@dataclass(frozen=True, slots=True)
class ServerLogs:
    """The server's IIS W3C logs (``--iis-log``) and Device Update audit logs
    (``--audit-log``): files or folders."""

    iis: tuple[str, ...] = ()
    audit: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        return bool(self.iis or self.audit)

    @property
    def paths(self) -> tuple[str, ...]:
        return (*self.iis, *self.audit)


@dataclass(frozen=True, slots=True)
class Redaction:
    """``--redact``: identifiers replaced by pseudonyms; ``--keep-names``: names left as
    they are (with the names under them)."""

    on: bool = False
    keep_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Selection:
    """``--only`` (verdicts) and ``--phone`` (MAC or IP): which phones are shown. The exit
    status still judges every phone."""

    verdicts: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Output:
    """The report: its format (a name in :data:`capinspect.run.render.RENDERERS`), where it
    goes (``-o``; None or ``-``: stdout), colour and the summary's table style."""

    fmt: str = "text"
    path: str | None = None
    color: str = "auto"
    table_style: str | None = None

    @property
    def to_stdout(self) -> bool:
        return self.path in (None, "-")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything the step after the engine needs from a command's options."""

    keys: Keys = Keys()
    expect_path: str | None = None
    """``--expect``: an expect.toml; None: the built-in defaults."""
    logs: ServerLogs = ServerLogs()
    selection: Selection = Selection()
    redaction: Redaction = Redaction()
    output: Output = Output()
    limits: Limits = DEFAULT_LIMITS
    quiet: bool = False
    """``-q``: no progress bar and no notes on stderr."""
    sinks: tuple[Sink, ...] = field(default=())
    """Outputs besides the report (``--evidence``; event streams), told of the run's events and
    given its outcome."""
