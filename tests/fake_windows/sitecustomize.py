"""Make this interpreter look like Windows to capinspect's own code (tests/cli/test_windows.py).

Put this folder first on PYTHONPATH and set ``CAPINSPECT_FAKE_WINDOWS=1``: Python imports
``sitecustomize`` at start-up, before any of capinspect. Then

* the POSIX-only modules (fcntl, resource, termios, pwd, grp, pty...) cannot be imported;
* the POSIX-only attributes capinspect might reach for are gone: ``socket.AF_PACKET`` and the
  ancillary-data helpers, ``select.poll``, ``os.fork``/``os.sched_*``/``os.getuid``, the signals
  Windows lacks;
* multiprocessing offers only ``spawn``, Windows' one start method (and spawned workers run this
  file too, so they are as restricted);
* with ``CAPINSPECT_FAKE_WIN32_PLATFORM=1`` too, ``sys.platform`` reads ``win32`` in this process
  (not in spawned workers: the standard library's own spawn plumbing branches on it).

The standard library and third-party modules that pick their POSIX plumbing when imported are
imported first, as they are: they are Windows-ready on Windows; capinspect's code is under test.
"""

from __future__ import annotations

import os
import sys

POSIX_ONLY_MODULES = ("fcntl", "resource", "termios", "pwd", "grp", "pty", "tty", "syslog")
POSIX_ONLY_ATTRIBUTES = {
    "socket": ("AF_PACKET", "AF_UNIX", "CMSG_SPACE", "CMSG_LEN", "if_nameindex", "sethostname"),
    "select": ("poll", "epoll"),
    "os": ("fork", "forkpty", "getuid", "geteuid", "setsid", "killpg", "getpgid", "getloadavg"),
    "signal": ("SIGKILL", "SIGHUP", "SIGALRM", "SIGUSR1", "SIGUSR2", "SIGCHLD", "SIGPIPE", "alarm"),
}


def _pretend() -> None:
    import concurrent.futures.process  # noqa: F401 - imported as they are, see above
    import multiprocessing
    import multiprocessing.connection
    import multiprocessing.queues
    import multiprocessing.reduction
    import multiprocessing.spawn
    import multiprocessing.synchronize
    import multiprocessing.util
    import select
    import signal
    import socket
    import subprocess  # noqa: F401

    if os.name == "posix":  # the POSIX spawn plumbing itself (absent, and unneeded, on Windows)
        import multiprocessing.popen_spawn_posix  # noqa: F401
        import multiprocessing.resource_tracker  # noqa: F401

    import click  # noqa: F401
    import orjson  # noqa: F401 - its Linux build crashes loading under sys.platform 'win32'
    import rich.console  # noqa: F401
    import rich.progress  # noqa: F401

    for name in POSIX_ONLY_MODULES:
        sys.modules[name] = None  # type: ignore[assignment]
    modules = {"socket": socket, "select": select, "os": os, "signal": signal}
    for module_name, attributes in POSIX_ONLY_ATTRIBUTES.items():
        module = modules[module_name]
        for attribute in attributes:
            if hasattr(module, attribute):
                delattr(module, attribute)
    for attribute in [a for a in dir(os) if a.startswith("sched_")]:
        delattr(os, attribute)

    spawn = multiprocessing.get_context("spawn")

    def get_context(method: str | None = None) -> multiprocessing.context.BaseContext:
        if method not in (None, "spawn"):
            raise ValueError(f"cannot find context for {method!r}")
        return spawn

    multiprocessing.get_all_start_methods = lambda: ["spawn"]  # type: ignore[assignment]
    multiprocessing.get_context = get_context  # type: ignore[assignment]
    if os.environ.pop("CAPINSPECT_FAKE_WIN32_PLATFORM", None):
        sys.platform = "win32"


if os.environ.get("CAPINSPECT_FAKE_WINDOWS"):
    _pretend()
