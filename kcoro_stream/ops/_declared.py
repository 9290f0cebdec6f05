"""declared: a pipeline's own metrics and event types (``kcoro_stream.analysis``) in the stream.

Runs after the pipeline's analyses. Every ``Sample`` gets the declared metrics'
values (``Sample.declared``, one key per metric, null where the function
returned None or a non-finite number); each declared event function then sees
that Sample and may add lines of its type right after it. Every ``Summary``
gets the metrics' peak, average and EMA over the same pool's Samples that count
(``Activity``: as ``summary`` counts the built-in metrics), with each metric's
version (``Summary.declared_figures``). With KPI bars for declared metrics, the
``Kpi`` line of each Sample gets their states too. Everything else passes unchanged::

    Sample ────────── Kpi ... Sample ───────── ... Summary ─────────────────────── |
    Sample{declared} [event] Kpi ... Sample{declared} ... Summary{declared_figures} |

A metric or event function that raises, or returns something that is not a
number (a metric) or a dict of the declared fields (an event), ends the run
with ``PipelineError`` naming the function's ``file:line``, the run, pool and
window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import msgspec

from kcoro_stream.errors import PipelineError
from kcoro_stream.events import DeclaredFigure, Kpi, Sample, Summary

from ._activity import Activity
from ._base import Emit, Operator, stateful
from ._kpi import kpi_state
from ._summary import Figures


class Metric(Protocol):
    """What this operator reads of a declared metric (``kcoro_stream.analysis.Metric``)."""

    @property
    def name(self) -> str: ...
    @property
    def fn(self) -> Callable[[Sample], float | None]: ...
    @property
    def unit(self) -> str: ...
    @property
    def higher_is_better(self) -> bool: ...
    @property
    def version(self) -> int: ...


class EventType(Protocol):
    """What this operator reads of a declared event type (``kcoro_stream.analysis.EventType``)."""

    @property
    def name(self) -> str: ...
    @property
    def fn(self) -> Callable[[Sample], Any]: ...
    @property
    def fields(self) -> dict[str, str]: ...
    @property
    def cls(self) -> Any: ...


def where(fn: Callable[..., Any]) -> str:
    """``file:line`` of a function's definition (how errors about it name the place)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn)
    return f"{code.co_filename}:{code.co_firstlineno}"


class _Figures:
    """A pool's declared values that count (``Activity``, as ``summary`` counts the built-in ones)."""

    __slots__ = ("activity", "figures")

    def __init__(self, names: Sequence[str], alpha: float) -> None:
        self.activity = Activity()
        self.figures = Figures(names, alpha)

    def add(self, s: Sample, values: dict[str, float | None]) -> None:
        if not self.activity.admit(s):
            return
        for m, x in values.items():
            if x is not None:
                self.figures.add(m, x)

    def declared(self, metrics: Sequence[Metric]) -> list[DeclaredFigure]:
        f = self.figures
        return [
            DeclaredFigure(
                name=m.name,
                version=m.version,
                unit=m.unit,
                higher_is_better=m.higher_is_better,
                peak=f.peak[m.name],
                avg=f.avg(m.name),
                ema=f.ema[m.name],
                samples=f.n[m.name],
            )
            for m in metrics
        ]


def _failed(what: str, fn: Any, s: Sample, reason: str) -> PipelineError:
    return PipelineError(
        f"{where(fn)}: {what} {reason} (run {s.run_id or '?'}, pool {s.pool}, window {s.window})"
    )


def _value(m: Metric, s: Sample) -> float | None:
    try:
        x = m.fn(s)
    except Exception as e:  # the user's code: one line naming it
        raise _failed(f"metric {m.name!r}", m.fn, s, f"raised {type(e).__name__}: {e}") from None
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise _failed(f"metric {m.name!r}", m.fn, s, f"returned {type(x).__name__}, not a number or None")
    x = float(x)
    return x if math.isfinite(x) else None


def _events(e: EventType, s: Sample) -> list[Any]:
    try:
        got = e.fn(s)
    except Exception as exc:  # the user's code: one line naming it
        raise _failed(f"event {e.name!r}", e.fn, s, f"raised {type(exc).__name__}: {exc}") from None
    if got is None:
        return []
    out = []
    for fields in got if isinstance(got, list) else [got]:
        if not isinstance(fields, dict) or set(fields) != set(e.fields):
            raise _failed(
                f"event {e.name!r}",
                e.fn,
                s,
                f"returned {fields!r}, not a dict of its fields {sorted(e.fields)}",
            )
        try:
            ev = e.cls(ts=s.ts, ts_ns=s.ts_ns, run_id=s.run_id, pool=s.pool, window=s.window, **fields)
            msgspec.json.decode(msgspec.json.encode(ev), type=e.cls)  # the declared types hold
        except (TypeError, msgspec.ValidationError) as exc:
            raise _failed(f"event {e.name!r}", e.fn, s, f"returned bad fields: {exc}") from None
        out.append(ev)
    return out


def _judged(k: Kpi, s: Sample, bars: Mapping[str, tuple[float, float]], higher: dict[str, bool]) -> Kpi:
    """``k`` with the declared KPIs of its Sample ``s`` added (UNKNOWN outside a steady window)."""
    own = s.declared or {}
    states: dict[str, Any] = dict(k.states)
    values = dict(k.values)
    thresholds = dict(k.thresholds or {})
    for name, (green, yellow) in bars.items():
        v = own.get(name)
        values[name] = v
        thresholds[name] = [green, yellow]
        states[name] = kpi_state(v if s.phase == "steady" else None, higher[name], green, yellow)
    return msgspec.structs.replace(k, states=states, values=values, thresholds=thresholds)


def declared(
    metrics: Sequence[Metric] = (),
    events: Sequence[EventType] = (),
    alpha: float = 0.25,
    kpi: Mapping[str, tuple[float, float]] | None = None,
) -> Operator:
    """Derived events → the same, Samples carrying declared values, declared events after them,
    Summaries carrying declared figures (see the module docstring). ``kpi``: declared metric →
    (green, yellow), judged in its declared direction and added to the Kpi line of the same Sample
    (one Kpi line per pool and window, as the analyses made it; a steady window only).

    ::

        Sample ... Summary |
        Sample{declared} [event] ... Summary{declared_figures} |
    """
    names = [m.name for m in metrics]
    mets = tuple(metrics)
    evs = tuple(events)
    higher = {m.name: m.higher_is_better for m in metrics}
    bars = dict(kpi or {})

    def setup(emit: Emit) -> tuple[Any, Any]:
        figures: dict[tuple[str, str], _Figures] = {}
        last: dict[tuple[str, str], Sample] = {}  # (run, pool) → its last Sample, for its Kpi line

        def on_item(item: Any) -> None:
            kind = type(item)
            if kind is Sample:
                values = {m.name: _value(m, item) for m in mets}
                s = msgspec.structs.replace(item, declared=values) if mets else item
                key = (s.run_id, s.pool)
                acc = figures.get(key)
                if acc is None:
                    acc = figures[key] = _Figures(names, alpha)
                acc.add(s, values)
                if bars:
                    last[key] = s
                emit(s)
                for e in evs:
                    for ev in _events(e, s):
                        emit(ev)
            elif kind is Kpi and bars:
                s = last.get((item.run_id, item.pool))
                emit(_judged(item, s, bars, higher) if s is not None and s.ts_ns == item.ts_ns else item)
            elif kind is Summary and mets:
                acc = figures.pop((item.run_id, item.pool), None) or _Figures(names, alpha)
                emit(msgspec.structs.replace(item, declared_figures=acc.declared(mets)))
            else:
                emit(item)

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
