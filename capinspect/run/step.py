"""The step after the engine: what every command does with an analysis, done once.

A command builds a :class:`Step` from its :class:`~capinspect.run.options.RunOptions`, asks it
for the TLS keys to give the engine (:meth:`Step.tls_keys`), hands it the judged report
(:meth:`Step.conclude`: server logs, selection, redaction) and lets it write the result
(:meth:`Step.write`: sinks, the renderer of the format, the file or stdout). An event stream
(``--events``, ``--syslog``: :class:`~capinspect.events.options.EventSink`) follows the live
monitor itself: :meth:`Step.pump` is what ``live``'s loop feeds, and :meth:`Step.judge` reads
``analyze``'s files through it when one is asked for. ``timeline`` and
``logs`` have their own conclusions (:meth:`Step.timeline`, :meth:`Step.logs_alone`) through the
same keys, redaction and renderer table.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from capinspect.errors import CapinspectError
from capinspect.expectations import DEFAULT_EXPECTATIONS, Expectations, load_expectations
from capinspect.run.options import RunOptions
from capinspect.run.outcome import Outcome
from capinspect.run.output import Written, use_color, write_output, write_to_stderr
from capinspect.run.render import RENDERERS, Page, Renderer

if TYPE_CHECKING:
    from capinspect.analysis import Analysis
    from capinspect.checks.base import Verdict
    from capinspect.devices import DeviceSession
    from capinspect.events.options import EventSink
    from capinspect.events.run import EventPump
    from capinspect.live import LiveMonitor
    from capinspect.logs.audit import AuditLog, AuditRecord
    from capinspect.protocols.tls.keys import TlsKeys
    from capinspect.reading import Progress
    from capinspect.report.logs import LogsResult
    from capinspect.report.model import Report
    from capinspect.report.redact import Pseudonyms

__all__ = ["Outcome", "Step"]

_T = TypeVar("_T")


class Step:
    """Keys, expectations, server logs, selection, redaction and rendering for one run.

    Built once a command's options are parsed; raises :class:`CapinspectError` (exit 2) for a
    value no option type could catch (an unknown verdict, a table style without the summary,
    an expect.toml that does not load), in that order."""

    def __init__(self, options: RunOptions) -> None:
        from capinspect.report.model import parse_phones, parse_verdicts

        self.options = options
        out = options.output
        if out.fmt not in RENDERERS:
            raise CapinspectError(f"unknown format {out.fmt!r}")
        self.renderer: Renderer = RENDERERS[out.fmt]
        try:
            self.verdicts: tuple[Verdict, ...] = parse_verdicts(options.selection.verdicts)
            self.phones: tuple[str, ...] = parse_phones(options.selection.phones)
            if out.table_style is not None and out.fmt != "summary":
                raise ValueError("--table-style applies to --format summary only")
            # Only the summary loads tabulate (and the text renderer it borrows from): ~20 ms
            # of a JSON or HTML run's start-up otherwise.
            self.table_style = Page().table_style
            if out.fmt == "summary":
                from capinspect.report.summary import DEFAULT_STYLE, check_style

                self.table_style = check_style(out.table_style or DEFAULT_STYLE)
        except ValueError as exc:
            raise CapinspectError(str(exc)) from None
        self.expect: Expectations = (
            load_expectations(options.expect_path) if options.expect_path else DEFAULT_EXPECTATIONS
        )
        self.names: Pseudonyms | None = None
        self._audit_read: tuple[tuple[AuditLog, ...], tuple[tuple[str, str], ...]] | None = None
        if options.redaction.on:
            from capinspect.report.redact import Pseudonyms

            self.names = Pseudonyms(options.redaction.keep_names)
        self._finished = False

    # -- before the engine ------------------------------------------------------------------

    def tls_keys(self) -> TlsKeys:
        """The keys ``--tls-key`` / ``--keylog`` name, loaded (a bad file: exit 2)."""
        from capinspect.protocols.tls.keys import load_tls_keys

        keys = self.options.keys
        return load_tls_keys(keys.paths, keys.password, keys.keylog)

    def read(
        self,
        captures: Sequence[str],
        progress: Progress | None = None,
        *,
        jobs: int = 1,
        note: Callable[[str], None] | None = None,
    ) -> Analysis:
        """The captures through the engine, with this run's keys and limits (``jobs``:
        ``analyze --jobs``, see ``pipeline.analyze_paths``)."""
        from capinspect.pipeline import analyze_paths

        return analyze_paths(
            captures,
            self.options.limits,
            progress,
            tls_keys=self.tls_keys(),
            jobs=jobs,
            note=note,
        )

    def judge(
        self,
        captures: Sequence[str],
        progress: Progress | None = None,
        *,
        jobs: int = 1,
        note: Callable[[str], None] | None = None,
        started: float | None = None,
    ) -> Report:
        """The captures read and judged (``analyze``): through the engine (:meth:`read`, then
        :meth:`evaluate`), or, with an event stream, through the live monitor and its pump
        (the same report, and the events ``live`` gives for the same frames). ``started``: a
        ``time.monotonic()`` the report's elapsed time counts from."""
        import time

        def elapsed() -> float:
            return 0.0 if started is None else time.monotonic() - started

        if self.event_stream() is None:
            analysis = self.read(captures, progress, jobs=jobs, note=note)
            return self.evaluate(analysis, elapsed=None if started is None else elapsed())
        from capinspect.events.run import analyze_with_events

        if jobs != 1 and note is not None:
            note(
                "capinspect: note: --jobs is not used with --events (the frames go through"
                " the live monitor in order, docs/events.md)"
            )
        return analyze_with_events(
            captures,
            self.expect,
            self.options.limits,
            self.pump,
            tls_keys=self.tls_keys(),
            progress=progress,
            elapsed=None if started is None else elapsed,
        )

    # -- an event stream --------------------------------------------------------------------

    def event_stream(self) -> EventSink | None:
        """The sink of ``--events`` / ``--syslog``, if one was asked for."""
        if not self.options.sinks:
            return None  # without loading the event modules, as most runs do
        from capinspect.events.options import EventSink

        return next((s for s in self.options.sinks if isinstance(s, EventSink)), None)

    @property
    def stdout_taken(self) -> bool:
        """Events go to stdout (``--events -``): the report and the live lines go to stderr."""
        stream = self.event_stream()
        return stream is not None and stream.to_stdout

    def pump(self, monitor: LiveMonitor, interfaces: Sequence[str] = ()) -> EventPump:
        """What the run feeds in place of ``monitor``: it passes every call on and, with an
        event stream, builds the events (rewritten with the run's pseudonyms under
        ``--redact``) and hands them to its outputs. ``interfaces``: where the frames come
        from (several: each frame's ``source`` is its interface's position)."""
        stream = self.event_stream()
        if stream is None:
            from capinspect.events.options import EventOptions

            return EventOptions().pump(monitor, interfaces)
        return stream.follow(monitor, interfaces, self._event_redactor)

    def _event_redactor(self, monitor: LiveMonitor) -> Callable[[list[dict[str, Any]]], Any]:
        """Under ``--redact``: a burst of events with the run's pseudonyms, the phones they
        are about registered first (their serials and names are not in the events' words)."""

        def redact(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if self.names is None:
                return events
            keys = {event["capinspect"]["device"] for event in events}
            self.learn(tuple(monitor.devices[k] for k in sorted(keys) if k in monitor.devices))
            return self.redact(events)

        return redact

    # -- after the engine -------------------------------------------------------------------

    def evaluate(self, analysis: Analysis, elapsed: float | None = None) -> Report:
        """Checks and verdicts; ``--audit-log`` rows fill in the encrypted check-ins no key
        opened (``logs/fill.py``), in every command that judges phones."""
        from capinspect.pipeline import evaluate

        return evaluate(
            analysis,
            self.expect,
            elapsed=elapsed,
            limits=self.options.limits,
            audit=self.audit_rows(),
        )

    def audit_logs(self) -> tuple[tuple[AuditLog, ...], tuple[tuple[str, str], ...]]:
        """The ``--audit-log`` files read once a run: the logs, and the unreadable files with
        why. The fill (``evaluate``) and the logs report (``conclude``) share them."""
        if self._audit_read is None:
            from capinspect.logs.fill import read_audit_logs

            self._audit_read = read_audit_logs(self.options.logs.audit)
        return self._audit_read

    def audit_rows(self) -> tuple[AuditRecord, ...]:
        """Every readable row of the ``--audit-log`` files."""
        logs, _unreadable = self.audit_logs()
        return tuple(row for log in logs for row in log.records)

    def redact(self, value: _T) -> _T:
        """``value`` with the run's pseudonyms (itself without ``--redact``): a live line, a
        report and the logs beside it get the same pseudonym for the same identifier."""
        if self.names is None:
            return value
        from capinspect.report.redact import redact_also

        return redact_also(value, self.names)

    def learn(self, value: object) -> None:
        """Under ``--redact``, register the identifiers of ``value`` without rewriting it, so
        that what is redacted next knows them (a live step's words name a host that only the
        session around it says is one)."""
        if self.names is not None:
            from capinspect.report.redact import register

            register(value, self.names)

    def conclude(self, report: Report, note: Callable[[str], None] | None = None) -> Outcome:
        """Server logs (correlated with the report's phones), selection, redaction.

        ``note`` is told, in one line each, of a ``--phone`` that is in no phone."""
        from capinspect.report.model import select_devices

        server_logs = None
        if self.options.logs.given:
            from capinspect.report.logs import load_logs

            sessions = tuple(d.session for d in report.devices)
            logs = self.options.logs
            server_logs = load_logs(
                logs.iis, logs.audit, self.expect, sessions, audit_read=self.audit_logs()
            )
        selected = select_devices(report, self.verdicts, self.phones)
        if note is not None:
            for phone in self.phones:
                if not select_devices(report, (), (phone,)).devices:
                    note(f"no phone in the capture is {phone}")
        shown = self.redact(selected)
        if server_logs is not None and self.names is not None:
            from capinspect.report.logs import redact_logs

            server_logs = redact_logs(server_logs, self.names)
        return Outcome(report, selected, shown, server_logs, self.names)

    def timeline(self, analysis: Analysis) -> tuple[Analysis, tuple[DeviceSession, ...]]:
        """The phones' sessions for the ladder; under ``--redact`` with the pseudonyms
        ``analyze --redact`` gives (redaction walks a whole report)."""
        if self.names is None and not self.audit_rows():
            from capinspect.devices import build_devices

            return analysis, build_devices(analysis)
        shown = self.redact(self.evaluate(analysis))
        return shown.analysis, tuple(d.session for d in shown.devices)

    def logs_alone(self) -> LogsResult:
        """``capinspect logs``: the server's logs without a capture, redacted if asked."""
        from capinspect.report.logs import load_logs, redact_logs

        logs = self.options.logs
        if not logs.given:
            raise CapinspectError("give at least one --iis-log or --audit-log")
        result = load_logs(logs.iis, logs.audit, self.expect, audit_read=self.audit_logs())
        return result if self.names is None else redact_logs(result, self.names)

    # -- rendering and writing --------------------------------------------------------------

    def page(self, extra: Mapping[str, Any] | None = None, trailer: str = "") -> Page:
        out = self.options.output
        stream = sys.stderr if self.stdout_taken else sys.stdout
        width = 100
        if out.to_stdout and stream.isatty():
            width = shutil.get_terminal_size().columns
        return Page(
            color=use_color(out.color, stream, out.path),
            width=max(80, min(width, 160)),
            table_style=self.table_style,
            extra=dict(extra or {}),
            trailer=trailer,
        )

    def render(
        self, outcome: Outcome, extra: Mapping[str, Any] | None = None, trailer: str = ""
    ) -> Written:
        return self.renderer.report(outcome.shown, outcome.logs, self.page(extra, trailer))

    def write(
        self,
        outcome: Outcome,
        inputs: Sequence[str],
        extra: Mapping[str, Any] | None = None,
        trailer: str = "",
    ) -> None:
        """Every sink's :meth:`~capinspect.run.sinks.Sink.finish` (:meth:`finish`), then the
        report in its format to ``-o`` or stdout (never over one of ``inputs``; stderr when
        the events have stdout)."""
        self.finish(outcome)
        written = self.render(outcome, extra, trailer)
        if self.stdout_taken and self.options.output.to_stdout:
            write_to_stderr(written)
        else:
            write_output(written, self.options.output.path, inputs)

    def finish(self, outcome: Outcome) -> None:
        """Every sink's :meth:`~capinspect.run.sinks.Sink.finish`, once (``live`` calls it
        before it reads the event stream's final counts into its report)."""
        if self._finished:
            return
        self._finished = True
        for sink in self.options.sinks:
            sink.finish(outcome)

    def write_timeline(
        self, analysis: Analysis, devices: tuple[DeviceSession, ...], inputs: Sequence[str]
    ) -> None:
        render = self.renderer.timeline
        if render is None:
            raise CapinspectError(f"a timeline has no {self.renderer.name} format")
        write_output(render(analysis, devices, self.page()), self.options.output.path, inputs)

    def write_logs(self, result: LogsResult, inputs: Sequence[str]) -> None:
        render = self.renderer.logs
        if render is None:
            raise CapinspectError(f"the logs have no {self.renderer.name} format")
        write_output(render(result), self.options.output.path, inputs)
