"""heatmap: per-worker utilisation and steal outcome per window, plus imbalance.

Per pool and window, for each worker (sorted by id), from counter differences:

* utilisation = Δbusy_ns / (Δbusy_ns + Δidle_ns)  (null if no time accounted)
* steals_succeeded = Δsteal_successes; steals_failed = Δsteal_failures
* fastpath_ratio = Δhits / (Δhits + Δmisses)      (null if no task ran)
* imbalance = coefficient of variation of the non-null utilisations:
  population standard deviation / mean (null when the mean is 0 or no worker
  has a utilisation). 0 means perfectly even; 1 means the spread equals the mean.

::

    [.. W0 W1 W2 ..] x N | ... |
    ---- Heatmap(workers=[0,1,2], utilisation=[.9,.1,.5], imbalance=.64) ---- |
"""

from __future__ import annotations

import math
from operator import attrgetter, sub
from typing import Any

from kcoro_stream.events import Heatmap, wall_seconds

from ._base import Emit, Operator, pool_label, pool_names, ratio, stateful
from ._fan import compose
from ._window import Window, windows

_cells = attrgetter(
    "busy_ns", "idle_ns", "steal_successes", "steal_failures", "fastpath_hits", "fastpath_misses"
)


def imbalance_index(values: list[float | None]) -> float | None:
    """Coefficient of variation (population std / mean) of the non-null values."""
    xs = [v for v in values if v is not None]
    if not xs:
        return None
    mean = sum(xs) / len(xs)
    if mean <= 0:
        return None
    var = sum((x - mean) ** 2 for x in xs) / len(xs)
    return math.sqrt(var) / mean


def heatmap(window_ms: float = 250) -> Operator:
    """Batches → one Heatmap per pool per window.

    ::

        [frame] ... [frame] | [frame] ... |
        ------- Heatmap ------- Heatmap(final) |
    """

    return compose(windows(window_ms, check_monotonic=False), heatmap_from_windows(window_ms))


def heatmap_from_windows(window_ms: float = 250) -> Operator:
    """Window → Heatmap events (used by default_analyses)."""
    width = round(window_ms * 1_000_000)

    def setup(emit: Emit) -> tuple[Any, Any]:
        def on_item(win: Any) -> None:
            if type(win) is Window:
                for h in window_heatmaps(win, width):
                    emit(h)

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)


def window_heatmaps(win: Window, width: int) -> list[Heatmap]:
    names = pool_names(win.run)
    groups: dict[int, list[int]] = {}
    for wid, wc in win.workers.items():
        groups.setdefault(wc.pool if names is not None else 0, []).append(wid)
    run_id = win.run.run_id if win.run is not None else ""
    ts = wall_seconds(win.last_ts, win.run)
    out = []
    for pool in sorted(groups):
        wids = sorted(groups[pool])
        util: list[float | None] = []
        succ: list[int] = []
        fail: list[int] = []
        fast: list[float | None] = []
        kept: list[int] = []
        for wid in wids:
            cur = win.workers[wid]
            base = win.base_workers.get(wid)
            if base is None and not win.zero_base:
                continue
            kept.append(wid)
            busy, idle, ok, failed, hits, misses = (
                map(sub, _cells(cur), _cells(base)) if base is not None else _cells(cur)
            )
            util.append(ratio(busy, busy + idle))
            succ.append(ok)
            fail.append(failed)
            fast.append(ratio(hits, hits + misses))
        if not kept:
            continue
        out.append(
            Heatmap(
                ts=ts,
                ts_ns=win.last_ts,
                run_id=run_id,
                pool=pool_label(names, pool),
                window_ns=width,
                workers=kept,
                utilisation=util,
                steals_succeeded=succ,
                steals_failed=fail,
                fastpath_ratio=fast,
                imbalance=imbalance_index(util),
            )
        )
    return out
