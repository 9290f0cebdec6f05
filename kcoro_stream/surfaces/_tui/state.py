"""What the terminal dashboard shows, as plain data (no textual here).

::

    derived events ──► DashboardState.feed(batch)
                         ├─ pools[name]: PoolState  (throughput history, ratio
                         │                          histories, current/5-sample/
                         │                          EMA/peak/average, KPI states)
                         ├─ heatmaps[pool] (latest), heat_history[pool] (recent
                         │  windows: the workers × time pane), os[pool], histograms[(metric, pool)]
                         ├─ alerts (bounded, newest last), firing rules
                         └─ zero_copy[pool] (every ChannelCounts counter: total, Δ)

Every history is a bounded deque. ``clear()`` is the ``c`` key: peaks,
averages and histories restart, like the old monitor's "clear statistics".
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import msgspec

from ...events import (
    Alert,
    Anomaly,
    DerivedEvent,
    Heatmap,
    HistogramSummary,
    Kpi,
    Metrics,
    OsSample,
    Sample,
    Status,
    Summary,
)
from ...ops._activity import Activity
from ...sinks.stdout import format_summary


def summary_lines(summaries: Sequence[Summary], *, totals: bool = True) -> list[str]:
    """The end-of-run summary as the ``--no-tui`` text summary gives it (peak, average and
    EMA: ``sinks.stdout.format_summary``, the one formatter), one block per pool.

    Figures that stayed at zero (or absent) the whole run — a channel pool's fast path
    and steals — are named once on a ``zero`` line instead of a column of zeros;
    ``totals=False`` leaves out the long line of raw counters (the held screen).
    """
    out: list[str] = []
    for s in summaries:
        zero = [
            k
            for k in Metrics.__struct_fields__
            if not any(getattr(m, k) for m in (s.peak, s.avg, s.ema))
            and any(getattr(m, k) is not None for m in (s.peak, s.avg, s.ema))
        ]
        blank = {k: None for k in zero}
        shown = msgspec.structs.replace(
            s,
            peak=msgspec.structs.replace(s.peak, **blank),
            avg=msgspec.structs.replace(s.avg, **blank),
            ema=msgspec.structs.replace(s.ema, **blank),
        )
        lines = format_summary(shown).splitlines()
        if len(summaries) > 1 or s.pool != "all":
            lines[0] = lines[0].replace("summary:", f"summary {s.pool}:", 1)
        if zero:
            lines.append("  zero   " + "  ".join(zero))
        out.extend(line for line in lines if totals or not line.startswith("  totals "))
    return out


HISTORY = 4096  # samples kept per pool for the graph (zoom/scroll range)
SPARK = 120  # samples kept per ratio sparkline
ALERTS = 200
HEAT_WINDOWS = 240  # heat-map rows kept per pool: the workers × windows pane's time axis
RATIOS = ("fastpath_ratio", "steal_ratio", "utilisation")
TASK_ONLY = ("fastpath_ratio", "steal_ratio")  # ratios (and KPIs) a channel pool does not produce


def primary_metric(pool: str, mode: str) -> str:
    """The pool's headline rate: messages/s for channel work, tasks/s otherwise."""
    if pool == "channel" or (pool == "all" and mode == "channel"):
        return "msgs_per_s"
    return "tasks_per_s"


@dataclass
class RunningStats:
    """current · 5-sample · EMA · peak · average of one rate.

    The 5-sample mean and the EMA are the ``smooth``/``ema`` the ``smooth``
    operator computed (one smoothing, in ops): shown as they come, never
    recomputed here. Peak and average restart with ``c``; they take the values
    ops' statistics take (:class:`~kcoro_stream.ops._activity.Activity`: no
    partial window, no idle ramp-up, no rate the pool never had).
    """

    current: float | None = None
    smooth: float | None = None
    ema: float | None = None
    peak: float | None = None
    total: float = 0.0
    count: int = 0

    @property
    def average(self) -> float | None:
        return self.total / self.count if self.count else None

    def add(
        self, value: float | None, smooth: float | None = None, ema: float | None = None, counts: bool = True
    ) -> None:
        self.current = value
        if smooth is not None:
            self.smooth = smooth
        if ema is not None:
            self.ema = ema
        if value is None or not math.isfinite(value) or not counts:
            return
        self.peak = value if self.peak is None else max(self.peak, value)
        self.total += value
        self.count += 1


@dataclass
class PoolState:
    name: str
    mode: str = ""
    metric: str = "tasks_per_s"
    window_ns: int = 0
    samples: int = 0
    partial: int = 0
    history: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    stats: dict[str, RunningStats] = field(default_factory=dict)
    ratios: dict[str, deque[float]] = field(default_factory=lambda: {r: deque(maxlen=SPARK) for r in RATIOS})
    last: Sample | None = None
    activity: Activity = field(default_factory=Activity)

    def feed(self, ev: Sample) -> None:
        self.mode = ev.mode
        self.metric = primary_metric(self.name, ev.mode)
        self.window_ns = ev.window_ns
        self.samples += 1
        self.partial += ev.partial
        self.last = ev
        smooth, ema = ev.smooth, ev.ema
        admitted = self.activity.admit(ev)
        for name in ("tasks_per_s", "msgs_per_s", "gbps"):
            value = getattr(ev, name)
            if name not in self.stats and not (name in self.activity.rates and self.activity.counts(name)):
                continue  # figures only where the pool produces them (no tasks/s row for a channel pool)
            counts = admitted and self.activity.counts(name)
            self.stats.setdefault(name, RunningStats()).add(
                value,
                getattr(smooth, name) if smooth is not None else None,
                getattr(ema, name) if ema is not None else None,
                counts,
            )
        value = getattr(ev, self.metric)
        self.history.append(value if value is not None and math.isfinite(value) else 0.0)
        for r in RATIOS:
            v = getattr(ev, r)
            if v is not None and math.isfinite(v):
                self.ratios[r].append(v)

    def produced_ratios(self) -> list[str]:
        """The ratios this pool produces: seen at least once, and for a channel pool (no task
        fast path or steals of its own: ``Activity.channel``) only its utilisation."""
        channel = bool(self.activity.channel)
        return [r for r in RATIOS if self.ratios[r] and not (channel and r in TASK_ONLY)]

    def interval_ms(self) -> float | None:
        """The producer's current sampling interval, as the last window saw it (adaptive
        sampling widens it): the window's span over its frames."""
        last = self.last
        if last is None or not last.frames or not last.span_ns:
            return None
        return last.span_ns / last.frames / 1e6

    def clear(self) -> None:
        self.history.clear()
        self.stats.clear()
        for d in self.ratios.values():
            d.clear()
        self.samples = self.partial = 0


@dataclass
class AlertLine:
    ts: float
    kind: str  # "firing" | "resolved" | "anomaly"
    rule: str
    severity: str
    message: str


@dataclass
class DashboardState:
    pools: dict[str, PoolState] = field(default_factory=dict)
    heatmaps: dict[str, Heatmap] = field(default_factory=dict)
    heat_history: dict[str, deque[Heatmap]] = field(default_factory=dict)  # pool → recent windows
    os: dict[str, OsSample] = field(default_factory=dict)  # by pool: the last OS view of its workers
    histograms: dict[tuple[str, str], HistogramSummary] = field(default_factory=dict)  # (metric, pool)
    alerts: deque[AlertLine] = field(default_factory=lambda: deque(maxlen=ALERTS))
    firing: dict[str, Alert] = field(default_factory=dict)
    zero_copy: dict[str, dict[str, tuple[int | None, int | None]]] = field(default_factory=dict)
    kpis: dict[str, Kpi] = field(default_factory=dict)  # by pool ("all": the whole run)
    run_id: str = ""
    sample_run: str | None = None  # run id of the last Sample
    mode: str = ""
    status: Status | None = None
    summary: Summary | None = None
    events: int = 0
    version: int = 0  # bumped on every change: widgets redraw when it moves

    def feed(self, batch: Iterable[DerivedEvent]) -> None:
        for ev in batch:
            self.events += 1
            if ev.run_id:
                self.run_id = ev.run_id
            if isinstance(ev, Sample):
                if ev.run_id != self.sample_run and self.sample_run is not None:
                    self.reset()  # a new run (mode switch, next run of a replay): its own pools
                self.sample_run = ev.run_id
                self.mode = ev.mode
                pool = self.pools.get(ev.pool)
                if pool is None:
                    pool = self.pools[ev.pool] = PoolState(ev.pool)
                pool.feed(ev)
                if ev.channel_totals is not None:
                    totals, deltas = ev.channel_totals, ev.channel_deltas
                    self.zero_copy[ev.pool] = {
                        name: (getattr(totals, name), getattr(deltas, name, None))
                        for name in totals.__struct_fields__
                        if getattr(totals, name) is not None
                    }
            elif isinstance(ev, HistogramSummary):
                # one per metric and pool (they used to replace each other within a pool);
                # window summaries describe "now", cumulative ones only until a window one arrives
                key = (ev.metric, ev.pool)
                old = self.histograms.get(key)
                if old is None or ev.scope == "window" or old.scope == "cumulative":
                    self.histograms[key] = ev
            elif isinstance(ev, Heatmap):
                self.heatmaps[ev.pool] = ev
                self.heat_history.setdefault(ev.pool, deque(maxlen=HEAT_WINDOWS)).append(ev)
            elif isinstance(ev, OsSample):
                self.os[ev.pool] = ev
            elif isinstance(ev, Kpi):
                self.kpis[getattr(ev, "pool", "all")] = ev  # Kpi.pool: appended for dual mode
            elif isinstance(ev, Alert):
                self.alerts.append(AlertLine(ev.ts, ev.state, ev.rule, ev.severity, ev.message))
                if ev.state == "firing":
                    self.firing[ev.rule] = ev
                else:
                    self.firing.pop(ev.rule, None)
            elif isinstance(ev, Anomaly):
                msg = ev.message or f"{ev.metric} = {ev.value:.4g} (score {ev.score:.1f}, {ev.method})"
                self.alerts.append(AlertLine(ev.ts, "anomaly", ev.metric, ev.method, msg))
            elif isinstance(ev, Status):
                self.status = ev
            elif isinstance(ev, Summary):
                self.summary = ev
        self.version += 1

    def cpus(self) -> dict[tuple[str, int], int]:
        """(pool, worker) → the CPU the worker is pinned to or last ran on (heat-map labels)."""
        return {
            (pool, w): cpu
            for pool, s in self.os.items()
            for w, cpu in zip(s.workers, s.cpus, strict=True)
            if cpu is not None
        }

    def latency(self) -> dict[tuple[str, str], HistogramSummary]:
        """The histograms worth a place: with samples, and no task metric of a channel pool
        (the few tasks its coroutines run are bookkeeping, as for its task rate)."""
        out = {}
        for (metric, pool), h in self.histograms.items():
            state = self.pools.get(pool)
            if not h.count or (state is not None and state.activity.channel and metric.startswith("task_")):
                continue
            out[(metric, pool)] = h
        return out

    def kpi_for(self, pool: str) -> Kpi | None:
        """The pool's own KPI states, else the run's when this is the only pool."""
        own = self.kpis.get(pool)
        if own is None and len(self.pools) == 1:
            own = self.kpis.get("all")
        return own

    def clear(self) -> None:
        """The ``c`` key: statistics, peaks and histories restart."""
        for pool in self.pools.values():
            pool.clear()
        self.heat_history.clear()
        self.alerts.clear()
        self.version += 1

    def reset(self) -> None:
        """A mode switch: the old run's pools and panes go away."""
        self.pools.clear()
        self.heatmaps.clear()
        self.heat_history.clear()
        self.os.clear()
        self.histograms.clear()
        self.zero_copy.clear()
        self.kpis.clear()
        self.firing.clear()
        self.alerts.clear()
        self.summary = None
        self.version += 1
