"""``capinspect baseline``: expectations (expect.toml) from a capture of a phone that works."""

from __future__ import annotations

import click

from capinspect import __version__
from capinspect.cli.common import (
    captures_argument,
    guarded,
    keylog_option,
    quiet_option,
    read_captures,
    tls_key_option,
    tls_key_password_option,
)
from capinspect.errors import CapinspectError
from capinspect.run import Keys, RunOptions, Step
from capinspect.run.output import write_output


@click.command()
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

    keys = Keys(tls_key_paths, tls_key_password, keylog_path)
    step = Step(RunOptions(keys=keys, quiet=quiet))
    report = step.evaluate(read_captures(step, captures, quiet))
    if not report.devices:
        raise CapinspectError("no phone found in the capture: nothing to take a baseline from")
    expect = baseline_from(report)
    seen = coverage(report, expect)
    missing = ", ".join(seen.missing)
    how = (
        "give the server key (--tls-key FILE.pem|.pfx) or a key log (--keylog FILE)"
        if not keys.given
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
