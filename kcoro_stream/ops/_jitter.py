"""jitter: the sampler's tick jitter distribution, from ``Tick`` events.

Jitter of a tick = |actual_ns − target_ns| (how far the interval since the
previous tick was from the target). Paused ticks and the first tick are
skipped. Values go into a ``log2x4`` histogram (same scheme and error bound as
latency histograms), reported per window and cumulative as
``HistogramSummary(metric="tick_jitter_ns")``. Ticks lost with dropped frames
are missing from the distribution (jitter is not cumulative).

::

    [Tick ..] [Tick ..] ... [Tick ..] |
    ---- Hist(tick_jitter_ns, window) Hist(.., cumulative) ---- ... |
"""

from __future__ import annotations

from typing import Any

from kcoro_stream.events import wall_seconds
from kcoro_stream.histo import bucket_of

from ._base import Emit, Operator, stateful
from ._fan import compose
from ._histogram import summarize
from ._window import Window, windows

METRIC = "tick_jitter_ns"


def jitter(window_ms: float = 250, *, cumulative: bool = True) -> Operator:
    """Batches → HistogramSummary of tick jitter per window (and cumulative).

    ::

        [Tick] [Tick] ... [Tick] |
        ---- Hist(window) Hist(cumulative) ---- |
    """

    return compose(windows(window_ms, check_monotonic=False), jitter_from_windows(window_ms, cumulative))


def jitter_from_windows(window_ms: float = 250, cumulative: bool = True) -> Operator:
    """Window → tick-jitter HistogramSummary events (used by default_analyses)."""
    width = round(window_ms * 1_000_000)

    def setup(emit: Emit) -> tuple[Any, Any]:
        total: list[int] = []
        total_sum = 0
        run_id: str | None = None

        def on_item(win: Any) -> None:
            nonlocal run_id, total, total_sum
            if type(win) is not Window or not win.jitter:
                return
            rid = win.run.run_id if win.run is not None else ""
            if rid != run_id:
                run_id, total, total_sum = rid, [], 0
            counts = [0] * 64  # buckets up to 2**17 ns; grown below if needed
            for v in win.jitter:
                b = bucket_of(v)
                if b >= len(counts):
                    counts.extend([0] * (b + 1 - len(counts)))
                counts[b] += 1
            if len(total) < len(counts):
                total.extend([0] * (len(counts) - len(total)))
            for i, n in enumerate(counts):
                total[i] += n
            window_sum = sum(win.jitter)
            total_sum += window_sum
            ts = wall_seconds(win.last_ts, win.run)
            at = win.last_ts
            emit(
                summarize(
                    counts,
                    metric=METRIC,
                    pool="all",
                    scope="window",
                    window_ns=width,
                    ts_ns=at,
                    ts=ts,
                    run_id=rid,
                    total=window_sum,
                )
            )
            if cumulative:
                emit(
                    summarize(
                        list(total),
                        metric=METRIC,
                        pool="all",
                        scope="cumulative",
                        window_ns=width,
                        ts_ns=at,
                        ts=ts,
                        run_id=rid,
                        total=total_sum,
                    )
                )

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
