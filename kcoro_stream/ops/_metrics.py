"""The metric names rules, KPIs and outlier detectors may refer to.

A metric is a numeric field of :class:`~kcoro_stream.events.Sample`, or
``smooth.<m>`` / ``ema.<m>`` for a smoothed one (see ``SMOOTHED``).
"""

from __future__ import annotations

from collections.abc import Callable

from kcoro_stream.events import Sample

from ._smooth import SMOOTHED

SAMPLE_METRICS: tuple[str, ...] = (
    "tasks_per_s",
    "fastpath_ratio",
    "steal_ratio",
    "msgs_per_s",
    "bytes_per_s",
    "gbps",
    "inject_pulls_per_s",
    "parks_per_s",
    "utilisation",
    "idle_workers_pct",
    "inject_depth",
    "channel_depth",
)
METRICS: tuple[str, ...] = (
    SAMPLE_METRICS + tuple(f"smooth.{m}" for m in SMOOTHED) + tuple(f"ema.{m}" for m in SMOOTHED)
)


def getter(metric: str) -> Callable[[Sample], float | None]:
    """A function reading ``metric`` from a Sample (KeyError if unknown)."""
    if metric in SAMPLE_METRICS:

        def plain(s: Sample) -> float | None:
            return getattr(s, metric)

        return plain
    if metric in METRICS:
        group, name = metric.split(".", 1)

        def nested(s: Sample) -> float | None:
            d = s.smooth if group == "smooth" else s.ema
            return getattr(d, name) if d is not None else None

        return nested
    raise KeyError(metric)
