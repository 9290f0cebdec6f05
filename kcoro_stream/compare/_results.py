"""Reading a results directory (contract 9) into per-repeat values: what a verdict is made of.

::

    DIR/index.json ──load_results──► Results(runs: [IndexRun], manifest, noise)
                                        └─ repeat_values ─► {(variant, step): {metric: [value per repeat]}}

A metric is ``POOL:NAME`` (``tasks:tasks_per_s``, ``channel:msgs_per_s``) taken
from each run's ``Summary.avg`` in the index (the summary the run loop's own
analyses made; nothing is recomputed). The gated metric of a pool is its
headline, defined once by the run's mode (``records.headline_metric``, which
``history`` lists by default): channel → msgs/s, tasks and mixed → tasks/s (in
mixed mode each task is one message: the same quantity), dual → each pool's own. Every other metric is reported, never gated. Latency percentiles (p50, p99 of the
run's last cumulative histogram per pool and metric: ``tasks:task_start_latency_ns:p99``) and the
throughput per worker-CPU second (``tasks:tasks_per_cpu_s``) are the ``figures`` the run loop recorded
in the run's index entry (history/_figures.py); only a run recorded before entries had them is
replayed (``runloop.replay_derived``, folded by the same ``RunFigures``). Runs that did not end
``ok`` are left out; a repeat is the unit, never a window. ``repeat_table`` keeps
every ok repeat of every metric the step has, NaN where a run has no usable
value (0, NaN, no summary): the gate calls that trouble; ``repeat_values`` keeps
the usable values only (for charts). A metric the run's pipeline declared
(``Summary.declared_figures``, kcoro_stream.analysis) is ``POOL:NAME`` from its
figure's average, with its declaration (unit, direction, version) in
``RepeatTable.declared``; it is gated only when asked (``compare --metric NAME``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KcoroStreamError, UsageError
from ..history._figures import LATENCY_METRICS, QUANTILES, THROUGHPUT, RunFigures, metric_name
from ..records import INDEX_NAME, MetricDeclaration, RecordError, headline_metric, read_index

__all__ = [
    "LATENCY_METRICS",
    "THROUGHPUT",
    "IndexRun",
    "RepeatTable",
    "Results",
    "SequentialPlan",
    "declared_values",
    "gated_metric",
    "is_latency",
    "load_results",
    "metric_name",
    "repeat_table",
    "repeat_values",
]


def gated_metric(mode: str, pool: str) -> str | None:
    """The one gated metric of ``pool`` in a run of ``mode`` (None: nothing to gate): its headline."""
    name = headline_metric(mode, pool)
    return None if name is None else metric_name(pool, name)


def is_latency(metric: str) -> bool:
    return metric.rsplit(":", 1)[-1] in QUANTILES


INDEX = INDEX_NAME


@dataclass
class IndexRun:
    step: str
    params: dict[str, Any]
    repeat: int
    variant: str
    run_id: str | None
    dir: Path
    state: str
    summary: list[dict[str, Any]]
    fingerprint: dict[str, Any] | None
    figures: dict[str, float | None] | None = None  # None: recorded before index entries had them


@dataclass
class SequentialPlan:
    """What a ``repeats: auto`` manifest recorded: the budget, the gated metrics it is shared by, each
    step's looks (pair counts) and why it stopped (compare/_sequential.py decides at the last look)."""

    alpha: float
    metrics: int
    max_pairs: dict[str, int] = field(default_factory=dict)  # step key → planned maximum
    looks: dict[str, list[int]] = field(default_factory=dict)  # step key → looks taken
    stopped: dict[str, str] = field(default_factory=dict)  # step key → decided | budget | max_repeats

    def to_builtins(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "metrics": self.metrics,
            "steps": {
                k: {"max_pairs": n, "looks": self.looks.get(k, []), "stopped": self.stopped.get(k)}
                for k, n in self.max_pairs.items()
            },
        }


def _sequential(index: Path, body: Any) -> SequentialPlan | None:
    if body is None:
        return None
    try:
        plan = SequentialPlan(float(body["alpha"]), int(body["metrics"]))
        for k, v in dict(body["steps"]).items():
            plan.max_pairs[str(k)] = int(v["max_pairs"])
            plan.looks[str(k)] = [int(n) for n in v["looks"]]
            if v.get("stopped") is not None:
                plan.stopped[str(k)] = str(v["stopped"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UsageError(f"{index}: sequential: malformed ({type(e).__name__}: {e})") from None
    if not 0 < plan.alpha < 1 or plan.metrics < 1:
        raise UsageError(f"{index}: sequential: alpha in (0, 1) and metrics ≥ 1 expected")
    return plan


@dataclass
class Results:
    path: Path
    name: str
    runs: list[IndexRun] = field(default_factory=list)
    noise: dict[str, Any] | None = None
    sequential: SequentialPlan | None = None  # repeats: auto (the manifest's alpha-spending plan)

    @property
    def variants(self) -> list[str]:
        seen: list[str] = []
        for r in self.runs:
            if r.variant not in seen:
                seen.append(r.variant)
        return seen


def step_key(step: str, params: dict[str, Any]) -> str:
    """A step and its matrix parameters, as one readable key (``tasks workers=2 batch=64``)."""
    return " ".join([step, *(f"{k}={v}" for k, v in params.items())])


def load_results(path: Path) -> Results:
    """Read ``path`` (a results directory, or its index.json); one-line UsageError when it is not one."""
    index = path / INDEX if path.is_dir() else path
    try:
        data = read_index(index)
    except RecordError as e:
        if e.missing:
            raise UsageError(f"{path}: not a results directory (no {INDEX})") from None
        raise
    man = data.manifest
    res = Results(
        index.parent,
        man.name if man is not None and man.name is not None else index.parent.name,
        noise=data.noise,
        sequential=_sequential(index, data.sequential),
    )
    for i, r in enumerate(data.runs):
        if r.dir is None:
            raise UsageError(f"{index}: $.runs[{i}].dir: missing (the run's directory)")
        res.runs.append(
            IndexRun(
                step=r.step,
                params=r.params,
                repeat=r.repeat,
                variant=r.variant,
                run_id=r.run_id,
                dir=index.parent / r.dir,
                state=r.state,
                summary=r.summary,
                fingerprint=r.fingerprint,
                figures=r.figures,
            )
        )
    return res


def _figures(r: IndexRun) -> dict[str, float]:
    """The run's latency percentiles and throughput per worker-CPU second (history/_figures.py): as
    its index entry recorded them, or, for a run recorded before entries had them, a replay of its log."""
    if r.figures is not None:
        return {k: math.nan if v is None else v for k, v in r.figures.items()}
    from ..runloop import replay_derived

    try:
        return RunFigures().add_all(replay_derived(r.dir)).result()
    except KcoroStreamError as e:
        raise UsageError(f"{r.dir}: cannot replay for latency: {e}") from None


@dataclass
class RepeatTable:
    """One variant's step: the ok repeats in order, every metric's value per repeat (NaN: none), the gated ones."""

    repeats: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)
    declared: dict[str, MetricDeclaration] = field(default_factory=dict)  # declared metric name → declaration


def _number(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def declared_values(summary: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, MetricDeclaration]]:
    """The declared metrics of a run's summaries: ``POOL:NAME`` → average, and name → declaration."""
    values: dict[str, float] = {}
    decls: dict[str, MetricDeclaration] = {}
    for s in summary:
        if not isinstance(s, dict) or s.get("type") != "summary":
            continue
        for f in s.get("declared_figures") or ():
            try:
                name = str(f["name"])
                decl = MetricDeclaration(
                    unit=str(f["unit"]),
                    higher_is_better=bool(f["higher_is_better"]),
                    version=int(f["version"]),
                )
            except (KeyError, TypeError, ValueError):
                continue  # not a figure this version can read: no value, the gate says trouble if asked
            decls[name] = decl
            values[metric_name(str(s.get("pool", "all")), name)] = _number(f.get("avg"))
    return values, decls


def _run_metrics(r: IndexRun) -> tuple[dict[str, float], set[str]]:
    values: dict[str, float] = {}
    gated: set[str] = set()
    for s in r.summary:
        if not isinstance(s, dict) or s.get("type") != "summary":
            continue
        pool = str(s.get("pool", "all"))
        g = gated_metric(str(s.get("mode", "")), pool)
        if g is not None:
            gated.add(g)
        avg = s.get("avg")
        for name in THROUGHPUT:
            v = avg.get(name) if isinstance(avg, dict) else None
            number = isinstance(v, int | float) and not isinstance(v, bool)
            values[metric_name(pool, name)] = float(v) if number else math.nan  # type: ignore[arg-type]  # number: v is int | float
    return values, gated


def repeat_table(res: Results, *, latency: bool = False) -> dict[tuple[str, str], RepeatTable]:
    """{(variant, step key): RepeatTable} over the ok runs (see the module docstring)."""
    per_run: list[tuple[IndexRun, dict[str, float]]] = []
    gated: dict[str, set[str]] = {}  # step key → gated metrics any run of the step (any variant) has
    declared: dict[tuple[str, str], dict[str, MetricDeclaration]] = {}  # (variant, step) → declarations
    for r in sorted(res.runs, key=lambda r: r.repeat):
        if r.state != "ok":
            continue
        values, g = _run_metrics(r)
        if latency:
            values.update(_figures(r))
        own, decls = declared_values(r.summary)
        values.update(own)  # after the figures: a declared tasks_per_cpu_s is the pipeline's formula
        declared.setdefault((r.variant, step_key(r.step, r.params)), {}).update(decls)
        gated.setdefault(step_key(r.step, r.params), set()).update(g)
        per_run.append((r, values))
    out: dict[tuple[str, str], RepeatTable] = {}
    names: dict[str, set[str]] = {}
    for r, values in per_run:
        names.setdefault(step_key(r.step, r.params), set()).update(values)
    for r, values in per_run:
        step = step_key(r.step, r.params)
        t = out.setdefault(
            (r.variant, step), RepeatTable(gated=gated[step], declared=declared.get((r.variant, step), {}))
        )
        t.repeats.append(r.repeat)
        for name in sorted(names[step] | gated[step]):
            t.values.setdefault(name, []).append(values.get(name, math.nan))
    return out


def repeat_values(res: Results, *, latency: bool = False) -> dict[tuple[str, str], dict[str, list[float]]]:
    """{(variant, step key): {metric: [one usable value per ok repeat, in repeat order]}} (for charts)."""
    out: dict[tuple[str, str], dict[str, list[float]]] = {}
    for key, t in repeat_table(res, latency=latency).items():
        kept = {m: [v for v in vals if math.isfinite(v) and v > 0] for m, vals in t.values.items()}
        out[key] = {m: vals for m, vals in kept.items() if vals}
    return out
