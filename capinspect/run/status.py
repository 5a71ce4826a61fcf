"""Exit statuses (stable, for scripts; README's "Exit status" and every ``--help`` list them).

0  analysed; at least one phone judged, no fail finding
1  analysed; at least one fail finding
2  usage error or unusable input (one line on stderr, never a traceback)
3  internal error in capinspect (one line; set CAPINSPECT_DEBUG=1 for the traceback)
4  analysed, nothing could be judged: no phone in the capture, or every phone inconclusive
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL, EXIT_NOTHING_JUDGED = 0, 1, 2, 3, 4


def exit_status(has_fail: bool, verdicts: Iterable[str]) -> int:
    """The status of a run that analysed its input: 1 fail > 4 nothing judged > 0.

    0 must mean "the phones were judged and none fails": a capture with no phone in it, or whose
    every phone is inconclusive (an encrypted check-in, a capture that ends too early), tells
    nothing about the phones, and a ticket bot reading 0 would close the ticket as healthy.
    ``verdicts`` are the phones' verdicts (``pass``, ``warn``, ``fail``, ``inconclusive``).
    """
    if has_fail:
        return EXIT_FAIL
    if all(str(verdict) == "inconclusive" for verdict in verdicts):
        return EXIT_NOTHING_JUDGED
    return EXIT_OK
