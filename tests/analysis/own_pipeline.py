"""A user's pipeline file for the tests: a metric and an event type, through the public API only."""

from kcoro_stream import config
from kcoro_stream.analysis import Sample, event, metric
from kcoro_stream.pipeline import Pipeline


def cpu_share(s: Sample) -> float | None:
    return s.resources.cpu_pct / 100 if s.resources is not None and s.resources.cpu_pct else None


@metric(unit="ns", help="CPU time per completed task", higher_is_better=False, version=2)
def cpu_time_per_task(s: Sample) -> float | None:
    cpu = cpu_share(s)
    return cpu * 1e9 / s.tasks_per_s if cpu and s.tasks_per_s else None


@event(
    fields={"cpu_pct": float, "cpu_time_per_task": "float | None"},
    help="a window with a pool over half a core",
)
def busy_pool(s: Sample) -> dict | None:
    cpu = cpu_share(s)
    if cpu is None or cpu <= 0.5:
        return None
    return {"cpu_pct": cpu * 100, "cpu_time_per_task": (s.declared or {}).get("cpu_time_per_task")}


pipeline = Pipeline(
    derive=config.analyses(window_ms=250),
    metrics=[cpu_time_per_task],
    events=[busy_pool],
    rules=["cpu_per_task_high: declared.cpu_time_per_task > 50 severity=warning"],  # on the declared metric
    kpi={"cpu_time_per_task": (40, 60)},  # green ≤ 40 ns, yellow ≤ 60 ns (lower is better, as declared)
)
