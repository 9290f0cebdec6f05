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

A ratio with a zero denominator, or a rate of a pool without such counters,
is null. Deltas, totals and ``span_ns`` are in ``extra`` so a consumer can
re-aggregate exactly; channel totals/deltas use the old monitor's names, and
a channel pool's ``extra`` carries ``producers``/``consumers`` from the run's
config when it has them.
One Sample per pool (``RunStarted.config["pools"]``), else one for "all".
``ts_ns`` is the last snapshot's time; ``partial`` is set when the window
overlaps a ring loss. Samples that arrive already derived (old recordings)
pass through, as do Summary events.

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
    Sample,
    Summary,
    wall_seconds,
)

from ._base import Emit, Operator, pool_label, pool_names, ratio, stateful
from ._fan import compose
from ._window import Window, windows

_WORKER_SUMMED = (
    "tasks_submitted",
    "tasks_completed",
    "fastpath_hits",
    "fastpath_misses",
    "steal_probes",
    "steal_successes",
    "steal_failures",
    "inject_pulls",
    "parks",
    "busy_ns",
    "idle_ns",
)
_get_summed = attrgetter(*_WORKER_SUMMED)
_BUSY = _WORKER_SUMMED.index("busy_ns")
_IDLE = _WORKER_SUMMED.index("idle_ns")

# Channel totals/deltas reported in Sample.extra under the old monitor's names.
_CHANNEL_EXTRA = (
    ("fail_send_eagain", "send_eagain"),
    ("fail_recv_eagain", "recv_eagain"),
    ("fail_send_epipe", "send_epipe"),
    ("fail_recv_epipe", "recv_epipe"),
    ("bytes_sent", "bytes_sent"),
    ("bytes_recv", "bytes_recv"),
    ("zref_sent", "zc_sent"),
    ("zref_received", "zc_recv"),
    ("zref_aborted", "zc_aborted"),
    ("rv_matches", "rv_matches"),
    ("rv_cancels", "rv_cancels"),
    ("sends", "sends"),
    ("recvs", "recvs"),
)
_CHANNEL_OLD = tuple(old for old, _ in _CHANNEL_EXTRA)
_get_channel = attrgetter(*(new for _, new in _CHANNEL_EXTRA))


def rates(window_ms: float = 250, *, idle_below: float = 0.05) -> Operator:
    """Batches → one :class:`Sample` per pool per event-time window.

    ::

        [frame] [frame] ... [frame] [frame] ... |
        ------- Sample ------------ Sample(final) |
    """

    return compose(windows(window_ms, check_monotonic=False), samples_from_windows(window_ms, idle_below))


def samples_from_windows(window_ms: float = 250, idle_below: float = 0.05) -> Operator:
    """Window → Sample(s); derived Sample/Summary items pass through. (Used by default_analyses.)"""
    width = round(window_ms * 1_000_000)

    def setup(emit: Emit) -> tuple[Any, Any]:
        def on_item(item: Any) -> None:
            if type(item) is Window:
                for sample in window_samples(item, width, idle_below):
                    emit(sample)
            elif type(item) is Sample or type(item) is Summary:
                emit(item)

        return on_item, _nothing

    return stateful(setup)


def _nothing() -> None:
    return None


def window_samples(win: Window, width: int, idle_below: float) -> list[Sample]:
    """The Samples of one window, one per pool (sorted by pool id)."""
    names = pool_names(win.run)
    groups: dict[int, tuple[list[int], list[int], list[str]]] = {}
    for wid, wc in win.workers.items():
        key = wc.pool if names is not None else 0
        groups.setdefault(key, ([], [], []))[0].append(wid)
    for cid, cc in win.channels.items():
        key = cc.pool if names is not None else 0
        groups.setdefault(key, ([], [], []))[1].append(cid)
    for name, pool in win.gauges:
        key = pool if names is not None else 0
        groups.setdefault(key, ([], [], []))[2].append(name)
    if not groups:
        return []
    run = win.run
    mode = run.mode if run is not None else "unknown"
    run_id = run.run_id if run is not None else ""
    ts_ns = win.last_ts
    ts = wall_seconds(ts_ns, run)
    span = win.span_ns
    out = []
    for key in sorted(groups):
        wids, cids, gnames = groups[key]
        fields = _pool_fields(
            win, sorted(wids), sorted(cids), key if names is not None else None, span, idle_below
        )
        extra = fields.pop("extra")
        for gname in sorted(set(gnames)):
            if gname == "inject_depth":
                continue
            if names is None:
                vals = [g[0] for (n, _), g in win.gauges.items() if n == gname]
                extra[gname] = sum(vals)
            else:
                extra[gname] = win.gauges[(gname, key)][0]
        out.append(
            Sample(
                ts=ts,
                ts_ns=ts_ns,
                run_id=run_id,
                mode=mode,
                pool=pool_label(names, key),
                window_ns=width,
                partial=win.partial,
                extra=extra,
                **fields,
            )
        )
    return out


def _pool_fields(
    win: Window, wids: list[int], cids: list[int], pool: int | None, span: int, idle_below: float
) -> dict[str, Any]:
    def per_s(delta: int) -> float | None:
        return delta * 1e9 / span if span > 0 else None

    extra: dict[str, Any] = {"span_ns": span, "frames": win.frames, "lost_frames": win.lost_frames}
    f: dict[str, Any] = {}
    if wids:
        zero = (0,) * len(_WORKER_SUMMED)
        acc = [0] * len(_WORKER_SUMMED)
        idle = 0
        counted = 0
        for wid in wids:
            cur = win.workers[wid]
            base = win.base_workers.get(wid)
            if base is None and not win.zero_base:
                continue  # appeared mid-stream without a baseline: no delta yet
            delta = list(map(sub, _get_summed(cur), _get_summed(base) if base is not None else zero))
            acc = list(map(add, acc, delta))
            wbusy, widle = delta[_BUSY], delta[_IDLE]
            if wbusy + widle > 0:
                counted += 1
                if wbusy / (wbusy + widle) < idle_below:
                    idle += 1
        d = dict(zip(_WORKER_SUMMED, acc, strict=True))
        f["tasks_per_s"] = per_s(d["tasks_completed"])
        f["fastpath_ratio"] = ratio(d["fastpath_hits"], d["fastpath_hits"] + d["fastpath_misses"])
        f["steal_ratio"] = ratio(d["steal_successes"], d["steal_probes"])
        f["inject_pulls_per_s"] = per_s(d["inject_pulls"])
        f["parks_per_s"] = per_s(d["parks"])
        f["utilisation"] = ratio(d["busy_ns"], d["busy_ns"] + d["idle_ns"])
        f["idle_workers_pct"] = 100.0 * idle / counted if counted else None
        extra["workers"] = len(wids)
        extra["tasks_submitted_total"] = sum(win.workers[w].tasks_submitted for w in wids)
        extra["tasks_completed_total"] = sum(win.workers[w].tasks_completed for w in wids)
        for name, value in d.items():
            extra[f"{name}_delta"] = value
    if cids:
        chans = [win.channels[c] for c in cids]
        tot = [0] * len(_CHANNEL_EXTRA)
        dlt = [0] * len(_CHANNEL_EXTRA)
        zero = (0,) * len(_CHANNEL_EXTRA)
        for c in chans:
            now = _get_channel(c)
            tot = list(map(add, tot, now))
            cbase = win.base_channels.get(c.channel)
            if cbase is None and not win.zero_base:
                continue
            dlt = list(map(add, dlt, map(sub, now, _get_channel(cbase) if cbase is not None else zero)))
        totals = dict(zip(_CHANNEL_OLD, tot, strict=True))
        deltas = dict(zip(_CHANNEL_OLD, dlt, strict=True))
        f["msgs_per_s"] = per_s(deltas["recvs"])
        f["bytes_per_s"] = per_s(deltas["bytes_recv"])
        f["gbps"] = f["bytes_per_s"] * 8 / 1e9 if f["bytes_per_s"] is not None else None
        f["channel_depth"] = float(sum(c.depth for c in chans))
        for old in totals:
            extra[f"{old}_total"] = totals[old]
        for old in deltas:
            extra[f"{old}_delta"] = deltas[old]
        first = chans[0]
        extra["channels"] = len(chans)
        extra["kind"] = "buffered" if first.kind == CHANNEL_BUFFERED else "rendezvous"
        extra["capacity"] = sum(c.capacity for c in chans)
        extra["closed"] = all(c.flags & CHANNEL_FLAG_CLOSED for c in chans)
        extra["ptr_mode"] = bool(first.flags & CHANNEL_FLAG_PTR)
        config = win.run.config if win.run is not None else {}
        for key in ("producers", "consumers"):  # the workload's shape (kcoro_mon -j wrote it)
            if isinstance(config.get(key), int):
                extra[key] = config[key]
    depth = [g for (n, p), g in win.gauges.items() if n == "inject_depth" and (pool is None or p == pool)]
    if depth:
        f["inject_depth"] = float(sum(g[0] for g in depth))
        extra["inject_depth_mean"] = sum(g[1] / g[2] for g in depth)
        extra["inject_depth_max"] = float(sum(g[3] for g in depth))
    f["extra"] = extra
    return f
