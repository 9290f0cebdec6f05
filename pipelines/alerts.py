"""Alerts pipeline: only state changes and anomalies — rules, KPIs, backpressure, invariants.

Rule syntax (docs/operators.md): ``name: metric OP value [for DURATION]
[severity=info|warning|critical] [hysteresis=H] [pool=P]``, or the same as a
dict. A bad rule stops the pipeline from loading with one line naming it.
Backpressure thresholds can be tuned without editing this file through
KCORO_STREAM_BACKPRESSURE_SLOPE and KCORO_STREAM_BACKPRESSURE_WINDOWS.

    kcoro-stream run pipelines/alerts.py
    kcoro-stream replay RUN_DIR pipelines/alerts.py
"""

from kcoro_stream import ops
from kcoro_stream.pipeline import BenchSource, Pipeline

WINDOW_MS = 250

# Every rule needs continuous evidence for its `for` (a window without a value, or a warm-up,
# drain, paused or stalled window, starts it over). fastpath_low is relative to the fast-path
# share the configured batch implies (1/batch): "below half of what this workload should get".
RULES = [
    "fastpath_low: fastpath_ratio < 0.5x for 2s severity=warning hysteresis=0.1",
    "throughput_drop: smooth.tasks_per_s < 1000 for 1s severity=critical hysteresis=100",
    "backlog: inject_depth > 5000 for 500ms severity=critical hysteresis=500",
    {
        "name": "steals_futile",
        "metric": "steal_ratio",
        "op": "<",
        "value": 0.05,
        "for": "5s",
        "severity": "info",
    },
]

KPI = {"backlog": (256, 4096), "idle_pct": (30, 60)}

pipeline = Pipeline(
    source=BenchSource(mode="tasks", interval_ms=10),  # CLI flags override
    derive=ops.fan(
        ops.compose(
            ops.rates(window_ms=WINDOW_MS),
            ops.smooth(),
            ops.fan(
                ops.kpi(KPI),
                ops.alerts(RULES),
                ops.outliers(["tasks_per_s", "fastpath_ratio"], window=60),
            ),
        ),
        ops.backpressure(window_ms=WINDOW_MS),
        ops.invariants(window_ms=WINDOW_MS),
    ),
    sinks=["stdout"],
)
