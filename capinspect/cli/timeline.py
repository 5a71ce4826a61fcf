"""``capinspect timeline``: each phone's boot as a ladder, one line per step."""

from __future__ import annotations

import click

from capinspect.cli.common import (
    captures_argument,
    color_option,
    format_option,
    guarded,
    keep_names_option,
    keylog_option,
    output_option,
    quiet_option,
    read_captures,
    redact_option,
    tls_key_option,
    tls_key_password_option,
)
from capinspect.run import Keys, Output, Redaction, RunOptions, Step


@click.command()
@captures_argument
@tls_key_option
@tls_key_password_option
@keylog_option
@format_option("timeline")
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
    step = Step(
        RunOptions(
            keys=Keys(tls_key_paths, tls_key_password, keylog_path),
            redaction=Redaction(redact, keep_names),
            output=Output(fmt, output, color),
            quiet=quiet,
        )
    )
    analysis, devices = step.timeline(read_captures(step, captures, quiet))
    step.write_timeline(analysis, devices, captures)
