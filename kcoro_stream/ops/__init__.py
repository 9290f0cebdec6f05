"""Operators: the analyses that turn raw batches into derived events.

Each public name is a small function returning a reactivex operator
(``Observable -> Observable``), defined in its own private module
(``_rates.py``, ``_smooth.py``, ...) with a docstring and a diagram. State is
kept per subscription; time is event time (``ts_ns``) only; everything runs
synchronously, so the same input always gives the same output.

Layering (imports go one way)::

    _base ─► _fan (fan, compose, passthrough)
          ─► _window ─► _rates, _histogram, _jitter, _heatmap, _os, _backpressure, _invariants
          ─► _interference (Sample × OsSample → Anomaly os_interference)
          ─► _smooth ─► _summary;  _metrics ─► _kpi, _alerts, _outliers
    _activity (what counts in statistics) ─► _smooth, _summary, _outliers
    all of them ─► _default (default_analyses: everything over one window pass)
    _legacy_names (derived events → old kcoro_mon dicts)
    _summary ─► _declared (a pipeline's declared metrics and events, kcoro_stream.analysis; after the analyses)
    _status (MonitorStatus → Status: the monitor's own account; the run loop adds it)

Batch-level operators take ``list[Event]`` (one ring frame) and emit derived
events; ``smooth``, ``summary``, ``kpi``, ``alerts`` and ``outliers`` take
Samples (chain them after ``rates`` with ``compose``). Combine with
:func:`compose` (left to right, like reactivex's) and :func:`fan`; when every
part is one of these operators they fuse into a single subscription (same
output, no observer hop per stage). See docs/operators.md.
"""

from kcoro_stream.histo import ERROR_BOUND, bucket_lower, bucket_of, bucket_width

from ._alerts import COMPARISONS, SEVERITIES, Rule, alerts, parse_rule, parse_rules
from ._backpressure import DEFAULT_SLOPE, DEFAULT_WINDOWS, backpressure, backpressure_config
from ._coroutines import channel_view, coroutine_view, coroutines_from_windows
from ._declared import declared
from ._default import default_analyses
from ._fan import compose, fan, passthrough
from ._heatmap import heatmap, imbalance_index
from ._histogram import histograms, quantile
from ._interference import interference
from ._invariants import invariants
from ._jitter import jitter
from ._kpi import KPI_DEFAULTS, kpi, kpi_thresholds
from ._legacy_names import to_legacy
from ._lint_busy import lint_busy_from_windows
from ._lint_self_wake import lint_self_wake_from_windows
from ._lint_stuck import lint_stuck_from_windows
from ._lints import DEFAULT_LINTS, LintThresholds
from ._marks import marks
from ._metrics import METRICS
from ._os import os_view
from ._outliers import mad_score, outliers, zscore
from ._rates import rates
from ._smooth import SMOOTHED, smooth
from ._status import status
from ._summary import summary
from ._window import Window, windows

__all__ = [
    "COMPARISONS",
    "DEFAULT_LINTS",
    "DEFAULT_SLOPE",
    "DEFAULT_WINDOWS",
    "ERROR_BOUND",
    "KPI_DEFAULTS",
    "METRICS",
    "SEVERITIES",
    "SMOOTHED",
    "LintThresholds",
    "Rule",
    "Window",
    "alerts",
    "backpressure",
    "backpressure_config",
    "bucket_lower",
    "bucket_of",
    "bucket_width",
    "channel_view",
    "compose",
    "coroutine_view",
    "coroutines_from_windows",
    "declared",
    "default_analyses",
    "fan",
    "heatmap",
    "histograms",
    "imbalance_index",
    "interference",
    "invariants",
    "jitter",
    "kpi",
    "kpi_thresholds",
    "lint_busy_from_windows",
    "lint_self_wake_from_windows",
    "lint_stuck_from_windows",
    "mad_score",
    "marks",
    "os_view",
    "outliers",
    "parse_rule",
    "parse_rules",
    "passthrough",
    "quantile",
    "rates",
    "smooth",
    "status",
    "summary",
    "to_legacy",
    "windows",
    "zscore",
]
