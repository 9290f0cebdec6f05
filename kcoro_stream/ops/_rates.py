"""rates: per-window rates and ratios from differences of cumulative counters.

For a window with baseline snapshot B (end of the previous window, or zeros
at ``RunStarted``) and last snapshot L, ``span = L.ts_ns - B.ts_ns`` and

* ``tasks_per_s``        = Δtasks_completed / span
* ``fastpath_ratio``     = Δfastpath_hits / (Δfastpath_hits + Δfastpath_misses)
* ``steal_ratio``        = Δsteal_successes / Δsteal_probes
* ``inject_pulls_per_s`` = Δinject_pulls / span;  ``parks_per_s`` = Δparks / span
* ``utilisation``        = Σ Δbusy_ns / Σ (Δbusy_ns + Δidle_ns) over the pool's workers
* ``idle_workers_pct``   = 100 × (workers with utilisation < ``idle_below``) / workers
* ``msgs_per_s``         = Δrecvs / span (messages delivered); ``bytes_per_s`` = Δbytes_recv / span;
  ``gbps`` = bytes_per_s × 8 / 1e9
* ``inject_depth``       = last ``inject_depth`` gauge value in the window;
  ``channel_depth`` = Σ depth of the pool's channels at the last snapshot

* ``resources``          = the pool's CPU and memory gauges (``pool_cpu_ns``,
  ``pool_stack_bytes``, ``process_cpu_ns``, ``rss_bytes``, ...), with
  ``cpu_pct`` = 100 × Δcpu_ns / span (see :class:`~kcoro_stream.events.Resources`)

A ratio with a zero denominator, or a rate of a pool without such counters,
is null. The window's exact counter sums are typed fields, so a consumer can
re-aggregate: ``worker_totals``/``worker_deltas`` (:class:`WorkerCounts`),
``channel_totals``/``channel_deltas`` (:class:`ChannelCounts`), plus
``span_ns``, ``frames``, ``lost_frames``, ``workers``, ``channels``,
``channel_state`` and ``inject_depth_mean``/``_max``; gauges the schema does
not name go to ``gauges``; ``channel_state`` also carries ``producers``/``consumers``
from the run's config when it has them; ``os`` sums up the pool's workers as the OS
saw them (``ops.os_view``'s OsSample of the same window, when the producer reports
OsThread/OsCounters). One Sample per pool (``RunStarted.config["pools"]``),
else one for "all". ``ts_ns`` is the last snapshot's time; ``partial`` is set
when the window overlaps a ring loss. Samples that arrive already derived (old
recordings) pass through, as do Summary events.

::

    batches: [Tick W0 W1 C0 ...] x25 | [Tick ...] x25 | ... |
    rates:   ------------- Sample(pool) -- Sample(pool) -- Sample(final) |
"""

from __future__ import annotations

from operator import add, attrgetter, sub
from typing import Any

from kcoro_stream.events import (
    CHANNEL_BUFFERED,
    CHANNEL_FLAG_CLOSED,
    CHANNEL_FLAG_PTR,
    ChannelCounts,
    ChannelState,
    Resources,
    RuleChanged,
    Sample,
    Summary,
    WorkerCounts,
    wall_seconds,
)

from ._base import Emit, Operator, pool_label, pool_names, ratio, stateful
from ._fan import compose
from ._os import os_summary, window_os
from ._window import Window, windows
from ._workload import expected, phase

_WORKER = WorkerCounts.__struct_fields__
_CHANNEL = ChannelCounts.__struct_fields__
_get_worker = attrgetter(*_WORKER)
_get_channel = attrgetter(*_CHANNEL)
_BUSY = _WORKER.index("busy_ns")
_IDLE = _WORKER.index("idle_ns")
_RESOURCES = Resources.__struct_fields__
# gauge name -> Resources field: ``pool_<field>`` or ``<field>``
_RESOURCE_OF: dict[str, str] = {**{f"pool_{f}": f for f in _RESOURCES}, **{f: f for f in _RESOURCES}}
# Resources ``<x>_pct`` computed from the cumulative ``<x>_ns``
_PCT_OF: tuple[tuple[str, str], ...] = tuple(
    (f, f[: -len("_pct")] + "_ns") for f in _RESOURCES if f.endswith("_pct") and f[:-4] + "_ns" in _RESOURCES
)


def rates(window_ms: float = 250, *, idle_below: float = 0.05) -> Operator:
    """Batches → one :class:`Sample` per pool per event-time window.

    ::

        [frame] [frame] ... [frame] [frame] ... |
        ------- Sample ------------ Sample(final) |
    """

    return compose(windows(window_ms, check_monotonic=False), samples_from_windows(window_ms, idle_below))


def samples_from_windows(window_ms: float = 250, idle_below: float = 0.05) -> Operator:
    """Window → Sample(s); derived Sample/Summary items and RuleChanged pass through. (Used by default_analyses.)"""
    width = round(window_ms * 1_000_000)

    def setup(emit: Emit) -> tuple[Any, Any]:
        def on_item(item: Any) -> None:
            if type(item) is Window:
                for sample in window_samples(item, width, idle_below):
                    emit(sample)
            elif type(item) is Sample or type(item) is Summary or type(item) is RuleChanged:
                emit(item)

        return on_item, _nothing

    return stateful(setup)


def _nothing() -> None:
    return None


def window_samples(win: Window, width: int, idle_below: float) -> list[Sample]:
    """The Samples of one window, one per pool (sorted by pool id)."""
    names = pool_names(win.run)
    groups: dict[int, tuple[list[int], list[int], list[tuple[str, int]]]] = {}
    for wid, wc in win.workers.items():
        key = wc.pool if names is not None else 0
        groups.setdefault(key, ([], [], []))[0].append(wid)
    for cid, cc in win.channels.items():
        key = cc.pool if names is not None else 0
        groups.setdefault(key, ([], [], []))[1].append(cid)
    for gkey in win.gauges:
        key = gkey[1] if names is not None else 0
        groups.setdefault(key, ([], [], []))[2].append(gkey)
    if not groups:
        return []
    run = win.run
    mode = run.mode if run is not None else "unknown"
    run_id = run.run_id if run is not None else ""
    ts_ns = win.last_ts
    ts = wall_seconds(ts_ns, run)
    span = win.span_ns
    os_of = {o.pool: os_summary(o) for o in window_os(win, width)} if win.os else {}
    stage = phase(win, width)
    out = []
    for key in sorted(groups):
        wids, cids, gkeys = groups[key]
        fields = _pool_fields(win, sorted(wids), sorted(cids), sorted(gkeys), span, idle_below)
        label = pool_label(names, key)
        out.append(
            Sample(
                ts=ts,
                ts_ns=ts_ns,
                run_id=run_id,
                mode=mode,
                pool=label,
                window_ns=width,
                partial=win.partial,
                span_ns=span,
                frames=win.frames,
                lost_frames=win.lost_frames,
                os=os_of.get(label),
                phase=stage,
                window=win.index,
                expected=expected(win, label),
                **fields,
            )
        )
    return out


def _pool_fields(
    win: Window,
    wids: list[int],
    cids: list[int],
    gkeys: list[tuple[str, int]],
    span: int,
    idle_below: float,
) -> dict[str, Any]:
    def per_s(delta: int) -> float | None:
        return delta * 1e9 / span if span > 0 else None

    f: dict[str, Any] = {}
    if wids:
        zero = (0,) * len(_WORKER)
        acc = [0] * len(_WORKER)
        tot = [0] * len(_WORKER)
        idle = 0
        counted = 0
        for wid in wids:
            now = _get_worker(win.workers[wid])
            tot = list(map(add, tot, now))
            base = win.base_workers.get(wid)
            if base is None and not win.zero_base:
                continue  # appeared mid-stream without a baseline: no delta yet
            delta = list(map(sub, now, _get_worker(base) if base is not None else zero))
            acc = list(map(add, acc, delta))
            wbusy, widle = delta[_BUSY], delta[_IDLE]
            if wbusy + widle > 0:
                counted += 1
                if wbusy / (wbusy + widle) < idle_below:
                    idle += 1
        d = WorkerCounts(**dict(zip(_WORKER, acc, strict=True)))
        hits, misses = d.fastpath_hits or 0, d.fastpath_misses or 0
        busy, idle_ns = d.busy_ns or 0, d.idle_ns or 0
        f["tasks_per_s"] = per_s(d.tasks_completed or 0)
        f["fastpath_ratio"] = ratio(hits, hits + misses)
        f["steal_ratio"] = ratio(d.steal_successes or 0, d.steal_probes or 0)
        f["inject_pulls_per_s"] = per_s(d.inject_pulls or 0)
        f["parks_per_s"] = per_s(d.parks or 0)
        f["utilisation"] = ratio(busy, busy + idle_ns)
        f["idle_workers_pct"] = 100.0 * idle / counted if counted else None
        f["workers"] = len(wids)
        f["worker_totals"] = WorkerCounts(**dict(zip(_WORKER, tot, strict=True)))
        f["worker_deltas"] = d
    if cids:
        chans = [win.channels[c] for c in cids]
        ctot = [0] * len(_CHANNEL)
        cdlt = [0] * len(_CHANNEL)
        czero = (0,) * len(_CHANNEL)
        for c in chans:
            cnow = _get_channel(c)
            ctot = list(map(add, ctot, cnow))
            cbase = win.base_channels.get(c.channel)
            if cbase is None and not win.zero_base:
                continue
            cdlt = list(map(add, cdlt, map(sub, cnow, _get_channel(cbase) if cbase is not None else czero)))
        deltas = ChannelCounts(**dict(zip(_CHANNEL, cdlt, strict=True)))
        f["msgs_per_s"] = per_s(deltas.recvs or 0)
        f["bytes_per_s"] = per_s(deltas.bytes_recv or 0)
        f["gbps"] = f["bytes_per_s"] * 8 / 1e9 if f["bytes_per_s"] is not None else None
        f["channel_depth"] = float(sum(c.depth for c in chans))
        f["channels"] = len(chans)
        f["channel_totals"] = ChannelCounts(**dict(zip(_CHANNEL, ctot, strict=True)))
        f["channel_deltas"] = deltas
        first = chans[0]
        f["channel_state"] = ChannelState(
            kind="buffered" if first.kind == CHANNEL_BUFFERED else "rendezvous",
            capacity=sum(c.capacity for c in chans),
            closed=all(c.flags & CHANNEL_FLAG_CLOSED for c in chans),
            ptr_mode=bool(first.flags & CHANNEL_FLAG_PTR),
            # the workload's shape, from the run's config (kcoro_mon's -j lines carried it)
            producers=_config_int(win, "producers"),
            consumers=_config_int(win, "consumers"),
        )
    depth = [win.gauges[k] for k in gkeys if k[0] == "inject_depth"]
    if depth:
        f["inject_depth"] = float(sum(g[0] for g in depth))
        f["inject_depth_mean"] = sum(g[1] / g[2] for g in depth)
        f["inject_depth_max"] = float(sum(g[3] for g in depth))
    res: dict[str, Any] = {}
    res_base: dict[str, int] = {}
    no_base: set[str] = set()
    other: dict[str, float] = {}
    for gkey in gkeys:
        gname = gkey[0]
        if gname == "inject_depth":
            continue
        value = win.gauges[gkey][0]
        field = _RESOURCE_OF.get(gname)
        if field is None:
            other[gname] = other.get(gname, 0.0) + value  # one pool "all": summed over pools
            continue
        res[field] = res.get(field, 0) + int(value)
        before = win.base_gauges.get(gkey)
        if before is None:
            no_base.add(field)
        else:
            res_base[field] = res_base.get(field, 0) + int(before)
    if res:
        for pct, ns in _PCT_OF:
            if ns in res and ns not in no_base and span > 0:
                res[pct] = (res[ns] - res_base[ns]) * 100.0 / span
        f["resources"] = Resources(**res)
    if other:
        f["gauges"] = other
    return f


def _config_int(win: Window, key: str) -> int | None:
    value = win.run.config.get(key) if win.run is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
