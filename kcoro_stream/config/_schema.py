"""The configuration's sections and keys: one msgspec Struct per section.

::

    [run]           run's long options: mode, duration, interval, producer, out, sink, ...
    [bench]         the benchmark's flags (native/bench/cli.c): batch, body_cost, workers, ...
    [window]        window length and smoothing of the default analyses
    [alerts]        rules
    [kpi]           (green, yellow) thresholds per KPI
    [backpressure]  slope, windows
    [outliers]      metrics, window, z, mad, min_ratio
    [summary]       warmup (the first seconds of a run, left out of its summary)
    [lints]         the coroutine lints' thresholds: busy_ms, busy_cpu, stuck_ms, self_wake_ratio, ...

A field's type (with its ``msgspec.Meta`` range) is the validation; a field
annotated ``Duration`` also takes strings such as ``"250ms"`` or ``"2s"``.
Ranges of ``[bench]`` are the benchmark's own (cli.c), so a bad value is
refused here, with the file and line, before anything starts.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec

from ..knobs import MAX_WORKERS, int_knob
from ..ops import DEFAULT_LINTS, DEFAULT_SLOPE, DEFAULT_WINDOWS, KPI_DEFAULTS

__all__ = [
    "ANALYSIS_SECTIONS",
    "SECTIONS",
    "AlertsSection",
    "BackpressureSection",
    "BenchSection",
    "Duration",
    "KpiSection",
    "LintsSection",
    "OutliersSection",
    "RunSection",
    "SummarySection",
    "WindowSection",
    "is_duration",
]

Duration = Annotated[float, msgspec.Meta(ge=0, le=1e9, extra={"duration": True})]
Positive = Annotated[float, msgspec.Meta(gt=0)]


# integer ranges (the benchmark's, from native/bench/cli.c, for [bench])
SmoothLen = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
WindowCount = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Millis60k = Annotated[int, msgspec.Meta(ge=1, le=60000)]
OutlierWindow = Annotated[int, msgspec.Meta(ge=2, le=1_000_000)]
Ratio = Annotated[float, msgspec.Meta(ge=1)]


Pair = Annotated[list[float], msgspec.Meta(min_length=2, max_length=2)]


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class RunSection(_Section):
    """`run`'s long options (flags win)."""

    mode: Literal["channel", "tasks", "mixed", "dual"] = "channel"
    duration: Duration | None = None
    interval: Annotated[float, msgspec.Meta(gt=0, le=3600, extra={"duration": True})] = 0.010
    producer: Literal["bench", "synthetic"] = "bench"
    out: list[str] = []
    sink: list[str] = []
    prometheus: str | None = None
    websocket: str | None = None
    remote_write: list[str] = []  # remote-write URLs every run of this host pushes to (docs/fleet.md)
    allow_remote: bool = False
    tui: bool | None = None
    no_stdout: bool = False
    legacy_json: str | None = None
    csv: str | None = None  # --csv: CSV rows to this path (- for stdout)
    log: str | None = None
    no_log: bool = False
    fsync: Literal["never", "flush", "always"] = "never"


def _knob(name: str) -> msgspec.Meta:
    """The range of an integer knob, from the one table (knobs.py)."""
    k = int_knob(name)
    return msgspec.Meta(ge=k.lo, le=k.hi)


class BenchSection(_Section):
    """The benchmark's knobs, named like its flags; ranges from the one table (knobs.py, which
    native/bench/cli.c is checked against).

    ``None`` is the benchmark's own default (``workers``: the online CPUs).
    """

    producers: Annotated[int, _knob("producers")] | None = None
    consumers: Annotated[int, _knob("consumers")] | None = None
    packets: Annotated[int, _knob("packets")] | None = None
    capacity: Annotated[int, _knob("capacity")] | None = None
    packet_size: Annotated[int, _knob("packet_size")] | None = None
    spin: Annotated[int, _knob("spin")] | None = None
    workers: Annotated[int, msgspec.Meta(ge=1, le=MAX_WORKERS)] | None = None
    batch: Annotated[int, _knob("batch")] | None = None
    body_cost: Annotated[int, _knob("body_cost")] | None = None
    packet_cost: Annotated[int, _knob("packet_cost")] | None = (
        None  # --packet-cost: work units per packet sent
    )
    zero_copy: bool = False
    imbalanced: bool = False
    seed: Annotated[int, _knob("seed")] | None = None
    adaptive: bool = False
    adaptive_max_ms: Millis60k | None = None
    channel_kind: Literal["auto", "buffered", "rendezvous"] | None = None
    latency_sample: Literal[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] | None = None
    pin: bool = False  # --pin: worker k on the k-th allowed CPU
    no_perf_counters: bool = False  # --no-perf-counters: no OsCounters per worker
    body_ns: Annotated[int, _knob("body_ns")] | None = None  # --body-ns: task bodies spin N ns of CPU time
    coroutines: bool = False  # --coroutines: the coroutine view (snapshots, lint.* alerts)
    coroutines_top: Annotated[int, _knob("coroutines_top")] | None = None
    coroutines_every: Annotated[int, _knob("coroutines_every")] | None = None
    coroutines_sample: Literal[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] | None = None
    hog_ms: Annotated[int, _knob("hog_ms")] | None = (
        None  # --hog-ms: a coroutine "hog" spins MS ms per resume
    )
    stuck: bool = False  # --stuck: a coroutine "stuck" waits on a channel nobody sends to


class WindowSection(_Section):
    """Windows and smoothing of the default analyses."""

    length: Annotated[float, msgspec.Meta(ge=0.001, le=3600, extra={"duration": True})] = 0.250
    smooth: SmoothLen = 5
    ema_alpha: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.25
    idle_below: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.05
    monotonic: Literal["frame", "window", "off"] = "frame"
    cumulative_histograms: bool = True
    latency_metrics: list[str] | None = None


class AlertsSection(_Section):
    """Alert rules: one-line strings or tables (docs/operators.md)."""

    rules: list[str | dict[str, Any]] = []


def _kpi(name: str) -> list[float]:
    _, _, green, yellow = KPI_DEFAULTS[name]
    return [green, yellow]


class KpiSection(_Section):
    """(green, yellow) per KPI; the defaults are the operator's (ops.KPI_DEFAULTS)."""

    fastpath_ratio: Pair = msgspec.field(default_factory=lambda: _kpi("fastpath_ratio"))
    steal_ratio: Pair = msgspec.field(default_factory=lambda: _kpi("steal_ratio"))
    idle_pct: Pair = msgspec.field(default_factory=lambda: _kpi("idle_pct"))
    backlog: Pair = msgspec.field(default_factory=lambda: _kpi("backlog"))


class BackpressureSection(_Section):
    """Queue-growth alert thresholds (``KCORO_STREAM_BACKPRESSURE_SLOPE``/``_WINDOWS``)."""

    slope: Positive = DEFAULT_SLOPE  # the operator's defaults (ops/_backpressure.py)
    windows: WindowCount = DEFAULT_WINDOWS


class OutliersSection(_Section):
    """Anomaly detection on Sample metrics."""

    metrics: list[str] = msgspec.field(default_factory=lambda: ["tasks_per_s", "msgs_per_s"])
    window: OutlierWindow = 60
    z: Positive = 4.0
    mad: Positive = 3.5
    min_ratio: Ratio = 3.0  # a throughput change smaller than this factor (either way) is no anomaly


class SummarySection(_Section):
    """The end-of-run summary: ``warmup`` leaves the first seconds after RunStarted out of it."""

    warmup: Duration = 0.0


Share = Annotated[float, msgspec.Meta(ge=0, lt=1)]


class LintsSection(_Section):
    """The coroutine lints' thresholds (``--coroutines``); the defaults are the operators' (ops.DEFAULT_LINTS)."""

    busy_ms: Positive = DEFAULT_LINTS.busy_ms  # lint.busy: on its worker without a switch this long
    busy_cpu: Share = DEFAULT_LINTS.busy_cpu  # ... with the worker on a CPU this share of the window (0: off)
    stuck_ms: Positive = DEFAULT_LINTS.stuck_ms  # lint.stuck: parked without a wake this long
    self_wake_ratio: Share = DEFAULT_LINTS.self_wake_ratio  # lint.self_wake: self-wakes above this share
    self_wake_per_s: Positive = DEFAULT_LINTS.self_wake_per_s  # ... and at least this many per second


SECTIONS: Final[dict[str, type[_Section]]] = {
    "run": RunSection,
    "bench": BenchSection,
    "window": WindowSection,
    "alerts": AlertsSection,
    "kpi": KpiSection,
    "backpressure": BackpressureSection,
    "outliers": OutliersSection,
    "summary": SummarySection,
    "lints": LintsSection,
}
# What a replay takes from a recording (the rest configures how a run is launched).
ANALYSIS_SECTIONS: Final = ("window", "alerts", "kpi", "backpressure", "outliers", "summary", "lints")


def is_duration(tp: Any) -> bool:
    """True when a field's annotation is a duration (takes "250ms", "2s", numbers of seconds)."""
    for arg in getattr(tp, "__args__", ()):  # Optional[Duration]
        if is_duration(arg):
            return True
    for meta in getattr(tp, "__metadata__", ()):
        if isinstance(meta, msgspec.Meta) and (meta.extra or {}).get("duration"):
            return True
    return False
