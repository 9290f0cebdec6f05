"""Baseline (or variant) against results: a verdict per step and metric, and the exit code.

::

    Baseline ─┐
              ├─ compare ─► Comparison(pairs: [(label, [StepVerdicts])], warnings) ─► exit_code 0 | 1
    Baseline ─┘   (results are turned into a Baseline per variant first: one code path)

Gated: each step's gated metrics (``_results.gated_metric``: one throughput
per pool, by mode; higher is better). A regression in a gated metric makes the
exit code 1, as ``diff`` does; a gated metric missing, zero or NaN on either
side (or a step of the base missing from the new side) is trouble: exit 2.
``compare`` measures; ``_budget.spend_budget`` decides every verdict of a run
together. Latency
percentiles (lower is better) are reported with a 25 % threshold and gated
only with ``gate_latency``, which must be wider than a log2x4 bucket (~19 %):
a smaller change can be one bucket's rounding.
``metrics`` (``compare --metric NAME``) gates more metrics by name, in every
pool that has them: a metric the pipeline declared (kcoro_stream.analysis) in
its declared direction, a declared metric whose formula version differs
between the sides is trouble (its numbers mean different things); a built-in
one (``tasks_per_cpu_s`` figures, throughput) higher-is-better, a latency
percentile lower-is-better.
Differing fingerprints (build, host, benchmark configuration) are named in a
warning; they do not stop the comparison (comparing two builds is the point).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..records import MetricDeclaration
from ._baseline import Baseline
from ._results import is_latency
from ._stats import Verdict, measure, noise_profile

__all__ = ["Comparison", "StepVerdicts", "compare", "fingerprint_changes"]

# A fingerprint's fields that differ between any two runs and say nothing about the build.
VOLATILE = {"run_id", "pid", "ring"}


@dataclass
class StepVerdicts:
    step: str
    verdicts: list[Verdict]


@dataclass
class Comparison:
    base_label: str
    new_label: str
    steps: list[StepVerdicts] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    troubles: list[str] = field(default_factory=list)  # the comparison as a whole cannot be trusted

    def _gated(self, verdict: str) -> bool:
        return any(v.gated and v.verdict == verdict for s in self.steps for v in s.verdicts)

    @property
    def regressed(self) -> bool:
        return self._gated("regressed")

    @property
    def trouble(self) -> bool:
        return bool(self.troubles) or self._gated("trouble")

    @property
    def inconclusive(self) -> bool:
        return self._gated("inconclusive")

    def to_builtins(self) -> dict[str, Any]:
        return {
            "base": self.base_label,
            "new": self.new_label,
            "regressed": self.regressed,
            "trouble": self.trouble,
            "inconclusive": self.inconclusive,
            "troubles": self.troubles,
            "warnings": self.warnings,
            "steps": [{"step": s.step, "metrics": [v.to_builtins() for v in s.verdicts]} for s in self.steps],
        }


def _flat(d: dict[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in (d or {}).items():
        if k in VOLATILE:
            continue
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def fingerprint_changes(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    """``key old → new`` for every fingerprint field that differs."""
    fa, fb = _flat(a), _flat(b)
    return [
        f"{k} {fa.get(k)!r} → {fb.get(k)!r}" for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)
    ]


def _noise_changes(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    out = []
    for k in ("governor", "smt", "cpus"):
        if a and b and a.get(k) != b.get(k):
            out.append(f"{k} {a.get(k)!r} → {b.get(k)!r}")
    return out


NOISE_RATIO = 2.0  # a run-to-run CoV this many times the other side's: a different or busier runner


def noise_profile_changes(
    base: dict[str, list[float]], new: dict[str, list[float]], gated: set[str]
) -> list[str]:
    """Gated metrics whose run-to-run noise differs by NOISE_RATIO or more between the sides."""
    a, b = noise_profile(base, gated), noise_profile(new, gated)
    out = []
    for m in sorted(a.keys() & b.keys()):
        lo, hi = sorted((a[m], b[m]))
        if lo > 0 and hi / lo >= NOISE_RATIO:
            out.append(
                f"{m} run-to-run noise differs (CoV {a[m]:.1%} in the base, {b[m]:.1%} in the new side): "
                "a different or busier runner; the verdicts assume alike noise"
            )
    return out


LATENCY_REPORT_THRESHOLD = 0.25


def bucket_width() -> float:
    """The relative width of a histogram bucket (log2x4: 2**(1/4) - 1, ~19 %)."""
    from ..histo import SUB

    return float(2 ** (1 / SUB) - 1)


def compare(
    base: Baseline,
    new: Baseline,
    *,
    threshold: float,
    base_label: str,
    new_label: str,
    paired: bool = False,
    gate_latency: float | None = None,
    metrics: Sequence[str] = (),
) -> Comparison:
    """Every step and metric both sides have (a step on one side only is a warning); ``metrics``:
    gated too (by name, any pool; see the module docstring).

    ``paired``: the sides are variants of one interleaved A/B results directory: repeat i
    of each ran next to the other (see ``_stats``)."""
    c = Comparison(base_label, new_label)
    for step in sorted(base.steps.keys() | new.steps.keys()):
        if step not in new.steps:
            c.troubles.append(f"step {step!r}: in {base_label} only (no ok run in {new_label})")
            continue
        if step not in base.steps:
            c.warnings.append(f"step {step!r}: in {new_label} only (not in {base_label})")
            continue
        changes = fingerprint_changes(base.fingerprints.get(step), new.fingerprints.get(step))
        if changes:
            c.warnings.append(f"step {step!r}: fingerprints differ: {'; '.join(changes)}")
        bm, nm = base.steps[step], new.steps[step]
        gated = base.gated.get(step, set()) | new.gated.get(step, set())
        bdecl, ndecl = base.declared.get(step, {}), new.declared.get(step, {})
        for name in metrics:
            # in every pool where either side measured it (a pool that never had it, e.g. a channel
            # pool's CPU per task, is not gated; one side without it is trouble, as for any gated metric)
            have = {
                m for m in bm.keys() | nm.keys() if m.rsplit(":", 1)[-1] == name and _any_usable(bm, nm, m)
            }
            if not have:
                c.troubles.append(f"step {step!r}: --metric {name}: no usable value on either side")
            gated |= have
            a, b = bdecl.get(name), ndecl.get(name)
            if a is not None and b is not None and a.version != b.version:
                c.troubles.append(
                    f"step {step!r}: {name}: formula version {a.version} in {base_label}, {b.version} in "
                    f"{new_label}: their numbers are not comparable"
                )
        declared = {**bdecl, **ndecl}
        if not gated:
            c.troubles.append(f"step {step!r}: no gated metric on either side (no run summary)")
        pick = _pairs(base.repeats.get(step), new.repeats.get(step)) if paired else None
        if paired and pick is None:
            c.warnings.append(f"step {step!r}: the variants' ok repeats differ: compared unpaired")
        verdicts = [
            _measure(
                metric,
                bm.get(metric, []),
                nm.get(metric, []),
                threshold,
                pick,
                gate_latency,
                metric in gated,
                declared.get(metric.rsplit(":", 1)[-1]),
            )
            for metric in sorted(
                bm.keys() | nm.keys() | gated, key=lambda m: (m not in gated, is_latency(m), m)
            )
        ]
        c.steps.append(StepVerdicts(step, verdicts))
        c.warnings += [f"step {step!r}: {w}" for w in noise_profile_changes(bm, nm, gated)]
    noise = _noise_changes(base.noise, new.noise)
    if noise:
        c.warnings.append(f"noise fingerprints differ: {'; '.join(noise)}")
    return c


def _any_usable(a: dict[str, list[float]], b: dict[str, list[float]], metric: str) -> bool:
    return any(math.isfinite(v) and v > 0 for v in [*a.get(metric, []), *b.get(metric, [])])


def _pairs(a: list[int] | None, b: list[int] | None) -> tuple[list[int], list[int]] | None:
    """The positions of the repeats both sides ran (pairs), or None when they cannot be paired."""
    if not a or not b:
        return None
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return None
    return [a.index(r) for r in common], [b.index(r) for r in common]


def _measure(
    metric: str,
    b: list[float],
    n: list[float],
    threshold: float,
    pick: tuple[list[int], list[int]] | None,
    gate_latency: float | None,
    gated: bool,
    declared: MetricDeclaration | None = None,
) -> Verdict:
    paired = pick is not None and max(pick[0]) < len(b) and max(pick[1]) < len(n)
    if paired and pick is not None:
        b, n = [b[i] for i in pick[0]], [n[i] for i in pick[1]]
    if declared is not None:  # a pipeline's own metric: its declared direction
        return measure(
            metric, b, n, threshold=threshold, paired=paired, gated=gated,
            higher_is_better=declared.higher_is_better,
        )  # fmt: skip
    if not is_latency(metric):
        return measure(metric, b, n, threshold=threshold, paired=paired, gated=gated)
    return measure(
        metric, b, n, threshold=gate_latency or LATENCY_REPORT_THRESHOLD, paired=paired,
        higher_is_better=False, gated=gate_latency is not None,
    )  # fmt: skip
