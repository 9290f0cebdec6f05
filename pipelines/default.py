"""The default pipeline: the bundled benchmark, the default analyses, stdout.

Run live with ``kcoro-stream run pipelines/default.py`` or over a recording
(a run directory, or an old kcoro_mon NDJSON file) with
``kcoro-stream replay LOG pipelines/default.py``. Command-line flags override
the source parameters and the sinks. ``config.analyses`` is
``ops.default_analyses`` taking what this file leaves open ([kpi], [alerts],
[outliers], ...) from the configuration (docs/config.md).
"""

from kcoro_stream import config
from kcoro_stream.pipeline import BenchSource, Pipeline

pipeline = Pipeline(
    source=BenchSource(mode="tasks", interval_ms=10),  # CLI flags override
    derive=config.analyses(window_ms=250),
    sinks=["stdout"],
)
