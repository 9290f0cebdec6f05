"""The metric names rules, KPIs and outlier detectors may refer to.

A metric is a float field of :class:`~kcoro_stream.events.Sample` (derived
from the Struct: rates, ratios, depths), ``smooth.<m>`` / ``ema.<m>`` for a
smoothed one (see ``SMOOTHED``), or ``resources.<r>`` for a pool's CPU and
memory (``resources.cpu_pct > 90 for 5s``), or ``declared.<m>`` for a metric the
pipeline declares (kcoro_stream.analysis; ``Sample.declared``).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from kcoro_stream.events import Resources, Sample

from ._smooth import SMOOTHED

# Every float field of Sample (rates, ratios, depths), then the nested ones.
SAMPLE_METRICS: tuple[str, ...] = tuple(
    f.name for f in msgspec.structs.fields(Sample) if f.type == float | None
)
RESOURCE_METRICS: tuple[str, ...] = tuple(f"resources.{m}" for m in Resources.__struct_fields__)
METRICS: tuple[str, ...] = (
    SAMPLE_METRICS
    + tuple(f"smooth.{m}" for m in SMOOTHED)
    + tuple(f"ema.{m}" for m in SMOOTHED)
    + RESOURCE_METRICS
)


DECLARED = "declared."  # + the name of a metric a pipeline declares


def getter(metric: str) -> Callable[[Sample], float | None]:
    """A function reading ``metric`` from a Sample (KeyError if unknown)."""
    if metric.startswith(DECLARED):
        own = metric.removeprefix(DECLARED)

        def declared(s: Sample) -> float | None:
            return s.declared.get(own) if s.declared is not None else None

        return declared
    if metric in SAMPLE_METRICS:

        def plain(s: Sample) -> float | None:
            return getattr(s, metric)

        return plain
    if metric in METRICS:
        group, name = metric.split(".", 1)

        def nested(s: Sample) -> float | None:
            d = s.smooth if group == "smooth" else s.ema if group == "ema" else s.resources
            return getattr(d, name) if d is not None else None

        return nested
    raise KeyError(metric)
