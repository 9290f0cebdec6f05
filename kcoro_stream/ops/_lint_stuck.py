"""lint.stuck: a coroutine parked on a closed channel, or parked without a wake for ``stuck_ms``.

``CoroutineState.parked_ns`` is the producer's inference (seen parked with
the same park count at two snapshots); the channel's state and its waiters
come from the same snapshot (``ChannelWaiters``) and the window's last
``ChannelCounters``::

    snapshots: stuck parked on channel 1 ... 0.5 s ... 1.0 s
    alerts:    -------------------------------- Alert(lint.stuck firing, labels coroutine=3 channel=1)
"""

from __future__ import annotations

from kcoro_stream.events import CHANNEL_FLAG_CLOSED, CORO_PARKED, WAIT_CHANNEL, WAIT_KINDS, CoroutineState

from ._base import Operator
from ._lints import LintThresholds, Verdict, lint_from_windows, who
from ._window import Window

RULE = "lint.stuck"


def lint_stuck_from_windows(t: LintThresholds) -> Operator:
    """Window → lint.stuck Alerts (firing/resolved per coroutine)."""
    limit = t.stuck_ms * 1e6

    def check(win: Window, c: CoroutineState, _prev: CoroutineState | None) -> Verdict | None:
        if c.state != CORO_PARKED or c.parked_ns <= 0:
            return None
        on_channel = c.wait_kind == WAIT_CHANNEL
        counters = win.channels.get(c.wait_id) if on_channel else None
        closed = counters is not None and bool(counters.flags & CHANNEL_FLAG_CLOSED)
        if not closed and c.parked_ns < limit:
            return None
        labels: dict[str, str] = {}
        if on_channel:
            cw = win.chan_waiters.get(c.wait_id)
            name = f' "{cw.name}"' if cw is not None and cw.name else ""
            where = f"channel {c.wait_id}{name}"
            labels["channel"] = str(c.wait_id)
            if cw is not None:
                labels["channel_name"] = cw.name
                where += f" (waiting senders {cw.senders}, receivers {cw.receivers})"
        else:
            kind = WAIT_KINDS[c.wait_kind] if c.wait_kind < len(WAIT_KINDS) else str(c.wait_kind)
            where = "a wait group" if kind == "wait_group" else kind
        why = "whose other side is closed" if closed else f"for {c.parked_ns / 1e9:.1f} s"
        msg = f"{who(c)} is parked on {where} {why} (threshold {t.stuck_ms:g} ms)"
        return Verdict(c.parked_ns / 1e6, t.stuck_ms, msg, labels)

    return lint_from_windows(RULE, "warning", check)
