"""Repeats until decisive: where a ``repeats: auto`` step looks, and the level each look may spend.

::

    plan_looks(max_pairs, metrics) ──► [n1, n2, ...]  pairs after which the runner looks (n1: the
                                                       first n whose exact test can reach its level)
    look_level(looks, n, max_pairs, metrics) ──► the level a gated metric is decided at after n pairs

**Alpha spending over looks** (Lan–DeMets), with a Pocock-type spending function
α(t) = α · ln(1 + (e − 1) t), t = n / max_pairs: by the look at n pairs the
run may have spent α(t) of its false-alarm budget α = 0.01. Each look j tests
at the *increment* α(t_j) − α(t_(j−1)), and each of the run's k gated metrics
at that increment / k (Bonferroni across metrics). A false ``regressed`` or
``improved`` anywhere needs some metric's p below its level at some look, so by
the union bound the chance of one over the whole run is at most Σ_j α_j = α(t_last) ≤ α,
however the stops fall. Stopping because every metric is ``unchanged`` (or the
time budget is spent) rejects nothing and spends nothing. The Pocock shape
spends evenly enough that an early look can decide; an O'Brien–Fleming shape
would spend almost nothing early, which the exact tests (smallest p 2/2^n)
could not use. Looks are taken every ``LOOK_EVERY`` pairs: each look costs
budget, so not after every pair.
"""

from __future__ import annotations

import math

from ._exact import min_p_paired
from ._results import SequentialPlan
from ._stats import ALPHA

__all__ = ["LOOK_EVERY", "look_level", "plan_looks", "spent", "step_levels"]

LOOK_EVERY = 2
DEFAULT_MAX_PAIRS = 30


def spent(t: float, alpha: float = ALPHA) -> float:
    """The share of ``alpha`` spendable by information fraction ``t`` (Pocock-type, Lan–DeMets)."""
    t = min(max(t, 0.0), 1.0)
    return alpha * math.log(1 + (math.e - 1) * t)


def plan_looks(max_pairs: int, metrics: int, alpha: float = ALPHA) -> list[int]:
    """The pair counts to look at: from the first n whose exact paired test can reach its level, every
    ``LOOK_EVERY`` pairs, and ``max_pairs`` last."""
    k = max(1, metrics)
    first = next(
        (n for n in range(2, max_pairs + 1) if min_p_paired(n) < spent(n / max_pairs, alpha) / k), None
    )
    if first is None:
        return [max_pairs]
    looks = list(range(first, max_pairs + 1, LOOK_EVERY))
    if looks[-1] != max_pairs:
        looks.append(max_pairs)
    return looks


def look_level(looks_taken: list[int], max_pairs: int, metrics: int, alpha: float = ALPHA) -> float:
    """The level a gated metric is decided at, at the last of ``looks_taken`` (pair counts, ascending)."""
    if not looks_taken:
        return 0.0
    n = looks_taken[-1]
    before = looks_taken[-2] if len(looks_taken) > 1 else 0
    return (spent(n / max_pairs, alpha) - spent(before / max_pairs, alpha)) / max(1, metrics)


def step_levels(plan: SequentialPlan) -> dict[str, float]:
    """Each step's level for a gated metric at its last look (a step without looks: nothing to spend)."""
    return {
        step: look_level(plan.looks.get(step, []), n, plan.metrics, plan.alpha)
        for step, n in plan.max_pairs.items()
    }
