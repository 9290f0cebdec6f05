"""default_analyses: every analysis of pipelines/default.py, sharing one pass over raw events.

The raw batches are cut into windows once (``windows``, which also checks
counter monotonicity frame by frame); the window stream feeds the Sample
builder and the window-level analyses; the smoothed Sample stream feeds the
Sample-level analyses::

    batches ─► windows ─┬─► rates ─► smooth ─┬─► Samples
                        │                    ├─► kpi          (Kpi)
                        │                    ├─► alerts       (Alert, your rules)
                        │                    ├─► outliers     (Anomaly)
                        │                    └─► summary      (Summary, end of run)
                        ├─► histograms   (HistogramSummary per latency metric)
                        ├─► jitter       (HistogramSummary tick_jitter_ns)
                        ├─► heatmap      (Heatmap)
                        ├─► os_view      (OsSample: run-queue wait, switches, migrations, faults, IPC)
                        ├─► backpressure (Alert)
                        ├─► invariants   (Alert)
                        ├─► coroutines   (CoroutineView, ChannelView: --coroutines snapshots)
                        └─► lint.busy, lint.stuck, lint.self_wake (Alert, per coroutine)
    all of the above ─┬─► passthrough
                      └─► interference  (Anomaly os_interference: Sample × OsSample per pool)

For each closed window the outputs come in that order (fan order; everything
is synchronous, so the same input always gives the same output).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kcoro_stream.errors import UsageError
from kcoro_stream.events import RuleChanged

from ._alerts import alerts, parse_rules
from ._backpressure import backpressure_config, backpressure_from_windows
from ._base import Operator
from ._coroutines import coroutines_from_windows
from ._fan import compose, fan, passthrough
from ._heatmap import heatmap_from_windows
from ._histogram import histograms_from_windows
from ._interference import interference
from ._invariants import invariants_from_windows
from ._jitter import jitter_from_windows
from ._kpi import kpi
from ._kpi import kpi_thresholds as _kpi_table
from ._lint_busy import lint_busy_from_windows
from ._lint_self_wake import lint_self_wake_from_windows
from ._lint_stuck import lint_stuck_from_windows
from ._lints import DEFAULT_LINTS, LintThresholds
from ._os import os_from_windows
from ._outliers import outliers
from ._rates import samples_from_windows
from ._smooth import check_alpha, smooth
from ._summary import summary
from ._window import windows


def default_analyses(
    window_ms: float = 250,
    *,
    smooth_n: int = 5,
    ema_alpha: float = 0.25,
    idle_below: float = 0.05,
    rules: Iterable[Any] = (),
    kpi_thresholds: Mapping[str, Any] | None = None,
    backpressure_slope: float | None = None,
    backpressure_windows: int | None = None,
    outlier_metrics: Iterable[str] = ("tasks_per_s", "msgs_per_s"),
    outlier_window: int = 60,
    z: float = 4.0,
    mad: float = 3.5,
    outlier_min_ratio: float = 3.0,
    invariant_tolerance: int = 0,
    latency_metrics: list[str] | None = None,
    cumulative_histograms: bool = True,
    monotonic: str = "frame",
    interference_drop: float = 0.20,
    interference_wait_rise: float = 20.0,
    lints: LintThresholds | Mapping[str, Any] | None = None,
) -> Operator:
    """Batches → Samples, Kpi, Alerts, Anomalies, histograms, heat-maps and a Summary.

    Every option is validated here (``UsageError``), before any event flows.
    ``monotonic`` is how the never-decrease invariant is checked: ``"frame"``
    (every snapshot, exact), ``"window"`` (window ends only, faster) or ``"off"``.
    ``interference_drop``/``interference_wait_rise``: see :func:`~._interference.interference`.
    ``lints``: the coroutine lints' thresholds (:class:`~._lints.LintThresholds`, or its keys).

    ::

        [frame] ... [frame] | [frame] ... [frame] |
        Sample Kpi [Alert] [Anomaly] Hist.. Heatmap [Alert] ... Summary |
    """
    if not (isinstance(window_ms, int | float) and window_ms > 0):
        raise UsageError(f"default_analyses: window_ms must be > 0, got {window_ms!r}")
    check_alpha(ema_alpha, smooth_n)
    if monotonic not in ("frame", "window", "off"):
        raise UsageError(f"default_analyses: monotonic must be 'frame', 'window' or 'off', got {monotonic!r}")
    parsed = parse_rules(rules)
    lint_t = _lint_thresholds(lints)
    kpi_table = _kpi_table(kpi_thresholds)
    slope, k = backpressure_config(backpressure_slope, backpressure_windows)
    correlate = interference(min_drop=interference_drop, min_wait_rise=interference_wait_rise)
    outlier_op = outliers(
        outlier_metrics,
        window=outlier_window,
        min_samples=min(10, outlier_window),
        z=z,
        mad=mad,
        min_ratio=outlier_min_ratio,
    )
    sample_stage = compose(
        samples_from_windows(window_ms, idle_below),
        smooth(smooth_n, ema_alpha),
        fan(
            passthrough(drop=(RuleChanged,)),  # for kpi and alerts; not output
            kpi({name: (g, y) for name, (_, _, g, y) in kpi_table.items()}),
            alerts(parsed),
            outlier_op,
            summary(ema_alpha),
        ),
    )
    window_stage = fan(
        sample_stage,
        histograms_from_windows(window_ms, latency_metrics, cumulative_histograms),
        jitter_from_windows(window_ms, cumulative_histograms),
        heatmap_from_windows(window_ms),
        os_from_windows(window_ms),
        backpressure_from_windows(slope, k),
        invariants_from_windows(invariant_tolerance),
        coroutines_from_windows(),
        lint_busy_from_windows(lint_t),
        lint_stuck_from_windows(lint_t),
        lint_self_wake_from_windows(lint_t),
    )

    # every stage is one of ours, so this fuses into a single subscription
    return compose(windows(window_ms, check_monotonic=monotonic), window_stage, fan(passthrough(), correlate))


def _lint_thresholds(lints: LintThresholds | Mapping[str, Any] | None) -> LintThresholds:
    """The lints' thresholds from an argument (UsageError names a bad key)."""
    if lints is None:
        return DEFAULT_LINTS
    if isinstance(lints, LintThresholds):
        return lints.check()
    if not isinstance(lints, Mapping):
        raise UsageError(f"default_analyses: lints must be a mapping of thresholds, got {lints!r}")
    known = set(LintThresholds.__struct_fields__)
    unknown = sorted(set(lints) - known)
    if unknown:
        raise UsageError(f"lints: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    return LintThresholds(**lints).check()
