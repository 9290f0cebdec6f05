"""Reading a results directory (contract 9) into per-repeat values: what a verdict is made of.

::

    DIR/index.json ──load_results──► Results(runs: [IndexRun], manifest, noise)
                                        └─ repeat_values ─► {(variant, step): {metric: [value per repeat]}}

A metric is ``POOL:NAME`` (``tasks:tasks_per_s``, ``channel:msgs_per_s``) taken
from each run's ``Summary.avg`` in the index (the summary the run loop's own
analyses made; nothing is recomputed). Latency percentiles (p50, p99 of the
run's last cumulative histogram per pool and metric: ``tasks:task_start_latency_ns:p99``)
come from replaying each run's log through its recorded analyses (``report.replay_run``). Runs that did not end
``ok`` are left out; a repeat is the unit, never a window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KcoroStreamError, UsageError

__all__ = [
    "LATENCY_METRICS",
    "THROUGHPUT",
    "IndexRun",
    "Results",
    "is_latency",
    "load_results",
    "metric_name",
    "repeat_values",
]

# Gated by default: higher is better.
THROUGHPUT = ("tasks_per_s", "msgs_per_s")
# Reported, gated only on request (lower is better); the sampler's tick jitter is the monitor's, not the runtime's.
LATENCY_METRICS = ("task_start_latency_ns", "chan_latency_ns")
QUANTILES = ("p50", "p99")


def is_latency(metric: str) -> bool:
    return metric.rsplit(":", 1)[-1] in QUANTILES


INDEX = "index.json"  # manifest._run.INDEX; not imported so a report never loads trio


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


@dataclass
class Results:
    path: Path
    name: str
    runs: list[IndexRun] = field(default_factory=list)
    noise: dict[str, Any] | None = None

    @property
    def variants(self) -> list[str]:
        seen: list[str] = []
        for r in self.runs:
            if r.variant not in seen:
                seen.append(r.variant)
        return seen


def metric_name(pool: str, name: str) -> str:
    return f"{pool}:{name}"


def step_key(step: str, params: dict[str, Any]) -> str:
    """A step and its matrix parameters, as one readable key (``tasks workers=2 batch=64``)."""
    return " ".join([step, *(f"{k}={v}" for k, v in params.items())])


def load_results(path: Path) -> Results:
    """Read ``path`` (a results directory, or its index.json); one-line UsageError when it is not one."""
    index = path / INDEX if path.is_dir() else path
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: not a results directory (no {INDEX})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{index}: cannot read: {e}") from None
    except ValueError as e:
        raise UsageError(f"{index}: not JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise UsageError(f"{index}: not a results index (no runs list)")
    man = data.get("manifest")
    man = man if isinstance(man, dict) else {}
    res = Results(index.parent, str(man.get("name", index.parent.name)), noise=data.get("noise"))
    for i, r in enumerate(data["runs"]):
        try:
            res.runs.append(
                IndexRun(
                    step=str(r["step"]),
                    params=dict(r.get("params") or {}),
                    repeat=int(r["repeat"]),
                    variant=str(r.get("variant") or ""),
                    run_id=r.get("run_id"),
                    dir=index.parent / str(r["dir"]),
                    state=str(r.get("state")),
                    summary=list(r.get("summary") or []),
                    fingerprint=r.get("fingerprint"),
                )
            )
        except (KeyError, TypeError, ValueError) as e:
            raise UsageError(f"{index}: runs[{i}]: malformed entry ({type(e).__name__}: {e})") from None
    return res


def _latency(run_dir: Path) -> dict[str, float]:
    """p50/p99 of the last cumulative histogram of each pool and latency metric of a run."""
    from ..report._inputs import replay_run

    last: dict[tuple[str, str], Any] = {}
    for h in replay_run(run_dir, run_dir.name).histograms:
        if h.scope == "cumulative" and h.metric in LATENCY_METRICS and h.count:
            last[(h.pool, h.metric)] = h
    out: dict[str, float] = {}
    for (pool, metric), h in last.items():
        for q in QUANTILES:
            v = getattr(h, q)
            if v is not None:
                out[f"{metric_name(pool, metric)}:{q}"] = float(v)
    return out


def repeat_values(res: Results, *, latency: bool = False) -> dict[tuple[str, str], dict[str, list[float]]]:
    """{(variant, step key): {metric: [one value per ok repeat, in repeat order]}} from the summaries
    (and, with ``latency``, the percentiles of each run's replayed histograms)."""
    out: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in sorted(res.runs, key=lambda r: r.repeat):
        if r.state != "ok":
            continue
        metrics = out.setdefault((r.variant, step_key(r.step, r.params)), {})
        if latency:
            try:
                for name, q in _latency(r.dir).items():
                    metrics.setdefault(name, []).append(q)
            except KcoroStreamError as e:
                raise UsageError(f"{r.dir}: cannot replay for latency: {e}") from None
        for s in r.summary:
            if not isinstance(s, dict) or s.get("type") != "summary":
                continue
            avg = s.get("avg") or {}
            for name in THROUGHPUT:
                v = avg.get(name)
                if isinstance(v, int | float) and v > 0:
                    metrics.setdefault(metric_name(str(s.get("pool", "all")), name), []).append(float(v))
    return out
