"""The command line: thin. Options → pipeline → renderer → exit code.

Exit status (stable, for scripts; cli_common.exit_status):
  0  analysed; at least one phone judged, no fail finding
  1  analysed; at least one fail finding
  2  usage error or unusable input (one line on stderr, never a traceback)
  3  internal error in capinspect (one line; set CAPINSPECT_DEBUG=1 for the traceback)
  4  analysed, nothing could be judged: no phone in the capture, or every phone inconclusive
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from capinspect import __version__
from capinspect.cli_common import (
    EXIT_STATUS_EPILOG,
    audit_log_option,
    captures_argument,
    color_option,
    exit_status,
    expect_option,
    expectations_from,
    fit_streams,
    format_option,
    guarded,
    iis_log_option,
    keep_names_option,
    keylog_option,
    output_option,
    progress_bar,
    quiet_option,
    redact_option,
    tls_key_option,
    tls_key_password_option,
    use_color,
    write_output,
)
from capinspect.cli_live import live
from capinspect.cli_logs import logs as _logs_command
from capinspect.errors import CapinspectError
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.limits import DEFAULT_LIMITS
from capinspect.pipeline import analyze_paths, evaluate


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_STATUS_EPILOG,
)
@click.version_option(__version__, prog_name="capinspect")
def main() -> None:
    """Why does this Communicator / Lync Phone Edition phone not get its firmware?

    capinspect reads packet captures (pcap, pcapng, gzip/zstd) of phones booting, rebuilds
    each phone's DHCP, ucupdates-r2 DNS, ucdevice.upx check-in and firmware downloads, and
    says per phone what is wrong and what to fix.
    """
    fit_streams()


@main.command(epilog=EXIT_STATUS_EPILOG)
@captures_argument
@expect_option
@tls_key_option
@tls_key_password_option
@keylog_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "html", "summary"]),
    default="text",
    show_default=True,
    help="Output format (markdown and html: ticket-ready; summary: one line per phone; "
    "see docs/reports.md).",
)
@click.option(
    "--table-style",
    metavar="NAME",
    help="With --format summary: a tabulate table format (plain, simple, github, grid, pipe, "
    "…).  [default: simple]",
)
@click.option(
    "--only",
    "only",
    metavar="VERDICT[,…]",
    multiple=True,
    help="Show only phones with these verdicts (fail, warn, inconclusive, pass); repeatable. "
    "The exit status still judges every phone.",
)
@click.option(
    "--phone",
    "phones",
    metavar="MAC|IP",
    multiple=True,
    help="Show only this phone (MAC in any spelling, or any of its IP addresses); repeatable. "
    "The exit status still judges every phone.",
)
@output_option
@color_option
@quiet_option
@redact_option
@keep_names_option
@click.option(
    "--evidence",
    metavar="FILE.pcapng",
    help="Also write the phones' frames, with their findings as comments, to FILE.pcapng.",
)
@iis_log_option
@audit_log_option
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Analyse capture files that are apart in time in up to N processes (0: one per CPU).",
)
@guarded
def analyze(
    captures: tuple[str, ...],
    expect_path: str | None,
    tls_key_paths: tuple[str, ...],
    tls_key_password: str | None,
    keylog_path: str | None,
    fmt: str,
    table_style: str | None,
    only: tuple[str, ...],
    phones: tuple[str, ...],
    output: str | None,
    color: str,
    quiet: bool,
    redact: bool,
    keep_names: tuple[str, ...],
    evidence: str | None,
    iis_logs: tuple[str, ...],
    audit_logs: tuple[str, ...],
    jobs: int,
) -> None:
    """Check each phone's boot in CAPTURE... and give a verdict per phone.

    Phones are listed failing first (then warn, inconclusive, pass).

    Exit status: 0 no fail finding, 1 at least one, 2 bad usage or unreadable input, 4 nothing
    could be judged (no phone, or every phone inconclusive). It is computed over every phone of
    the capture, also when --only or --phone show fewer.
    """
    from capinspect.report.model import parse_phones, parse_verdicts, select_devices
    from capinspect.report.summary import DEFAULT_STYLE, check_style

    try:
        wanted_verdicts, wanted_phones = parse_verdicts(only), parse_phones(phones)
        if table_style is not None and fmt != "summary":
            raise ValueError("--table-style applies to --format summary only")
        style = check_style(table_style or DEFAULT_STYLE)
    except ValueError as exc:
        raise CapinspectError(str(exc)) from None
    expect = expectations_from(expect_path)
    from capinspect.protocols.tls.keys import load_tls_keys

    tls_keys = load_tls_keys(tls_key_paths, tls_key_password, keylog_path)
    started = time.monotonic()
    progress, stop = progress_bar(captures, quiet)
    try:
        analysis = analyze_paths(
            captures,
            DEFAULT_LIMITS,
            progress,
            tls_keys=tls_keys,
            jobs=jobs or os.cpu_count() or 1,
            note=None if quiet else lambda line: click.echo(line, err=True),
        )
    finally:
        stop()
    report = evaluate(analysis, expect, elapsed=time.monotonic() - started)
    server_logs = None
    if iis_logs or audit_logs:
        from capinspect.report.logs import load_logs

        sessions = tuple(d.session for d in report.devices)
        server_logs = load_logs(iis_logs, audit_logs, expect, sessions)
    # What is shown (and written as evidence) is the selection; the exit status below still
    # reads ``report``, every phone.
    selected = select_devices(report, wanted_verdicts, wanted_phones)
    if not quiet:
        for phone in wanted_phones:
            if not select_devices(report, (), (phone,)).devices:
                click.echo(f"capinspect: note: no phone in the capture is {phone}", err=True)
    shown, pseudonyms = selected, None
    if redact:
        from capinspect.report.redact import redact_report

        shown, pseudonyms = redact_report(selected, keep_names)
        if server_logs is not None:
            from capinspect.report.logs import redact_logs

            server_logs = redact_logs(server_logs, pseudonyms)
    if evidence:
        from capinspect.report.evidence import write_evidence

        if any(
            Path(c).exists() and Path(c).resolve() == Path(evidence).resolve() for c in captures
        ):
            raise CapinspectError(f"refusing to overwrite the input file {evidence} with evidence")
        write_evidence(selected, captures, evidence, pseudonyms)
    output_text: str | Callable[[TextIO], None]
    if fmt == "json":
        from capinspect.report.json import write_report

        extra = None
        device_extra = None
        if server_logs is not None:
            from capinspect.report.logs import device_logs, logs_document

            extra = {"logs": logs_document(server_logs)}
            device_extra = device_logs(server_logs)

        def write_json(out: TextIO) -> None:
            write_report(shown, out, extra, device_extra)

        output_text = write_json
    else:
        if fmt == "markdown":
            from capinspect.report.markdown import render_markdown

            text = render_markdown(shown)
        elif fmt == "html":
            from capinspect.report.html import render_html

            text = render_html(shown)
        elif fmt == "summary":
            from capinspect.report.summary import render_summary

            text = render_summary(shown, style)
        else:
            from capinspect.report.text import render_analyze

            to_terminal = output in (None, "-")
            width = (
                shutil.get_terminal_size().columns if to_terminal and sys.stdout.isatty() else 100
            )
            text = render_analyze(
                shown,
                color=use_color(color, sys.stdout, output),
                width=max(80, min(width, 160)),
            )
        if server_logs is not None and fmt != "summary":  # the summary stays one line a phone
            from capinspect.report.logs import with_logs

            text = with_logs(text, fmt, server_logs)
        output_text = text
    write_output(output_text, output, captures)
    logs_fail = server_logs is not None and server_logs.has_fail
    verdicts = [d.verdict.verdict for d in report.devices]
    if server_logs is not None:
        verdicts += [p.verdict for p in server_logs.phones]
    sys.exit(exit_status(report.has_fail or logs_fail, verdicts))


@main.command()
@captures_argument
@tls_key_option
@tls_key_password_option
@keylog_option
@format_option
@output_option
@color_option
@quiet_option
@redact_option
@keep_names_option
@guarded
def timeline(
    captures: tuple[str, ...],
    tls_key_paths: tuple[str, ...],
    tls_key_password: str | None,
    keylog_path: str | None,
    fmt: str,
    output: str | None,
    color: str,
    quiet: bool,
    redact: bool,
    keep_names: tuple[str, ...],
) -> None:
    """Print each phone's boot as a ladder: one line per step, with frame numbers.

    With --tls-key or --keylog the HTTPS check-ins are decrypted and their steps shown, as in
    `analyze`; --redact gives the same pseudonyms `analyze --redact` gives.
    """
    from capinspect.devices import build_devices
    from capinspect.protocols.tls.keys import load_tls_keys

    tls_keys = load_tls_keys(tls_key_paths, tls_key_password, keylog_path)
    progress, stop = progress_bar(captures, quiet)
    try:
        analysis = analyze_paths(captures, DEFAULT_LIMITS, progress, tls_keys=tls_keys)
    finally:
        stop()
    if redact:
        # Redaction works on a whole report (it walks the analysis and the sessions), so the
        # ladder shows exactly the pseudonyms of `analyze --redact` for the same capture.
        from capinspect.report.redact import redact_report

        shown, _ = redact_report(evaluate(analysis, DEFAULT_EXPECTATIONS), keep_names)
        analysis, devices = shown.analysis, tuple(d.session for d in shown.devices)
    else:
        devices = build_devices(analysis)
    if fmt == "json":
        from capinspect.report.json import dumps, timeline_document

        text = dumps(timeline_document(analysis, devices))
    else:
        from capinspect.report.text import render_timeline

        text = render_timeline(analysis, devices, color=use_color(color, sys.stdout, output))
    write_output(text, output, captures)


@main.command()
@captures_argument
@click.option(
    "-o", "--output", metavar="FILE", required=True, help="Where to write the expect.toml."
)
@tls_key_option
@tls_key_password_option
@keylog_option
@click.option(
    "--partial",
    is_flag=True,
    help="Write the baseline even when encrypted check-ins hide some of its values.",
)
@quiet_option
@guarded
def baseline(
    captures: tuple[str, ...],
    output: str,
    tls_key_paths: tuple[str, ...],
    tls_key_password: str | None,
    keylog_path: str | None,
    partial: bool,
    quiet: bool,
) -> None:
    """Write expectations (expect.toml) from a capture of a phone that works.

    An HTTPS check-in is read only with the server key (--tls-key) or a key log (--keylog);
    without one, the Server Version, update URLs and target firmware cannot be taken, and
    baseline refuses (exit 2) unless --partial says to write only what was seen.
    """
    from capinspect.baseline import baseline_from, coverage
    from capinspect.expectations import dump_expectations
    from capinspect.protocols.tls.keys import load_tls_keys

    tls_keys = load_tls_keys(tls_key_paths, tls_key_password, keylog_path)
    progress, stop = progress_bar(captures, quiet)
    try:
        analysis = analyze_paths(captures, DEFAULT_LIMITS, progress, tls_keys=tls_keys)
    finally:
        stop()
    report = evaluate(analysis, DEFAULT_EXPECTATIONS)
    if not report.devices:
        raise CapinspectError("no phone found in the capture: nothing to take a baseline from")
    expect = baseline_from(report)
    seen = coverage(report, expect)
    missing = ", ".join(seen.missing)
    how = (
        "give the server key (--tls-key FILE.pem|.pfx) or a key log (--keylog FILE)"
        if not (tls_key_paths or keylog_path)
        else "the key(s) given did not decrypt it (see docs/tls.md)"
    )
    if seen.partial and not partial:
        raise CapinspectError(
            f"the check-in of {len(seen.encrypted)} phone(s) is encrypted, so the baseline would "
            f"lack {missing}: {how}, or add --partial to write only what was seen"
        )
    unhealthy = [d for d in report.devices if str(d.verdict.verdict) not in ("pass",)]
    header = (
        f"capinspect {__version__} baseline from {', '.join(captures)}\n"
        f"{len(report.devices)} phone(s); use with: capinspect analyze --expect {output} CAPTURE"
    )
    if seen.partial:
        header += (
            f"\nPARTIAL: the check-in of {len(seen.encrypted)} phone(s) was encrypted; "
            f"not in this file: {missing} (analyze does not compare them)"
        )
    write_output(dump_expectations(expect, header), output, captures)
    if seen.partial:
        click.echo(
            f"capinspect: warning: partial baseline: the check-in of {len(seen.encrypted)} "
            f"phone(s) is encrypted, so {missing} are not in {output}; {how}",
            err=True,
        )
    if unhealthy:
        click.echo(
            f"capinspect: warning: {len(unhealthy)} phone(s) in the baseline capture are not "
            "healthy (verdict not pass); check the values written",
            err=True,
        )
    click.echo(f"wrote {output}", err=True)


@main.command()
@click.argument("term")
@guarded
def explain(term: str) -> None:
    """Explain a check ID, an IIS status or log line, an error code, a Last Update Status.

    \b
    TERM is what capinspect prints or what you paste:
      check ID            download.acl-denied
      IIS status          500.19, "HTTP Error 500.19 - Internal Server Error", 404
      IIS log fields      "500 19 5" or "500 19 5 62" (status substatus win32 time-taken)
      HRESULT             0x80070005 (an IIS error page's Error Code)
      Win32 status        5, ERROR_ACCESS_DENIED
      WinInet error       12007, 0x2ee7, ERROR_INTERNET_NAME_NOT_RESOLVED
      Last Update Status  0x2f7d/200, 0x0/200, 0x00/0 (from the phone's About screen)
    """
    from capinspect.explain import explain as explain_term

    click.echo(explain_term(term))


@main.command(name="checks")
@guarded
def list_checks() -> None:
    """List every check with its ID, severity and title.

    The severity is the one `explain` and docs/checks.md give; a report may show a finding one
    step lower where its evidence is weaker (the check's explanation says when), never higher.
    """
    from capinspect.checks import ALL_SPECS

    for spec in ALL_SPECS:
        click.echo(f"{spec.id:<34} {spec.severity:<5} {spec.title}")


main.add_command(live)
main.add_command(_logs_command)

if __name__ == "__main__":  # pragma: no cover
    main()
