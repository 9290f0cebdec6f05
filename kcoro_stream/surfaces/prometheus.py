"""``prometheus`` sink: derived events → metrics served on ``/metrics``.

::

    Sample / HistogramSummary / Heatmap / OsSample / Alert / Anomaly / Kpi / Status
        └─► _MetricsState (counters integrated, gauges, cumulative buckets)
              └─► _StateCollector (own CollectorRegistry, not the global one)
                    └─► GET /metrics ─► prometheus_client exposition
                          (hypercorn trio server inside the pipeline process)

Names follow ``kcoro_<subsystem>_<name>_<unit>``: counters end in ``_total``,
times are seconds, bytes are bytes; labels are ``pool``, ``worker``, ``rule``,
``kpi``. The full table is in docs/surfaces.md. ``COUNTERS`` is derived from
the counter Structs of events.py (``WorkerCounts``, ``ChannelCounts``): every
field is a counter ``kcoro_sched_<field>_total`` / ``kcoro_chan_<field>_total``
(``_ns`` fields in seconds) unless its metadata names it.

Counters stay monotonic. Per series the exporter prefers the cumulative total
``Sample.worker_totals`` / ``channel_totals`` (exact, survives dropped
windows), else the window's exact ``*_deltas``, else the integral of the
counter's rate field × window. A smaller total than the last one never lowers
a counter. ``Sample.resources`` gives the ``kcoro_pool_*`` /
``kcoro_process_*`` CPU and memory series.

``Status`` (the monitor's own account) gives ``kcoro_monitor_*``: a counter per
``ReaderStatistics`` field (``kcoro_monitor_ring_dropped_frames_total``,
``…_corrupt_frames_total``, …) and ``LogStatistics`` field
(``kcoro_monitor_log_frame_bytes_total``, ``…_disk_bytes_total``, …), per sink
``kcoro_monitor_sink_dropped_total{sink,reason}``, ``…_received_total``,
``…_written_total``, ``kcoro_monitor_sink_queued{sink}``, and the uptime.

A metric the run's pipeline declares (``kcoro_stream.analysis``;
``Sample.declared``) is the gauge ``kcoro_user_<name>{pool}`` with the
declared help text, unit and version as its HELP (``USER_PREFIX``).

Beside each latency histogram, the ``histograms`` operator's percentiles of
the last window are gauges ``<histogram>_window_seconds{pool,percentile}``
(percentile 50, 90, 99, 99.9): what the dashboards show, not a
``histogram_quantile`` re-estimate.

Latency histograms are real Prometheus histograms in seconds; ``_sum`` is the
exact sum the producer counted (``HistogramSummary.sum``), estimated from bucket
midpoints only for events without one (older recordings). A cumulative
``HistogramSummary`` (scope ``"cumulative"``) is taken as is; window summaries
are added up only while no cumulative one has been seen for that metric.

Spec: ``prometheus:HOST:PORT`` (default ``127.0.0.1:9464``); binding a
non-loopback address needs ``allow_remote: true``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeGuard

import msgspec

from .. import histo
from .._extras import needs
from ..events import (
    Alert,
    Anomaly,
    ChannelCounts,
    CoroutineView,
    DerivedEvent,
    Heatmap,
    HistogramSummary,
    Kpi,
    LogStatistics,
    Meta,
    OsSample,
    ReaderStatistics,
    Sample,
    Status,
    WorkerCounts,
    counter_fields,
)
from ..sinks._base import Sink, SinkContext
from ..sinks._registry import register

with needs("prometheus", "the prometheus sink (/metrics)"):
    from prometheus_client import CollectorRegistry
    from prometheus_client.asgi import make_asgi_app
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        Metric,
    )
    from prometheus_client.registry import Collector

    from ._asgi import HttpServer, check_bind, handle_lifespan, parse_host_port, send_response

DEFAULT_PORT = 9464


class PrometheusConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    allow_remote: bool = False  # needed to bind anything but loopback
    path: str = "/metrics"
    allowed_hosts: list[str] = []  # Host header names besides loopback and the bound address


@dataclass(frozen=True)
class CounterSeries:
    """A Prometheus counter fed by one field of ``Sample.worker_*`` / ``Sample.channel_*``."""

    group: str  # "worker" | "channel": reads ``<group>_totals`` / ``<group>_deltas``
    field: str  # the WorkerCounts / ChannelCounts field
    name: str  # without the _total suffix (prometheus_client adds it)
    help: str
    rate: str | None  # Sample rate field integrated when a Sample carries no counts
    divisor: float = 1.0  # field unit → base unit (1e9 for _ns → seconds)


def _series(group: str, cls: type[WorkerCounts] | type[ChannelCounts], subsystem: str) -> list[CounterSeries]:
    out = []
    for cf in counter_fields(cls):
        name, divisor = cf.metric or f"kcoro_{subsystem}_{cf.name}", 1.0
        if name.endswith("_ns"):
            name, divisor = name[:-3] + "_seconds", 1e9
        out.append(CounterSeries(group, cf.name, name, cf.help, cf.rate, divisor))
    return out


# Every counter of the schema, named and documented by its metadata in events.py.
COUNTERS: tuple[CounterSeries, ...] = (
    *_series("worker", WorkerCounts, "sched"),
    *_series("channel", ChannelCounts, "chan"),
)


@dataclass(frozen=True)
class SampleGauge:
    field: str
    name: str
    help: str
    scale: float = 1.0


SAMPLE_GAUGES = (
    SampleGauge(
        "fastpath_ratio", "kcoro_sched_fastpath_ratio", "Fast-path hits / (hits + misses) in the window."
    ),
    SampleGauge(
        "steal_ratio", "kcoro_sched_steal_success_ratio", "Successful steals / steal probes in the window."
    ),
    SampleGauge(
        "utilisation", "kcoro_sched_utilisation_ratio", "Busy time / (busy + idle) over all workers."
    ),
    SampleGauge(
        "idle_workers_pct", "kcoro_sched_idle_workers_ratio", "Share of workers idle in the window.", 0.01
    ),
    SampleGauge("inject_depth", "kcoro_sched_inject_queue_depth", "Inject-queue depth (tasks)."),
    SampleGauge("channel_depth", "kcoro_chan_queue_depth", "Channel queue depth (messages)."),
)

# Resources of a pool (``Sample.resources``), as gauges in base units.
RESOURCE_GAUGES = (
    SampleGauge(
        "cpu_pct",
        "kcoro_pool_cpu_ratio",
        "CPU of the pool's worker threads in the window (1 = one core).",
        0.01,
    ),
    SampleGauge("stack_bytes", "kcoro_pool_stack_bytes", "Coroutine stack memory mapped by the pool."),
    SampleGauge("live_coroutines", "kcoro_pool_coroutines", "Live coroutines in the pool."),
    SampleGauge("ready_coroutines", "kcoro_pool_ready_coroutines", "Coroutines ready to run in the pool."),
    SampleGauge(
        "process_cpu_pct",
        "kcoro_process_cpu_ratio",
        "CPU of the whole process in the window (1 = one core).",
        0.01,
    ),
    SampleGauge("rss_bytes", "kcoro_process_resident_memory_bytes", "Resident memory of the process."),
)
# Cumulative CPU time as counters (the gauges ``pool_cpu_ns`` / ``process_cpu_ns``).
RESOURCE_COUNTERS = (
    SampleGauge("cpu_ns", "kcoro_pool_cpu_seconds", "CPU time of the pool's worker threads.", 1e-9),
    SampleGauge("process_cpu_ns", "kcoro_process_cpu_seconds", "CPU time of the process.", 1e-9),
)

KPI_STATES = ("GREEN", "YELLOW", "RED", "UNKNOWN")

_NAME_RE = re.compile(r"[^a-zA-Z0-9_]")
_UNIT_DIVISOR = {"_ns": 1e9, "_us": 1e6, "_ms": 1e3, "_s": 1.0}


def histogram_metric_name(metric: str) -> tuple[str, float]:
    """``task_start_latency_ns`` → (``kcoro_sched_task_start_latency_seconds``, 1e9).

    The second item divides the metric's values into seconds.
    """
    base, divisor = metric, 1.0
    for suffix, factor in _UNIT_DIVISOR.items():
        if metric.endswith(suffix):
            base, divisor = metric[: -len(suffix)], factor
            break
    base = _NAME_RE.sub("_", base)
    if base.startswith("chan_"):
        name = "kcoro_chan_" + base[5:]
    elif base.startswith("sched_"):
        name = "kcoro_" + base
    else:
        name = "kcoro_sched_" + base
    return name + "_seconds", divisor


def _next_bound(scheme: str, lower: int) -> int:
    """Upper bound of the bucket starting at ``lower`` (kcoro_stream.histo); unknown schemes double."""
    if scheme == histo.SCHEME:
        return lower + histo.bucket_width(histo.bucket_of(lower))
    return max(lower * 2, lower + 1)


@dataclass
class _Histo:
    divisor: float  # metric unit → seconds
    scheme: str
    cumulative: bool = False  # a cumulative summary has been seen: ignore windows
    upper: dict[int, int] = field(default_factory=dict)  # lower bound → upper bound
    counts: dict[int, int] = field(default_factory=dict)  # lower bound → count
    sum: float | None = None

    def update(self, ev: HistogramSummary) -> None:
        bounds, counts = ev.bounds, ev.counts
        for i, lower in enumerate(bounds):
            upper = bounds[i + 1] if i + 1 < len(bounds) else _next_bound(ev.scheme, lower)
            self.upper[lower] = max(self.upper.get(lower, upper), upper) if lower in self.upper else upper
        ev_sum = ev.sum  # null in recordings made before schema 4
        if ev.scope == "cumulative":
            if not self.cumulative:
                self.cumulative = True
                self.counts.clear()
                self.sum = None
            for lower, c in zip(bounds, counts, strict=False):
                # monotonic guard: a restarted producer must not make buckets go down
                self.counts[lower] = max(self.counts.get(lower, 0), c)
            if isinstance(ev_sum, int | float):
                self.sum = max(self.sum or 0.0, float(ev_sum) / self.divisor)
        elif not self.cumulative:
            for lower, c in zip(bounds, counts, strict=False):
                self.counts[lower] = self.counts.get(lower, 0) + c
            if isinstance(ev_sum, int | float):
                self.sum = (self.sum or 0.0) + float(ev_sum) / self.divisor

    def estimated_sum(self) -> float:
        """The exact sum when events carry one, else Σ count × bucket midpoint.

        The midpoint estimate is within the scheme's relative error (12.5% for
        log2x4, the same bound as the reported quantiles); it exists so that
        ``rate(_sum) / rate(_count)`` gives a usable mean latency.
        """
        if self.sum is not None:
            return self.sum
        total = sum(c * (lower + self.upper[lower]) / 2 for lower, c in self.counts.items())
        return total / self.divisor

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for lower in sorted(self.counts):
            running += self.counts[lower]
            out.append((_float_str(self.upper[lower] / self.divisor), running))
        out.append(("+Inf", running))
        return out


def _is_number(x: Any) -> TypeGuard[float]:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _float_str(x: float) -> str:
    return repr(float(x))


Labels = tuple[tuple[str, str], ...]


USER_PREFIX = "kcoro_user_"  # + a declared metric's name


def user_help(meta: Meta | None) -> dict[str, str]:
    """HELP text of each declared metric's gauge: its help, unit, version and pipeline."""
    if meta is None:
        return {}
    return {USER_PREFIX + m.name: f"{m.help} ({m.unit}; {meta.pipeline} v{m.version})" for m in meta.metrics}


class _MetricsState:
    """Everything /metrics shows, updated from derived events on the trio thread."""

    def __init__(self, declarations: Meta | None = None) -> None:
        self.help = user_help(declarations)  # the declared metrics' gauges
        self.counters: dict[str, dict[Labels, float]] = {}
        self.counter_from_totals: set[tuple[str, Labels]] = set()
        self.gauges: dict[str, dict[Labels, float]] = {}
        self.histos: dict[tuple[str, str], _Histo] = {}
        self.window_quantiles: set[str] = set()  # gauge names of windowed percentiles
        self.alerts: dict[tuple[str, str], bool] = {}
        self.kpi_states: dict[tuple[str, str], str] = {}  # (pool, kpi) → state
        self.kpi_values: dict[tuple[str, str], float] = {}
        self.run_info: dict[Labels, float] = {}
        self.events: dict[str, int] = {}
        self.coroutines: list[CoroutineView] = []  # the last --coroutines snapshot

    # ------------------------------------------------------------- updates

    def _add(self, name: str, labels: Labels, value: float) -> None:
        series = self.counters.setdefault(name, {})
        series[labels] = series.get(labels, 0.0) + value

    def _set_total(self, name: str, labels: Labels, total: float) -> None:
        """A cumulative total from the producer; a smaller one never lowers the counter."""
        series = self.counters.setdefault(name, {})
        series[labels] = max(series.get(labels, 0.0), total)

    def _set(self, name: str, labels: Labels, value: float | None) -> None:
        if value is None or not math.isfinite(value):
            return
        self.gauges.setdefault(name, {})[labels] = float(value)

    def update(self, ev: DerivedEvent) -> None:
        kind = type(ev).__name__
        self.events[kind] = self.events.get(kind, 0) + 1
        if isinstance(ev, Sample):
            self._sample(ev)
        elif isinstance(ev, HistogramSummary):
            name, divisor = histogram_metric_name(ev.metric)
            h = self.histos.get((name, ev.pool))
            if h is None:
                h = self.histos[(name, ev.pool)] = _Histo(divisor=divisor, scheme=ev.scheme)
            h.update(ev)
            if ev.scope == "window":  # the operator's own percentiles of the last window, as gauges
                gauge = name[: -len("_seconds")] + "_window_seconds"
                self.window_quantiles.add(gauge)
                # label "percentile", not "quantile": that one is reserved for summary metrics
                for q, v in (("50", ev.p50), ("90", ev.p90), ("99", ev.p99), ("99.9", ev.p999)):
                    self._set(
                        gauge, (("pool", ev.pool), ("percentile", q)), None if v is None else v / divisor
                    )
        elif isinstance(ev, Heatmap):
            self._heatmap(ev)
        elif isinstance(ev, OsSample):
            self._os(ev)
        elif isinstance(ev, CoroutineView):
            if self.coroutines and self.coroutines[0].ts_ns != ev.ts_ns:  # a new snapshot
                self.coroutines = []
            self.coroutines.append(ev)
        elif isinstance(ev, Alert):
            self.alerts[(ev.rule, ev.severity)] = ev.state == "firing"
            self._add("kcoro_alert_transitions", (("rule", ev.rule), ("state", ev.state)), 1)
        elif isinstance(ev, Anomaly):
            self._add("kcoro_anomalies", (("metric", ev.metric), ("method", ev.method)), 1)
        elif isinstance(ev, Status):
            self._status(ev)
        elif isinstance(ev, Kpi):
            pool = getattr(ev, "pool", "all")  # Kpi.pool: appended for dual mode
            for k, state in ev.states.items():
                self.kpi_states[(pool, k)] = state
            for k, v in ev.values.items():
                if v is not None and math.isfinite(v):
                    self.kpi_values[(pool, k)] = float(v)

    def _sample(self, ev: Sample) -> None:
        pool = (("pool", ev.pool),)
        window_s = ev.window_ns / 1e9
        for c in COUNTERS:
            key = (c.name, pool)
            totals = ev.worker_totals if c.group == "worker" else ev.channel_totals
            total = getattr(totals, c.field) if totals is not None else None
            if total is not None:
                self._set_total(c.name, pool, total / c.divisor)
                self.counter_from_totals.add(key)
                continue
            if key in self.counter_from_totals:
                continue  # totals are authoritative once seen: never mix in estimates
            deltas = ev.worker_deltas if c.group == "worker" else ev.channel_deltas
            delta = getattr(deltas, c.field) if deltas is not None else None
            rate = getattr(ev, c.rate) if c.rate is not None else None
            if delta is not None and delta >= 0:
                self._add(c.name, pool, delta / c.divisor)
            elif rate is not None and math.isfinite(rate) and rate > 0:
                self._add(c.name, pool, rate * window_s / c.divisor)
            elif rate is not None:
                self.counters.setdefault(c.name, {}).setdefault(pool, 0.0)
        res = ev.resources
        if res is not None:
            for g in RESOURCE_GAUGES:
                v = getattr(res, g.field)
                if v is not None:
                    self._set(g.name, pool, v * g.scale)
            for g in RESOURCE_COUNTERS:
                v = getattr(res, g.field)
                if v is not None:
                    self._set_total(g.name, pool, v * g.scale)
        for g in SAMPLE_GAUGES:
            value = getattr(ev, g.field)
            if value is not None:
                self._set(g.name, pool, value * g.scale)
        self._add("kcoro_pipeline_samples", pool, 1)
        if ev.partial:
            self._add("kcoro_pipeline_partial_samples", pool, 1)
        else:
            self.counters.setdefault("kcoro_pipeline_partial_samples", {}).setdefault(pool, 0.0)
        self._set("kcoro_pipeline_sample_window_seconds", pool, window_s)
        if ev.declared:
            for name, v in ev.declared.items():
                self._set(USER_PREFIX + name, pool, v)
        if ev.ema is not None:  # the EMA ops computed (one smoothing): shown, never recomputed
            for name in ev.ema.__struct_fields__:
                self._set("kcoro_analysis_ema", (*pool, ("metric", name)), getattr(ev.ema, name))
        if ev.run_id:
            self.run_info = {(("run_id", ev.run_id), ("mode", ev.mode)): 1.0}

    def _status(self, ev: Status) -> None:
        """The monitor's own account: ring reader, event log, every sink (contract 7)."""
        for prefix, stats in (("kcoro_monitor_ring_", ev.reader), ("kcoro_monitor_log_", ev.log)):
            if stats is not None:
                for name, v in msgspec.structs.asdict(stats).items():
                    self._set_total(prefix + name, (), v)
        for sink in ev.sinks:
            labels: Labels = (("sink", sink.name),)
            self._set_total("kcoro_monitor_sink_received", labels, sink.received)
            self._set_total("kcoro_monitor_sink_written", labels, sink.written)
            for reason, n in sink.drop_reasons.items():
                self._set_total("kcoro_monitor_sink_dropped", (*labels, ("reason", reason)), n)
            self._set("kcoro_monitor_sink_queued", labels, sink.queued)
            self._set("kcoro_monitor_sink_queue_capacity", labels, sink.queue_capacity)
            if sink.clients or labels in self.gauges.get("kcoro_monitor_sink_clients", {}):
                self._set("kcoro_monitor_sink_clients", labels, len(sink.clients))  # back to 0 when all left
        self._set("kcoro_monitor_uptime_seconds", (), ev.uptime_s)
        states = self.gauges.get("kcoro_monitor_state", {})
        for seen in states:
            states[seen] = 0.0
        self._set("kcoro_monitor_state", (("state", ev.state),), 1.0)

    def _heatmap(self, ev: Heatmap) -> None:
        for i, worker in enumerate(ev.workers):
            labels = (("pool", ev.pool), ("worker", str(worker)))
            if i < len(ev.utilisation):
                self._set("kcoro_sched_worker_utilisation_ratio", labels, ev.utilisation[i])
            if i < len(ev.fastpath_ratio):
                self._set("kcoro_sched_worker_fastpath_ratio", labels, ev.fastpath_ratio[i])
            if i < len(ev.steals_succeeded):
                self._add("kcoro_sched_steals_succeeded", labels, max(ev.steals_succeeded[i], 0))
            if i < len(ev.steals_failed):
                self._add("kcoro_sched_steals_failed", labels, max(ev.steals_failed[i], 0))
        self._set("kcoro_sched_imbalance_ratio", (("pool", ev.pool),), ev.imbalance)

    def _os(self, ev: OsSample) -> None:
        """The OS view per worker (ops.os_view): gauges of the last window, totals summed over windows."""
        for i, worker in enumerate(ev.workers):
            labels = (("pool", ev.pool), ("worker", str(worker)))
            for attr, name, scale, _ in OS_GAUGES:
                v = getattr(ev, attr)[i]
                self._set(name, labels, None if v is None else v * scale)
            self._set("kcoro_os_worker_cpu", labels, ev.cpus[i])
            self._set("kcoro_os_worker_pinned", labels, 1.0 if ev.pinned[i] else 0.0)
            wait, invol = ev.wait_ns[i], ev.involuntary_cs[i]
            if wait is not None and wait >= 0:
                self._add("kcoro_os_worker_run_queue_wait_seconds", labels, wait / 1e9)
            if invol is not None and invol >= 0:
                self._add("kcoro_os_worker_involuntary_switches", labels, invol)


# The coroutine view on /metrics: the last snapshot's COROUTINES_TOP_K busiest coroutines only, so
# the series stay bounded however many coroutines a run has (the rest: ctl coroutines, NDJSON).
COROUTINES_TOP_K = 10
# (CoroutineView field, metric name, scale, help)
COROUTINE_GAUGES: tuple[tuple[str, str, float, str], ...] = (
    ("busy_ns", "kcoro_coroutine_busy_seconds", 1e-9, "Time a coroutine ran (estimated; top K by it)."),
    ("resumes", "kcoro_coroutine_resumes", 1.0, "Times a coroutine was resumed (top K by busy time)."),
    ("running_ns", "kcoro_coroutine_running_seconds", 1e-9, "Held its worker without a switch this long."),
    ("parked_ns", "kcoro_coroutine_parked_seconds", 1e-9, "Parked without a wake this long (top K)."),
)


def _coroutine_families(snapshot: list[CoroutineView]) -> Iterator[Metric]:
    if not snapshot:
        return
    top = sorted(snapshot, key=lambda c: (-c.busy_ns, c.coroutine))[:COROUTINES_TOP_K]
    for attr, name, scale, text in COROUTINE_GAUGES:
        g = GaugeMetricFamily(name, text, labels=["pool", "coroutine", "name"])
        for c in top:
            g.add_metric([c.pool, str(c.coroutine), c.name], getattr(c, attr) * scale)
        yield g


# OsSample per-worker lists as gauges: (field, name, scale, help).
OS_GAUGES: tuple[tuple[str, str, float, str], ...] = (
    (
        "wait_pct",
        "kcoro_os_worker_run_queue_wait_ratio",
        0.01,
        "Share of the last window a worker waited on the run queue (schedstat).",
    ),
    (
        "run_pct",
        "kcoro_os_worker_run_ratio",
        0.01,
        "Share of the last window a worker ran on a CPU (schedstat).",
    ),
    (
        "involuntary_cs_per_s",
        "kcoro_os_worker_involuntary_switches_per_second",
        1.0,
        "Involuntary context switches (preemptions) per second.",
    ),
    (
        "voluntary_cs_per_s",
        "kcoro_os_worker_voluntary_switches_per_second",
        1.0,
        "Voluntary context switches (blocking) per second.",
    ),
    (
        "context_switches_per_s",
        "kcoro_os_worker_context_switches_per_second",
        1.0,
        "Context switches per second (perf software counter).",
    ),
    (
        "migrations_per_s",
        "kcoro_os_worker_migrations_per_second",
        1.0,
        "CPU migrations per second (perf software counter).",
    ),
    (
        "page_faults_per_s",
        "kcoro_os_worker_page_faults_per_second",
        1.0,
        "Page faults per second (perf software counter).",
    ),
    (
        "ipc",
        "kcoro_os_worker_instructions_per_cycle",
        1.0,
        "Instructions per cycle (perf hardware counters, where available).",
    ),
    (
        "cache_misses_per_s",
        "kcoro_os_worker_cache_misses_per_second",
        1.0,
        "Cache misses per second (perf hardware counter, where available).",
    ),
)


# Help texts of the series not listed in the tables above.
_HELP = {
    "kcoro_pipeline_samples": "Derived samples received by the exporter.",
    "kcoro_pipeline_partial_samples": "Samples marked partial (a ring loss, or a closing window under half the width).",
    "kcoro_pipeline_sample_window_seconds": "Length of the last sample window.",
    "kcoro_analysis_ema": "EMA of a sample metric as the smooth operator computed it (the metric's own unit).",
    "kcoro_sched_worker_utilisation_ratio": "Busy share of one worker in the last window.",
    "kcoro_sched_worker_fastpath_ratio": "Fast-path hit ratio of one worker in the last window.",
    "kcoro_sched_steals_succeeded": "Successful steals by a worker.",
    "kcoro_sched_steals_failed": "Failed steal probes by a worker.",
    "kcoro_sched_imbalance_ratio": "Load imbalance between workers (0 = even).",
    "kcoro_os_worker_cpu": "The CPU a worker is pinned to, else the CPU it last ran on.",
    "kcoro_os_worker_pinned": "1 when the worker is pinned to its CPU (--pin).",
    "kcoro_os_worker_run_queue_wait_seconds": "Time a worker waited on the run queue (schedstat).",
    "kcoro_os_worker_involuntary_switches": "Involuntary context switches of a worker (preemptions).",
    "kcoro_alert_transitions": "Alert state changes, by rule and new state.",
    "kcoro_anomalies": "Anomalies detected, by metric and method.",
    "kcoro_monitor_sink_received": "Derived events a sink received.",
    "kcoro_monitor_sink_written": "Derived events a sink wrote.",
    "kcoro_monitor_sink_dropped": "Derived events a sink dropped, by reason.",
    "kcoro_monitor_sink_queued": "Batches waiting in a sink's queue.",
    "kcoro_monitor_sink_queue_capacity": "Capacity of a sink's queue (batches).",
    "kcoro_monitor_sink_clients": "Network clients connected to a sink.",
    "kcoro_monitor_uptime_seconds": "Time since the monitor started.",
    "kcoro_monitor_state": "1 for the monitor's current state (running, stalled, finished, stopped, lost, failed).",
}
for _name in ReaderStatistics.__struct_fields__:
    _HELP["kcoro_monitor_ring_" + _name] = f"Ring reader: {_name.replace('_', ' ')} (the reader's own count)."
for _name in LogStatistics.__struct_fields__:
    _HELP["kcoro_monitor_log_" + _name] = f"Event log writer: {_name.replace('_', ' ')}."
for _c in COUNTERS:
    _HELP[_c.name] = _c.help
for _g in (*SAMPLE_GAUGES, *RESOURCE_GAUGES, *RESOURCE_COUNTERS):
    _HELP[_g.name] = _g.help
for _f, _n, _s, _h in OS_GAUGES:
    _HELP[_n] = _h


class _StateCollector(Collector):
    def __init__(self, state: _MetricsState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        st = self.state
        for name in sorted(st.counters):
            series = st.counters[name]
            if not series:
                continue
            keys = [k for k, _ in next(iter(series))]
            c = CounterMetricFamily(name, _HELP.get(name, name), labels=keys)
            for labels, value in sorted(series.items()):
                c.add_metric([v for _, v in labels], value)
            yield c
        for name in sorted(st.gauges):
            series = st.gauges[name]
            keys = [k for k, _ in next(iter(series))]
            default = (
                "Latency percentiles of the last window (histograms operator; error bound in docs)."
                if name in st.window_quantiles
                else name
            )
            g = GaugeMetricFamily(name, st.help.get(name) or _HELP.get(name, default), labels=keys)
            for labels, value in sorted(series.items()):
                g.add_metric([v for _, v in labels], value)
            yield g
        by_name: dict[str, list[tuple[str, _Histo]]] = {}
        for (name, pool), h in sorted(st.histos.items()):
            by_name.setdefault(name, []).append((pool, h))
        for name, items in by_name.items():
            hf = HistogramMetricFamily(name, f"Latency distribution ({name}).", labels=["pool"])
            for pool, h in items:
                hf.add_metric([pool], h.buckets(), h.estimated_sum())
            yield hf
        yield from _coroutine_families(st.coroutines)
        alerts = GaugeMetricFamily(
            "kcoro_alerts_firing", "1 while an alert rule is firing.", labels=["rule", "severity"]
        )
        for (rule, severity), firing in sorted(st.alerts.items()):
            alerts.add_metric([rule, severity], 1.0 if firing else 0.0)
        yield alerts
        kpi = GaugeMetricFamily(
            "kcoro_kpi_state", "1 for the current state of each KPI.", labels=["pool", "kpi", "state"]
        )
        for (pool, name), state in sorted(st.kpi_states.items()):
            for s in KPI_STATES:
                kpi.add_metric([pool, name, s], 1.0 if s == state else 0.0)
        yield kpi
        if st.kpi_values:
            kv = GaugeMetricFamily(
                "kcoro_kpi_value", "Current value behind each KPI.", labels=["pool", "kpi"]
            )
            for (pool, name), v in sorted(st.kpi_values.items()):
                kv.add_metric([pool, name], v)
            yield kv
        if st.run_info:
            info = GaugeMetricFamily("kcoro_run_info", "The run being monitored.", labels=["run_id", "mode"])
            for labels, v in st.run_info.items():
                info.add_metric([x for _, x in labels], v)
            yield info
        ev = CounterMetricFamily(
            "kcoro_exporter_events", "Derived events received by this exporter.", labels=["type"]
        )
        for kind, n in sorted(st.events.items()):
            ev.add_metric([kind.lower()], n)
        yield ev


@register
class PrometheusSink(Sink):
    """Serve derived metrics on ``/metrics`` for Prometheus to scrape."""

    name: ClassVar[str] = "prometheus"
    Config: ClassVar[type[msgspec.Struct]] = PrometheusConfig
    policy = "drop_oldest"
    summary: ClassVar[str] = "serve /metrics (Prometheus text format) on HOST:PORT, default 127.0.0.1:9464"

    def __init__(self, config: msgspec.Struct, ctx: SinkContext) -> None:
        super().__init__(config, ctx)
        assert isinstance(config, PrometheusConfig)
        self.cfg: PrometheusConfig = config
        self.state = _MetricsState(ctx.declarations)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_StateCollector(self.state))
        self._metrics_app = make_asgi_app(self.registry)
        self._server: HttpServer | None = None
        self._scrapes = 0

    @staticmethod
    def parse_arg(arg: str) -> dict[str, Any]:
        return parse_host_port("prometheus", arg, DEFAULT_PORT)

    @property
    def port(self) -> int | None:
        """The bound port (useful with port 0), None before ``open``."""
        return self._server.port if self._server else None

    @property
    def url(self) -> str:
        assert self._server is not None, "open() first"
        return f"http://{self._server.address}{self.cfg.path}"

    async def open(self) -> None:
        check_bind("prometheus", self.cfg.host, self.cfg.port, self.cfg.allow_remote)
        self._server = HttpServer(
            "prometheus", self._app, self.cfg.host, self.cfg.port, allowed_hosts=self.cfg.allowed_hosts
        )
        await self._server.start()

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await handle_lifespan(receive, send)
            return
        if scope["type"] != "http":  # websocket: refuse the handshake
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["path"] != self.cfg.path:
            await send_response(
                send, 404, b"not found; metrics are at " + self.cfg.path.encode() + b"\n", b"text/plain"
            )
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send_response(send, 405, b"method not allowed\n", b"text/plain", [(b"allow", b"GET, HEAD")])
            return
        self._scrapes += 1
        await self._metrics_app(scope, receive, send)

    async def send(self, batch: Sequence[DerivedEvent]) -> None:
        self._received += len(batch)
        for ev in batch:
            self.state.update(ev)
        self._written += len(batch)

    async def aclose(self) -> None:
        if self._server is not None:
            await self._server.aclose()

    def extra_statistics(self) -> dict[str, Any]:
        return {
            "address": self._server.address if self._server else None,
            "scrapes": self._scrapes,
            "refused": dict(self._server.refused) if self._server else {},
        }
