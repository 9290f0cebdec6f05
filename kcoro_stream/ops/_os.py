"""os_view: the OS side of each worker thread per window → OsSample.

Per pool and window, for each worker (sorted by id) that reported OsThread
or OsCounters, from differences of the cumulative counters over the window's
span (baseline → last snapshot, like every rate here):

* run_pct  = Δrun_ns / span × 100          (schedstat: time on a CPU), at most 100
* wait_pct = the time the worker was runnable but off its CPU, over the same span:

  - a worker that never parked in the window (its runtime counters: no park,
    no wake-up, not parked at the end) was either running or waiting for a
    CPU the whole time, so wait = span − run — measured in the window it
    explains. The kernel's schedstat ``wait_ns`` cannot serve here: it
    credits a wait only when the thread gets its CPU back, so a window of
    starvation showed ~1 % and the next one 188 % (315 % at worst);
  - a worker that parked (slept) in the window: the schedstat wait credited
    in it, capped at span − run;
  - so ``run_pct`` + ``wait_pct`` ≤ 100 in every window. A producer without
    runtime counters for the worker gets the capped schedstat figure.
* involuntary_cs_per_s, voluntary_cs_per_s (/proc status; the benchmark refreshes
  them every 10th tick, so they move in steps)
* context_switches_per_s, migrations_per_s, page_faults_per_s (perf software counters)
* ipc = Δinstructions / Δcycles, cache_misses_per_s (perf hardware counters, where open)
* cpus: the pinned CPU (``OsCounters.pinned_cpu``), else the CPU the thread last ran on

A counter the producer did not report, or whose ``OsCounters.counters`` bit
is clear, is null. A worker with no baseline (a stream joined mid-run) is
left out of its first window.

::

    [.. OsThread(w0) OsThread(w1) OsCounters(w0) OsCounters(w1) ..] x N |
    ---- OsSample(workers=[0,1], wait_pct=[3.1, 48.0], migrations_per_s=[0, 0]) ---- |
"""

from __future__ import annotations

from typing import Any

from kcoro_stream.events import (
    OS_COUNTER_CACHE_MISSES,
    OS_COUNTER_CONTEXT_SWITCHES,
    OS_COUNTER_CPU_MIGRATIONS,
    OS_COUNTER_CYCLES,
    OS_COUNTER_INSTRUCTIONS,
    OS_COUNTER_PAGE_FAULTS,
    OsSample,
    OsView,
    wall_seconds,
)

from ._base import Emit, Operator, pool_label, pool_names, ratio, stateful
from ._fan import compose
from ._window import Window, windows

_PERF_RATES = (  # (OsSample field, OsCounters field, bit)
    ("context_switches_per_s", "context_switches", OS_COUNTER_CONTEXT_SWITCHES),
    ("migrations_per_s", "cpu_migrations", OS_COUNTER_CPU_MIGRATIONS),
    ("page_faults_per_s", "page_faults", OS_COUNTER_PAGE_FAULTS),
    ("cache_misses_per_s", "cache_misses", OS_COUNTER_CACHE_MISSES),
)
_IPC_BITS = OS_COUNTER_CYCLES | OS_COUNTER_INSTRUCTIONS


def os_view(window_ms: float = 250) -> Operator:
    """Batches → one OsSample per pool per window (pools whose workers report OS events).

    ::

        [frame] ... [frame] | [frame] ... |
        ------- OsSample ------- OsSample(final) |
    """
    return compose(windows(window_ms, check_monotonic=False), os_from_windows(window_ms))


def os_from_windows(window_ms: float = 250) -> Operator:
    """Window → OsSample events (used by default_analyses)."""
    width = round(window_ms * 1_000_000)

    def setup(emit: Emit) -> tuple[Any, Any]:
        def on_item(win: Any) -> None:
            if type(win) is Window and win.os:
                for s in window_os(win, width):
                    emit(s)

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)


def _delta(cur: Any, base: Any, field: str) -> int | None:
    if cur is None:
        return None
    now = getattr(cur, field)
    if base is None:
        return now
    return now - getattr(base, field)


def _window_wait(win: Window, wid: int, run: int | None, credited: int | None, span: int) -> int | None:
    """Run-queue wait of worker ``wid`` over exactly the window's span (see the module docstring)."""
    if run is None or credited is None or span <= 0:
        return credited if span > 0 else None
    off = max(0, span - run)  # off its CPU: waiting for one, or asleep
    cur, base = win.workers.get(wid), win.base_workers.get(wid)
    if cur is not None and (base is not None or win.zero_base):
        parks0, unparks0 = (base.parks, base.unparks) if base is not None else (0, 0)
        if cur.parks == parks0 and cur.unparks == unparks0 and cur.parks == cur.unparks:
            return off  # never asleep in the window: every moment off the CPU was a wait for one
    return min(max(0, credited), off)


def _per_s(d: int | None, span_s: float) -> float | None:
    return None if d is None or span_s <= 0 else d / span_s


# The per-worker list fields of OsSample (everything after ``partial``).
_LIST_FIELDS = OsSample.__struct_fields__[OsSample.__struct_fields__.index("workers") :]


class _Cols:
    """The per-worker lists of one OsSample, filled worker by worker (absent → null)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {name: [] for name in _LIST_FIELDS}

    def add(self, **values: Any) -> None:
        for name, col in self.cols.items():
            col.append(values.get(name))


def window_os(win: Window, width: int) -> list[OsSample]:
    """The OsSamples of one window, one per pool (sorted by pool id)."""
    names = pool_names(win.run)
    span = win.span_ns
    span_s = span / 1e9
    groups: dict[int, _Cols] = {}
    for wid in sorted(win.os):
        ot, oc = win.os[wid]
        base = win.base_os.get(wid)
        if base is None and not win.zero_base:
            continue
        bt, bc = base if base is not None else (None, None)
        wc = win.workers.get(wid)
        pool = wc.pool if (wc is not None and names is not None) else 0
        cols = groups.setdefault(pool, _Cols())
        pinned = oc is not None and oc.pinned_cpu >= 0
        cpu = (
            oc.pinned_cpu
            if oc is not None and pinned
            else (ot.cpu if ot is not None and ot.cpu >= 0 else None)
        )
        tid = ot.tid if ot is not None else oc.tid if oc is not None else -1
        run = _delta(ot, bt, "run_ns")
        wait = _window_wait(win, wid, run, _delta(ot, bt, "wait_ns"), span)
        if run is not None and span > 0:
            run = min(run, span)
        invol = _delta(ot, bt, "involuntary_cs")
        perf: dict[str, Any] = {}
        if oc is not None:
            for out_name, field, bit in _PERF_RATES:
                if oc.counters & bit:
                    perf[out_name] = _per_s(_delta(oc, bc, field), span_s)
            if oc.counters & _IPC_BITS == _IPC_BITS:
                perf["ipc"] = ratio(_delta(oc, bc, "instructions") or 0, _delta(oc, bc, "cycles") or 0)
        cols.add(
            workers=wid,
            tids=tid,
            cpus=cpu,
            pinned=pinned,
            run_pct=None if run is None or span <= 0 else 100.0 * run / span,
            wait_pct=None if wait is None or span <= 0 else 100.0 * wait / span,
            wait_ns=wait,
            involuntary_cs=invol,
            involuntary_cs_per_s=_per_s(invol, span_s),
            voluntary_cs_per_s=_per_s(_delta(ot, bt, "voluntary_cs"), span_s),
            **perf,
        )
    run_id = win.run.run_id if win.run is not None else ""
    ts = wall_seconds(win.last_ts, win.run)
    return [
        OsSample(
            ts=ts,
            ts_ns=win.last_ts,
            run_id=run_id,
            pool=pool_label(names, pool),
            window=win.index,
            window_ns=width,
            span_ns=span,
            partial=win.partial,
            **groups[pool].cols,  # type: ignore[arg-type]  # keys: exactly OsSample's list fields
        )
        for pool in sorted(groups)
    ]


def _sum(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) if vals else None


def os_summary(s: OsSample) -> OsView:
    """The pool-level view of an OsSample (``Sample.os``; CSV ``os_*`` columns)."""
    waits = [(w, wid) for w, wid in zip(s.wait_pct, s.workers, strict=True) if w is not None]
    worst = max(waits, key=lambda x: (x[0], -x[1])) if waits else None
    ipcs = [x for x in s.ipc if x is not None]
    return OsView(
        wait_pct_max=worst[0] if worst else None,
        wait_worker=worst[1] if worst else None,
        wait_pct_mean=sum(w for w, _ in waits) / len(waits) if waits else None,
        involuntary_cs_per_s=_sum(s.involuntary_cs_per_s),
        context_switches_per_s=_sum(s.context_switches_per_s),
        migrations_per_s=_sum(s.migrations_per_s),
        page_faults_per_s=_sum(s.page_faults_per_s),
        ipc=sum(ipcs) / len(ipcs) if ipcs else None,
    )
