"""Level shifts in a series of runs: divisive segmentation, each split kept only if significant.

::

    values (one per ok run, in time order)
      └─ segment [a, b): ruptures Binseg (l2 cost) ─► best split k  (the largest drop in squared error,
         │                                              i.e. the largest k(n-k)/n · (mean_left - mean_right)²)
         ├─ permutation test: the same statistic, maximised over k, on PERMUTATIONS seeded shuffles of the
         │   segment; kept when at most ALPHA of them reach it (E-divisive's test; repeatable: fixed seed)
         └─ recurse on [a, k) and [k, b)

Why not E-divisive from a package: MongoDB's signal-processing-algorithms 2.1.6 requires Python < 3.12
and numpy < 2 (kcoro-stream supports 3.11+ and runs numpy 2); apache-otava 0.8 pins scipy < 1.17,
numpy 2.2.0 and ruamel.yaml 0.18.16 (ours: 1.17.1, 0.19.1) and brings BigQuery, Slack and Postgres
clients. ruptures installs cleanly but has no significance test: with a penalty alone (PELT) it
flagged shifts in 20-90 % of flat noisy series with outliers in a simulation, so the test is added
here; the permutations are vectorised because ruptures' own search is Python-speed per segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .._extras import needs

__all__ = ["ALPHA", "MIN_SIZE", "PERMUTATIONS", "Shift", "level_shifts"]

MIN_SIZE = 3  # runs on each side of a shift (one slow run is an outlier, not a level)
PERMUTATIONS = 199
ALPHA = 0.05  # MongoDB's E-divisive default; at 0.01 fewer than ~14 runs can never show a shift
SEED = 20261130


@dataclass(frozen=True)
class Shift:
    index: int  # the first run after the shift
    before: float  # mean of the segment before
    after: float  # mean of the segment after
    p_value: float

    @property
    def change(self) -> float | None:
        return (self.after - self.before) / abs(self.before) if self.before else None


def _max_gain(x: Any) -> Any:
    """max over splits k of k(n-k)/n · (mean[:k] - mean[k:])², per row of x (shape (rows, n))."""
    with needs("history", "history --changes"):
        import numpy as np

    n = x.shape[1]
    c = np.cumsum(x, axis=1)
    k = np.arange(MIN_SIZE, n - MIN_SIZE + 1)
    left = c[:, k - 1] / k
    right = (c[:, -1:] - c[:, k - 1]) / (n - k)
    return (k * (n - k) / n * (left - right) ** 2).max(axis=1)


def _split(seg: Any, rng: Any, alpha: float) -> tuple[int, float] | None:
    """The best split of ``seg`` and its p-value, or None when it is not significant."""
    with needs("history", "history --changes"):
        import numpy as np
        import ruptures as rpt

    k = rpt.Binseg(model="l2", min_size=MIN_SIZE, jump=1).fit(seg.reshape(-1, 1)).predict(n_bkps=1)[0]
    observed = _max_gain(seg[None, :])[0]
    if not observed > 0:
        return None
    shuffled = rng.permuted(np.tile(seg, (PERMUTATIONS, 1)), axis=1)
    # relative tolerance: a permutation equal to the data up to rounding counts as reaching it
    reached = int((_max_gain(shuffled) >= observed * (1 - 1e-12)).sum())
    p = (reached + 1) / (PERMUTATIONS + 1)
    return (int(k), p) if p <= alpha else None


def level_shifts(values: list[float], alpha: float = ALPHA) -> list[Shift]:
    """The level shifts of ``values`` (time order) significant at ``alpha``, with the means around each.

    The smallest p-value the test can give is 1 / (PERMUTATIONS + 1) = 0.005: an ``alpha`` below
    that finds nothing."""
    with needs("history", "history --changes"):
        import numpy as np

    # The test is scale-free: run it on values scaled to at most 1 in magnitude, so sums of values
    # near 1e308 do not overflow (and numpy prints no RuntimeWarning); the means are scaled back.
    raw = np.asarray(values, dtype=float)
    top = float(np.max(np.abs(raw))) if len(raw) else 0.0
    scale = top if math.isfinite(top) and top > 1e150 else 1.0  # ordinary values: untouched
    x = raw / scale
    rng = np.random.default_rng(SEED)
    found: list[tuple[int, float]] = []
    todo = [(0, len(x))]
    while todo:
        a, b = todo.pop()
        if b - a < 2 * MIN_SIZE:
            continue
        got = _split(x[a:b], rng, alpha)
        if got is None:
            continue
        k, p = got
        found.append((a + k, p))
        todo += [(a, a + k), (a + k, b)]
    found.sort()
    cuts = [0, *(i for i, _ in found), len(x)]
    return [
        Shift(i, float(x[cuts[j] : i].mean()) * scale, float(x[i : cuts[j + 2]].mean()) * scale, p)
        for j, (i, p) in enumerate(found)
    ]
