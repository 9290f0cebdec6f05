"""The default analyses on stdout: rates, ratios, latency, heat-map, KPIs, alerts, summary.

``kcoro-stream run`` with no pipeline runs this file; ``kcoro-stream replay
LOG`` replays a recording (a run directory, or an old kcoro_mon NDJSON file)
through it. It sets no source: the benchmark's mode, interval and knobs come
from the flags (``--mode tasks --interval 10ms --workers 2 ...``), the
configuration file or their defaults, so the same file serves every workload.
``config.analyses`` is ``ops.default_analyses`` taking what this file leaves
open ([kpi], [alerts], [outliers], ...) from the configuration (docs/config.md).
"""

from kcoro_stream import config
from kcoro_stream.pipeline import Pipeline

pipeline = Pipeline(
    derive=config.analyses(window_ms=250),
    sinks=["stdout"],
)
