"""The default analyses on stdout: rates, ratios, latency, heat-map, KPIs, alerts, summary.

``kcoro-stream run`` with no pipeline runs this file; ``kcoro-stream replay
LOG`` replays a recording (a run directory, or an old kcoro_mon NDJSON file)
through it. It sets no source: the benchmark's mode, interval and knobs come
from the flags (``--mode tasks --interval 10ms --workers 2 ...``) or their
defaults, so the same file serves every workload.
"""

from kcoro_stream import ops
from kcoro_stream.pipeline import Pipeline

pipeline = Pipeline(
    derive=ops.default_analyses(window_ms=250),
    sinks=["stdout"],
)
