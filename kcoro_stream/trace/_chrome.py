"""A recorded run as a Chrome trace-event JSON file (ui.perfetto.dev, chrome://tracing).

::

    RUN_DIR ──replay_derived (the run's recorded analyses)──► Sample, Heatmap, Alert, Anomaly, MarkEvent
            └─ raw frames, same pass ──► RunStarted, WorkerCounters, ChannelCounters, Gauge,
                                          ControlApplied, RingLoss, ProducerLost, RunEnded
    ─► trace events ─► {"traceEvents": [...], "otherData": {...}} ─► OUT (temp file, atomic publish)

Layout of the trace (one process per pool, one for the monitor):

* pool ``NAME`` (pid 10 + pool id): counter tracks (``"ph": "C"``) of every
  numeric field of the pool's Samples and their ``resources`` (the operators'
  window figures, as every other surface shows them); of every raw Gauge; per
  worker ``worker N <counter>`` for each WorkerCounts counter (cumulative, as
  the producer counts them: Perfetto's counter "rate" mode shows per second)
  and the heat map's window ``worker N utilisation`` / ``fastpath_ratio``;
  per channel ``channel N <counter>``. Workers are named threads (tid
  1000 + N) and carry their own counters; pool-wide counters sit on tid 0.
  Every event has a ``cat``: the kind of counter (``sample``, ``resources``,
  ``gauge``, ``worker``, ``channel``, ``heatmap``), the monitor thread of an
  instant or slice, ``gap`` for windows without data, ``__metadata`` for names.
  A null value is no point (viewers would draw the last value through it, or
  0): each track with such windows has a thread ``no data: NAME`` (tid 2000 + n)
  with one slice per stretch of them (docs/fleet.md).
* ``kcoro-stream RUN_ID`` (pid 1): thread ``run`` with the run as one slice
  (``"X"``) and ring losses / producer loss as instants; ``marks``, ``alerts``
  and ``anomalies`` as instant events (``"ph": "i"``, thread scope) with
  every field in ``args``; ``control`` with one slice per sampling state
  (``sampling 10 ms``, ``paused``), a new slice at each applied control change.

Timestamps are microseconds of event time since the run's first event;
``otherData`` has the run id, mode, host and wall-clock start.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from .. import __version__
from .._files import publish
from ..errors import DamagedLogError, KcoroStreamError, UsageError
from ..eventlog import LogFrame
from ..events import (
    Alert,
    Anomaly,
    ChannelCounters,
    ChannelCounts,
    ControlApplied,
    Gauge,
    Heatmap,
    MarkEvent,
    ProducerLost,
    RingLoss,
    RunEnded,
    RunStarted,
    Sample,
    WorkerCounters,
    WorkerCounts,
    counter_fields,
    decode_frame,
)
from ..ops._base import pool_label, pool_names

__all__ = ["MONITOR_PID", "MONITOR_THREADS", "TraceResult", "chrome_trace", "export_chrome"]

MONITOR_PID = 1
POOL_PID_BASE = 10
GAP_TID_BASE = 2000  # a pool process's ``no data: NAME`` threads
MONITOR_THREADS = {"run": 1, "marks": 2, "alerts": 3, "anomalies": 4, "control": 5}
_SAMPLE_SKIP = {"schema", "ts", "ts_ns"}  # time, not values
_WORKER_COUNTERS = [c.name for c in counter_fields(WorkerCounts)]
_CHANNEL_COUNTERS = [c.name for c in counter_fields(ChannelCounts)]


@dataclass
class TraceResult:
    out: Path
    events: int
    counter_tracks: int
    instants: int
    slices: int


@dataclass
class _Builder:
    events: list[dict[str, Any]] = field(default_factory=list)
    t0_ns: int | None = None
    start: RunStarted | None = None
    end_ns: int = 0
    pools: dict[str, int] = field(default_factory=dict)  # pool name → pid
    names: dict[int, str] | None = None  # raw pool id → name
    threads: dict[tuple[int, int], str] = field(default_factory=dict)
    control: list[ControlApplied] = field(default_factory=list)
    ended: RunEnded | None = None
    # per counter track (pid, tid, name): its last point's time and its windows without data
    last_ns: dict[tuple[int, int, str], int] = field(default_factory=dict)
    gaps: dict[tuple[int, int, str], list[list[int]]] = field(default_factory=dict)
    drawn: set[tuple[int, int, str]] = field(default_factory=set)  # tracks with at least one point

    def us(self, ts_ns: int) -> float:
        if self.t0_ns is None:
            self.t0_ns = ts_ns
        self.end_ns = max(self.end_ns, ts_ns)
        return round((ts_ns - self.t0_ns) / 1000, 3)

    def pid(self, pool: str) -> int:
        if pool not in self.pools:
            self.pools[pool] = POOL_PID_BASE + len(self.pools)
        return self.pools[pool]

    def raw_pool(self, pool: int) -> int:
        return self.pid(pool_label(self.names, pool))

    def counter(self, pid: int, name: str, ts_ns: int, value: Any, cat: str, tid: int = 0) -> None:
        """A counter sample; ``tid`` puts a worker's counters on its thread (``worker_tid``).

        A null value is a window without data: it becomes part of the track's gap
        (``_gap_slices``), never a point, so the viewer does not draw the last value through it.
        """
        track = (pid, tid, name)
        if value is None:
            since = self.last_ns.get(track, self.t0_ns if self.t0_ns is not None else ts_ns)
            spans = self.gaps.setdefault(track, [])
            if spans and spans[-1][1] == since:
                spans[-1][1] = ts_ns  # the gap goes on
            else:
                spans.append([since, ts_ns])
            self.last_ns[track] = ts_ns
            self.us(ts_ns)
            return
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return
        self.last_ns[track] = ts_ns
        self.drawn.add(track)
        self.events.append(
            {
                "ph": "C",
                "cat": cat,
                "name": name,
                "pid": pid,
                "tid": tid,
                "ts": self.us(ts_ns),
                "args": {"value": value},
            }
        )

    def worker(self, pid: int, worker: int) -> int:
        """The named thread of ``worker`` in pool process ``pid``: its tid."""
        self.threads.setdefault((pid, worker), f"worker {worker}")
        return worker_tid(worker)

    def instant(self, thread: str, name: str, ts_ns: int, args: dict[str, Any]) -> None:
        self.events.append(
            {
                "ph": "i",
                "s": "t",
                "cat": thread,
                "name": name,
                "pid": MONITOR_PID,
                "tid": MONITOR_THREADS[thread],
                "ts": self.us(ts_ns),
                "args": args,
            }
        )

    def slice(self, thread: str, name: str, start_ns: int, end_ns: int, args: dict[str, Any]) -> None:
        ts = self.us(start_ns)
        self.events.append(
            {
                "ph": "X",
                "cat": thread,
                "name": name,
                "pid": MONITOR_PID,
                "tid": MONITOR_THREADS[thread],
                "ts": ts,
                "dur": max(round((end_ns - start_ns) / 1000, 3), 0.0),
                "args": args,
            }
        )

    # ------------------------------------------------------------ raw events

    def raw(self, frame: LogFrame) -> None:
        for ev in decode_frame(frame.payload):
            if isinstance(ev, RunStarted):
                self.start = self.start or ev
                self.names = pool_names(ev)
                self.us(ev.ts_ns)
            elif isinstance(ev, WorkerCounters):
                pid = self.raw_pool(ev.pool)
                tid = self.worker(pid, ev.worker)
                for name in _WORKER_COUNTERS:
                    self.counter(
                        pid, f"worker {ev.worker} {name}", ev.ts_ns, getattr(ev, name), "worker", tid
                    )
            elif isinstance(ev, ChannelCounters):
                pid = self.raw_pool(ev.pool)
                for name in ("depth", *_CHANNEL_COUNTERS):
                    self.counter(pid, f"channel {ev.channel} {name}", ev.ts_ns, getattr(ev, name), "channel")
            elif isinstance(ev, Gauge):
                self.counter(self.raw_pool(ev.pool), f"gauge {ev.name}", ev.ts_ns, ev.value, "gauge")
            elif isinstance(ev, ControlApplied):
                self.us(ev.ts_ns)
                self.control.append(ev)
            elif isinstance(ev, RingLoss):
                self.instant("run", f"ring loss ({ev.reason})", ev.ts_ns, msgspec.structs.asdict(ev))
            elif isinstance(ev, ProducerLost):
                self.instant("run", f"producer lost: {ev.reason}", ev.ts_ns, msgspec.structs.asdict(ev))
            elif isinstance(ev, RunEnded):
                self.ended = ev
                self.us(ev.ts_ns)

    # ------------------------------------------------------------ derived events

    def derived(self, ev: Any) -> None:
        if isinstance(ev, Sample):
            pid = self.pid(ev.pool)
            for name in ev.__struct_fields__:
                if name not in _SAMPLE_SKIP:
                    self.counter(pid, name, ev.ts_ns, getattr(ev, name), "sample")
            if ev.resources is not None:
                for name in ev.resources.__struct_fields__:
                    self.counter(pid, f"resources {name}", ev.ts_ns, getattr(ev.resources, name), "resources")
        elif isinstance(ev, Heatmap):
            pid = self.pid(ev.pool)
            for i, w in enumerate(ev.workers):
                tid = self.worker(pid, w)
                for name in ("utilisation", "fastpath_ratio"):
                    values = getattr(ev, name)
                    if i < len(values):
                        self.counter(pid, f"worker {w} window {name}", ev.ts_ns, values[i], "heatmap", tid)
        elif isinstance(ev, Alert):
            self.instant("alerts", f"{ev.rule} {ev.state}", ev.ts_ns, _args(ev))
        elif isinstance(ev, Anomaly):
            self.instant("anomalies", f"{ev.metric} {ev.method}", ev.ts_ns, _args(ev))
        elif isinstance(ev, MarkEvent):
            self.instant("marks", ev.name, ev.ts_ns, _args(ev))

    # ------------------------------------------------------------ the whole run

    def finish(self, source: Path) -> dict[str, Any]:
        start_ns = self.start.ts_ns if self.start else (self.t0_ns or 0)
        end_ns = self.ended.ts_ns if self.ended else self.end_ns
        run_id = self.start.run_id if self.start else source.name
        mode = self.start.mode if self.start else "?"
        self.slice("run", f"run {run_id} ({mode})", start_ns, end_ns, {"run_id": run_id, "mode": mode})
        self._control_slices(start_ns, end_ns)
        meta: list[dict[str, Any]] = [_name_meta("process_name", MONITOR_PID, 0, f"kcoro-stream {run_id}")]
        meta += [_name_meta("thread_name", MONITOR_PID, tid, t) for t, tid in MONITOR_THREADS.items()]
        for pool, pid in self.pools.items():
            meta.append(_name_meta("process_name", pid, 0, f"pool {pool}"))
            meta.append(
                {
                    "ph": "M",
                    "cat": "__metadata",
                    "name": "process_sort_index",
                    "pid": pid,
                    "tid": 0,
                    "args": {"sort_index": pid},
                }
            )
        for (pid, worker), name in sorted(self.threads.items()):
            meta.append(_name_meta("thread_name", pid, worker_tid(worker), name))
        meta += self._gap_slices()
        self.events.sort(key=lambda e: e["ts"])
        other: dict[str, Any] = {"generator": f"kcoro-stream {__version__}", "source": str(source)}
        if self.start is not None:
            other.update(
                run_id=self.start.run_id,
                mode=self.start.mode,
                host=self.start.host,
                wall_start_s=(self.start.wall_ns + (start_ns - self.start.ts_ns)) / 1e9,
            )
        return {"traceEvents": meta + self.events, "displayTimeUnit": "ms", "otherData": other}

    def _gap_slices(self) -> list[dict[str, Any]]:
        """Each counter track's windows without data as ``X`` slices on a thread of their own.

        The trace-event format has no null counter value: Perfetto skips a non-numeric
        one and keeps drawing the last value, catapult draws it as 0. So a track with
        at least one point gets a thread ``no data: NAME`` (tid 2000 + n in its pool's
        process) whose slices cover the time its windows had none; one thread per
        track, so no two slices on it overlap. Returns the thread names; the slices go
        into ``events``.
        """
        meta: list[dict[str, Any]] = []
        tids: dict[int, int] = {}
        for (pid, tid, name), spans in sorted(self.gaps.items()):
            if (pid, tid, name) not in self.drawn:
                continue  # a field this pool never has: no track, so no gap
            gap_tid = GAP_TID_BASE + tids.setdefault(pid, 0)
            tids[pid] += 1
            meta.append(_name_meta("thread_name", pid, gap_tid, f"no data: {name}"))
            for start, end in spans:
                self.events.append(
                    {
                        "ph": "X",
                        "cat": "gap",
                        "name": f"no {name}",
                        "pid": pid,
                        "tid": gap_tid,
                        "ts": self.us(start),
                        "dur": max(round((end - start) / 1000, 3), 0.0),
                        "args": {"counter": name, "thread": tid},
                    }
                )
        return meta

    def _control_slices(self, start_ns: int, end_ns: int) -> None:
        """One slice per sampling state; each applied control change that alters it starts a new one."""
        interval = self.start.interval_ns if self.start else 0
        paused, since = False, start_ns
        for c in self.control:
            if c.stop:
                self.instant("control", "stop requested", c.ts_ns, {"seq": c.seq})
            new_interval = c.interval_ns or interval
            if (new_interval, c.paused) != (interval, paused):
                self.slice(
                    "control", _state_name(interval, paused), since, c.ts_ns, _state_args(interval, paused)
                )
                interval, paused, since = new_interval, c.paused, c.ts_ns
        self.slice("control", _state_name(interval, paused), since, end_ns, _state_args(interval, paused))


def _state_name(interval_ns: int, paused: bool) -> str:
    return "paused" if paused else f"sampling {interval_ns / 1e6:g} ms"


def _state_args(interval_ns: int, paused: bool) -> dict[str, Any]:
    return {"interval_ns": interval_ns, "paused": paused}


def _name_meta(kind: str, pid: int, tid: int, name: str) -> dict[str, Any]:
    return {"ph": "M", "cat": "__metadata", "name": kind, "pid": pid, "tid": tid, "args": {"name": name}}


def worker_tid(worker: int) -> int:
    """A worker's thread id in its pool's process (tid 0 holds the pool-wide counters)."""
    return 1000 + worker


def _args(ev: Any) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(ev)
    out.pop("type", None)
    return out


def chrome_trace(run: Path, *, allow_damaged: bool = False) -> dict[str, Any]:
    """The trace of ``run`` (a run directory, or one of its segment files) as a JSON-ready dict."""
    from ..runloop import replay_derived

    run_dir = _run_dir(run)
    b = _Builder()
    try:
        derived = replay_derived(run_dir, b.raw, allow_damaged=allow_damaged)
    except (UsageError, DamagedLogError):
        raise
    except KcoroStreamError as e:  # not a log, unreadable: bad input (exit 2), as `report` says it
        raise UsageError(str(e)) from None
    for ev in derived:
        b.derived(ev)
    return b.finish(run_dir)


def _run_dir(run: Path) -> Path:
    if run.is_file() and run.suffix == ".kcslog":
        return run.parent
    if not run.exists():
        raise UsageError(f"{run}: no such run directory")
    if not run.is_dir():
        raise UsageError(f"{run}: not a run directory or a segment-NNNNNN.kcslog file")
    return run


def export_chrome(run: Path, out: Path, *, force: bool = False, allow_damaged: bool = False) -> TraceResult:
    """Write ``run``'s trace to ``out``: a temp file beside it, published whole or not at all."""
    _check_out(out, force)
    trace = chrome_trace(run, allow_damaged=allow_damaged)
    body = msgspec.json.encode(trace)
    _publish(out, body, force)
    events = trace["traceEvents"]
    return TraceResult(
        out=out,
        events=len(events),
        counter_tracks=len({(e["pid"], e["name"]) for e in events if e["ph"] == "C"}),
        instants=sum(e["ph"] == "i" for e in events),
        slices=sum(e["ph"] == "X" for e in events),
    )


def _check_out(out: Path, force: bool) -> None:
    """Refuse before replaying anything: an existing file (exit 1) or a place that cannot be written (2)."""
    if out.is_dir():
        raise UsageError(f"--out {out}: is a directory")
    if out.exists() and not force:
        raise KcoroStreamError(f"--out {out}: exists (use --force to overwrite)")
    parent = out.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise UsageError(f"--out {out}: {parent} {what}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: cannot write in {parent} (permission denied)")


def _publish(out: Path, body: bytes, force: bool) -> None:
    try:
        publish(out, body, replace=force)  # without --force, a file that appeared meanwhile is kept
    except FileExistsError:
        raise KcoroStreamError(f"--out {out}: exists (use --force to overwrite)") from None
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write ({e.strerror or e})") from None
