"""A small event factory: scripted runs of raw event batches for operator tests.

``Run`` keeps cumulative counters; ``frame()`` advances time by one interval,
applies increments and returns the batch the sampler would write.
"""

from __future__ import annotations

from typing import Any

import reactivex
from reactivex.subject import Subject

from kcoro_stream.events import (
    ChannelCounters,
    Gauge,
    Histogram,
    RingLoss,
    RunEnded,
    RunStarted,
    Tick,
    WorkerCounters,
    encode_json_line,
)
from kcoro_stream.histo import bucket_of

MS = 1_000_000
T0 = 1_000_000_000_000  # producer CLOCK_MONOTONIC at run start
WALL0 = 1_700_000_000_000_000_000


def worker(ts: int, worker: int, pool: int = 0, **counters: int) -> WorkerCounters:
    # every counter field of the Struct (identity fields and last_victim are set below)
    identity = ("ts_ns", "source", "worker", "pool", "last_victim")
    base = dict.fromkeys(
        (f for f in WorkerCounters.__struct_fields__ if f not in identity),
        0,
    )
    base.update(counters)
    return WorkerCounters(ts, 0, worker=worker, pool=pool, last_victim=-1, **base)


def channel(
    ts: int, channel: int, pool: int = 0, depth: int = 0, flags: int = 0, **counters: int
) -> ChannelCounters:
    # every counter field of the Struct (after channel, pool, kind, flags, capacity, depth, elem_size)
    base = dict.fromkeys(
        ChannelCounters.__struct_fields__[ChannelCounters.__struct_fields__.index("sends") :],
        0,
    )
    base.update(counters)
    return ChannelCounters(
        ts,
        0,
        channel=channel,
        pool=pool,
        kind=1,
        flags=flags,
        capacity=1024,
        depth=depth,
        elem_size=64,
        **base,
    )


def run_started(
    ts: int = T0, mode: str = "tasks", workers: int = 2, pools: list[str] | None = None, run_id: str = "run-1"
) -> RunStarted:
    config: dict[str, Any] = {"workers": workers}
    if pools is not None:
        config["pools"] = pools
    return RunStarted(
        ts,
        0,
        run_id=run_id,
        mode=mode,
        config=config,
        workers=workers,
        host="test",
        pid=1,
        abi_major=1,
        abi_minor=0,
        build={},
        wall_ns=WALL0,
        interval_ns=10 * MS,
    )


class Run:
    """Cumulative counters of a scripted run; ``frame(**increments)`` emits one batch."""

    def __init__(
        self,
        workers: int = 2,
        channels: int = 1,
        interval_ms: int = 10,
        mode: str = "tasks",
        pools: list[str] | None = None,
        run_id: str = "run-1",
        t0: int = T0,
    ) -> None:
        self.nworkers = workers
        self.nchannels = channels
        self.interval = interval_ms * MS
        self.t = t0
        self.seq = 0
        self.pools = pools
        self.start = run_started(t0, mode, workers, pools, run_id)
        self.w = [{} for _ in range(workers)]  # type: list[dict[str, int]]
        self.c = [{} for _ in range(channels)]  # type: list[dict[str, int]]
        self.depth = [0] * channels
        self.inject_depth = 0.0
        self.hist: list[int] = []
        self.hist_total = 0

    def pool_of_worker(self, i: int) -> int:
        return i % len(self.pools) if self.pools else 0

    def add_worker(self, i: int, **inc: int) -> None:
        for k, v in inc.items():
            self.w[i][k] = self.w[i].get(k, 0) + v

    def add_channel(self, i: int, **inc: int) -> None:
        for k, v in inc.items():
            self.c[i][k] = self.c[i].get(k, 0) + v

    def observe(self, value: int, n: int = 1) -> None:
        b = bucket_of(value)
        if len(self.hist) <= b:
            self.hist.extend([0] * (b + 1 - len(self.hist)))
        self.hist[b] += n
        self.hist_total += value * n

    def steady(self, tasks: int = 1000, msgs: int = 500, size: int = 64) -> None:
        """Typical per-tick increments: tasks split over workers, msgs on channel 0."""
        for i in range(self.nworkers):
            self.add_worker(
                i,
                tasks_submitted=tasks,
                tasks_completed=tasks,
                fastpath_hits=tasks * 9 // 10,
                fastpath_misses=tasks - tasks * 9 // 10,
                steal_probes=10,
                steal_successes=4,
                steal_failures=6,
                inject_pulls=2,
                parks=1,
                unparks=1,
                busy_ns=self.interval * 8 // 10,
                idle_ns=self.interval - self.interval * 8 // 10,
                switches=2 * tasks,
            )
        for i in range(self.nchannels):
            self.add_channel(i, sends=msgs, recvs=msgs, bytes_sent=msgs * size, bytes_recv=msgs * size)

    def frame(self, jitter_ns: int = 0, histogram: bool = True) -> list[Any]:
        self.t += self.interval
        self.seq += 1
        ts = self.t
        out: list[Any] = [
            Tick(
                ts,
                0,
                seq=self.seq,
                target_ns=self.interval,
                actual_ns=self.interval + jitter_ns,
                paused=False,
            )
        ]
        for i in range(self.nworkers):
            out.append(worker(ts, i, pool=self.pool_of_worker(i), **self.w[i]))
        for i in range(self.nchannels):
            out.append(channel(ts, i, pool=0, depth=self.depth[i], **self.c[i]))
        if histogram:
            out.append(
                Histogram(
                    ts,
                    0,
                    metric="task_start_latency_ns",
                    pool=0,
                    scheme="log2x4",
                    counts=list(self.hist),
                    total=self.hist_total,
                )
            )
        out.append(Gauge(ts, 0, name="inject_depth", pool=0, value=float(self.inject_depth)))
        return out

    def loss(self, frames: int = 1) -> list[Any]:
        return [
            RingLoss(
                self.t,
                0,
                frames=frames,
                bytes=100 * frames,
                seq_from=self.seq + 1,
                seq_to=self.seq + 1 + frames,
                reason="dropped",
            )
        ]

    def ended(self) -> list[Any]:
        return [RunEnded(self.t, 0, reason="duration", status=0)]


def drive(operator: Any, batches: list[list[Any]]) -> list[Any]:
    """Push batches through an operator on a hot Subject; return everything emitted."""
    subject: Subject[list[Any]] = Subject()
    out: list[Any] = []
    errors: list[Exception] = []
    done: list[bool] = []
    operator(subject).subscribe(out.append, errors.append, lambda: done.append(True))
    for b in batches:
        subject.on_next(b)
    subject.on_completed()
    if errors:
        raise errors[0]
    assert done, "operator did not complete"
    return out


def drive_items(operator: Any, items: list[Any]) -> list[Any]:
    """Like drive, for operators over derived items (Samples)."""
    return drive(operator, items)


def encoded(events: list[Any]) -> bytes:
    buf = bytearray()
    for e in events:
        encode_json_line(e, buf)
    return bytes(buf)


def of_type(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if type(e) is kind]


__all__ = ["MS", "T0", "Run", "channel", "drive", "encoded", "of_type", "reactivex", "run_started", "worker"]
