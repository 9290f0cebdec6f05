"""Scripted derived events for the live-surface tests (prometheus, websocket, tui).

Everything is deterministic: event time advances by ``window_ms`` per batch,
values follow a fixed script, so tests can assert exact figures.

A batch is what the operators make for one input frame: one ``Sample`` per
pool, and every few windows a histogram, a heat-map row, KPI states and, at
fixed points, alerts.
"""

from __future__ import annotations

from dataclasses import dataclass

from kcoro_stream.events import (
    Alert,
    Anomaly,
    ChannelCounts,
    ClientStatistics,
    DerivedEvent,
    Heatmap,
    HistogramSummary,
    Kpi,
    LogStatistics,
    Metrics,
    OsSample,
    ReaderStatistics,
    Sample,
    SinkStatistics,
    Status,
    Summary,
    WorkerCounts,
)
from kcoro_stream.histo import BUCKETS, SCHEME, bucket_lower
from kcoro_stream.ops._status import loss_message

T0_NS = 1_000_000_000_000
WALL0 = 1_790_000_000.0
RUN_ID = "run-test-0001"
# log2x4 lower bounds, in ns: 0,1,2,3, 4,5,6,7, 8,10,12,14, 16,20,24,28, ...
LOG2X4 = [bucket_lower(b) for b in range(BUCKETS)]


def ts(i: int, window_ms: int = 250) -> tuple[float, int]:
    ns = T0_NS + i * window_ms * 1_000_000
    return round(WALL0 + i * window_ms / 1000, 6), ns


def sample(
    i: int,
    *,
    pool: str = "tasks",
    mode: str = "tasks",
    tasks_per_s: float | None = 1000.0,
    msgs_per_s: float | None = None,
    bytes_per_s: float | None = None,
    fastpath_ratio: float | None = 0.75,
    steal_ratio: float | None = 0.25,
    window_ms: int = 250,
    worker_totals: WorkerCounts | None = None,
    worker_deltas: WorkerCounts | None = None,
    channel_totals: ChannelCounts | None = None,
    channel_deltas: ChannelCounts | None = None,
    gauges: dict[str, float] | None = None,
    partial: bool = False,
) -> Sample:
    t, ns = ts(i, window_ms)
    return Sample(
        ts=t,
        ts_ns=ns,
        run_id=RUN_ID,
        mode=mode,
        pool=pool,
        window_ns=window_ms * 1_000_000,
        partial=partial,
        tasks_per_s=tasks_per_s,
        fastpath_ratio=fastpath_ratio,
        steal_ratio=steal_ratio,
        msgs_per_s=msgs_per_s,
        bytes_per_s=bytes_per_s,
        gbps=None if bytes_per_s is None else bytes_per_s * 8 / 1e9,
        inject_pulls_per_s=10.0 if tasks_per_s is not None else None,
        parks_per_s=2.0,
        utilisation=0.5,
        idle_workers_pct=25.0,
        inject_depth=3.0,
        channel_depth=None if msgs_per_s is None else 7.0,
        smooth=Metrics(tasks_per_s=tasks_per_s, msgs_per_s=msgs_per_s),
        ema=Metrics(tasks_per_s=tasks_per_s, msgs_per_s=msgs_per_s),
        span_ns=window_ms * 1_000_000,
        worker_totals=worker_totals,
        worker_deltas=worker_deltas,
        channel_totals=channel_totals,
        channel_deltas=channel_deltas,
        gauges=gauges,
    )


def histogram(
    i: int,
    counts: list[int],
    *,
    metric: str = "task_start_latency_ns",
    scope: str = "cumulative",
    pool: str = "tasks",
    window_ms: int = 250,
    total: int | None = None,
) -> HistogramSummary:
    t, ns = ts(i, window_ms)
    return HistogramSummary(
        ts=t,
        ts_ns=ns,
        run_id=RUN_ID,
        metric=metric,
        pool=pool,
        scope=scope,  # type: ignore[arg-type]
        window_ns=window_ms * 1_000_000,
        scheme=SCHEME,
        bounds=LOG2X4[: len(counts)],
        counts=counts,
        count=sum(counts),
        p50=1000.0,
        p90=4000.0,
        p99=16000.0,
        p999=30000.0,
        error_bound=0.125,
        sum=total,
    )


def heatmap(i: int, workers: int = 4, *, pool: str = "tasks", window_ms: int = 250) -> Heatmap:
    t, ns = ts(i, window_ms)
    return Heatmap(
        ts=t,
        ts_ns=ns,
        run_id=RUN_ID,
        pool=pool,
        window_ns=window_ms * 1_000_000,
        workers=list(range(workers)),
        utilisation=[round((w + 1) / workers, 3) for w in range(workers)],
        steals_succeeded=[w for w in range(workers)],
        steals_failed=[2 * w for w in range(workers)],
        fastpath_ratio=[0.9 - 0.1 * w for w in range(workers)],
        imbalance=0.4,
    )


def os_sample(i: int, wait_ns: int = 155_000_000, *, pool: str = "tasks", window_ms: int = 250) -> OsSample:
    """Two pinned workers (cpus 0, 1); worker 1 waits ``wait_ns`` on the run queue; no hardware counters."""
    t, ns = ts(i, window_ms)
    span = window_ms * 1_000_000
    return OsSample(
        ts=t,
        ts_ns=ns,
        run_id=RUN_ID,
        pool=pool,
        window=i,
        window_ns=span,
        span_ns=span,
        workers=[0, 1],
        tids=[10, 11],
        cpus=[0, 1],
        pinned=[True, True],
        run_pct=[97.0, 100.0 * (span - wait_ns) / span],
        wait_pct=[3.0, 100.0 * wait_ns / span],
        wait_ns=[7_500_000, wait_ns],
        involuntary_cs=[2, 120],
        involuntary_cs_per_s=[8.0, 480.0],
        voluntary_cs_per_s=[0.0, 0.0],
        context_switches_per_s=[8.0, 480.0],
        migrations_per_s=[0.0, 0.0],
        page_faults_per_s=[4.0, 0.0],
        ipc=[None, None],
        cache_misses_per_s=[None, None],
    )


def alert(i: int, state: str = "firing", *, rule: str = "fastpath_low", window_ms: int = 250) -> Alert:
    t, ns = ts(i, window_ms)
    return Alert(
        ts=t,
        ts_ns=ns,
        run_id=RUN_ID,
        rule=rule,
        severity="warning",
        state=state,  # type: ignore[arg-type]
        value=0.42,
        threshold=0.5,
        message=f"{rule}: fast-path ratio 0.42 < 0.5 for 2s",
    )


def kpi(i: int, *, fastpath: str = "GREEN", steal: str = "YELLOW", window_ms: int = 250) -> Kpi:
    t, ns = ts(i, window_ms)
    return Kpi(
        ts=t,
        ts_ns=ns,
        run_id=RUN_ID,
        states={"fastpath_ratio": fastpath, "steal_ratio": steal, "utilisation": "RED"},  # type: ignore[dict-item]
        values={"fastpath_ratio": 0.75, "steal_ratio": 0.25, "utilisation": 0.5},
    )


def anomaly(i: int, window_ms: int = 250) -> Anomaly:
    t, ns = ts(i, window_ms)
    return Anomaly(
        ts=t, ts_ns=ns, run_id=RUN_ID, metric="tasks_per_s", method="zscore", value=10.0, score=6.5, window=20
    )


def status(
    i: int, state: str = "running", *, dropped: int = 0, corrupt: int = 0, ws_drops: int = 0
) -> Status:
    """The monitor's account after ``i`` windows: ring losses, log bytes, two sinks (one with a client)."""
    t, ns = ts(i)
    reader = ReaderStatistics(frames=25 * i, bytes=6400 * i, dropped_frames=dropped, corrupt_frames=corrupt)
    log = LogStatistics(frames=25 * i, frame_bytes=6400 * i, disk_bytes=900 * i, blocks=i, segments=1)
    sinks = [
        SinkStatistics(name="ndjson", received=8 * i, written=8 * i, queued=1, queue_capacity=64),
        SinkStatistics(
            name="websocket",
            received=8 * i,
            written=8 * i - ws_drops,
            dropped=ws_drops,
            drop_reasons={"slow_client": ws_drops} if ws_drops else {},
            queued=5,
            queue_capacity=256,
            clients=[ClientStatistics(client="#1 127.0.0.1:40000", sent=i, dropped=ws_drops, queued=2)],
        ),
    ]
    message = loss_message(reader, sinks)  # what ops.status writes
    return Status(
        ts=t,
        ts_ns=ns,
        run_id=RUN_ID,
        state=state,
        message=message,
        reader=reader,
        log=log,
        sinks=sinks,
        uptime_s=i * 0.25,
    )


def summary(n: int, tasks_per_s: float = 1000.0) -> Summary:
    t, ns = ts(n)
    return Summary(
        ts=t,
        ts_ns=ns,
        run_id=RUN_ID,
        mode="tasks",
        samples=n,
        duration_s=n * 0.25,
        peak=Metrics(tasks_per_s=tasks_per_s),
        avg=Metrics(tasks_per_s=tasks_per_s),
        ema=Metrics(tasks_per_s=tasks_per_s),
        worker_totals=WorkerCounts(tasks_completed=int(n * tasks_per_s * 0.25)),
    )


@dataclass(frozen=True)
class Script:
    """A scripted tasks-mode run: constant rates so totals are exact."""

    batches: int = 40
    tasks_per_s: float = 1000.0
    window_ms: int = 250
    alert_at: int = 10  # firing at this batch
    resolve_at: int | None = None
    dual: bool = False  # also a channel pool (dual mode)

    @property
    def expected_tasks_total(self) -> float:
        return self.batches * self.tasks_per_s * self.window_ms / 1000

    def batch(self, i: int) -> list[DerivedEvent]:
        w = self.window_ms
        out: list[DerivedEvent] = [
            sample(
                i,
                pool="tasks",
                mode="dual" if self.dual else "tasks",
                tasks_per_s=self.tasks_per_s,
                window_ms=w,
            )
        ]
        if self.dual:
            out.append(
                sample(
                    i,
                    pool="channel",
                    mode="dual",
                    tasks_per_s=None,
                    fastpath_ratio=None,
                    steal_ratio=None,
                    msgs_per_s=5000.0,
                    bytes_per_s=5000.0 * 64,
                    window_ms=w,
                    # the rates operator's channel totals/deltas
                    channel_totals=ChannelCounts(
                        recvs=1250 * (i + 1),
                        sends=1250 * (i + 1),
                        bytes_recv=1250 * 64 * (i + 1),
                        send_eagain=3 * i,
                        zc_sent=10 * i,
                        zc_recv=10 * i,
                        zc_aborted=0,
                        rv_matches=0,
                    ),
                    channel_deltas=ChannelCounts(recvs=1250, send_eagain=3, zc_sent=10, zc_recv=10),
                )
            )
        if i % 4 == 3:
            # cumulative histogram: 4 buckets growing by i each time
            out.append(histogram(i, [0] * 40 + [i, 2 * i, 3 * i, i], window_ms=w))
            out.append(heatmap(i, window_ms=w))
            out.append(kpi(i, window_ms=w))
        if i == self.alert_at:
            out.append(alert(i, "firing", window_ms=w))
        if self.resolve_at is not None and i == self.resolve_at:
            out.append(alert(i, "resolved", window_ms=w))
        return out

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (self.batch(i) for i in range(self.batches))
