"""Declaring a metric or an event type in a pipeline file (``kcoro_stream.analysis``).

::

    @metric(unit=..., help=..., higher_is_better=..., version=...)   def name(s: Sample) -> float | None
    @event(fields={...}, help=...)                                    def name(s: Sample) -> dict | None
        ─► Metric / EventType ─► Pipeline(metrics=[...], events=[...]) ─► ops.declared ─► every surface

A declaration is checked where it is written: a name that is no snake_case
identifier, that a built-in metric (``ops.METRICS``, a ``Sample`` field) or
derived line type already has, a unit or help text that is empty, a version
below 1, or an event field type outside ``events.DECLARED_FIELD_TYPES``
raises ``PipelineError``, which ``load_pipeline`` reports as ``file:line``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import PipelineError
from ..events import (
    DECLARED_FIELD_TYPES,
    DERIVED_TYPES,
    DeclaredEvent,
    DeclaredMetric,
    Meta,
    Sample,
    _Derived,
    declared_event_type,
)
from ..ops._metrics import METRICS

__all__ = ["EventType", "Metric", "event", "metric"]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")
# Names a declared metric may not take: every metric rules and KPIs already know, every Sample field.
BUILTIN_METRICS = frozenset(METRICS) | frozenset(Sample.__struct_fields__)
# Line types a declared event may not take: every derived type, and the meta line.
BUILTIN_TYPES = frozenset(str(t.__struct_config__.tag) for t in DERIVED_TYPES) | {"meta"}
# What a declared event carries besides its declared fields (events.declared_event_type).
_EVENT_BASE = frozenset(_Derived.__struct_fields__) | {"type", "pool", "window"}


def _check_name(kind: str, name: Any, taken: frozenset[str], what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise PipelineError(f"{kind} {name!r}: a name is snake_case: a lower-case letter, then [a-z0-9_]")
    if name in taken:
        raise PipelineError(f"{kind} {name!r}: clashes with the built-in {what} of that name")
    return name


def _check_text(kind: str, name: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PipelineError(f"{kind} {name!r}: {key} must be a non-empty string, got {value!r}")
    return value


def _check_version(kind: str, name: str, version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PipelineError(f"{kind} {name!r}: version must be an integer ≥ 1, got {version!r}")
    return version


@dataclass(frozen=True)
class Metric:
    """A per-window metric: ``fn(sample)`` → a number or None, for every Sample of every pool."""

    name: str
    fn: Callable[[Sample], float | None]
    unit: str
    help: str
    higher_is_better: bool
    version: int

    def declaration(self) -> DeclaredMetric:
        return DeclaredMetric(
            name=self.name,
            unit=self.unit,
            help=self.help,
            higher_is_better=self.higher_is_better,
            version=self.version,
        )


def metric(
    *, unit: str, help: str, higher_is_better: bool = True, version: int = 1, name: str | None = None
) -> Callable[[Callable[[Sample], float | None]], Metric]:
    """Declare a per-window metric; the decorated function's name is the metric's unless ``name``.

    ::

        @metric(unit="tasks/cpu-s", help="Tasks completed per CPU-second of the pool", version=1)
        def tasks_per_cpu_s(s: Sample) -> float | None: ...
    """

    def declare(fn: Callable[[Sample], float | None]) -> Metric:
        if not callable(fn):
            raise PipelineError(f"metric: expected a function of a Sample, got {type(fn).__name__}")
        n = _check_name(
            "metric", name if name is not None else getattr(fn, "__name__", None), BUILTIN_METRICS, "metric"
        )
        if not isinstance(higher_is_better, bool):
            raise PipelineError(
                f"metric {n!r}: higher_is_better must be True or False, got {higher_is_better!r}"
            )
        return Metric(
            name=n,
            fn=fn,
            unit=_check_text("metric", n, "unit", unit),
            help=_check_text("metric", n, "help", help),
            higher_is_better=higher_is_better,
            version=_check_version("metric", n, version),
        )

    return declare


@dataclass(frozen=True)
class EventType:
    """A new derived line type: ``fn(sample)`` → a dict of its fields (or a list of them), or None."""

    name: str
    fn: Callable[[Sample], Any]
    help: str
    fields: dict[str, str]  # field → its spelling in DECLARED_FIELD_TYPES
    version: int
    cls: Any = field(compare=False)  # the line's class (events.declared_event_type)

    def declaration(self) -> DeclaredEvent:
        return DeclaredEvent(name=self.name, help=self.help, fields=dict(self.fields), version=self.version)


def _spelling(kind: str, name: str, fname: str, tp: Any) -> str:
    for spelling, known in DECLARED_FIELD_TYPES.items():
        if tp == known or tp == spelling:
            return spelling
    raise PipelineError(
        f"{kind} {name!r}: field {fname!r} has type {tp!r}; a declared field is one of "
        f"{', '.join(DECLARED_FIELD_TYPES)}"
    )


def event(
    *, fields: Mapping[str, Any], help: str, version: int = 1, name: str | None = None
) -> Callable[[Callable[[Sample], Any]], EventType]:
    """Declare an event type made from Samples; the decorated function's name is its line type.

    ::

        @event(fields={"value": float, "best": float}, help="tasks/cpu-s fell below half its best")
        def efficiency_drop(s: Sample) -> dict | None: ...   # {"value": ..., "best": ...} or None
    """

    def declare(fn: Callable[[Sample], Any]) -> EventType:
        if not callable(fn):
            raise PipelineError(f"event: expected a function of a Sample, got {type(fn).__name__}")
        n = _check_name(
            "event", name if name is not None else getattr(fn, "__name__", None), BUILTIN_TYPES, "line type"
        )
        if not isinstance(fields, Mapping) or not fields:
            raise PipelineError(f"event {n!r}: fields must be a non-empty mapping of field → type")
        spelled: dict[str, str] = {}
        for fname, tp in fields.items():
            _check_name(f"event {n!r}: field", fname, _EVENT_BASE, "field")
            spelled[fname] = _spelling("event", n, fname, tp)
        decl = DeclaredEvent(name=n, help=_check_text("event", n, "help", help), fields=spelled,
                             version=_check_version("event", n, version))  # fmt: skip
        return EventType(
            name=n, fn=fn, help=decl.help, fields=spelled, version=decl.version, cls=declared_event_type(decl)
        )

    return declare


def declarations(pipeline: str, metrics: list[Metric], events: list[EventType]) -> Meta:
    """The ``meta`` line of a pipeline's declarations (names checked unique)."""
    seen: set[str] = set()
    declared: list[Metric | EventType] = [*metrics, *events]
    for d in declared:
        if d.name in seen:
            raise PipelineError(f"{d.name!r} is declared twice (metric and event names share one space)")
        seen.add(d.name)
    return Meta(
        pipeline=pipeline,
        metrics=[m.declaration() for m in metrics],
        events=[e.declaration() for e in events],
    )


def declared_kpi(kpi: Any, metrics: list[Metric]) -> dict[str, tuple[float, float]]:
    """``Pipeline(kpi=...)`` checked: each key a declared metric, each value (green, yellow) numbers
    in the order its direction needs (green ≥ yellow when higher is better)."""
    if not isinstance(kpi, Mapping):
        raise PipelineError(
            f"Pipeline(kpi=...): expected a mapping of declared metric → (green, yellow), got {kpi!r}"
        )
    by_name = {m.name: m for m in metrics}
    out: dict[str, tuple[float, float]] = {}
    for name, bars in kpi.items():
        m = by_name.get(name)
        if m is None:
            raise PipelineError(
                f"Pipeline(kpi=...): {name!r} is no metric this pipeline declares (declared: {', '.join(by_name) or 'none'})"
            )
        try:
            green, yellow = (float(x) for x in bars)
        except (TypeError, ValueError):
            raise PipelineError(
                f"Pipeline(kpi=...): {name!r}: expected (green, yellow) numbers, got {bars!r}"
            ) from None
        if (m.higher_is_better and green < yellow) or (not m.higher_is_better and green > yellow):
            word = ">=" if m.higher_is_better else "<="
            raise PipelineError(f"Pipeline(kpi=...): {name!r}: green must be {word} yellow (as declared)")
        out[name] = (green, yellow)
    return out
