"""Realistic frames for event log tests (and the kill -9 child process).

``frame_payload(i)`` is what one sampler tick of a 2-worker run writes: a Tick,
two WorkerCounters, a ChannelCounters, a Histogram and a Gauge, with counters
cumulative in ``i`` so consecutive frames look like a real recording.
"""

from __future__ import annotations

from pathlib import Path

from kcoro_stream.eventlog import LogWriter
from kcoro_stream.events import (
    ChannelCounters,
    Gauge,
    Histogram,
    Tick,
    WorkerCounters,
    encode_frame,
)

T0 = 1_000_000_000_000
INTERVAL = 10_000_000


def ts_of(i: int) -> int:
    return T0 + i * INTERVAL


def frame_payload(i: int) -> bytes:
    ts = ts_of(i)
    workers = [
        WorkerCounters(
            ts,
            0,
            worker=w,
            pool=0,
            tasks_submitted=1000 * i + 7 * w,
            tasks_completed=990 * i + 5 * w,
            fastpath_hits=800 * i,
            fastpath_misses=190 * i + w,
            steal_probes=40 * i,
            steal_successes=30 * i,
            steal_failures=10 * i,
            last_victim=1 - w,
            inject_pulls=5 * i,
            parks=i,
            unparks=i,
            busy_ns=9_000_000 * i,
            idle_ns=1_000_000 * i,
            switches=2000 * i + 3 * w,
        )
        for w in (0, 1)
    ]
    chan = ChannelCounters(
        ts,
        0,
        channel=0,
        pool=0,
        kind=1,
        flags=0,
        capacity=64,
        depth=i % 64,
        elem_size=64,
        sends=5000 * i,
        recvs=5000 * i - (i % 64),
        bytes_sent=320000 * i,
        bytes_recv=320000 * i,
        send_eagain=3 * i,
        recv_eagain=2 * i,
        send_epipe=0,
        recv_epipe=0,
        send_timeouts=0,
        recv_timeouts=0,
        zc_sent=0,
        zc_recv=0,
        zc_aborted=0,
        rv_matches=0,
        rv_cancels=0,
    )
    hist = Histogram(
        ts,
        0,
        metric="task_start_latency_ns",
        pool=0,
        scheme="log2x4",
        counts=[i * k for k in (1, 3, 9, 20, 40, 20, 9, 3, 1)],
        total=123_456 * i,
    )
    gauge = Gauge(ts, 0, name="inject_depth", pool=0, value=float(i % 13))
    tick = Tick(ts, 0, seq=i, target_ns=INTERVAL, actual_ns=INTERVAL + (i * 7919) % 50_000, paused=False)
    return encode_frame([tick, *workers, chan, hist, gauge])


def write_log(run_dir: Path, n: int, *, per_block: int = 0, **kw: object) -> list[tuple[int, int, bytes]]:
    """Write frames 0..n-1 (a flush every ``per_block`` frames); return what was written."""
    written = []
    with LogWriter.create(run_dir, "test-run", **kw) as w:  # type: ignore[arg-type]
        for i in range(n):
            p = frame_payload(i)
            w.append_payload(p, i, ts_of(i))
            written.append((i, ts_of(i), p))
            if per_block and (i + 1) % per_block == 0:
                w.flush()
    return written


def read_all(run_dir: Path) -> list[tuple[int, int, bytes]]:
    from kcoro_stream.eventlog import open_log

    return [(f.seq, f.ts_ns, bytes(f.payload)) for f in open_log(run_dir).frames()]
