"""Verdict events for a log pipeline: JSON lines (``--events``) and syslog (``--syslog``).

* :mod:`capinspect.events.builder` turns the live monitor's per-phone states (the same ones
  ``live`` prints) into self-contained events with Elastic Common Schema names
  (docs/events.md, schema ``events@1``);
* :mod:`capinspect.events.syslog` formats them as RFC 5424 messages and sends them from a
  bounded queue on a thread of its own (drops counted, never blocking the capture);
* :mod:`capinspect.events.sinks` writes JSON lines (reopened on SIGHUP for log rotation);
* :mod:`capinspect.events.run` drives a capture file through the live monitor for
  ``analyze --events``; :mod:`capinspect.events.options` holds the command-line options.

The package itself imports nothing: every command declares the events' options (and reads
:data:`capinspect.events.syslog.DEFAULT_QUEUE` for their help), and loading the builder — with
the live monitor behind it — cost each run ~25 ms of start-up it only needs with ``--events``
or ``--syslog``. Import the modules themselves.
"""
