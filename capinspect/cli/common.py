"""What the commands share: the error guard, the progress bar, the options they have in common.

Its own module so that each command's module (cli/analyze.py, cli/live.py, …) imports it rather
than one another. What a command does with its options is the shared step's (capinspect/run/).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from capinspect.errors import CapinspectError
from capinspect.reading import Progress
from capinspect.run.render import Face, formats
from capinspect.run.status import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from capinspect.analysis import Analysis
    from capinspect.report.model import Report
    from capinspect.run.sinks import Sink
    from capinspect.run.step import Step

PROGRESS_MIN_BYTES = 64 * 1024 * 1024

F = TypeVar("F", bound=Callable[..., Any])


def die(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"capinspect: error: {message}", err=True)
    sys.exit(code)


EXIT_STATUS_EPILOG = (
    "\b\nExit status:\n"
    "  0  analysed; at least one phone judged, no fail finding\n"
    "  1  analysed; at least one fail finding\n"
    "  2  usage error or unreadable input\n"
    "  3  internal error in capinspect\n"
    "  4  analysed, nothing could be judged: no phone, or every phone inconclusive"
)
"""The exit status table as ``--help`` shows it (README's "Exit status" says the same)."""


def guarded(func: F) -> F:
    """Turn every error into one line on stderr and a documented exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CapinspectError as exc:
            die(str(exc))
        except KeyboardInterrupt:
            die("interrupted", EXIT_USAGE)
        except BrokenPipeError:
            sys.stderr.close()
            sys.exit(EXIT_OK)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place a bug becomes a clean message
            if os.environ.get("CAPINSPECT_DEBUG"):
                raise
            die(
                f"internal error: {type(exc).__name__}: {exc} (please report it with the capture; "
                "CAPINSPECT_DEBUG=1 shows the traceback)",
                EXIT_INTERNAL,
            )

    return wrapper  # type: ignore[return-value]


REPORT_CHARACTERS = "→←⇢—…"
"""Characters every text report and timeline prints (arrows, dashes)."""


def fit_streams() -> None:
    """Make stdout and stderr able to carry the report's characters.

    On Windows a redirected stdout (``capinspect analyze x.pcap > report.txt``) is encoded in
    the ANSI code page (cp1252), which has no arrows: the first one would end the run with a
    UnicodeEncodeError. A file or pipe gets UTF-8 instead (what editors and tools expect of a
    report); a terminal that cannot show a character gets a replacement, never an error.
    """
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "ascii"
        try:
            REPORT_CHARACTERS.encode(encoding)
            continue
        except (UnicodeEncodeError, LookupError):
            pass
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:  # not a TextIOWrapper (a test runner's stream): left alone
            continue
        if stream.isatty():
            reconfigure(errors="replace")
        else:
            reconfigure(encoding="utf-8")


def progress_bar(paths: Sequence[str], quiet: bool) -> tuple[Progress | None, Callable[[], None]]:
    """A byte progress bar for large inputs, drawn on stderr when stderr is a terminal.

    Always stderr, never stdout: the report goes to stdout (or ``-o``) and must not carry a
    byte of the bar, also when stdout is a file and stderr still the terminal (``capinspect
    analyze big.pcap > report.txt`` shows the bar and writes a clean report)."""
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    try:
        total = sum(Path(p).stat().st_size for p in paths if Path(p).is_file())
    except OSError:
        return None, lambda: None
    if total < PROGRESS_MIN_BYTES:
        return None, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=Console(file=sys.stderr),
    )
    task = bar.add_task("reading", total=total)
    bar.start()

    def update(done: int, whole: int) -> None:
        bar.update(task, completed=done, total=whole or total)

    return update, bar.stop


def read_captures(step: Step, captures: Sequence[str], quiet: bool, jobs: int = 1) -> Analysis:
    """The captures read through ``step`` (its keys), with the progress bar and, unless
    ``quiet``, ``--jobs``' note on stderr."""
    progress, stop = progress_bar(captures, quiet)
    try:
        return step.read(
            captures,
            progress,
            jobs=jobs,
            note=None if quiet else lambda line: click.echo(line, err=True),
        )
    finally:
        stop()


def judge_captures(
    step: Step, captures: Sequence[str], quiet: bool, jobs: int, started: float
) -> Report:
    """``analyze``: the captures read and judged through ``step`` (through the live monitor
    when events are asked for), with the progress bar and, unless ``quiet``, notes."""
    progress, stop = progress_bar(captures, quiet)
    try:
        return step.judge(
            captures,
            progress,
            jobs=jobs,
            note=None if quiet else lambda line: click.echo(line, err=True),
            started=started,
        )
    finally:
        stop()


def note(line: str) -> None:
    """A note on stderr (``capinspect: note: …``)."""
    click.echo(f"capinspect: note: {line}", err=True)


def format_option(face: Face, help_text: str = "Output format.") -> Callable[[F], F]:
    """``--format``, its choices the renderer table's formats with ``face``."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(formats(face)),
        default="text",
        show_default=True,
        help=help_text,
    )


captures_argument = click.argument(
    "captures", nargs=-1, required=True, metavar="CAPTURE...", type=click.Path()
)
output_option = click.option(
    "-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout."
)
color_option = click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="auto: colour on a terminal unless NO_COLOR is set; always: also through a pipe or -o.",
)
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
expect_option = click.option(
    "--expect", "expect_path", metavar="TOML", help="Expected values (see docs/expect.md)."
)
iis_log_option = click.option(
    "--iis-log",
    "iis_logs",
    metavar="FILE",
    multiple=True,
    type=click.Path(),
    help="The server's IIS W3C log (u_ex*.log) or a folder of them; repeatable.",
)
audit_log_option = click.option(
    "--audit-log",
    "audit_logs",
    metavar="FILE",
    multiple=True,
    type=click.Path(),
    help="The Device Update audit log (RequestHandlerAuditLog_*.log) or a folder; repeatable.",
)
tls_key_option = click.option(
    "--tls-key",
    "tls_key_paths",
    metavar="FILE",
    multiple=True,
    help="Server RSA private key (PEM or PFX) to decrypt HTTPS check-ins (RSA key exchange).",
)
tls_key_password_option = click.option(
    "--tls-key-password", metavar="TEXT", help="Password of the --tls-key file(s)."
)
keylog_option = click.option(
    "--keylog", "keylog_path", metavar="FILE", help="NSS key log (SSLKEYLOGFILE) to decrypt TLS."
)
redact_option = click.option(
    "--redact",
    is_flag=True,
    help="Replace MACs (OUI kept), IPs, serials, users and host/domain names by pseudonyms.",
)
keep_names_option = click.option(
    "--keep-names",
    metavar="NAME",
    multiple=True,
    help="With --redact: a host or domain name (and the names under it) to keep; repeatable.",
)


def event_options(command: F) -> F:
    """``--events``, ``--sensor``, ``--syslog`` and ``--syslog-queue`` (docs/events.md): the
    command passes their values to :func:`event_sinks`."""
    from capinspect.events.syslog import DEFAULT_QUEUE

    decorators = [
        click.option(
            "--events",
            "events_path",
            metavar="FILE|-",
            help="Write each phone's state changes as JSON lines (docs/events.md) to FILE "
            "(appended; reopened on SIGHUP) or stdout.",
        ),
        click.option(
            "--sensor",
            metavar="NAME",
            help="This sensor's name in the events.  [default: the host name]",
        ),
        click.option(
            "--syslog",
            "syslog_url",
            metavar="URL",
            help="Also send the events as RFC 5424 syslog: udp://HOST:514, tcp://HOST:514 "
            "(octet-counted) or unix:/dev/log.",
        ),
        click.option(
            "--syslog-queue",
            type=click.IntRange(min=1),
            default=DEFAULT_QUEUE,
            metavar="N",
            help=f"Events held while the collector is away; beyond, dropped and counted.  "
            f"[default: {DEFAULT_QUEUE}]",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def event_sinks(
    events_path: str | None, sensor: str | None, syslog_url: str | None, syslog_queue: int
) -> tuple[Sink, ...]:
    """The step's sink for the events' options (none when neither --events nor --syslog is
    given); a bad --syslog URL is a one-line error, exit status 2."""
    if events_path is None and syslog_url is None:
        return ()  # without loading the event modules, as most runs do
    from capinspect.events.options import EventOptions
    from capinspect.events.syslog import parse_target

    target = parse_target(syslog_url) if syslog_url is not None else None
    sink = EventOptions(events_path, sensor, target, syslog_queue).sink()
    return () if sink is None else (sink,)
