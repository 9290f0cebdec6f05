"""Efficiency: tasks and messages per CPU-second of each pool, beside the default analyses.

Two metrics declared with the public API (docs/analyses.md): each window's
rate divided by the pool's CPU share (``resources.cpu_pct``: 100 = one core
busy). Null where the window has no CPU figure (an old kcoro_mon tasks line),
so nothing is made up. ``compare --metric tasks_per_cpu_s`` gates it.

    kcoro-stream replay RUN_DIR pipelines/efficiency.py
"""

from kcoro_stream import config
from kcoro_stream.analysis import Sample, metric
from kcoro_stream.pipeline import Pipeline


def per_cpu_s(rate: float | None, s: Sample) -> float | None:
    cpu = s.resources.cpu_pct if s.resources is not None else None
    return rate / (cpu / 100) if rate is not None and cpu else None


@metric(unit="tasks/cpu-s", help="Tasks completed per CPU-second of the pool's workers", version=1)
def tasks_per_cpu_s(s: Sample) -> float | None:
    return per_cpu_s(s.tasks_per_s, s)


@metric(unit="msgs/cpu-s", help="Channel messages received per CPU-second of the pool's workers", version=1)
def msgs_per_cpu_s(s: Sample) -> float | None:
    return per_cpu_s(s.msgs_per_s, s)


pipeline = Pipeline(derive=config.analyses(window_ms=250), metrics=[tasks_per_cpu_s, msgs_per_cpu_s])
