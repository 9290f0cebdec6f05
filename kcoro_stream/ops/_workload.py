"""workload: what a window is (its phase) and what the configured workload implies (a helper, not an operator).

Used by ``rates`` to stamp every Sample with ``phase`` and ``expected``, so
the judges downstream (``kpi``, ``alerts``, ``outliers``, ``smooth``,
``summary``) agree on which windows are evidence and what "normal" is.

**Phase** of a window (first that applies):

* ``stalled``: the ingester declared the producer stalled (a logged
  ``ProducerStalled``) since the previous data frame — the window's
  differences span the silence;
* ``paused``: at least one of its ticks was paused (``ctl pause``, the
  dashboard's ``r``): the rates mix work and a deliberate stop;
* ``drain``: from the window holding the producer's ``Mark("draining")``
  (the benchmark writes it when its duration is up or a stop was asked for,
  before it stops its workload) to the end of the run, and the run's closing
  window (``RunEnded``, a new ``RunStarted`` or the end of the stream):
  workers run out of work and stop — on a loaded machine that took 4 s of
  a 6 s dual run, whose fast path, steals and throughput collapsed;
* ``warmup``: the window begins less than ``WARMUP_NS`` (250 ms, at least
  one window) after the run started: coroutines are being spawned and the
  first steals settle;
* ``steady`` otherwise. Judges give a verdict on steady windows only.

**Expected** values, from what the benchmark announces in
``RunStarted.config`` (``pools``, ``workers``, ``batch``, ``producers``,
``consumers``), following live knob changes (``KnobApplied``, logged, so a
replay sees the same):

* a task pool (``tasks``, ``mixed``): ``fastpath_ratio`` = 1 / batch — each
  submitted batch puts one task in the one-slot LIFO fast path and the rest
  in the deque; ``idle_workers_pct`` = 0;
* a channel pool: no fast-path claim (null: no verdict);
  ``idle_workers_pct`` = 100 × (W − min(W, max(P, C))) / W for P producer
  and C consumer coroutines on W workers (one producer and one consumer hand
  off on one worker: a 2-worker pool is half idle by construction).

A window during which a knob changed expects the lower of the two fast-path
shares. A run that announces none of this (another runtime, an attached
ring) has ``expected`` null and the KPIs use their plain thresholds.
"""

from __future__ import annotations

from typing import Any

from kcoro_stream.events import Expected

from ._window import Window

WARMUP_NS = 250_000_000
_TASK_POOLS = ("tasks", "mixed")


def phase(win: Window, width: int) -> str:
    """The window's phase (see the module docstring)."""
    if win.stalled:
        return "stalled"
    if win.paused:
        return "paused"
    if win.final or win.draining:
        return "drain"
    if win.run is None:  # the stream joined mid-run: only its first window is settling
        return "warmup" if win.index == 0 else "steady"
    return "warmup" if win.start_ns - win.run.ts_ns < max(width, WARMUP_NS) else "steady"


def _int(config: dict[str, Any], key: str) -> int | None:
    v = config.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def expected(win: Window, pool: str) -> Expected | None:
    """What the workload implies for ``pool`` in this window, or None when the run announces nothing."""
    run = win.run
    if run is None:
        return None
    config = run.config
    kind = pool if pool != "all" else run.mode
    if kind in _TASK_POOLS:
        batches = [b for b in (win.knobs_before.get("batch"), win.knobs.get("batch")) if b]
        batch = _int(config, "batch")
        if batch is None:
            return None
        low = max(batches) if batches else batch  # the larger batch: the lower share
        return Expected(fastpath_ratio=1.0 / low, idle_workers_pct=0.0)
    if kind == "channel":
        workers, producers, consumers = (_int(config, k) for k in ("workers", "producers", "consumers"))
        if workers is None or producers is None or consumers is None:
            return None
        busy = min(workers, max(producers, consumers))
        return Expected(fastpath_ratio=None, idle_workers_pct=100.0 * (workers - busy) / workers)
    return None
