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

import click

from capinspect import __version__
from capinspect.cli.analyze import analyze
from capinspect.cli.baseline import baseline
from capinspect.cli.common import EXIT_STATUS_EPILOG, fit_streams
from capinspect.cli.explain import explain, list_checks
from capinspect.cli.live import live
from capinspect.cli.logs import logs
from capinspect.cli.timeline import timeline


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


for _command in (analyze, timeline, baseline, explain, list_checks, live, logs):
    main.add_command(_command)

__all__ = ["main"]
