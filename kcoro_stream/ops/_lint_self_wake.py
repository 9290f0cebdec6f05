"""lint.self_wake: a coroutine waking itself in a loop (tokio-console's self-wake lint).

Between two snapshots of the same coroutine: its self-wakes (``kcr_yield``)
are more than ``self_wake_ratio`` of its wakes and at least
``self_wake_per_s`` per second — it keeps rescheduling itself instead of
waiting for someone to wake it::

    snapshots: spinner wakes +5000 self_wakes +5000 in 0.1 s
    alerts:    ---------- Alert(lint.self_wake firing, labels coroutine=7)
"""

from __future__ import annotations

from kcoro_stream.events import CoroutineState

from ._base import Operator
from ._lints import LintThresholds, Verdict, lint_from_windows, who
from ._window import Window

RULE = "lint.self_wake"


def lint_self_wake_from_windows(t: LintThresholds) -> Operator:
    """Window → lint.self_wake Alerts (firing/resolved per coroutine)."""

    def check(_win: Window, c: CoroutineState, prev: CoroutineState | None) -> Verdict | None:
        if prev is None or c.ts_ns <= prev.ts_ns:
            return None
        wakes, selfs = c.wakes - prev.wakes, c.self_wakes - prev.self_wakes
        rate = selfs / ((c.ts_ns - prev.ts_ns) / 1e9)
        if wakes <= 0 or selfs <= t.self_wake_ratio * wakes or rate < t.self_wake_per_s:
            return None
        msg = (
            f"{who(c)} woke itself {selfs} of {wakes} times ({rate:.0f}/s) since the last snapshot "
            f"(threshold {t.self_wake_ratio:.0%} and {t.self_wake_per_s:g}/s)"
        )
        return Verdict(rate, t.self_wake_per_s, msg, {})

    return lint_from_windows(RULE, "warning", check)
