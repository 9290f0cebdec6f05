"""lint.busy: a coroutine that holds its worker — running without a switch for ``busy_ms``.

The producer infers it (``CoroutineState.running_ns``: seen running with the
same resume count at two snapshots, so with snapshots every 100 ms any hold
of ~100 ms or more is seen). A worker is held whether or not the OS runs its
thread, so by default that is all; ``busy_cpu`` > 0 also wants the worker
thread on a CPU for that share of the window (``OsThread.run_ns``, when the
producer sends it), to leave out a thread the OS descheduled — off by default
because on a loaded machine a real hog's thread gets little CPU too::

    snapshots: hog running 0 ms ... 100 ms ... 200 ms (worker 0 on a CPU 95 %)
    alerts:    ------------------- Alert(lint.busy firing, labels coroutine=4 name=hog worker=0)
"""

from __future__ import annotations

from kcoro_stream.events import CORO_RUNNING, CoroutineState

from ._base import Operator
from ._lints import LintThresholds, Verdict, lint_from_windows, who
from ._window import Window

RULE = "lint.busy"


def _on_cpu_share(win: Window, worker: int) -> float | None:
    """The share of the window the worker thread ran on a CPU (None: no OS view)."""
    now = win.os.get(worker, (None, None))[0]
    base = win.base_os.get(worker, (None, None))[0]
    if now is None or base is None or win.span_ns <= 0:
        return None
    return (now.run_ns - base.run_ns) / win.span_ns


def lint_busy_from_windows(t: LintThresholds) -> Operator:
    """Window → lint.busy Alerts (firing/resolved per coroutine)."""
    limit = t.busy_ms * 1e6

    def check(win: Window, c: CoroutineState, _prev: CoroutineState | None) -> Verdict | None:
        if c.state != CORO_RUNNING or c.running_ns < limit:
            return None
        share = _on_cpu_share(win, c.worker) if t.busy_cpu > 0 else None
        if share is not None and share < t.busy_cpu:
            return None
        msg = (
            f"{who(c)} has held worker {c.worker} for {c.running_ns / 1e6:.0f} ms without yielding "
            f"(threshold {t.busy_ms:g} ms)"
        )
        return Verdict(c.running_ns / 1e6, t.busy_ms, msg, {"worker": str(c.worker)})

    return lint_from_windows(RULE, "warning", check)
