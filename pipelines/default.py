"""The default pipeline: the bundled benchmark, the default analyses, stdout.

Run live with ``kcoro-stream run pipelines/default.py`` or over a recording
(a run directory, or an old kcoro_mon NDJSON file) with
``kcoro-stream replay LOG pipelines/default.py``. Command-line flags override
the source parameters and the sinks.
"""

from kcoro_stream import ops
from kcoro_stream.pipeline import BenchSource, Pipeline

pipeline = Pipeline(
    source=BenchSource(mode="tasks", interval_ms=10),  # CLI flags override
    derive=ops.default_analyses(window_ms=250),
    sinks=["stdout"],
)
