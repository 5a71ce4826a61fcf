"""Decoding: frame bytes to packets, and the bulk first look at a buffer of records.

* :mod:`capinspect.decode.sieve`: which records of a read buffer cannot matter (numpy); it
  returns its counts (:class:`~capinspect.decode.sieve.SieveCounts`) and imports nothing of
  the decoder.
* :mod:`capinspect.decode.decoder`: :class:`~capinspect.decode.decoder.Decoder`, the one
  header walker (link, IP, transport, tunnels), the fast path and the full one; it applies
  the sieve's counts.
* :mod:`capinspect.decode.ipfrag`: IP fragment reassembly, used by the decoder.
* :mod:`capinspect.decode.headers`: the same walk as offsets into the frame, for the tools
  that rewrite or select frames (the evidence writer), not for the hot path.
"""

from capinspect.decode.decoder import Decoder

__all__ = ["Decoder"]
