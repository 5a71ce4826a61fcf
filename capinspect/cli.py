"""The command line: thin. Options → pipeline → renderer → exit code.

Exit status (stable, for scripts):
  0  analysed; no fail finding
  1  analysed; at least one fail finding
  2  usage error or unusable input (one line on stderr, never a traceback)
  3  internal error in capinspect (one line; set CAPINSPECT_DEBUG=1 for the traceback)
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
    EXIT_FAIL,
    EXIT_OK,
    audit_log_option,
    captures_argument,
    color_option,
    expect_option,
    expectations_from,
    fit_streams,
    format_option,
    guarded,
    iis_log_option,
    output_option,
    progress_bar,
    quiet_option,
    use_color,
    write_output,
)
from capinspect.cli_live import live
from capinspect.cli_logs import logs as _logs_command
from capinspect.errors import CapinspectError
from capinspect.expectations import DEFAULT_EXPECTATIONS
from capinspect.limits import DEFAULT_LIMITS
from capinspect.pipeline import analyze_paths, evaluate


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="capinspect")
def main() -> None:
    """Why does this Communicator / Lync Phone Edition phone not get its firmware?

    capinspect reads packet captures (pcap, pcapng, gzip/zstd) of phones booting, rebuilds
    each phone's DHCP, ucupdates-r2 DNS, ucdevice.upx check-in and firmware downloads, and
    says per phone what is wrong and what to fix.
    """
    fit_streams()


@main.command()
@captures_argument
@expect_option
@click.option(
    "--tls-key",
    "tls_key_paths",
    metavar="FILE",
    multiple=True,
    help="Server RSA private key (PEM or PFX) to decrypt HTTPS check-ins (RSA key exchange).",
)
@click.option("--tls-key-password", metavar="TEXT", help="Password of the --tls-key file(s).")
@click.option(
    "--keylog", "keylog_path", metavar="FILE", help="NSS key log (SSLKEYLOGFILE) to decrypt TLS."
)
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
@click.option(
    "--redact",
    is_flag=True,
    help="Replace MACs (OUI kept), IPs, serials, users and host/domain names by pseudonyms.",
)
@click.option(
    "--keep-names",
    metavar="NAME",
    multiple=True,
    help="With --redact: a host or domain name (and the names under it) to keep; repeatable.",
)
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

    Exit status: 0 no fail finding, 1 at least one, 2 bad usage or unreadable input. It is
    computed over every phone of the capture, also when --only or --phone show fewer.
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
        from capinspect.logs.report import load_logs

        if redact:
            raise CapinspectError("--redact does not cover --iis-log/--audit-log (yet)")
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
        if server_logs is not None:
            from capinspect.logs.report import logs_document

            extra = {"logs": logs_document(server_logs)}

        def write_json(out: TextIO) -> None:
            write_report(shown, out, extra)

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
                color=use_color(color, sys.stdout) and to_terminal,
                width=max(80, min(width, 160)),
            )
        if server_logs is not None and fmt != "summary":  # the summary stays one line a phone
            from capinspect.logs.report import with_logs

            text = with_logs(text, fmt, server_logs)
        output_text = text
    write_output(output_text, output, captures)
    logs_fail = server_logs is not None and server_logs.has_fail
    sys.exit(EXIT_FAIL if report.has_fail or logs_fail else EXIT_OK)


@main.command()
@captures_argument
@format_option
@output_option
@color_option
@quiet_option
@guarded
def timeline(
    captures: tuple[str, ...], fmt: str, output: str | None, color: str, quiet: bool
) -> None:
    """Print each phone's boot as a ladder: one line per step, with frame numbers."""
    from capinspect.devices import build_devices

    progress, stop = progress_bar(captures, quiet)
    try:
        analysis = analyze_paths(captures, DEFAULT_LIMITS, progress)
    finally:
        stop()
    devices = build_devices(analysis)
    if fmt == "json":
        from capinspect.report.json import dumps, timeline_document

        text = dumps(timeline_document(analysis, devices))
    else:
        from capinspect.report.text import render_timeline

        to_terminal = output in (None, "-")
        text = render_timeline(
            analysis, devices, color=use_color(color, sys.stdout) and to_terminal
        )
    write_output(text, output, captures)


@main.command()
@captures_argument
@click.option(
    "-o", "--output", metavar="FILE", required=True, help="Where to write the expect.toml."
)
@quiet_option
@guarded
def baseline(captures: tuple[str, ...], output: str, quiet: bool) -> None:
    """Write expectations (expect.toml) from a capture of a phone that works."""
    from capinspect.baseline import baseline_from
    from capinspect.expectations import dump_expectations

    analysis = analyze_paths(captures, DEFAULT_LIMITS)
    report = evaluate(analysis, DEFAULT_EXPECTATIONS)
    if not report.devices:
        raise CapinspectError("no phone found in the capture: nothing to take a baseline from")
    expect = baseline_from(report)
    unhealthy = [d for d in report.devices if str(d.verdict.verdict) not in ("pass",)]
    header = (
        f"capinspect {__version__} baseline from {', '.join(captures)}\n"
        f"{len(report.devices)} phone(s); use with: capinspect analyze --expect {output} CAPTURE"
    )
    write_output(dump_expectations(expect, header), output, captures)
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
    """Explain a check ID, an IIS status (500.19), a Last Update Status (0x2f7d/200)."""
    from capinspect.explain import explain as explain_term

    click.echo(explain_term(term))


@main.command(name="checks")
@guarded
def list_checks() -> None:
    """List every check with its ID, severity and title."""
    from capinspect.checks import ALL_SPECS

    for spec in ALL_SPECS:
        click.echo(f"{spec.id:<34} {spec.severity:<5} {spec.title}")


main.add_command(live)
main.add_command(_logs_command)

if __name__ == "__main__":  # pragma: no cover
    main()
