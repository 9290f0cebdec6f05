"""The event schema (contract 2): every event kcoro-stream reads or writes.

Three families, all msgspec Structs:

* **Raw events** (tags 1..31) are written by producers (the bundled benchmark,
  the example producer, any runtime using ``native/include/kcoro_stream.h``)
  as msgpack arrays ``[tag, ts_ns, source, field...]``. A ring frame's payload
  is a msgpack array of them (one sampler tick = one frame). Counters are
  cumulative since the run started; ``ts_ns`` is CLOCK_MONOTONIC.
* **Ingester events** (tags 32..63) are made by the ingester (ring loss,
  producer loss, control applied). They are stored in the event log like raw
  events, in frames whose sequence number has ``INGEST_SEQ_BIT`` set.
* **Derived events** are made by operators and written by sinks as JSON
  objects carrying ``"type"`` and ``"schema"``.

Evolution (msgspec rules): append fields with defaults at the end, never
reorder or retype; the C writers in native/ write fields in declaration order.
``DERIVED_SCHEMA`` is bumped when the meaning of a derived field changes; it
continues the old monitor's numbering (1 and 2 were ``kcoro_mon``'s).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec

RAW_SCHEMA: Final = 1
DERIVED_SCHEMA: Final = 3
INGEST_SEQ_BIT: Final = 1 << 63


class _Raw(msgspec.Struct, array_like=True, tag_field="tag", frozen=True, gc=False):
    ts_ns: int
    source: int


# --------------------------------------------------------------------- raw
#
# The C emitters (native/include/kcs_events.h) are generated from these
# classes by ``python -m kcoro_stream._codegen``. A plain ``int`` is a
# ``uint64_t`` there (counters never go negative); the aliases below pick
# another C type through ``Meta.extra``, which msgspec ignores when decoding,
# so they change neither the wire format nor validation.

U32 = Annotated[int, msgspec.Meta(extra={"c_type": "uint32_t"})]  # ids, kinds, flags, pids
I32 = Annotated[int, msgspec.Meta(extra={"c_type": "int32_t"})]  # may be -1 (none / unknown)


class RunStarted(_Raw, tag=1, frozen=True):
    """A run began: what ran, where, and how the clocks map to wall time."""

    run_id: str
    mode: str
    config: dict[str, Any]
    workers: U32
    host: str
    pid: U32
    abi_major: U32
    abi_minor: U32
    build: dict[str, str]
    wall_ns: int  # CLOCK_REALTIME at ts_ns: wall = wall_ns + (t - ts_ns)
    interval_ns: int  # target sampling interval


class WorkerCounters(_Raw, tag=2, frozen=True):
    """Cumulative scheduler counters of one worker thread."""

    worker: U32
    pool: U32
    tasks_submitted: int
    tasks_completed: int
    fastpath_hits: int
    fastpath_misses: int
    steal_probes: int
    steal_successes: int
    steal_failures: int
    last_victim: I32  # worker id of the last successful steal, -1 if none
    inject_pulls: int
    parks: int
    unparks: int
    busy_ns: int
    idle_ns: int
    switches: int


CHANNEL_RENDEZVOUS: Final = 0
CHANNEL_BUFFERED: Final = 1
CHANNEL_FLAG_CLOSED: Final = 1
CHANNEL_FLAG_PTR: Final = 2  # pointer (zero-copy) mode


class ChannelCounters(_Raw, tag=3, frozen=True):
    """Cumulative counters and current state of one channel."""

    channel: U32
    pool: U32
    kind: U32  # CHANNEL_RENDEZVOUS | CHANNEL_BUFFERED
    flags: U32  # CHANNEL_FLAG_*
    capacity: int
    depth: int
    elem_size: int
    sends: int
    recvs: int
    bytes_sent: int
    bytes_recv: int
    send_eagain: int
    recv_eagain: int
    send_epipe: int
    recv_epipe: int
    send_timeouts: int
    recv_timeouts: int
    zc_sent: int
    zc_recv: int
    zc_aborted: int
    rv_matches: int
    rv_cancels: int


class Histogram(_Raw, tag=4, frozen=True):
    """Cumulative log-bucket counts of a latency metric (trailing zeros cut)."""

    metric: str  # e.g. "task_start_latency_ns", "chan_latency_ns"
    pool: U32
    scheme: str  # "log2x4": see kcoro_stream.histo
    counts: list[int]
    total: int  # sum of observed values, same unit as the metric


class Gauge(_Raw, tag=5, frozen=True):
    """An instantaneous value: inject_depth, live_coroutines, rss_bytes, ..."""

    name: str
    pool: U32
    value: float


class Tick(_Raw, tag=6, frozen=True):
    """One sampler tick: the frame's sequence in sampler terms and its jitter."""

    seq: int
    target_ns: int
    actual_ns: int  # time since the previous tick
    paused: bool


class OsThread(_Raw, tag=7, frozen=True):
    """OS view of one worker thread (schedstat and status)."""

    worker: U32
    tid: I32
    run_ns: int
    wait_ns: int
    timeslices: int
    voluntary_cs: int
    involuntary_cs: int
    cpu: I32


class Mark(_Raw, tag=8, frozen=True):
    """A named point: phase change, manifest step, operator note."""

    name: str
    detail: str


class RunEnded(_Raw, tag=9, frozen=True):
    """The run finished; reason is "duration", "stopped", "signal", "error"."""

    reason: str
    status: I32


# ---------------------------------------------------------------- ingester


class RingLoss(_Raw, tag=32, frozen=True):
    """Frames the reader did not get: a sequence gap or corrupt frames."""

    frames: int
    bytes: int
    seq_from: int  # first missing sequence number
    seq_to: int  # first sequence number seen again
    reason: str  # "dropped" (producer full) | "corrupt" (bad CRC/length)


class ProducerLost(_Raw, tag=33, frozen=True):
    """The producer stopped: exited, crashed, or its heartbeat stalled."""

    pid: int
    reason: str
    exit_status: int  # -1 when unknown
    last_heartbeat_ns: int


class ControlApplied(_Raw, tag=34, frozen=True):
    """The producer acknowledged a control record (interval, pause, stop)."""

    seq: int
    interval_ns: int
    paused: bool
    stop: bool


# ---------------------------------------------------------- the monitor's account
#
# Contract 7: every stage has ``statistics()`` returning one of these frozen
# Structs; a periodic ``MonitorStatus`` ingester event carries them through the
# ordinary path (logged, so a replay shows what the live run lost) and the
# ``status`` operator turns it into the derived ``Status`` line.


class ReaderStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """The ring reader's account (the C reader is the only authority on losses)."""

    reads: int = 0  # read calls
    frames: int = 0  # good frames delivered
    bytes: int = 0  # bytes of good frames
    dropped_frames: int = 0  # sequence numbers the producer consumed without a frame (ring full)
    dropped_bytes: int = 0
    corrupt_frames: int = 0  # frames rejected by length or CRC
    corrupt_bytes: int = 0
    undecodable_frames: int = 0  # good CRC, payload not a valid event array
    wakeups: int = 0  # times the monitor was woken by the producer
    waits: int = 0  # times the monitor waited for data


class LogStatistics(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The event-log writer's account since it was created."""

    frames: int = 0  # frames appended
    bytes_raw: int = 0  # frame bytes appended (headers, payloads, padding)
    bytes_written: int = 0  # bytes written to segment files (headers and blocks)
    blocks: int = 0  # blocks written
    segments: int = 0  # segment files created
    flushes: int = 0  # flushes that wrote a block (interval, explicit, close)
    pending_frames: int = 0  # appended but not yet in a written block


class ClientStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """One network client of a sink (a WebSocket connection)."""

    client: str
    sent: int = 0
    dropped: int = 0  # messages dropped because the client fell behind


class SinkStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """What a sink did so far. ``dropped`` sums ``drop_reasons``."""

    name: str
    received: int = 0
    written: int = 0
    dropped: int = 0
    drop_reasons: dict[str, int] = {}
    queued: int = 0  # batches waiting in the sink's queue
    queue_capacity: int = 0
    clients: list[ClientStatistics] = []
    extra: dict[str, Any] = {}  # sink-specific figures (address, scrapes, ...)


class MonitorStatus(_Raw, tag=35, frozen=True):
    """The monitor's own account at ``ts_ns`` (made by the run loop every second, logged)."""

    state: str  # "running" | "finished" | "stopped" | "lost" | "failed"
    reader: ReaderStatistics | None
    log: LogStatistics | None
    sinks: list[SinkStatistics]
    uptime_ns: int


RawEvent = (
    RunStarted
    | WorkerCounters
    | ChannelCounters
    | Histogram
    | Gauge
    | Tick
    | OsThread
    | Mark
    | RunEnded
    | RingLoss
    | ProducerLost
    | ControlApplied
    | MonitorStatus
)
RAW_TYPES: Final[tuple[type[_Raw], ...]] = RawEvent.__args__

# One reused decoder/encoder pair for frame payloads (msgspec perf tips).
frame_decoder: Final = msgspec.msgpack.Decoder(list[RawEvent])
frame_encoder: Final = msgspec.msgpack.Encoder()


def decode_frame(payload: bytes | memoryview) -> list[RawEvent]:
    """Decode one frame payload (a msgpack array of events)."""
    return frame_decoder.decode(payload)


def encode_frame(events: list[RawEvent]) -> bytes:
    """Encode events as one frame payload, as the C writer does."""
    return frame_encoder.encode(events)


# ----------------------------------------------------------------- derived


class _Derived(msgspec.Struct, tag_field="type", kw_only=True, frozen=True, gc=False):
    schema: int = DERIVED_SCHEMA
    ts: float  # wall-clock seconds (old monitor compatible)
    ts_ns: int  # event time: CLOCK_MONOTONIC ns of the producer
    run_id: str = ""


class Sample(_Derived, tag="sample", kw_only=True, frozen=True):
    """Per-window rates and ratios. Fields that do not apply are null."""

    mode: str
    pool: str = "all"
    window_ns: int
    partial: bool = False  # the window overlaps a RingLoss
    tasks_per_s: float | None = None
    fastpath_ratio: float | None = None
    steal_ratio: float | None = None
    msgs_per_s: float | None = None
    bytes_per_s: float | None = None
    gbps: float | None = None
    inject_pulls_per_s: float | None = None
    parks_per_s: float | None = None
    utilisation: float | None = None
    idle_workers_pct: float | None = None
    inject_depth: float | None = None
    channel_depth: float | None = None
    smooth: dict[str, float | None] | None = None  # 5-sample moving averages
    ema: dict[str, float | None] | None = None
    extra: dict[str, Any] | None = None


class HistogramSummary(_Derived, tag="histogram", kw_only=True, frozen=True):
    """Latency distribution of a window (or cumulative), with percentiles."""

    metric: str
    pool: str = "all"
    scope: Literal["window", "cumulative"]
    window_ns: int
    scheme: str
    bounds: list[int]  # lower bound of each bucket in `counts`
    counts: list[int]
    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    p999: float | None
    error_bound: float  # max relative error of a reported quantile


class Heatmap(_Derived, tag="heatmap", kw_only=True, frozen=True):
    """Per-worker utilisation and steal outcome for one window."""

    pool: str = "all"
    window_ns: int
    workers: list[int]
    utilisation: list[float | None]
    steals_succeeded: list[int]
    steals_failed: list[int]
    fastpath_ratio: list[float | None]
    imbalance: float | None


class Alert(_Derived, tag="alert", kw_only=True, frozen=True):
    """A rule changed state (firing/resolved)."""

    rule: str
    severity: Literal["info", "warning", "critical"]
    state: Literal["firing", "resolved"]
    value: float | None
    threshold: float | None
    message: str
    labels: dict[str, str] | None = None


class Anomaly(_Derived, tag="anomaly", kw_only=True, frozen=True):
    """A metric value far from its recent window."""

    metric: str
    method: str  # "zscore" | "mad"
    value: float
    score: float
    window: int
    pool: str = "all"  # appended: the Sample pool the metric belongs to
    threshold: float | None = None  # appended: the score threshold crossed


class Kpi(_Derived, tag="kpi", kw_only=True, frozen=True):
    """GREEN/YELLOW/RED states of the key ratios, for dashboards."""

    states: dict[str, Literal["GREEN", "YELLOW", "RED", "UNKNOWN"]]
    values: dict[str, float | None]
    pool: str = "all"  # appended: KPI states per pool in dual mode


class Summary(_Derived, tag="summary", kw_only=True, frozen=True):
    """End of run: peak/average/EMA like the old monitor's summary line."""

    mode: str
    samples: int
    duration_s: float
    peak: dict[str, float | None]
    avg: dict[str, float | None]
    ema: dict[str, float | None]
    totals: dict[str, int]
    losses: int = 0
    pool: str = "all"  # appended: one Summary per pool in dual mode


class Status(_Derived, tag="status", kw_only=True, frozen=True):
    """The monitor's own health: reader losses, log, every sink's queue and drops."""

    state: str
    message: str = ""
    reader: ReaderStatistics | None = None
    log: LogStatistics | None = None
    sinks: list[SinkStatistics] = []
    uptime_s: float = 0.0


class MarkEvent(_Derived, tag="mark", kw_only=True, frozen=True):
    """A named point of the run, from a raw Mark: a manifest step, the warm-up, an operator note."""

    name: str
    detail: str  # the raw Mark's detail, unchanged (manifest marks: a JSON object)


DerivedEvent = Sample | HistogramSummary | Heatmap | Alert | Anomaly | Kpi | Summary | Status | MarkEvent
DERIVED_TYPES: Final[tuple[type[_Derived], ...]] = DerivedEvent.__args__

json_encoder: Final = msgspec.json.Encoder()
derived_decoder: Final = msgspec.json.Decoder(DerivedEvent)


def encode_json_line(event: DerivedEvent, buf: bytearray) -> None:
    """Append ``event`` as one NDJSON line to ``buf`` (reused buffer)."""
    json_encoder.encode_into(event, buf, len(buf))
    buf.extend(b"\n")


def wall_seconds(ts_ns: int, start: RunStarted | None) -> float:
    """Map a producer CLOCK_MONOTONIC timestamp to wall seconds (µs precision)."""
    if start is None:
        return round(ts_ns / 1e9, 6)
    return round((start.wall_ns + (ts_ns - start.ts_ns)) / 1e9, 6)
