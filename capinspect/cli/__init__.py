"""The command line: thin. Each command parses its options into the shared step's
:class:`~capinspect.run.options.RunOptions` and calls :mod:`capinspect.run`; the exit status
is the step's (capinspect/run/status.py):

  0  analysed; at least one phone judged, no fail finding
  1  analysed; at least one fail finding
  2  usage error or unusable input (one line on stderr, never a traceback)
  3  internal error in capinspect (one line; set CAPINSPECT_DEBUG=1 for the traceback)
  4  analysed, nothing could be judged: no phone in the capture, or every phone inconclusive
"""

from __future__ import annotations

from importlib import import_module

import click

from capinspect import __version__
from capinspect.cli.common import EXIT_STATUS_EPILOG, fit_streams

COMMANDS = {
    "analyze": ("capinspect.cli.analyze", "analyze"),
    "timeline": ("capinspect.cli.timeline", "timeline"),
    "baseline": ("capinspect.cli.baseline", "baseline"),
    "explain": ("capinspect.cli.explain", "explain"),
    "checks": ("capinspect.cli.explain", "list_checks"),
    "live": ("capinspect.cli.live", "live"),
    "logs": ("capinspect.cli.logs", "logs"),
}
"""Each command's module and function, in the order ``--help`` lists them."""


class _LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or ``--help`` lists it): the
    live capture's modules cost ``analyze`` a twentieth of a second it never needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        command = getattr(import_module(where[0]), where[1])
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=_LazyGroup,
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


__all__ = ["COMMANDS", "main"]
