"""What ``compare A [B]`` means for the paths it is given.

* ``compare BASELINE.json RESULTS``: the baseline against the results (each variant of them).
* ``compare RESULTS_A RESULTS_B``: two results directories (the first as the base).
* ``compare RESULTS``: an A/B results directory, its first variant against each other one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..errors import UsageError
from ._baseline import Baseline, baseline_from_results, load_baseline
from ._budget import spend_budget
from ._compare import Comparison, bucket_width, compare
from ._results import Results, load_results
from ._sequential import step_levels

__all__ = ["compare_paths", "parse_threshold"]


def parse_threshold(text: str, what: str = "--threshold") -> float:
    """``5%`` or ``0.05`` → 0.05; a value outside (0, 1) is a usage error."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", text)
    if not m:
        raise UsageError(f"{what}: expected a percentage like 5% (or 0.05), got {text!r}")
    v = float(m.group(1)) / (100 if m.group(2) else 1)
    if not 0 < v < 1:
        raise UsageError(f"{what}: expected a value between 0% and 100%, got {text!r}")
    return v


def _side(path: Path) -> tuple[str, dict[str, Baseline]]:
    """(label, {variant: values}) for a baseline file or a results directory."""
    if path.is_file() and path.name != "index.json":
        return str(path), {"": load_baseline(path)}
    res = load_results(path)
    return str(res.path), {v: baseline_from_results(res, v) for v in res.variants}


def _label(where: str, variant: str) -> str:
    return f"{where} [{variant}]" if variant else where


def _pick(where: str, sides: dict[str, Baseline], names: list[str] | None) -> dict[str, Baseline]:
    if not names:
        return sides
    for n in names:
        if n not in sides:
            raise UsageError(
                f"{where}: no variant {n!r} (there are: {', '.join(v for v in sides if v) or 'none'})"
            )
    return {n: sides[n] for n in names}


def check_metrics(names: Sequence[str], sides: list[Baseline]) -> None:
    """Every ``--metric`` name is a metric some step of some side has (a one-line UsageError if not)."""
    known = sorted(
        {m.rsplit(":", 1)[-1] for b in sides for vals in b.steps.values() for m in vals}
        | {n for b in sides for d in b.declared.values() for n in d}
    )
    for name in names:
        if name not in known:
            raise UsageError(
                f"--metric {name}: no step of the compared runs has this metric (they have: {', '.join(known)}); "
                "a pipeline's own metric is there only when its runs used that pipeline"
            )


def compare_paths(
    paths: list[Path],
    threshold: float,
    variants: list[str] | None = None,
    gate_latency: float | None = None,
    metrics: Sequence[str] = (),
) -> list[Comparison]:
    """The comparisons ``paths`` ask for, decided with one false-alarm budget (``_budget``);
    ``variants`` keeps only those variants of the new side; ``metrics`` are gated too (--metric)."""
    if gate_latency is not None and gate_latency <= bucket_width():
        raise UsageError(
            f"--gate-latency: {gate_latency:.0%} is within one histogram bucket ({bucket_width():.0%} wide); "
            "give a wider threshold (e.g. 25%)"
        )
    if not 1 <= len(paths) <= 2:
        raise UsageError("compare: give BASELINE RESULTS, RESULTS_A RESULTS_B, or one A/B RESULTS directory")
    if len(paths) == 1:
        if paths[0].is_file() and paths[0].name != "index.json":
            raise UsageError(f"{paths[0]}: a baseline alone: give the results to compare with it")
        return ab_comparisons(load_results(paths[0]), threshold, variants, gate_latency, metrics=metrics)
    bwhere, bsides = _side(paths[0])
    nwhere, nsides = _side(paths[1])
    nsides = _pick(nwhere, nsides, variants)
    bname = next(iter(bsides))
    check_metrics(metrics, [bsides[bname], *nsides.values()])
    return spend_budget(
        [
            compare(
                bsides[bname],
                side,
                threshold=threshold,
                base_label=_label(bwhere, bname),
                new_label=_label(nwhere, v),
                gate_latency=gate_latency,
                metrics=metrics,
            )
            for v, side in nsides.items()
        ]
    )


def ab_comparisons(
    res: Results,
    threshold: float,
    variants: list[str] | None = None,
    gate_latency: float | None = None,
    *,
    latency: bool = True,
    metrics: Sequence[str] = (),
) -> list[Comparison]:
    """An A/B results directory: its first variant against each other one, pair by pair, decided with
    the run's budget: Holm, or the alpha-spending plan of a ``repeats: auto`` manifest (``_sequential``)."""
    where = str(res.path)
    sides = {v: baseline_from_results(res, v, latency=latency) for v in res.variants}
    names = list(sides)
    if len(names) < 2:
        raise UsageError(
            f"{where}: one variant only: give a baseline to compare against (compare BASELINE {where})"
        )
    base = names[0]
    names = [base, *[n for n in _pick(where, sides, variants) if n != base]]
    check_metrics(metrics, [sides[n] for n in names])
    comparisons = [
        compare(
            sides[base],
            sides[v],
            threshold=threshold,
            base_label=_label(where, base),
            new_label=_label(where, v),
            paired=True,
            gate_latency=gate_latency,
            metrics=metrics,
        )
        for v in names[1:]
    ]
    plan = res.sequential
    return spend_budget(comparisons, levels=None if plan is None else step_levels(plan))
