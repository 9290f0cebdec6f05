"""Child processes and signals for live sources.

* ``watch_signals``: the first Ctrl-C/SIGTERM asks the source to stop cleanly,
  a second one ends the producer at once.
* ``pump_stderr``: forwards a child's stderr to ours and keeps its last lines
  (the child's last words go into the error message when it fails).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

import trio


async def watch_signals(stop: Callable[[], None], kill: Callable[[], None]) -> None:
    """First Ctrl-C/SIGTERM: ``stop()``. Every further one: ``kill()``."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        n = 0
        async for _ in signals:
            n += 1
            if n == 1:
                stop()
            else:
                kill()


async def pump_stderr(stream: Any, tail: list[str], done: trio.Event, keep: int = 20) -> None:
    """Forward the child's stderr to ours line by line, keeping the last ``keep`` lines in ``tail``."""
    buf = b""
    try:
        async for chunk in stream:
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                text = ln.decode(errors="replace")
                tail.append(text)
                del tail[:-keep]
                print(text, file=sys.stderr, flush=True)
        if buf:
            tail.append(buf.decode(errors="replace"))
            print(tail[-1], file=sys.stderr, flush=True)
    finally:
        done.set()


def last_line(tail: list[str]) -> str:
    """The last non-blank line a child printed, or ""."""
    return next((ln for ln in reversed(tail) if ln.strip()), "")
