"""``prometheus`` sink: derived events → metrics served on ``/metrics``.

::

    Sample / HistogramSummary / Heatmap / Alert / Anomaly / Kpi
        └─► _MetricsState (counters integrated, gauges, cumulative buckets)
              └─► _StateCollector (own CollectorRegistry, not the global one)
                    └─► GET /metrics ─► prometheus_client exposition
                          (hypercorn trio server inside the pipeline process)

Names follow ``kcoro_<subsystem>_<name>_<unit>``: counters end in ``_total``,
times are seconds, bytes are bytes; labels are ``pool``, ``worker``, ``rule``,
``kpi``. The full table is in docs/surfaces.md (and ``RATE_COUNTERS``,
``EXTRA_COUNTERS``, ``SAMPLE_GAUGES`` below).

Counters stay monotonic. Per series the exporter prefers the cumulative total
the ``rates`` operator puts into ``Sample.extra`` (``tasks_completed_total``,
``recvs_total``, ...: exact, survives dropped windows), else the window's exact
``*_delta``, else the integral of rate × window. A smaller total than the last
one never lowers a counter.

Latency histograms are real Prometheus histograms in seconds (``_sum`` is
estimated from bucket midpoints while HistogramSummary has no exact sum). A cumulative
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
from prometheus_client import CollectorRegistry
from prometheus_client.asgi import make_asgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..events import Alert, Anomaly, DerivedEvent, Heatmap, HistogramSummary, Kpi, Sample
from ._asgi import HttpServer, check_bind, handle_lifespan, parse_host_port, send_response
from ._base import Sink, SinkContext
from ._registry import register

DEFAULT_PORT = 9464


class PrometheusConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    allow_remote: bool = False  # needed to bind anything but loopback
    path: str = "/metrics"
    allowed_hosts: list[str] = []  # Host header names besides loopback and the bound address


@dataclass(frozen=True)
class RateCounter:
    """A counter integrated from a ``Sample`` rate field (or read from ``extra``)."""

    field: str
    extra: str  # Sample.extra key holding the cumulative total, when present
    delta: str  # Sample.extra key holding the window's exact increment, when present
    name: str  # without the _total suffix (prometheus_client adds it)
    help: str
    scale: float = 1.0


@dataclass(frozen=True)
class SampleGauge:
    field: str
    name: str
    help: str
    scale: float = 1.0


# Preference per series: the cumulative total (exact, survives lost windows),
# else the window's exact delta, else rate × window. Keys are the ones the
# ``rates`` operator writes into Sample.extra.
RATE_COUNTERS = (
    RateCounter(
        "tasks_per_s",
        "tasks_completed_total",
        "tasks_completed_delta",
        "kcoro_sched_tasks_completed",
        "Tasks completed.",
    ),
    RateCounter(
        "inject_pulls_per_s",
        "inject_pulls_total",
        "inject_pulls_delta",
        "kcoro_sched_inject_pulls",
        "Tasks pulled from the inject queue.",
    ),
    RateCounter(
        "parks_per_s", "parks_total", "parks_delta", "kcoro_sched_parks", "Worker parks (idle sleeps)."
    ),
    RateCounter(
        "msgs_per_s", "recvs_total", "recvs_delta", "kcoro_chan_messages", "Channel messages received."
    ),
    RateCounter(
        "bytes_per_s",
        "bytes_recv_total",
        "bytes_recv_delta",
        "kcoro_chan_bytes",
        "Channel payload bytes received.",
    ),
)

# Counters that exist only as cumulative totals in Sample.extra (channel pools).
EXTRA_COUNTERS = (
    ("tasks_submitted_total", "kcoro_sched_tasks_submitted", "Tasks submitted."),
    ("sends_total", "kcoro_chan_sends", "Channel messages sent."),
    ("bytes_sent_total", "kcoro_chan_sent_bytes", "Channel payload bytes sent."),
    (
        "fail_send_eagain_total",
        "kcoro_chan_send_eagain",
        "Channel sends that failed with EAGAIN (would block).",
    ),
    ("fail_recv_eagain_total", "kcoro_chan_recv_eagain", "Channel receives that failed with EAGAIN."),
    ("fail_send_epipe_total", "kcoro_chan_send_epipe", "Channel sends that failed with EPIPE (closed)."),
    ("fail_recv_epipe_total", "kcoro_chan_recv_epipe", "Channel receives that failed with EPIPE (closed)."),
    ("zref_sent_total", "kcoro_chan_zero_copy_sent", "Zero-copy (pointer) messages sent."),
    ("zref_received_total", "kcoro_chan_zero_copy_received", "Zero-copy (pointer) messages received."),
    ("zref_aborted_total", "kcoro_chan_zero_copy_aborted", "Zero-copy messages aborted on close."),
    ("rv_matches_total", "kcoro_chan_rendezvous_matches", "Rendezvous sender/receiver matches."),
    ("rv_cancels_total", "kcoro_chan_rendezvous_cancels", "Rendezvous operations cancelled."),
)

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


def _scheme_next_bound(scheme: str, lower: int) -> int:
    """Upper bound of the bucket starting at ``lower`` in a ``log2xK`` scheme.

    ``log2xK`` splits each power of two into K linear sub-buckets (values below
    K get one bucket each). Unknown schemes fall back to doubling.
    """
    m = re.fullmatch(r"log2x(\d+)", scheme)
    if not m:
        return max(lower * 2, lower + 1)
    k = int(m.group(1))
    if lower < k:
        return lower + 1
    octave = 1 << (lower.bit_length() - 1)
    return lower + max(octave // k, 1)


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
            upper = bounds[i + 1] if i + 1 < len(bounds) else _scheme_next_bound(ev.scheme, lower)
            self.upper[lower] = max(self.upper.get(lower, upper), upper) if lower in self.upper else upper
        ev_sum = getattr(ev, "sum", None)  # appended to the schema later, maybe
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


class _MetricsState:
    """Everything /metrics shows, updated from derived events on the trio thread."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[Labels, float]] = {}
        self.counter_from_extra: set[tuple[str, Labels]] = set()
        self.gauges: dict[str, dict[Labels, float]] = {}
        self.histos: dict[tuple[str, str], _Histo] = {}
        self.alerts: dict[tuple[str, str], bool] = {}
        self.kpi_states: dict[tuple[str, str], str] = {}  # (pool, kpi) → state
        self.kpi_values: dict[tuple[str, str], float] = {}
        self.run_info: dict[Labels, float] = {}
        self.events: dict[str, int] = {}

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
        elif isinstance(ev, Heatmap):
            self._heatmap(ev)
        elif isinstance(ev, Alert):
            self.alerts[(ev.rule, ev.severity)] = ev.state == "firing"
            self._add("kcoro_alert_transitions", (("rule", ev.rule), ("state", ev.state)), 1)
        elif isinstance(ev, Anomaly):
            self._add("kcoro_anomalies", (("metric", ev.metric), ("method", ev.method)), 1)
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
        extra = ev.extra or {}
        for rc in RATE_COUNTERS:
            key = (rc.name, pool)
            total = extra.get(rc.extra)
            if _is_number(total):
                self._set_total(rc.name, pool, float(total) * rc.scale)
                self.counter_from_extra.add(key)
                continue
            if key in self.counter_from_extra:
                continue  # totals are authoritative once seen: never mix in estimates
            delta = extra.get(rc.delta)
            rate = getattr(ev, rc.field)
            if _is_number(delta) and delta >= 0:
                self._add(rc.name, pool, float(delta) * rc.scale)
            elif rate is not None and math.isfinite(rate) and rate > 0:
                self._add(rc.name, pool, rate * window_s * rc.scale)
            elif rate is not None:
                self.counters.setdefault(rc.name, {}).setdefault(pool, 0.0)
        for extra_key, name, _ in EXTRA_COUNTERS:
            total = extra.get(extra_key)
            if _is_number(total):
                self._set_total(name, pool, float(total))
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
        if ev.run_id:
            self.run_info = {(("run_id", ev.run_id), ("mode", ev.mode)): 1.0}

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


# Help texts of the series not listed in the tables above.
_HELP = {
    "kcoro_pipeline_samples": "Derived samples received by the exporter.",
    "kcoro_pipeline_partial_samples": "Samples whose window overlapped a ring loss.",
    "kcoro_pipeline_sample_window_seconds": "Length of the last sample window.",
    "kcoro_sched_worker_utilisation_ratio": "Busy share of one worker in the last window.",
    "kcoro_sched_worker_fastpath_ratio": "Fast-path hit ratio of one worker in the last window.",
    "kcoro_sched_steals_succeeded": "Successful steals by a worker.",
    "kcoro_sched_steals_failed": "Failed steal probes by a worker.",
    "kcoro_sched_imbalance_ratio": "Load imbalance between workers (0 = even).",
    "kcoro_alert_transitions": "Alert state changes, by rule and new state.",
    "kcoro_anomalies": "Anomalies detected, by metric and method.",
}
for _rc in RATE_COUNTERS:
    _HELP[_rc.name] = _rc.help
for _g in SAMPLE_GAUGES:
    _HELP[_g.name] = _g.help
for _key, _name, _help in EXTRA_COUNTERS:
    _HELP[_name] = _help


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
            g = GaugeMetricFamily(name, _HELP.get(name, name), labels=keys)
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
        self.state = _MetricsState()
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
