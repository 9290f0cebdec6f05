"""Baselines: a results directory's per-repeat values kept in one JSON file.

::

    RESULTS/index.json ──save_baseline──► FILE.json {format, version, analysis_version, created, source,
                                                      noise, steps: {STEP: {fingerprint, metrics: {M: [..]}}}}
    FILE.json ──load_baseline──► Baseline (a corrupt or foreign file: one-line UsageError, exit 2)

``analysis_version`` is ``events.ANALYSIS_VERSION`` of the analyses that made
the summaries (not the derived schema: renaming a line's fields keeps
baselines valid); a baseline from another one is refused (its numbers may
mean something else).
Each step keeps its ``noise_profile`` (the run-to-run CoV of each gated
metric: ``compare`` warns when the other side's differs twofold, a different
or busier runner), the ``declared`` metrics among its values (unit, direction,
formula version: ``compare --metric`` refuses to compare two versions) and lists its ``gated`` metrics (``_results.gated_metric``; a baseline
without the list gates its throughput metrics). A value that is not a finite
number above zero, an empty step list or metric, a ``noise`` or
``fingerprint`` that is not an object: the file is refused in one line.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import publish
from ..errors import UsageError
from ..events import ANALYSIS_VERSION
from ..history._noise import noise_fingerprint
from ..records import (
    BASELINE_FORMAT,
    BASELINE_VERSION,
    BaselineFile,
    BaselineStep,
    MetricDeclaration,
    encode_pretty,
    read_baseline,
)
from ._results import THROUGHPUT, Results, repeat_table, step_key
from ._stats import noise_profile

__all__ = ["FORMAT", "Baseline", "baseline_from_results", "load_baseline", "save_baseline"]

FORMAT = BASELINE_FORMAT  # records.py


@dataclass
class Baseline:
    source: str
    noise: dict[str, Any] | None
    steps: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    fingerprints: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    analysis_version: int = ANALYSIS_VERSION
    gated: dict[str, set[str]] = field(default_factory=dict)
    # in memory only (a results directory's variant): the repeat number of each value, for pairing
    repeats: dict[str, list[int]] = field(default_factory=dict)
    # per step: the declared metrics among the values (name → unit, direction, formula version)
    declared: dict[str, dict[str, MetricDeclaration]] = field(default_factory=dict)


def step_fingerprints(res: Results, variant: str) -> dict[str, dict[str, Any] | None]:
    out: dict[str, dict[str, Any] | None] = {}
    for r in res.runs:
        if r.variant == variant and r.state == "ok" and r.fingerprint:
            out.setdefault(step_key(r.step, r.params), r.fingerprint)
    return out


def baseline_from_results(res: Results, variant: str | None = None, *, latency: bool = True) -> Baseline:
    """One variant's values (the first one when not named) as a Baseline."""
    variants = res.variants
    if variant is None:
        variant = variants[0] if variants else ""
    elif variant not in variants:
        raise UsageError(f"{res.path}: no variant {variant!r} (there are: {', '.join(variants) or 'none'})")
    tables = {step: t for (v, step), t in repeat_table(res, latency=latency).items() if v == variant}
    if not tables:
        raise UsageError(f"{res.path}: no run ended ok: nothing to keep")
    return Baseline(
        source=str(res.path) + (f" (variant {variant})" if variant else ""),
        noise=res.noise or noise_fingerprint(),
        steps={step: t.values for step, t in tables.items()},
        fingerprints=step_fingerprints(res, variant),
        gated={step: set(t.gated) for step, t in tables.items()},
        repeats={step: list(t.repeats) for step, t in tables.items()},
        declared={step: dict(t.declared) for step, t in tables.items() if t.declared},
    )


def _usable(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _kept(b: Baseline, step: str) -> dict[str, list[float]]:
    """A step's values fit for a file: a gated metric must be usable in every repeat; others keep what is."""
    out: dict[str, list[float]] = {}
    for m, vals in sorted(b.steps[step].items()):
        if m in b.gated.get(step, set()) and not all(_usable(v) for v in vals):
            bad = next(v for v in vals if not _usable(v))
            raise UsageError(
                f"{b.source}: step {step!r}: a repeat has no usable {m} ({bad!r}): not saved as a baseline"
            )
        kept = [v for v in vals if _usable(v)]
        if kept:
            out[m] = kept
    return out


def save_baseline(b: Baseline, to: Path) -> None:
    """Write ``to`` atomically (tmp + rename)."""
    body = BaselineFile(
        format=BASELINE_FORMAT,
        version=BASELINE_VERSION,
        analysis_version=b.analysis_version,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        source=b.source,
        noise=b.noise,
        steps={
            s: BaselineStep(
                fingerprint=b.fingerprints.get(s),
                gated=sorted(b.gated.get(s, ())),
                noise_profile=dict(noise_profile(b.steps[s], b.gated.get(s, set()))),
                metrics=_kept(b, s),
                declared=b.declared.get(s) or None,
            )
            for s in sorted(b.steps)
        },
    )
    try:
        publish(to, encode_pretty(body))
    except OSError as e:
        raise UsageError(f"{to}: cannot write the baseline: {e.strerror or e}") from None


def load_baseline(path: Path) -> Baseline:
    """Read and check ``path``; anything wrong is one line naming the file and the field."""
    data = read_baseline(path)
    if data.analysis_version != ANALYSIS_VERSION:
        raise UsageError(
            f"{path}: made with analysis version {data.analysis_version!r}, "
            f"this kcoro-stream derives version {ANALYSIS_VERSION}: save a new baseline"
        )
    if not data.steps:
        raise UsageError(f"{path}: corrupt baseline: steps: empty (nothing to compare against)")
    b = Baseline(source=data.source if data.source is not None else str(path), noise=data.noise)
    for s, body in data.steps.items():
        b.steps[s], b.gated[s], b.fingerprints[s] = _step(path, s, body)
        if body.declared:
            b.declared[s] = dict(body.declared)
    return b


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _step(
    path: Path, s: str, body: BaselineStep
) -> tuple[dict[str, list[float]], set[str], dict[str, Any] | None]:
    where = f"{path}: corrupt baseline: steps.{s}"
    metrics = body.metrics
    if not metrics:
        raise UsageError(f"{where}.metrics: expected an object with at least one metric")
    for m, vals in metrics.items():
        if not vals:
            raise UsageError(f"{where}.metrics.{m}: expected a non-empty list of numbers")
        for i, v in enumerate(vals):
            if not _usable(v):
                raise UsageError(f"{where}.metrics.{m}[{i}]: {_short(v)} is not a finite number above 0")
    gated = body.gated
    if gated is None:  # written before the gated list: its throughput metrics were gated
        gated = [m for m in metrics if m.rsplit(":", 1)[-1] in THROUGHPUT]
    if not all(g in metrics for g in gated):
        raise UsageError(f"{where}.gated: expected a list of the step's metric names")
    return dict(metrics), set(gated), body.fingerprint
