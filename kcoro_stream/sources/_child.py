"""Helpers for producers the monitor launches as child processes."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

WATCH_ENV = "KCORO_STREAM_PARENT_PID"


def watch_parent(interval_s: float = 0.1) -> None:
    """If launched by a monitor, end the run (SIGTERM to ourselves) when it dies.

    The monitor sets KCORO_STREAM_PARENT_PID. A daemon thread polls getppid();
    the C producer's SIGTERM handler then ends the run cleanly (RunEnded,
    ring closed). PR_SET_PDEATHSIG is not used: it fires when the *thread*
    that forked exits, and trio forks from cached worker threads that exit
    after a few idle seconds.
    """
    want = os.environ.get(WATCH_ENV)
    if not want or not want.isdigit():
        return
    parent = int(want)

    def run() -> None:
        stop = threading.Event()
        while not stop.wait(interval_s):
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=run, name="kcoro-parent-watch", daemon=True).start()


def run_c_main(c_main: Callable[[int, Any], int], ffi: Any, program: str, argv: list[str] | None) -> int:
    """Call a C ``main(argc, argv)`` compiled into a cffi module, as a program would run.

    ``argv`` defaults to ``sys.argv[1:]``; the GIL is released during the call,
    so the parent watch keeps running.
    """
    watch_parent()
    args = [program.encode(), *(a.encode() for a in (sys.argv[1:] if argv is None else argv))]
    keep = [ffi.new("char[]", a) for a in args]
    c_argv = ffi.new("char *[]", [*keep, ffi.NULL])
    sys.stdout.flush()
    return int(c_main(len(args), c_argv))
