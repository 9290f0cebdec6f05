"""Latency pipeline: per-second latency histograms, sampler jitter and rates.

Every latency metric the producer reports (task submit→start, channel
send→receive, ...) becomes a ``histogram`` line per 1 s window and a
cumulative one, with p50/p90/p99/p99.9 (relative error ≤ 25 %, the log2x4
bucket width); ``tick_jitter_ns`` shows how regular the sampler was.

    kcoro-stream run pipelines/latency.py
    kcoro-stream replay RUN_DIR pipelines/latency.py
"""

from kcoro_stream import ops
from kcoro_stream.pipeline import BenchSource, Pipeline

WINDOW_MS = 1000

pipeline = Pipeline(
    source=BenchSource(mode="tasks", interval_ms=10),  # CLI flags override
    derive=ops.fan(
        ops.compose(ops.rates(window_ms=WINDOW_MS), ops.smooth()),
        ops.histograms(window_ms=WINDOW_MS, cumulative=True),
        ops.jitter(window_ms=WINDOW_MS),
    ),
    sinks=["stdout"],
)
