"""Child processes and signals for live sources.

* ``watch_signals``: the first Ctrl-C/SIGTERM/SIGHUP asks the source to stop
  cleanly, a second one ends the producer at once (``stop_signals``: SIGHUP, a
  closed terminal or SSH session, counts unless it is ignored, as under nohup).
* ``pump_stderr``: forwards a child's stderr to ours and keeps its last lines
  (the child's last words go into the error message when it fails). With
  ``hold``, lines wait in ``held`` until the event is set: a child that refuses
  its flags exits before its first frame, and its one error line then reaches
  the user once, inside the monitor's own error, not twice.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

import trio


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that end a command cleanly: SIGINT, SIGTERM, and SIGHUP unless it is ignored (nohup)."""
    hup = () if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN else (signal.SIGHUP,)
    return (signal.SIGINT, signal.SIGTERM, *hup)


async def watch_signals(
    stop: Callable[[], None],
    kill: Callable[[], None],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """First Ctrl-C/SIGTERM/SIGHUP: ``stop()``. Every further one: ``kill()``.

    Started with ``nursery.start``, it returns once the handlers are in place,
    so nothing the caller does next can be interrupted by a bare KeyboardInterrupt."""
    with trio.open_signal_receiver(*stop_signals()) as signals:
        task_status.started()
        n = 0
        async for _ in signals:
            n += 1
            if n == 1:
                stop()
            else:
                kill()


async def pump_stderr(
    stream: Any,
    tail: list[str],
    done: trio.Event,
    keep: int = 20,
    hold: trio.Event | None = None,
    held: list[str] | None = None,
) -> None:
    """Forward the child's stderr to ours line by line, keeping the last ``keep`` lines in ``tail``.

    While ``hold`` is given and not set, lines go to ``held`` instead of stderr;
    they are forwarded with the first line after it is set, or left in ``held``
    for the caller when the stream ends first.
    """
    buf = b""
    pending = held if held is not None else []

    def out(text: str) -> None:
        tail.append(text)
        del tail[:-keep]
        if hold is not None and not hold.is_set():
            pending.append(text)
            return
        for ln in pending:
            print(ln, file=sys.stderr)
        pending.clear()
        print(text, file=sys.stderr, flush=True)

    try:
        async for chunk in stream:
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                out(ln.decode(errors="replace"))
        if buf:
            out(buf.decode(errors="replace"))
    finally:
        done.set()


def flush_held(held: list[str], drop_last: bool) -> None:
    """Print lines ``pump_stderr`` held back; ``drop_last`` when the last one is already in an error."""
    for ln in held[:-1] if drop_last else held:
        print(ln, file=sys.stderr, flush=True)
    held.clear()


def last_line(tail: list[str]) -> str:
    """The last non-blank line a child printed, or ""."""
    return next((ln for ln in reversed(tail) if ln.strip()), "")
