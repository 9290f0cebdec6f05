"""``repeats: auto``: interleaved pairs until every gated metric of the step is decided, or the budget is spent.

::

    run_manifest ──► Sequential.skip(run)?     (the step is decided / out of budget / at max_repeats)
                 ──► Sequential.after(run)      after the last variant of a repeat (a round):
                       at a planned look (compare._sequential.plan_looks): record the look, flush the
                       index, decide with compare's own code (ab_comparisons at the look's level);
                       every gated verdict regressed/improved/unchanged → stop; the next round would
                       overrun ``budget`` → stop (this round becomes the last look); max → stop

The index records the plan (``sequential``: alpha, gated metrics, per step the
looks taken and why it stopped), so ``compare RESULTS`` decides at the same
levels later. A step without ``repeats: auto`` in such a manifest has one look,
after its last round.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..compare._results import SequentialPlan, load_results, step_key
from ..compare._sequential import plan_looks
from ..compare._stats import ALPHA
from ._load import Manifest, PlannedRun

__all__ = ["Sequential"]

DECIDED = ("regressed", "improved", "unchanged")
THRESHOLD = 0.05  # compare's default --threshold


class Sequential:
    """The alpha-spending plan of one ``manifest run`` and each step's progress through it."""

    def __init__(self, m: Manifest) -> None:
        self.plan = SequentialPlan(ALPHA, m.gated_metrics)
        self.planned: dict[str, list[int]] = {}
        self.budget: dict[str, float | None] = {}
        self.started: dict[str, float] = {}
        self.round_started: dict[str, float] = {}
        self.longest_round: dict[str, float] = {}
        self.round_end: set[tuple[str, str, int, str]] = set()
        for i, r in enumerate(m.runs):
            key = self._key(r)
            nxt = m.runs[i + 1] if i + 1 < len(m.runs) else None
            if nxt is None or self._key(nxt) != key or nxt.repeat != r.repeat:
                self.round_end.add(r.key)
            if key in self.plan.max_pairs:
                continue
            self.plan.max_pairs[key] = r.repeats
            self.plan.looks[key] = []
            if r.auto is not None:
                self.planned[key] = plan_looks(r.repeats, self.plan.metrics, ALPHA)
                self.budget[key] = r.auto.budget_s
            else:
                self.planned[key] = [r.repeats]
                self.budget[key] = None

    @staticmethod
    def _key(r: PlannedRun) -> str:
        return step_key(r.step, r.params)

    def skip(self, r: PlannedRun) -> bool:
        """True when ``r``'s step has stopped: it is not run."""
        return self._key(r) in self.plan.stopped

    def before(self, r: PlannedRun) -> None:
        key = self._key(r)
        now = time.monotonic()
        self.started.setdefault(key, now)
        self.round_started.setdefault(key, now)

    def after(self, r: PlannedRun, out_dir: Path, flush: Callable[[], None]) -> str | None:
        """After ``r`` ran (or was kept): at the end of a round, maybe look; a line saying what was decided."""
        if r.key not in self.round_end:
            return None
        key = self._key(r)
        now = time.monotonic()
        took = now - self.round_started.pop(key, now)
        self.longest_round[key] = max(self.longest_round.get(key, 0.0), took)
        n = r.repeat
        budget = self.budget[key]
        over = budget is not None and now - self.started.get(key, now) + self.longest_round[key] > budget
        last = n >= self.plan.max_pairs[key]
        if n not in self.planned[key] and not over and not last:
            return None
        self.plan.looks[key].append(n)
        flush()
        decided, detail = self._decide(out_dir, key)
        why = "decided" if decided else "max_repeats" if last else "budget" if over else None
        if why is None:
            return f"{key}: look at {n} pairs: {detail}; going on"
        self.plan.stopped[key] = why
        flush()
        return f"{key}: stopped after {n} pairs ({why}): {detail}"

    def _decide(self, out_dir: Path, key: str) -> tuple[bool, str]:
        from ..compare._paths import ab_comparisons

        res = load_results(out_dir)
        res.runs = [x for x in res.runs if step_key(x.step, x.params) == key]
        if len(res.variants) < 2:
            return False, "no A/B (variants:): repeats until max_repeats or the budget"
        comparisons = ab_comparisons(res, THRESHOLD, latency=False)
        gated = [(c.new_label, v) for c in comparisons for s in c.steps for v in s.verdicts if v.gated]
        if not gated:
            return False, "no gated metric yet"
        decided = all(v.verdict in DECIDED for _, v in gated)
        return decided, "; ".join(f"{v.metric} {v.verdict}" for _, v in gated)

    def to_builtins(self) -> dict[str, object]:
        return json.loads(json.dumps(self.plan.to_builtins()))
