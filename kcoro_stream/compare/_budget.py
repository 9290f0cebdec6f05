"""One false-alarm budget per comparison run: Holm over every gated metric of every step and pair.

::

    [Comparison] (measured, undecided) ──spend_budget(alpha)──► the same, every verdict decided
        gated metrics with a p: sorted, p_(i) × (k - i + 1), running maximum (Holm's adjusted p)
        each gated verdict decided at alpha on its adjusted p; ungated ones at alpha on their own p

With a ``repeats: auto`` plan, each gated metric is decided at its step's level
from the alpha-spending plan (Bonferroni across the plan's gated metrics,
spending across looks: ``_sequential``), which holds the same run-wide alpha.
Holm (step-down Bonferroni) keeps the chance of *any* false ``regressed`` or
``improved`` among the k gated metrics at most alpha whatever their
dependence, and is never less powerful than Bonferroni. The minimum
detectable effect of a gated metric is given at alpha / k (Holm's strictest
step), the level it must meet when nothing else is found.
"""

from __future__ import annotations

from dataclasses import replace

from ._compare import Comparison
from ._stats import ALPHA, decide

__all__ = ["holm", "spend_budget"]


def holm(ps: list[float]) -> list[float]:
    """Holm's adjusted p-values, in the order given."""
    k = len(ps)
    order = sorted(range(k), key=lambda i: ps[i])
    out = [1.0] * k
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * ps[i]))
        out[i] = running
    return out


def spend_budget(
    comparisons: list[Comparison], alpha: float = ALPHA, *, levels: dict[str, float] | None = None
) -> list[Comparison]:
    """Decide every verdict of ``comparisons`` (one run's worth) with one budget ``alpha`` for the gated ones.

    ``levels`` (a ``repeats: auto`` results directory): each step's gated metrics are decided at that
    step's level from the alpha-spending plan (``_sequential``) instead of by Holm; a step the plan does
    not name is decided at 0 (it spent nothing)."""
    if levels is not None:
        for c in comparisons:
            for s in c.steps:
                level = levels.get(s.step, 0.0)
                s.verdicts = [
                    decide(v, level, mde_level=level) if v.gated else decide(v, alpha) for v in s.verdicts
                ]
        return comparisons
    gated = [
        (ci, si, vi)
        for ci, c in enumerate(comparisons)
        for si, s in enumerate(c.steps)
        for vi, v in enumerate(s.verdicts)
        if v.gated and v.p_value is not None
    ]
    adjusted = holm([comparisons[ci].steps[si].verdicts[vi].p_value or 1.0 for ci, si, vi in gated])
    adj = {key: p for key, p in zip(gated, adjusted, strict=True)}
    k = max(1, len(gated))
    for ci, c in enumerate(comparisons):
        for si, s in enumerate(c.steps):
            decided = []
            for vi, v in enumerate(s.verdicts):
                if (ci, si, vi) in adj:
                    v = replace(v, p_adjusted=adj[(ci, si, vi)])
                    # the mde at Holm's strictest step: what the metric had to meet on its own
                    decided.append(decide(v, alpha, mde_level=alpha / k))
                else:
                    decided.append(decide(v, alpha, mde_level=alpha / k if v.gated else alpha))
            s.verdicts = decided
    return comparisons
