"""kpi: GREEN / YELLOW / RED states of the key ratios, for dashboards.

One ``Kpi`` event per Sample (per pool and window). Each KPI reads one
Sample metric and has a direction:

=================  ====================  ==========  =====  ======
KPI                metric                better      GREEN  YELLOW
=================  ====================  ==========  =====  ======
fastpath_ratio     fastpath_ratio        higher      ≥ 0.80 ≥ 0.50
steal_ratio        steal_ratio           higher      ≥ 0.30 ≥ 0.10
idle_pct           idle_workers_pct      lower       ≤ 25   ≤ 50
backlog            inject_depth          lower       ≤ 64   ≤ 1024
=================  ====================  ==========  =====  ======

Anything worse than YELLOW is RED; a null value is UNKNOWN.

**Fit to the workload.** When the Sample carries ``expected`` (what the
benchmark's configuration implies, :mod:`._workload`), the thresholds follow
it: ``fastpath_ratio``'s are multiplied by the expected share (1 / batch: at
the default batch 64, GREEN ≥ 0.0125, YELLOW ≥ 0.0078), and a pool that makes
no fast-path claim (a channel pool) gets UNKNOWN; ``idle_pct``'s are added to
the expected idle share (one producer and one consumer on two workers: 50 %,
so GREEN ≤ 75 %, YELLOW ≤ 100 %). ``steal_ratio`` needs evidence: the window's
steal probes must be at least ``MIN_PROBE_SHARE`` (1 %) of its work (tasks
completed plus messages received); a few stray probes beside a million tasks
say nothing about stealing, and give UNKNOWN.

**Warm-up and drain.** A Sample whose ``phase`` is not ``steady`` (warm-up,
drain, paused, stalled; see :mod:`._workload`) still gets its Kpi line, with
every state UNKNOWN and ``phase`` saying why, so every surface shows the same
grey badge instead of keeping the previous colour. ``Kpi.thresholds`` carries
the (green, yellow) pair each state was judged against.

A
``RuleChanged(kind="kpi")`` item (``ctl set_rule kpi=...``, logged) sets a
KPI's thresholds for the Samples after it, or (``remove``) restores the
default. Override with
``thresholds={"backlog": (100, 5000)}`` (green, yellow) or
``{"backlog": {"green": 100, "yellow": 5000}}``; a pair in the wrong order for
the KPI's direction, an unknown KPI or a non-number is a ``UsageError``.

::

    Sample(fastpath=.95, idle=60) |
    Kpi(states={fastpath_ratio: GREEN, idle_pct: RED, ...}) |
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

from kcoro_stream.errors import UsageError
from kcoro_stream.events import Kpi, RuleChanged, Sample

from ._base import Emit, Operator, stateful

# name -> (metric, higher_is_better, green, yellow)
KPI_DEFAULTS: dict[str, tuple[str, bool, float, float]] = {
    "fastpath_ratio": ("fastpath_ratio", True, 0.80, 0.50),
    "steal_ratio": ("steal_ratio", True, 0.30, 0.10),
    "idle_pct": ("idle_workers_pct", False, 25.0, 50.0),
    "backlog": ("inject_depth", False, 64.0, 1024.0),
}


def kpi_thresholds(overrides: Mapping[str, Any] | None = None) -> dict[str, tuple[str, bool, float, float]]:
    """Defaults merged with overrides, validated (UsageError names the KPI)."""
    table = dict(KPI_DEFAULTS)
    for name, spec in (overrides or {}).items():
        if not isinstance(name, str):
            raise UsageError(f"kpi: a KPI name must be a string, got {type(name).__name__}")
        if name not in table:
            raise UsageError(f"kpi {name!r}: unknown KPI (known: {', '.join(KPI_DEFAULTS)})")
        metric, higher, _, _ = table[name]
        try:
            if isinstance(spec, Mapping):
                green, yellow = float(spec["green"]), float(spec["yellow"])
            else:
                green, yellow = (float(x) for x in spec)
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: 10**400
            raise UsageError(
                f"kpi {name!r}: thresholds must be (green, yellow) numbers, got {spec!r}"
            ) from None
        if not (math.isfinite(green) and math.isfinite(yellow)):
            raise UsageError(f"kpi {name!r}: thresholds must be finite, got {spec!r}")
        if (higher and green < yellow) or (not higher and green > yellow):
            word = ">=" if higher else "<="
            raise UsageError(
                f"kpi {name!r}: green must be {word} yellow ({'higher' if higher else 'lower'} is better)"
            )
        table[name] = (metric, higher, green, yellow)
    return table


def kpi_state(value: float | None, higher: bool, green: float, yellow: float) -> str:
    if value is None:
        return "UNKNOWN"
    if higher:
        return "GREEN" if value >= green else "YELLOW" if value >= yellow else "RED"
    return "GREEN" if value <= green else "YELLOW" if value <= yellow else "RED"


MIN_PROBE_SHARE = 0.01  # steal probes per unit of work below which steal_ratio has no verdict


def fitted(name: str, green: float, yellow: float, s: Sample) -> tuple[float, float] | None:
    """The (green, yellow) bars of KPI ``name`` for Sample ``s``; None when it has no verdict there."""
    exp = s.expected
    if name == "fastpath_ratio" and exp is not None:
        e = exp.fastpath_ratio
        return None if e is None else (green * e, yellow * e)
    if name == "idle_pct" and exp is not None and exp.idle_workers_pct is not None:
        e = exp.idle_workers_pct
        return (min(100.0, green + e), min(100.0, yellow + e))
    if name == "steal_ratio" and s.worker_deltas is not None:
        probes = s.worker_deltas.steal_probes or 0
        work = (s.worker_deltas.tasks_completed or 0) + (
            (s.channel_deltas.recvs or 0) if s.channel_deltas is not None else 0
        )
        if probes == 0 or probes < MIN_PROBE_SHARE * work:
            return None
    return (green, yellow)


def kpi(thresholds: Mapping[str, Any] | None = None) -> Operator:
    """Samples → one Kpi event per Sample.

    ::

        Sample Sample |
        Kpi    Kpi    |
    """
    base = kpi_thresholds(thresholds)

    def setup(emit: Emit) -> tuple[Any, Any]:
        table = dict(base)  # per subscription: live changes (RuleChanged) edit this copy

        def on_item(s: Any) -> None:
            if type(s) is not Sample:
                if type(s) is RuleChanged and s.kind == "kpi" and s.name in table:
                    if s.action == "set":
                        spec = msgspec.json.decode(s.spec)
                        table.update(kpi_thresholds({s.name: spec}))
                    else:
                        table[s.name] = base[s.name]
                return
            states: dict[str, Any] = {}
            values: dict[str, float | None] = {}
            bars: dict[str, list[float]] = {}
            steady = s.phase == "steady"
            for name, (metric, higher, green, yellow) in table.items():
                v = getattr(s, metric)
                values[name] = v
                fit = fitted(name, green, yellow, s)
                if fit is None:
                    states[name] = "UNKNOWN"
                    continue
                bars[name] = [fit[0], fit[1]]
                states[name] = kpi_state(v if steady else None, higher, fit[0], fit[1])
            emit(
                Kpi(
                    ts=s.ts,
                    ts_ns=s.ts_ns,
                    run_id=s.run_id,
                    states=states,
                    values=values,
                    pool=s.pool,
                    phase=s.phase,
                    thresholds=bars,
                )
            )

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
