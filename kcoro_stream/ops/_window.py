"""windows: cut the batch stream into event-time windows of cumulative snapshots.

This is the one pass over raw events that the window-based analyses share.
For every window it keeps the *last* cumulative snapshot of each worker,
channel and histogram, the snapshot at the end of the previous window (the
baseline), gauge statistics, tick jitter and ring losses. Analyses subtract
baseline from last, so a dropped frame costs time resolution, never totals.

Windows are **half-open** and aligned on the run start (``RunStarted.ts_ns``,
or the first frame's timestamp when the stream starts mid-run)::

    window k = [origin + k*w, origin + (k+1)*w)

A window closes when a frame with ``ts_ns >= end`` arrives, when the run
ends (``RunEnded``, a new ``RunStarted``) or when the stream completes (the
final, possibly short window is flushed with ``final=True``). Windows with no
frame (all dropped, or producer paused) are skipped; the next window's
baseline is then older and its ``span_ns`` longer. A frame stamped before the
open window (clock step) is counted in the open window.

A ``RingLoss`` marks the window holding the next data frame as partial: the
frames lost lie between that frame and the previous one. A closing window
(``final``) whose differences cover less than half the window width is
partial too: its rates rest on a few frames. Partial windows still count in
totals; smoothing, summaries and outlier detection leave them out.

Derived events that arrive in batches (a replayed old ``kcoro_mon`` recording
read by ``kcoro_stream.sources.legacy``) pass through unchanged, and so do
``RuleChanged`` events (``ctl set_rule``), for the alert and KPI operators
downstream: a change stamped inside the open window applies to that window.
A change stamped after the open window's end (the control socket answered
before the ring's frames past that end were read) waits until that window
closes: it applies to the first window that ends after it, in event time, so
a rule never judges a window that closed before the rule was set.

::

    batches:  [Tick W0 W1 C0 H G] [Tick W0 W1 C0 H G] ... | [RingLoss] | [...]
                     ts=t0              ts=t0+10ms
    windows:  ---------------- Window(k=0, [o, o+w)) ------- Window(k=1, partial) --|
"""

from __future__ import annotations

from operator import attrgetter, lt
from typing import Any

from kcoro_stream.errors import UsageError
from kcoro_stream.events import (
    DERIVED_TYPES,
    ChannelCounters,
    ChannelCounts,
    ChannelWaiters,
    CoroutineState,
    Gauge,
    Histogram,
    KnobApplied,
    Mark,
    MonitorStatus,
    OsCounters,
    OsThread,
    ProducerStalled,
    RingLoss,
    RuleChanged,
    RunEnded,
    RunStarted,
    Tick,
    WorkerCounters,
    WorkerCounts,
)

from ._base import Emit, Operator, stateful

# The cumulative counters, named once in events.py (the typed derived counts).
WORKER_COUNTERS: tuple[str, ...] = WorkerCounts.__struct_fields__
CHANNEL_COUNTERS: tuple[str, ...] = ChannelCounts.__struct_fields__
_get_w = attrgetter(*WORKER_COUNTERS)
_get_c = attrgetter(*CHANNEL_COUNTERS)
_DERIVED = frozenset(DERIVED_TYPES)


DRAINING = "draining"  # the Mark a producer writes when it stops its workload (the benchmark does)


class Violation:
    """A cumulative counter that went down between two consecutive snapshots."""

    __slots__ = ("counter", "kind", "new", "old", "subject", "ts_ns")

    def __init__(self, kind: str, subject: int, counter: str, old: int, new: int, ts_ns: int) -> None:
        self.kind = kind  # "worker" | "channel"
        self.subject = subject
        self.counter = counter
        self.old = old
        self.new = new
        self.ts_ns = ts_ns


class Window:
    """One closed event-time window (internal to ops; never written by a sink).

    ``workers``/``channels``/``hists`` hold the last snapshot seen in the
    window (``gauges`` last/sum/count/max); ``base_*`` the last snapshot before it (an id missing from
    ``base_*`` counts from zero when ``zero_base`` — the run start was seen —
    and is skipped for deltas otherwise). Times are producer CLOCK_MONOTONIC ns.
    """

    __slots__ = (
        "base_channels",
        "base_gauges",
        "base_hists",
        "base_os",
        "base_ts",
        "base_workers",
        "chan_waiters",
        "channels",
        "coroutines",
        "depths",
        "draining",
        "end_ns",
        "final",
        "frames",
        "gauges",
        "hists",
        "index",
        "jitter",
        "knobs",
        "knobs_before",
        "last_ts",
        "lost_frames",
        "os",
        "paused",
        "run",
        "snapshots",
        "stalled",
        "start_ns",
        "ticks",
        "violations",
        "workers",
        "zero_base",
    )

    def __init__(self) -> None:
        self.run: RunStarted | None = None
        self.index = 0
        self.start_ns = 0
        self.end_ns = 0
        self.base_ts = 0
        self.last_ts = 0
        self.frames = 0
        self.zero_base = False
        self.workers: dict[int, WorkerCounters] = {}
        self.base_workers: dict[int, WorkerCounters] = {}
        self.channels: dict[int, ChannelCounters] = {}
        self.base_channels: dict[int, ChannelCounters] = {}
        self.hists: dict[tuple[str, int], Histogram] = {}
        self.base_hists: dict[tuple[str, int], Histogram] = {}
        # the OS view of each worker (OsThread, OsCounters or None): last in / before the window
        self.os: dict[int, tuple[OsThread | None, OsCounters | None]] = {}
        self.base_os: dict[int, tuple[OsThread | None, OsCounters | None]] = {}
        self.gauges: dict[tuple[str, int], list[float]] = {}  # [last, sum, n, max]
        self.base_gauges: dict[tuple[str, int], float] = {}  # last value before the window
        self.jitter: list[int] = []
        self.depths: dict[int, list[int]] = {}  # channel -> [last, sum, n, max] of depth
        self.lost_frames = 0
        self.violations: list[Violation] = []
        self.final = False
        self.ticks = 0  # Tick events in the window
        self.paused = 0  # of which the producer was paused (``ctl pause``)
        self.stalled = False  # the ingester declared the producer stalled during or before this window
        self.draining = False  # the producer said it is draining (Mark "draining") in or before this window
        # live knobs (KnobApplied) in force before the window and at its end; {} when none changed
        self.knobs_before: dict[str, int] = {}
        self.knobs: dict[str, int] = {}
        # the coroutine snapshots in the window (--coroutines), oldest first, each the
        # CoroutineState of one frame in the producer's order; ``coroutines`` is the last one,
        # ``chan_waiters`` the last ChannelWaiters by channel
        self.snapshots: list[list[CoroutineState]] = []
        self.coroutines: list[CoroutineState] = []
        self.chan_waiters: dict[int, ChannelWaiters] = {}

    @property
    def partial(self) -> bool:
        """Rates of this window are not comparable: it overlaps a ring loss, or it is a
        closing window (``final``) covering less than half the window width."""
        return self.lost_frames > 0 or (self.final and 2 * self.span_ns < self.end_ns - self.start_ns)

    @property
    def span_ns(self) -> int:
        """Event time covered by the differences (baseline → last snapshot)."""
        return self.last_ts - self.base_ts

    def worker_delta(self, worker: int, counter: str) -> int | None:
        cur = self.workers[worker]
        base = self.base_workers.get(worker)
        if base is None:
            return getattr(cur, counter) if self.zero_base else None
        return getattr(cur, counter) - getattr(base, counter)


def windows(window_ms: float = 250, *, check_monotonic: bool | str = True) -> Operator:
    """Batches → :class:`Window` objects, one per non-empty event-time window.

    ``check_monotonic`` records cumulative counters that went down in
    ``Window.violations`` (used by :func:`invariants`): ``True``/``"frame"``
    compares every worker/channel snapshot with the previous one (exact; about
    half the cost of this pass); ``"window"`` compares only each window's last
    snapshot with the previous window's (cheaper; a dip that recovers within
    one window goes unseen); ``False``/``"off"`` does not check.

    ::

        [ev ev ev] [ev ev ev] [ev ev ev] ... [ev ev ev] |
        ------------- Window ------------- ... Window(final) |
    """
    if not window_ms > 0:
        raise UsageError(f"windows: window_ms must be > 0, got {window_ms!r}")
    width = round(window_ms * 1_000_000)
    mode = "frame" if check_monotonic is True else "off" if check_monotonic is False else check_monotonic
    if mode not in ("frame", "window", "off"):
        raise UsageError(
            f"windows: check_monotonic must be True, False, 'frame', 'window' or 'off', not {check_monotonic!r}"
        )
    per_frame = mode == "frame"
    per_window = mode == "window"

    def setup(emit: Emit) -> tuple[Any, Any]:
        run: RunStarted | None = None
        origin: int | None = None
        cur: Window | None = None
        last_w: dict[int, WorkerCounters] = {}
        last_c: dict[int, ChannelCounters] = {}
        last_h: dict[tuple[str, int], Histogram] = {}
        last_ot: dict[int, OsThread] = {}
        last_oc: dict[int, OsCounters] = {}
        base_o: dict[int, tuple[OsThread | None, OsCounters | None]] = {}
        last_wt: dict[int, tuple[int, ...]] = {}  # counters of the last snapshot, for monotonicity
        last_ct: dict[int, tuple[int, ...]] = {}
        base_w: dict[int, WorkerCounters] = {}
        base_c: dict[int, ChannelCounters] = {}
        base_h: dict[tuple[str, int], Histogram] = {}
        base_g: dict[tuple[str, int], float] = {}
        base_ts = 0
        zero_base = False
        need_base = False  # no RunStarted: the first frame becomes the baseline
        pending_loss = 0
        pending_stall = False  # a ProducerStalled seen since the last data frame
        knobs: dict[str, int] = {}  # live knob values (KnobApplied) of this run
        draining = False  # the producer's Mark("draining") was seen in this run
        held: list[RuleChanged] = []  # changes stamped after the open window's end

        def open_window(ts: int) -> Window:
            nonlocal origin
            if origin is None:
                origin = ts
            k = (ts - origin) // width if ts >= origin else 0
            win = Window()
            win.run = run
            win.index = k
            win.start_ns = origin + k * width
            win.end_ns = win.start_ns + width
            win.base_ts = base_ts
            win.zero_base = zero_base
            win.base_workers = base_w
            win.base_channels = base_c
            win.base_hists = base_h
            win.base_gauges = base_g
            win.base_os = base_o
            win.knobs_before = dict(knobs)
            win.draining = draining
            return win

        def os_view() -> dict[int, tuple[OsThread | None, OsCounters | None]]:
            return {k: (last_ot.get(k), last_oc.get(k)) for k in last_ot.keys() | last_oc.keys()}

        def close(final: bool) -> None:
            nonlocal cur, base_w, base_c, base_h, base_g, base_ts, base_o
            win = cur
            if win is None:
                return
            cur = None
            win.final = final
            win.workers = dict(last_w)
            win.channels = dict(last_c)
            win.hists = dict(last_h)
            win.os = os_view() if last_ot or last_oc else {}
            win.knobs = dict(knobs)
            if per_window:
                _check_window(win, base_w, base_c)
            base_w, base_c, base_h = win.workers, win.channels, win.hists
            base_o = win.os
            base_g = {**base_g, **{k: g[0] for k, g in win.gauges.items()}}
            base_ts = win.last_ts
            emit(win)
            if final:
                release(None)

        def release(before: int | None) -> None:
            """Emit the held rule changes stamped before ``before`` (all: None)."""
            keep = [ev for ev in held if before is not None and ev.ts_ns >= before]
            for ev in held:
                if before is None or ev.ts_ns < before:
                    emit(ev)
            held[:] = keep

        def reset(start: RunStarted | None) -> None:
            nonlocal run, origin, base_w, base_c, base_h, base_g, base_ts, zero_base, need_base, pending_loss
            nonlocal base_o, pending_stall, draining
            run = start
            origin = start.ts_ns if start is not None else None
            last_w.clear()
            last_ot.clear()
            last_oc.clear()
            base_o = {}
            last_c.clear()
            last_h.clear()
            last_wt.clear()
            last_ct.clear()
            base_w, base_c, base_h, base_g = {}, {}, {}, {}
            base_ts = start.ts_ns if start is not None else 0
            zero_base = start is not None
            need_base = start is None
            pending_loss = 0
            pending_stall = False
            draining = False
            knobs.clear()

        reset(None)

        def on_item(batch: list[Any]) -> None:
            nonlocal cur, pending_loss, need_base, base_w, base_c, base_h, base_g, base_ts, base_o
            nonlocal pending_stall, draining
            if not batch:
                return
            head = batch[0]
            kind = type(head)
            if kind in _DERIVED:
                for ev in batch:
                    emit(ev)
                return
            if kind is MonitorStatus:
                return  # the monitor's own account: no producer time, no window
            if kind is RuleChanged:
                for ev in batch:
                    if cur is not None and ev.ts_ns >= cur.end_ns:
                        held.append(ev)
                    else:
                        emit(ev)
                return
            if kind is RingLoss:
                for ev in batch:
                    if type(ev) is RingLoss:
                        pending_loss += ev.frames
                return
            if kind is ProducerStalled:
                # the window holding the next data frame spans the silence (its baseline is before it)
                pending_stall = True
                return
            if kind is RunStarted:
                close(True)
                reset(head)
                batch = batch[1:]
                if not batch:
                    return
                head = batch[0]
            elif kind is RunEnded:
                close(True)
                return
            ts = head.ts_ns
            win = cur
            if win is None:
                win = cur = open_window(ts)
            elif ts >= win.end_ns:
                close(False)
                win = cur = open_window(ts)
                if held:
                    release(win.end_ns)
            win.frames += 1
            if ts > win.last_ts:
                win.last_ts = ts
            if pending_loss:
                win.lost_frames += pending_loss
                pending_loss = 0
            if pending_stall:
                win.stalled = True
                pending_stall = False
            violations = win.violations
            snapshot = False  # this frame's coroutine snapshot has begun
            for ev in batch:
                t = type(ev)
                if t is WorkerCounters:
                    key = ev.worker
                    if per_frame:
                        now = _get_w(ev)
                        prev = last_wt.get(key)
                        if prev is not None and any(map(lt, now, prev)):
                            _record(violations, "worker", key, WORKER_COUNTERS, prev, now, ts)
                        last_wt[key] = now
                    last_w[key] = ev
                elif t is ChannelCounters:
                    key = ev.channel
                    if per_frame:
                        nowc = _get_c(ev)
                        prevc = last_ct.get(key)
                        if prevc is not None and any(map(lt, nowc, prevc)):
                            _record(violations, "channel", key, CHANNEL_COUNTERS, prevc, nowc, ts)
                        last_ct[key] = nowc
                    last_c[key] = ev
                    dep = win.depths.get(key)
                    v = ev.depth
                    if dep is None:
                        win.depths[key] = [v, v, 1, v]
                    else:
                        dep[0] = v
                        dep[1] += v
                        dep[2] += 1
                        if v > dep[3]:
                            dep[3] = v
                elif t is Tick:
                    win.ticks += 1
                    if ev.paused:
                        win.paused += 1
                    elif ev.seq > 1:
                        win.jitter.append(abs(ev.actual_ns - ev.target_ns))
                elif t is Histogram:
                    last_h[(ev.metric, ev.pool)] = ev
                elif t is Gauge:
                    g = win.gauges.get((ev.name, ev.pool))
                    v = ev.value
                    if g is None:
                        win.gauges[(ev.name, ev.pool)] = [v, v, 1, v]
                    else:
                        g[0] = v
                        g[1] += v
                        g[2] += 1
                        if v > g[3]:
                            g[3] = v
                elif t is OsThread:
                    last_ot[ev.worker] = ev
                elif t is OsCounters:
                    last_oc[ev.worker] = ev
                elif t is KnobApplied:
                    knobs[ev.name] = ev.value
                elif t is CoroutineState or t is ChannelWaiters:
                    if not snapshot:  # a new snapshot (one frame) replaces the last
                        win.coroutines, win.chan_waiters = [], {}
                        win.snapshots.append(win.coroutines)
                        snapshot = True
                    if t is CoroutineState:
                        win.coroutines.append(ev)
                    else:
                        win.chan_waiters[ev.channel] = ev
                elif t is Mark and ev.name == DRAINING:
                    draining = win.draining = True
                elif t is RunEnded:
                    close(True)
                    return
            if need_base:
                # Stream started mid-run: this first frame is the baseline.
                need_base = False
                base_w, base_c, base_h = dict(last_w), dict(last_c), dict(last_h)
                base_g = {k: g[0] for k, g in win.gauges.items()}
                base_o = os_view()
                base_ts = ts
                win.base_os = base_o
                win.base_workers, win.base_channels, win.base_hists = base_w, base_c, base_h
                win.base_gauges = base_g
                win.base_ts = ts

        def on_done() -> None:
            nonlocal pending_loss
            if cur is not None and pending_loss:
                cur.lost_frames += pending_loss
                pending_loss = 0
            close(True)

        return on_item, on_done

    return stateful(setup)


def _record(
    out: list[Violation],
    kind: str,
    subject: int,
    names: tuple[str, ...],
    old: tuple[int, ...],
    new: tuple[int, ...],
    ts: int,
) -> None:
    for name, a, b in zip(names, old, new, strict=True):
        if b < a:
            out.append(Violation(kind, subject, name, a, b, ts))


def _check_window(win: Window, base_w: dict[int, WorkerCounters], base_c: dict[int, ChannelCounters]) -> None:
    """Window-end monotonicity: last snapshot vs the previous window's last."""
    for key, ev in win.workers.items():
        prev = base_w.get(key)
        if prev is not None and any(map(lt, _get_w(ev), _get_w(prev))):
            _record(win.violations, "worker", key, WORKER_COUNTERS, _get_w(prev), _get_w(ev), win.last_ts)
    for key, evc in win.channels.items():
        prevc = base_c.get(key)
        if prevc is not None and any(map(lt, _get_c(evc), _get_c(prevc))):
            _record(win.violations, "channel", key, CHANNEL_COUNTERS, _get_c(prevc), _get_c(evc), win.last_ts)
