"""Your own analyses: the public API a pipeline file uses to declare metrics and event types.

Everything listed in ``__all__`` (and in docs/analyses.md) is stable: a test
fails when a name disappears. A pipeline file needs nothing else::

    from kcoro_stream import config
    from kcoro_stream.analysis import Sample, metric
    from kcoro_stream.pipeline import Pipeline

    @metric(unit="tasks/cpu-s", help="Tasks completed per CPU-second of the pool", version=1)
    def tasks_per_cpu_s(s: Sample) -> float | None:
        cpu = s.resources.cpu_pct if s.resources else None
        return s.tasks_per_s / (cpu / 100) if s.tasks_per_s is not None and cpu else None

    pipeline = Pipeline(derive=config.analyses(window_ms=250), metrics=[tasks_per_cpu_s])

A metric is a function of one window's ``Sample`` (its rates and ratios, and
the raw counters it carries: ``worker_deltas``, ``channel_deltas``,
``worker_totals``, ``channel_totals``, ``resources``, ``gauges``) returning a
number or None; it carries a name, unit, help text, direction and version. An
event type is a function of a Sample returning a dict of its declared fields
(or a list of them, or None). ``ops.declared`` puts both in the stream; an
NDJSON output then begins with a ``meta`` line (``Meta``) declaring them.

The types a metric function reads are re-exported here (``Sample`` and its
parts), so a pipeline file imports nothing private.
"""

from ..events import (
    ChannelCounts,
    ChannelState,
    DeclaredEvent,
    DeclaredFigure,
    DeclaredMetric,
    Expected,
    Meta,
    Metrics,
    OsView,
    Resources,
    Sample,
    Summary,
    WorkerCounts,
)
from ._declare import EventType, Metric, event, metric

__all__ = [
    "ChannelCounts",
    "ChannelState",
    "DeclaredEvent",
    "DeclaredFigure",
    "DeclaredMetric",
    "EventType",
    "Expected",
    "Meta",
    "Metric",
    "Metrics",
    "OsView",
    "Resources",
    "Sample",
    "Summary",
    "WorkerCounts",
    "event",
    "metric",
]
