"""The one step after the engine, shared by every command (analyze, live, timeline, logs, …).

Below it the pipeline reads frames into an :class:`~capinspect.engine.Analysis` and
``pipeline.evaluate`` judges the phones; this package does what every command then needs, the
same way for each: TLS keys (``--tls-key``, ``--keylog``), expectations, the server's logs
(``--iis-log``, ``--audit-log``), the selection (``--only``, ``--phone``), redaction
(``--redact``), other outputs (:class:`~capinspect.run.sinks.Sink`: ``--evidence``), the
renderer table (format name → renderer) and the exit status.

* :mod:`~capinspect.run.options` — what a command asks (:class:`RunOptions`), typed;
* :mod:`~capinspect.run.step` — :class:`Step`: keys, logs, selection, redaction, rendering;
* :mod:`~capinspect.run.outcome` — :class:`Outcome`: a judged run and its exit status;
* :mod:`~capinspect.run.render` — the renderer table;
* :mod:`~capinspect.run.sinks` — outputs besides the report;
* :mod:`~capinspect.run.output` — writing the report (stdout or atomically to a file), colour;
* :mod:`~capinspect.run.status` — exit statuses;
* :mod:`~capinspect.run.live` — the live loop (a source → LiveMonitor → lines → the report).

The command line (:mod:`capinspect.cli`) only turns options into :class:`RunOptions` and calls
these.
"""

from capinspect.run.options import Keys, Output, Redaction, RunOptions, Selection, ServerLogs
from capinspect.run.step import Outcome, Step

__all__ = [
    "Keys",
    "Outcome",
    "Output",
    "Redaction",
    "RunOptions",
    "Selection",
    "ServerLogs",
    "Step",
]
