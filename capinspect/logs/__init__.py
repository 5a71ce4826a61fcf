"""Server-side evidence: IIS W3C logs and Device Update audit logs, alone or beside a capture.

The seed's troubleshooting step 8 says "use the available audit update server logs and IIS
logs": when the check-in is encrypted, or no capture can be taken, the server's two logs tell
the same story from the other end. ``iis.py`` and ``audit.py`` read them tolerantly (pasted
into tickets, wrapped, en-dashes), ``timeline.py`` groups their lines per phone,
``correlate.py`` lines them up with a capture and estimates the clock offset, and
``capinspect/checks/logs.py`` turns them into findings with the same IDs a capture gives.
"""
