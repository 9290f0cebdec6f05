"""coroutines: each window's last coroutine snapshot as ``coroutine`` and ``channel`` lines.

The producer chose the snapshot's coroutines (``--coroutines``: the suspicious
ones, then the top ``coroutines_top`` by busy time; knobs in
``RunStarted.config``), so the lines are bounded by its knobs; they come in the
producer's order (suspicious first, then busiest)::

    windows: W0 (snapshot)         W1 (no --coroutines)
    lines:   coroutine* channel*   (nothing) |

:func:`coroutine_view` and :func:`channel_view` are the one conversion of the
raw snapshot events; ``ctl coroutines``/``ctl channels`` answer with them too.
"""

from __future__ import annotations

from typing import Any

from kcoro_stream.events import (
    CHANNEL_FLAG_CLOSED,
    CORO_STATES,
    WAIT_KINDS,
    ChannelCounters,
    ChannelView,
    ChannelWaiters,
    CoroutineState,
    CoroutineView,
    RunStarted,
    wall_seconds,
)

from ._base import Emit, Operator, pool_label, pool_names, stateful
from ._window import Window

__all__ = ["channel_view", "coroutine_view", "coroutines_from_windows"]


def _name(table: tuple[str, ...], i: int) -> str:
    return table[i] if i < len(table) else str(i)


def _envelope(ts_ns: int, pool: int, run: RunStarted | None) -> dict[str, Any]:
    """The fields every line has (time, run), and the pool's label."""
    rid = run.run_id if run is not None else ""
    return {
        "ts": wall_seconds(ts_ns, run),
        "ts_ns": ts_ns,
        "run_id": rid,
        "pool": pool_label(pool_names(run), pool),
    }


def coroutine_view(c: CoroutineState, run: RunStarted | None) -> CoroutineView:
    """One raw CoroutineState as the derived ``coroutine`` line."""
    return CoroutineView(
        **_envelope(c.ts_ns, c.pool, run),
        coroutine=c.coroutine,
        name=c.name,
        state=_name(CORO_STATES, c.state),
        worker=c.worker,
        wait=_name(WAIT_KINDS, c.wait_kind),
        wait_id=c.wait_id,
        resumes=c.resumes,
        parks=c.parks,
        wakes=c.wakes,
        self_wakes=c.self_wakes,
        busy_ns=c.busy_ns,
        age_ns=c.age_ns,
        running_ns=c.running_ns,
        parked_ns=c.parked_ns,
    )


def channel_view(w: ChannelWaiters, cc: ChannelCounters | None, run: RunStarted | None) -> ChannelView:
    """One raw ChannelWaiters (and the channel's last counters, if any) as the ``channel`` line."""
    return ChannelView(
        **_envelope(w.ts_ns, w.pool, run),
        channel=w.channel,
        name=w.name,
        closed=cc is not None and bool(cc.flags & CHANNEL_FLAG_CLOSED),
        depth=cc.depth if cc is not None else 0,
        senders=list(w.senders),
        receivers=list(w.receivers),
    )


def coroutines_from_windows() -> Operator:
    """Window → CoroutineView per coroutine and ChannelView per channel of its last snapshot."""

    def setup(emit: Emit) -> tuple[Any, Any]:
        def on_item(win: Any) -> None:
            if type(win) is not Window or not (win.coroutines or win.chan_waiters):
                return
            for c in win.coroutines:
                emit(coroutine_view(c, win.run))
            for cid in sorted(win.chan_waiters):
                emit(channel_view(win.chan_waiters[cid], win.channels.get(cid), win.run))

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
