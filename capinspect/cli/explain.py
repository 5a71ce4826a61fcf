"""``capinspect explain`` and ``capinspect checks``: what capinspect knows, without a capture."""

from __future__ import annotations

import click

from capinspect.cli.common import guarded


@click.command()
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


@click.command(name="checks")
@guarded
def list_checks() -> None:
    """List every check with its ID, severity and title.

    The severity is the one `explain` and docs/checks.md give; a report may show a finding one
    step lower where its evidence is weaker (the check's explanation says when), never higher.
    """
    from capinspect.checks import ALL_SPECS

    for spec in ALL_SPECS:
        click.echo(f"{spec.id:<34} {spec.severity:<5} {spec.title}")
