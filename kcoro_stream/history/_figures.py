"""The figures a verdict reads beside ``Summary.avg``, folded from a run's derived events.

::

    derived events ──RunFigures.add──► last cumulative HistogramSummary per pool and latency metric
                                       steady Samples: Σ rate × span, Σ worker-CPU share × span per pool
                   ──RunFigures.result()──► {"tasks:task_start_latency_ns:p99": …, "tasks:tasks_per_cpu_s": …}

The run loop folds every event it hands the sinks (``FrameRouter.drain``) and
records the result as ``figures`` in summary.json and in the manifest index's
entry; ``compare`` reads them there, and folds a replay of the log
(``runloop.replay_derived``) through this same class only for a run recorded
before summaries had them. One fold, so the two give the same numbers.

- **Latency**: p50 and p99 of the last cumulative histogram with observations,
  per pool and metric in ``LATENCY_METRICS`` (``POOL:METRIC:p99``).
- **Throughput per worker-CPU second** (``POOL:tasks_per_cpu_s``,
  ``POOL:msgs_per_cpu_s``): Σ rate × span / Σ cpu share × span over the pool's
  steady windows. A neighbour that takes the CPU away lowers throughput, not this.
"""

from __future__ import annotations

from typing import Any, Final

from ..events import HistogramSummary, Sample

__all__ = ["LATENCY_METRICS", "QUANTILES", "THROUGHPUT", "RunFigures", "metric_name"]

# Gated by default: higher is better.
THROUGHPUT: Final = ("tasks_per_s", "msgs_per_s")
# Reported, gated only on request (lower is better); the sampler's tick jitter is the monitor's, not the runtime's.
LATENCY_METRICS: Final = ("task_start_latency_ns", "chan_latency_ns")
QUANTILES: Final = ("p50", "p99")


def metric_name(pool: str, name: str) -> str:
    return f"{pool}:{name}"


class RunFigures:
    """A fold over one run's derived events (in order); ``result`` is the figures so far."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], HistogramSummary] = {}
        self._ops: dict[str, float] = {}  # POOL:NAME_per_cpu_s → Σ rate × span
        self._cpu: dict[str, float] = {}  # pool → Σ cpu share × span

    def add(self, event: Any) -> None:
        t = type(event)
        if t is HistogramSummary:
            if event.scope == "cumulative" and event.metric in LATENCY_METRICS and event.count:
                self._last[(event.pool, event.metric)] = event
        elif t is Sample:
            res = event.resources
            if event.phase != "steady" or res is None or not res.cpu_pct or not event.span_ns:
                return
            self._cpu[event.pool] = self._cpu.get(event.pool, 0.0) + res.cpu_pct / 100 * event.span_ns
            for name in THROUGHPUT:
                rate = getattr(event, name)
                if rate:
                    key = metric_name(event.pool, name.replace("_per_s", "_per_cpu_s"))
                    self._ops[key] = self._ops.get(key, 0.0) + rate * event.span_ns

    def add_all(self, events: list[Any]) -> RunFigures:
        for ev in events:
            self.add(ev)
        return self

    def result(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (pool, metric), h in self._last.items():
            for q in QUANTILES:
                v = getattr(h, q)
                if v is not None:
                    out[f"{metric_name(pool, metric)}:{q}"] = float(v)
        for key, ops in self._ops.items():
            cpu = self._cpu.get(key.split(":", 1)[0])
            if cpu:
                out[key] = ops / cpu
        return out
