"""outliers: a Sample value far from its recent history → Anomaly.

Per run, pool and metric, the last ``window`` counted values *before* the
current one form the history (at least ``min_samples`` are needed). A value
counts when it is not null and :class:`~._activity.Activity` admits it (no
partial window, nothing before the pool's first non-idle window, no
throughput rate the pool never had); the first ``warmup`` counted values
(default 4) are a warm-up and join nothing. A constant history (all zeros
included) has no spread to measure against: nothing is scored on it.

* ``zscore``: score = (x − mean) / std (population std); flagged when
  ``|score| >= z`` (default 4).
* ``mad`` (robust): score = 0.6745 · (x − median) / MAD, MAD = median |xᵢ − median|;
  flagged when ``|score| >= mad`` (default 3.5, Iglewicz–Hoaglin). When MAD is 0
  the mean absolute deviation × 1.2533 stands in for it.

The spread is floored at ``min_rel_spread`` × |centre| (default 10 %) and at
``min_abs_spread`` in the metric's unit (default 1 for the throughput rates —
one task, message or byte per second —, 0.001 for ratios and depths). A
runtime's throughput swings ±25 % window to window when its pools share two
cores (dual mode), even when nothing changes; with a 10 % floor a value must
be ~35–40 % off the recent centre to score 3.5–4, so that noise is no
anomaly, while a real step (a halving, a 4× jump) still scores high. The current
value joins the history after it is scored, flagged or not.

One episode, one anomaly: per pool and metric, a value is *flagged* when any
method's score crosses its threshold; an episode is ``persist`` (default 2)
flagged values in a row, and gives one Anomaly — stamped with its first
flagged value (the time of the change), emitted when the episode is
confirmed. The episode ends at the first value no method flags. A single
window off by chance (two pools sharing two cores swing ±40 %) is no
anomaly; a step that stays is one.
``Anomaly.window`` is the number of history values used; ``threshold`` the
score threshold crossed.

::

    Sample(100) Sample(101) Sample(99) ... Sample(900) Sample(100) |
    -------------------------------------- Anomaly(zscore, score=412) |
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from statistics import median
from typing import Any

from kcoro_stream.errors import UsageError
from kcoro_stream.events import Anomaly, Sample

from ._activity import RATES, Activity
from ._base import Emit, Operator, stateful
from ._metrics import METRICS, getter

METHODS = ("zscore", "mad")


def _floor(spread: float, centre: float, rel: float, absolute: float) -> float:
    return max(spread, rel * abs(centre), absolute, 1e-12)


def zscore(
    history: Iterable[float], x: float, min_rel_spread: float = 0.01, min_abs_spread: float = 0.0
) -> float:
    """(x − mean) / std of ``history`` (std floored, see module docstring)."""
    xs = history if isinstance(history, list) else list(history)
    mean = math.fsum(xs) / len(xs)
    std = math.sqrt(math.fsum([(v - mean) * (v - mean) for v in xs]) / len(xs))
    return (x - mean) / _floor(std, mean, min_rel_spread, min_abs_spread)


def mad_score(
    history: Iterable[float], x: float, min_rel_spread: float = 0.01, min_abs_spread: float = 0.0
) -> float:
    """0.6745 · (x − median) / MAD of ``history`` (MAD floored, see module docstring)."""
    xs = history if isinstance(history, list) else list(history)
    med = median(xs)
    mad = median([abs(v - med) for v in xs])
    if mad == 0:  # over half the values equal: use the mean absolute deviation
        mean_ad = sum(abs(v - med) for v in xs) / len(xs)
        return (x - med) / _floor(1.2533 * mean_ad, med, min_rel_spread, min_abs_spread)
    return 0.6745 * (x - med) / _floor(mad, med, min_rel_spread * 0.6745, min_abs_spread * 0.6745)


def default_abs_spread(metric: str) -> float:
    """The absolute spread floor of ``metric``: 1 per second for throughput rates, 0.001 otherwise."""
    return 1.0 if metric.split(".", 1)[-1] in RATES else 0.001


def outliers(
    metrics: Iterable[str] = ("tasks_per_s", "msgs_per_s"),
    *,
    window: int = 60,
    min_samples: int = 10,
    z: float = 4.0,
    mad: float = 3.5,
    methods: Iterable[str] = METHODS,
    min_rel_spread: float = 0.12,
    min_abs_spread: float | None = None,
    warmup: int = 4,
    persist: int = 2,
) -> Operator:
    """Samples → Anomaly events for values far from the metric's recent window.

    ::

        Sample Sample ... Sample(spike) Sample |
        ------------------ Anomaly ----------- |
    """
    metric_list = list(metrics)
    for m in metric_list:
        if m not in METRICS:
            raise UsageError(f"outliers: unknown metric {m!r} (known: {', '.join(METRICS[:12])}, ...)")
    method_list = list(methods)
    for meth in method_list:
        if meth not in METHODS:
            raise UsageError(f"outliers: unknown method {meth!r} (use zscore, mad)")
    if window < 2 or min_samples < 2 or min_samples > window:
        raise UsageError(f"outliers: need 2 <= min_samples ({min_samples}) <= window ({window})")
    if not (z > 0 and mad > 0 and min_rel_spread >= 0):
        raise UsageError(f"outliers: thresholds must be > 0 (z={z!r}, mad={mad!r})")
    if persist < 1:
        raise UsageError(f"outliers: persist must be >= 1 (got {persist!r})")
    if warmup < 0 or (min_abs_spread is not None and min_abs_spread < 0):
        raise UsageError(
            f"outliers: warmup and min_abs_spread must be >= 0 (got {warmup!r}, {min_abs_spread!r})"
        )
    getters = [
        (m, getter(m), default_abs_spread(m) if min_abs_spread is None else min_abs_spread)
        for m in metric_list
    ]
    limits = {"zscore": z, "mad": mad}
    scorers = {"zscore": zscore, "mad": mad_score}

    def setup(emit: Emit) -> tuple[Any, Any]:
        hist: dict[tuple[str, str], deque[float]] = {}
        seen: dict[tuple[str, str], int] = {}  # counted values so far (warm-up)
        activity: dict[str, Activity] = {}
        # (pool, metric) → flagged values in a row so far, and the first one's Anomaly
        streaks: dict[tuple[str, str], tuple[int, Anomaly | None]] = {}
        run_id: str | None = None

        def on_item(s: Any) -> None:
            nonlocal run_id
            if type(s) is not Sample:
                return
            if s.run_id != run_id:
                run_id = s.run_id
                hist.clear()
                seen.clear()
                activity.clear()
                streaks.clear()
            act = activity.get(s.pool)
            if act is None:
                act = activity[s.pool] = Activity()
            if not act.admit(s):
                return
            for name, get, floor in getters:
                x = get(s)
                if x is None or not act.counts(name):
                    continue
                key = (s.pool, name)
                n = seen[key] = seen.get(key, 0) + 1
                if n <= warmup:
                    continue
                h = hist.get(key)
                if h is None:
                    h = hist[key] = deque(maxlen=window)
                if len(h) >= min_samples and min(h) != max(h):
                    xs = list(h)
                    first: Anomaly | None = None
                    for meth in method_list:
                        score = scorers[meth](xs, x, min_rel_spread, floor)
                        if abs(score) >= limits[meth]:
                            first = Anomaly(
                                ts=s.ts,
                                ts_ns=s.ts_ns,
                                run_id=s.run_id,
                                metric=name,
                                method=meth,
                                value=x,
                                score=round(score, 6),
                                window=len(h),
                                pool=s.pool,
                                threshold=limits[meth],
                            )
                            break
                    count, pending = streaks.get(key, (0, None))
                    if first is None:
                        streaks.pop(key, None)  # the episode (if any) is over
                    else:
                        count += 1
                        pending = pending or first
                        if count == persist:
                            emit(pending)  # confirmed: one anomaly, at the change
                        streaks[key] = (count, pending)
                h.append(x)

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
