"""histograms: latency distributions per window and cumulative, with percentiles.

Input: ``Histogram`` events with cumulative ``log2x4`` bucket counts; the
bucket scheme is defined once, in :mod:`kcoro_stream.histo` (bucket ``b < 4``
holds exactly the value ``b``; 4 linear sub-buckets per power of two above).

* window counts = last cumulative counts − counts at the previous window's end
  (exact under dropped frames); cumulative counts = last counts.
* quantile q: rank r = ceil(q × N) (nearest rank); the bucket whose running
  count first reaches r holds it; the value is interpolated linearly inside that
  bucket at (r − before − ½)/n, so it lies strictly inside the bucket.
* ``error_bound`` = 0.25: a bucket's width is at most ¼ of its lower bound, so a
  reported quantile is within 25 % (relative) of the true sample value; values
  0..3 are exact.

``bounds`` are the lower bounds of the buckets in ``counts`` (trailing zero
buckets cut). ``sum`` is exact: the difference of the producer's cumulative
``Histogram.total`` (window), or the total itself (cumulative). One ``HistogramSummary`` per metric and pool per window
(``scope="window"``, skipped when the window saw no observation) and, if
``cumulative``, one with ``scope="cumulative"`` once the pool has any observation
of the metric (a metric a pool cannot produce, e.g. ``task_body_ns`` without
``--body-ns`` or ``chan_latency_ns`` of a tasks pool, gets no line, and no
series on ``/metrics``).

::

    [.. Histogram(counts cum) ..] x N | ... |
    ---- HistogramSummary(window) HistogramSummary(cumulative) ---- ... |
"""

from __future__ import annotations

import math
from bisect import bisect_left
from itertools import accumulate
from typing import Any

from kcoro_stream.events import Histogram, HistogramSummary, wall_seconds
from kcoro_stream.histo import BUCKETS, ERROR_BOUND, SCHEME, SUB, bucket_lower, bucket_width

from ._base import Emit, Operator, pool_label, pool_names, stateful
from ._fan import compose
from ._window import Window, windows

QUANTILES = (0.5, 0.9, 0.99, 0.999)


def quantile(counts: list[int], q: float) -> float | None:
    """The q-quantile of a log2x4 histogram (see module docstring), None if empty."""
    return quantiles(counts, (q,))[0]


def quantiles(counts: list[int], qs: tuple[float, ...] = QUANTILES) -> list[float | None]:
    """Several quantiles in one pass: cumulative counts once, then a binary search per rank."""
    cum = list(accumulate(counts))
    total = cum[-1] if cum else 0
    if total <= 0:
        return [None] * len(qs)
    out: list[float | None] = []
    for q in qs:
        rank = max(1, math.ceil(q * total))
        b = min(bisect_left(cum, rank), len(counts) - 1)  # first bucket whose running count reaches rank
        if b < SUB:
            out.append(float(b))
        else:
            n = counts[b]
            before = cum[b] - n
            out.append(_LOWER[b] + _WIDTH[b] * (rank - before - 0.5) / n)
    return out


# Lookup tables for the hot path; longer than BUCKETS so malformed input (more
# buckets than any uint64 needs) still gets bounds instead of an IndexError.
_LOWER = [bucket_lower(b) for b in range(2 * BUCKETS)]
_WIDTH = [bucket_width(b) for b in range(2 * BUCKETS)]


def _trim(counts: list[int]) -> list[int]:
    n = len(counts)
    while n and counts[n - 1] == 0:
        n -= 1
    return counts[:n]


def summarize(
    counts: list[int],
    *,
    metric: str,
    pool: str,
    scope: str,
    window_ns: int,
    ts_ns: int,
    ts: float,
    run_id: str,
    total: int | None = None,
) -> HistogramSummary:
    counts = _trim(counts)
    p50, p90, p99, p999 = quantiles(counts)
    return HistogramSummary(
        ts=ts,
        ts_ns=ts_ns,
        run_id=run_id,
        metric=metric,
        pool=pool,
        scope=scope,  # type: ignore[arg-type]  # "window" | "cumulative"
        window_ns=window_ns,
        scheme=SCHEME,
        bounds=_LOWER[: len(counts)],
        counts=counts,
        count=sum(counts),
        p50=p50,
        p90=p90,
        p99=p99,
        p999=p999,
        error_bound=ERROR_BOUND,
        sum=total,
    )


def window_delta(cur: Histogram, base: Histogram | None) -> list[int]:
    """Counts observed between two cumulative snapshots."""
    counts = list(cur.counts)
    if base is not None:
        for i, n in enumerate(base.counts[: len(counts)]):
            # a bucket going down breaks the invariant (reported by invariants); count 0
            counts[i] = max(0, counts[i] - n)
    return counts


def histograms(
    window_ms: float = 250, *, metrics: list[str] | None = None, cumulative: bool = True
) -> Operator:
    """Batches → HistogramSummary per latency metric, per window (and cumulative).

    ::

        [.. H ..] [.. H ..] ... [.. H ..] |
        ------- Hist(window) Hist(cum) --- Hist(window) Hist(cum) |
    """

    return compose(
        windows(window_ms, check_monotonic=False), histograms_from_windows(window_ms, metrics, cumulative)
    )


def histograms_from_windows(
    window_ms: float = 250, metrics: list[str] | None = None, cumulative: bool = True
) -> Operator:
    """Window → HistogramSummary events (used by default_analyses)."""
    width = round(window_ms * 1_000_000)
    wanted = set(metrics) if metrics is not None else None

    def setup(emit: Emit) -> tuple[Any, Any]:
        def on_item(win: Any) -> None:
            if type(win) is not Window:
                return
            for e in window_histograms(win, width, wanted, cumulative):
                emit(e)

        return on_item, _nothing

    return stateful(setup)


def _nothing() -> None:
    return None


def window_histograms(
    win: Window, width: int, wanted: set[str] | None, cumulative: bool
) -> list[HistogramSummary]:
    names = pool_names(win.run)
    run_id = win.run.run_id if win.run is not None else ""
    ts_ns = win.last_ts
    ts = wall_seconds(ts_ns, win.run)
    out = []
    for key in sorted(win.hists):
        metric, pool = key
        if wanted is not None and metric not in wanted:
            continue
        cur = win.hists[key]
        if cur.scheme != SCHEME:
            continue
        base = win.base_hists.get(key)
        if base is None and not win.zero_base:
            delta = None
        else:
            delta = window_delta(cur, base)
        label = pool_label(names, pool)
        if delta is not None and sum(delta) > 0:
            out.append(
                summarize(
                    delta,
                    metric=metric,
                    pool=label,
                    scope="window",
                    window_ns=width,
                    ts_ns=ts_ns,
                    ts=ts,
                    run_id=run_id,
                    total=cur.total - (base.total if base is not None else 0),
                )
            )
        if cumulative and any(cur.counts):  # a metric this pool never produced has no line
            out.append(
                summarize(
                    list(cur.counts),
                    metric=metric,
                    pool=label,
                    scope="cumulative",
                    window_ns=width,
                    ts_ns=ts_ns,
                    ts=ts,
                    run_id=run_id,
                    total=cur.total,
                )
            )
    return out
