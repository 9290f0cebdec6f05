"""Baseline (or variant) against results: a verdict per step and metric, and the exit code.

::

    Baseline ─┐
              ├─ compare ─► Comparison(pairs: [(label, [StepVerdicts])], warnings) ─► exit_code 0 | 1
    Baseline ─┘   (results are turned into a Baseline per variant first: one code path)

Gated: throughput (``tasks_per_s``, ``msgs_per_s``, higher is better). A
regression in a gated metric makes the exit code 1, as ``diff`` does. Latency
percentiles (lower is better) are reported with a 25 % threshold and gated
only with ``gate_latency``, which must be wider than a log2x4 bucket (~19 %):
a smaller change can be one bucket's rounding.
Differing fingerprints (build, host, benchmark configuration) are named in a
warning; they do not stop the comparison (comparing two builds is the point).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._baseline import Baseline
from ._results import is_latency
from ._stats import Verdict, verdict_for

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

    @property
    def regressed(self) -> bool:
        return any(v.gated and v.verdict == "regressed" for s in self.steps for v in s.verdicts)

    def to_builtins(self) -> dict[str, Any]:
        return {
            "base": self.base_label,
            "new": self.new_label,
            "regressed": self.regressed,
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
) -> Comparison:
    """Every step and metric both sides have (a step on one side only is a warning).

    ``paired``: the sides are variants of one interleaved A/B results directory: repeat i
    of each ran next to the other (see ``_stats``)."""
    c = Comparison(base_label, new_label)
    for step in sorted(base.steps.keys() | new.steps.keys()):
        if step not in new.steps:
            c.warnings.append(f"step {step!r}: in {base_label} only (no ok run in {new_label})")
            continue
        if step not in base.steps:
            c.warnings.append(f"step {step!r}: in {new_label} only (not in {base_label})")
            continue
        changes = fingerprint_changes(base.fingerprints.get(step), new.fingerprints.get(step))
        if changes:
            c.warnings.append(f"step {step!r}: fingerprints differ: {'; '.join(changes)}")
        bm, nm = base.steps[step], new.steps[step]
        verdicts = [
            _verdict(metric, bm.get(metric, []), nm.get(metric, []), threshold, paired, gate_latency)
            for metric in sorted(bm.keys() | nm.keys(), key=lambda m: (is_latency(m), m))
        ]
        c.steps.append(StepVerdicts(step, verdicts))
    noise = _noise_changes(base.noise, new.noise)
    if noise:
        c.warnings.append(f"noise fingerprints differ: {'; '.join(noise)}")
    return c


def _verdict(
    metric: str, b: list[float], n: list[float], threshold: float, paired: bool, gate_latency: float | None
) -> Verdict:
    if not is_latency(metric):
        return verdict_for(metric, b, n, threshold=threshold, paired=paired)
    return verdict_for(
        metric, b, n, threshold=gate_latency or LATENCY_REPORT_THRESHOLD, paired=paired,
        higher_is_better=False, gated=gate_latency is not None,
    )  # fmt: skip
