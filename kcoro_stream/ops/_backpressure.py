"""backpressure: sustained growth of the inject queue or a channel's depth → alert.

Per window, the depth level is the **mean** of the window's values (the
``inject_depth`` gauge per pool; each channel's ``depth``), which filters
per-frame noise. The slope between consecutive windows is::

    slope = (level_k - level_{k-1}) / ((last_ts_k - last_ts_{k-1}) / 1e9)   # items per second

When the slope is above ``slope`` for ``windows`` (K) consecutive windows the
rule fires (``backpressure.inject_depth`` or ``backpressure.channel_depth``,
severity warning, labels name the pool/channel); it resolves after K
consecutive windows without such growth.

Thresholds: the arguments (``slope`` items/s, float > 0, default 100;
``windows``, integer ≥ 1, default 8); a bad value is a ``UsageError`` naming
the argument. The operator reads no environment: ``KCORO_STREAM_BACKPRESSURE_*``
is a layer of the configuration (``[backpressure]``), which ``config.analyses``
passes in like any other value.

::

    windows: depth 10  40  90  150  230 ... (K windows of slope > threshold)
    alerts:  ------------------------------ Alert(firing) ... Alert(resolved) |
"""

from __future__ import annotations

import math
from typing import Any

from kcoro_stream.errors import UsageError

from ._base import Emit, Operator, make_alert, pool_label, pool_names, stateful
from ._fan import compose
from ._window import Window
from ._window import windows as _windows

DEFAULT_SLOPE = 100.0
DEFAULT_WINDOWS = 8


def backpressure_config(slope: float | None = None, windows: int | None = None) -> tuple[float, int]:
    """(slope, K) from the arguments, else the defaults; validated (UsageError names the argument)."""
    s = DEFAULT_SLOPE if slope is None else slope
    k = DEFAULT_WINDOWS if windows is None else windows
    if not (isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s) and s > 0):
        raise UsageError(f"backpressure: slope must be > 0 items/s, got {slope!r}")
    if not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
        raise UsageError(f"backpressure: windows must be an integer >= 1, got {windows!r}")
    return float(s), int(k)


def backpressure(
    window_ms: float = 250, *, slope: float | None = None, windows: int | None = None
) -> Operator:
    """Batches → Alert when a queue grows faster than ``slope`` for K windows.

    ::

        [frame] ... [frame] ... |
        ---------- Alert(firing) ---------- Alert(resolved) |
    """
    cfg = backpressure_config(slope, windows)

    return compose(_windows(window_ms, check_monotonic=False), backpressure_from_windows(*cfg))


def backpressure_from_windows(slope: float, k: int) -> Operator:
    """Window → backpressure Alerts (thresholds already resolved; used by default_analyses)."""

    def setup(emit: Emit) -> tuple[Any, Any]:
        # (rule, subject) -> [prev_level, prev_ts, streak_up, streak_down, firing]
        state: dict[tuple[str, str], list[Any]] = {}
        run_id: str | None = None

        def track(win: Window, rule: str, subject: str, level: float, labels: dict[str, str]) -> None:
            st = state.get((rule, subject))
            if st is None:
                state[(rule, subject)] = [level, win.last_ts, 0, 0, False]
                return
            prev, prev_ts, up, down, firing = st
            dt = (win.last_ts - prev_ts) / 1e9
            st[0], st[1] = level, win.last_ts
            if dt <= 0:
                return
            rate = (level - prev) / dt
            if rate > slope:
                up, down = up + 1, 0
            else:
                up, down = 0, down + 1
            st[2], st[3] = up, down
            run = win.run
            fields: dict[str, Any] = {"value": rate, "threshold": slope, "labels": labels}
            if not firing and up >= k:
                st[4] = True
                msg = (
                    f"{subject} grew faster than {slope:g}/s for {k} windows (now {level:.6g}, +{rate:.6g}/s)"
                )
                emit(make_alert(win.last_ts, run, rule, "warning", "firing", msg, **fields))
            elif firing and down >= k:
                st[4] = False
                msg = f"resolved: {subject} stopped growing for {k} windows (now {level:.6g})"
                emit(make_alert(win.last_ts, run, rule, "warning", "resolved", msg, **fields))

        def on_item(win: Any) -> None:
            nonlocal run_id
            if type(win) is not Window:
                return
            rid = win.run.run_id if win.run is not None else ""
            if rid != run_id:
                run_id = rid
                state.clear()
            names = pool_names(win.run)
            levels: dict[str, float] = {}
            for (name, pool), g in sorted(win.gauges.items()):
                if name == "inject_depth":
                    label = pool_label(names, pool)
                    levels[label] = levels.get(label, 0.0) + g[1] / g[2]
            for label, level in levels.items():
                track(
                    win, "backpressure.inject_depth", f"inject queue (pool {label})", level, {"pool": label}
                )
            for cid in sorted(win.depths):
                d = win.depths[cid]
                cc = win.channels.get(cid)
                label = pool_label(names, cc.pool) if cc is not None else "all"
                track(
                    win,
                    "backpressure.channel_depth",
                    f"channel {cid} depth",
                    d[1] / d[2],
                    {"pool": label, "channel": str(cid)},
                )

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
