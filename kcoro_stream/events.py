"""The event schema (contract 2): every event kcoro-stream reads or writes.

Three families, all msgspec Structs:

* **Raw events** (tags 1..31) are written by producers (the bundled benchmark,
  the scripted test producer, any runtime using ``native/include/kcoro_stream.h``)
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
continues the old monitor's numbering (1 and 2 were ``kcoro_mon``'s; 3 had
string-keyed ``Sample.extra`` and ``Summary.totals``, replaced in 4 by the
typed counter, channel-state and resource Structs below, and metric-keyed
dicts for ``smooth``/``ema``/``peak``/``avg``, now the ``Metrics`` Struct; 5 gave
the per-worker arrays of ``heatmap``/``os`` lines their own JSON keys,
``RENAMED_IN_5``, so that a key has one type across line types).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, NamedTuple

import msgspec

RAW_SCHEMA: Final = 1
DERIVED_SCHEMA: Final = 5
# Schema 5 gave every JSON key one type across line types: the per-worker arrays of ``heatmap`` and
# ``os`` lines are ``worker_ids``/``worker_utilisation``/``worker_fastpath_ratio`` (numbers keep the
# plain names in ``sample`` lines). Older lines are read with these keys renamed back (validate).
RENAMED_IN_5: Final[dict[str, dict[str, str]]] = {
    "heatmap": {
        "workers": "worker_ids",
        "utilisation": "worker_utilisation",
        "fastpath_ratio": "worker_fastpath_ratio",
    },
    "os": {"workers": "worker_ids"},
}
# What the analyses' figures mean (rates, ratios, percentiles, summaries): what a saved baseline
# records and checks. Bumped when a figure's meaning changes, never for a rename or retype of a
# derived line's fields (DERIVED_SCHEMA), so a schema step does not invalidate saved baselines.
ANALYSIS_VERSION: Final = 4
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
    capabilities: dict[str, Any] = {}  # appended: OS counters opened/unavailable, pinned CPUs (kcs_perf.h)


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


# OsCounters.counters bits: which perf_event_open counters are open for the thread.
OS_COUNTER_CONTEXT_SWITCHES: Final = 1
OS_COUNTER_CPU_MIGRATIONS: Final = 2
OS_COUNTER_PAGE_FAULTS: Final = 4
OS_COUNTER_CYCLES: Final = 8
OS_COUNTER_INSTRUCTIONS: Final = 16
OS_COUNTER_CACHE_MISSES: Final = 32


class OsCounters(_Raw, tag=12, frozen=True):
    """perf_event_open counters of one worker thread, cumulative since they were opened."""

    worker: U32
    tid: I32
    pinned_cpu: I32  # the CPU the worker is pinned to, -1 if not pinned
    counters: U32  # OS_COUNTER_* bits: the counters that are open (a closed one reads 0)
    context_switches: int
    cpu_migrations: int
    page_faults: int
    cycles: int  # hardware counters: scaled when the kernel multiplexed them
    instructions: int
    cache_misses: int


class Mark(_Raw, tag=8, frozen=True):
    """A named point: phase change, manifest step, operator note."""

    name: str
    detail: str


class RunEnded(_Raw, tag=9, frozen=True):
    """The run finished; reason is "duration", "stopped", "signal", "error"."""

    reason: str
    status: I32


class KnobApplied(_Raw, tag=10, frozen=True):
    """The producer changed a live knob (``ctl set_knob``): one event per knob, in its own frame."""

    cmd_id: int  # the command's id (several knobs of one command share it)
    name: str  # "batch" | "body_cost" | "body_ns" | "spin" | "packets" | "packet_cost"
    value: int
    previous: int


# The coroutine view (``--coroutines``): a snapshot every few ticks, one CoroutineState per
# coroutine included (the top K by busy time plus every one in a suspicious state; the knobs
# ``coroutines_top``/``coroutines_every`` are in RunStarted.config) and one ChannelWaiters per
# channel. Only coroutines that have suspended at least once, or were spawned with a name, are
# tracked: a task that runs once to completion never enters the table.
CORO_RUNNABLE: Final = 0
CORO_RUNNING: Final = 1
CORO_PARKED: Final = 2
CORO_DONE: Final = 3
CORO_STATES: Final = ("runnable", "running", "parked", "done")
WAIT_NONE: Final = 0
WAIT_CHANNEL: Final = 1
WAIT_GROUP: Final = 2
WAIT_KINDS: Final = ("none", "channel", "wait_group")


class CoroutineState(_Raw, tag=13, frozen=True):
    """One coroutine in a coroutine-view snapshot (``--coroutines``)."""

    coroutine: int  # id, unique in the run (never 0)
    pool: U32
    name: str  # kcr_spawn_named's name, else the spawn site "file:line", else ""
    state: U32  # CORO_*
    worker: I32  # the worker running it (state running), else -1
    wait_kind: U32  # WAIT_* (state parked)
    wait_id: I32  # the channel id (WAIT_CHANNEL), else -1
    resumes: int  # switches into the coroutine
    parks: int  # suspensions on a channel or wait group
    wakes: int  # times it was made ready again (self_wakes included)
    self_wakes: int  # wakes by itself (kcr_yield)
    busy_ns: int  # time running, estimated from one resume in ``coroutines_sample`` timed (per worker)
    age_ns: int  # since spawn
    running_ns: (
        int  # sampler: on its worker, no switch nor channel operation, at least this long (0: not seen so)
    )
    parked_ns: int  # sampler: parked without a wake for at least this long (0: not seen so)


class ChannelWaiters(_Raw, tag=14, frozen=True):
    """One channel in a coroutine-view snapshot: its name and who waits on it."""

    channel: U32
    pool: U32
    name: str
    senders: list[int]  # coroutine ids of the waiting senders, oldest first (0: a thread)
    receivers: list[int]  # coroutine ids of the waiting receivers, oldest first (0: a thread)


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


class ProducerStalled(_Raw, tag=37, frozen=True):
    """The ingester's verdict on a live producer that stopped sending frames, and on its return.

    ``state`` is "stalled" (no frame for ``threshold_ns``, scaled to the run's
    interval and its measured tick jitter; ``ts_ns`` is when that was decided)
    or "running" (frames again; ``silent_ns`` is how long none came). Logged,
    so a replay marks the same windows and emits the same status lines.
    """

    state: str  # "stalled" | "running"
    last_frame_ns: int  # the last frame's timestamp before the silence
    silent_ns: int  # time without a frame when this was decided
    threshold_ns: int


class RuleChanged(_Raw, tag=36, frozen=True):
    """A live analysis change (``ctl set_rule`` / ``remove_rule``), logged where it took effect.

    ``kind`` is "alert" (``spec``: the rule as JSON) or "kpi" (``name`` a KPI,
    ``spec``: ``{"green": g, "yellow": y}``); ``action`` is "set" or "remove".
    The analyses apply it at this position in the stream, live and on replay.
    """

    action: str
    kind: str
    name: str
    spec: str  # JSON text ("" for remove)


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
    frame_bytes: int = 0  # frame bytes appended (headers, payloads, padding)
    disk_bytes: int = 0  # bytes written to segment files (headers and blocks)
    blocks: int = 0  # blocks written
    segments: int = 0  # segment files created
    flushes: int = 0  # flushes that wrote a block (interval, explicit, close)
    pending_frames: int = 0  # appended but not yet in a written block


class ClientStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """One network client of a sink (a WebSocket connection)."""

    client: str
    sent: int = 0  # batches sent
    dropped: int = 0  # events dropped because the client fell behind (drop-oldest)
    queued: int = 0  # batches waiting for this client (appended)
    dropped_batches: int = 0  # batches those dropped events came in (appended)


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
    | OsCounters
    | Mark
    | RunEnded
    | KnobApplied
    | CoroutineState
    | ChannelWaiters
    | RingLoss
    | ProducerLost
    | ControlApplied
    | MonitorStatus
    | RuleChanged
    | ProducerStalled
)
RAW_TYPES: Final[tuple[type[_Raw], ...]] = RawEvent.__args__

# One reused decoder/encoder pair for frame payloads (msgspec perf tips).
frame_decoder: Final = msgspec.msgpack.Decoder(list[RawEvent])
frame_encoder: Final = msgspec.msgpack.Encoder()


def decode_frame(payload: bytes | memoryview) -> list[RawEvent]:
    """Decode one frame payload (a msgpack array of events).

    Raises ``msgspec.DecodeError`` (its subclass ``msgspec.ValidationError``
    for well-formed msgpack of the wrong shape) for ANY payload that is not a
    list of events, and nothing else: msgspec reports invalid UTF-8 in a str
    field as ``UnicodeDecodeError`` and some out-of-range values as other
    ValueErrors, which are re-raised here as ``DecodeError`` so every caller
    (run loop, log reader, log commands) needs one ``except`` clause.
    """
    try:
        return frame_decoder.decode(payload)
    except msgspec.DecodeError:
        raise
    except (ValueError, OverflowError, TypeError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise msgspec.DecodeError(f"undecodable payload ({type(e).__name__}: {e})") from None


def encode_frame(events: list[RawEvent]) -> bytes:
    """Encode events as one frame payload, as the C writer does."""
    return frame_encoder.encode(events)


# ----------------------------------------------------------------- derived


class _Derived(msgspec.Struct, tag_field="type", kw_only=True, frozen=True, gc=False):
    schema: int = DERIVED_SCHEMA
    ts: float  # wall-clock seconds (old monitor compatible)
    ts_ns: int  # event time: CLOCK_MONOTONIC ns of the producer
    run_id: str = ""


# Parts of derived events. A counter field's metadata is its documentation:
# ``description`` is the help text surfaces show, ``extra["metric"]`` the
# Prometheus name when it is not ``kcoro_<subsystem>_<field>``, and
# ``extra["legacy"]`` the old kcoro_mon name (``fail_send_eagain_total``),
# ``extra["rate"]`` the Sample rate field computed from it (``tasks_per_s``).
# Read them with :func:`counter_fields`; nothing else lists counter names.


def _count(description: str, **extra: str) -> Any:
    return msgspec.Meta(description=description, extra=extra or None)


class WorkerCounts(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Scheduler counters summed over a pool's workers (names as in :class:`WorkerCounters`).

    ``Sample.worker_totals`` holds them cumulative since the run started,
    ``Sample.worker_deltas`` the window's increments. Null: not reported.
    """

    tasks_submitted: Annotated[int, _count("Tasks submitted.")] | None = None
    tasks_completed: Annotated[int, _count("Tasks completed.", rate="tasks_per_s")] | None = None
    fastpath_hits: Annotated[int, _count("Tasks run from the one-slot LIFO fast path.")] | None = None
    fastpath_misses: Annotated[int, _count("Task pops that missed the fast path.")] | None = None
    steal_probes: Annotated[int, _count("Steal attempts on another worker's deque.")] | None = None
    steal_successes: Annotated[int, _count("Steal attempts that took a task.")] | None = None
    steal_failures: Annotated[int, _count("Steal attempts that found nothing.")] | None = None
    inject_pulls: (
        Annotated[int, _count("Tasks pulled from the inject queue.", rate="inject_pulls_per_s")] | None
    ) = None
    parks: Annotated[int, _count("Worker parks (idle sleeps).", rate="parks_per_s")] | None = None
    unparks: Annotated[int, _count("Worker wake-ups.")] | None = None
    busy_ns: Annotated[int, _count("Time workers spent running tasks.")] | None = None
    idle_ns: Annotated[int, _count("Time workers spent idle.")] | None = None
    switches: Annotated[int, _count("Coroutine context switches.")] | None = None


class ChannelCounts(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Channel counters summed over a pool's channels (names as in :class:`ChannelCounters`).

    ``Sample.channel_totals`` / ``channel_deltas`` like the worker counts.
    Null: not reported (an old recording's schema 1 lacks zero-copy and rendezvous).
    """

    sends: Annotated[int, _count("Channel messages sent.")] | None = None
    recvs: (
        Annotated[int, _count("Channel messages received.", metric="kcoro_chan_messages", rate="msgs_per_s")]
        | None
    ) = None
    bytes_sent: (
        Annotated[
            int, _count("Channel payload bytes sent.", metric="kcoro_chan_sent_bytes", legacy="bytes_sent")
        ]
        | None
    ) = None
    bytes_recv: (
        Annotated[
            int,
            _count(
                "Channel payload bytes received.",
                metric="kcoro_chan_bytes",
                legacy="bytes_recv",
                rate="bytes_per_s",
            ),
        ]
        | None
    ) = None
    send_eagain: (
        Annotated[
            int, _count("Channel sends that failed with EAGAIN (would block).", legacy="fail_send_eagain")
        ]
        | None
    ) = None
    recv_eagain: (
        Annotated[int, _count("Channel receives that failed with EAGAIN.", legacy="fail_recv_eagain")] | None
    ) = None
    send_epipe: (
        Annotated[int, _count("Channel sends that failed with EPIPE (closed).", legacy="fail_send_epipe")]
        | None
    ) = None
    recv_epipe: (
        Annotated[int, _count("Channel receives that failed with EPIPE (closed).", legacy="fail_recv_epipe")]
        | None
    ) = None
    send_timeouts: Annotated[int, _count("Channel sends that timed out.")] | None = None
    recv_timeouts: Annotated[int, _count("Channel receives that timed out.")] | None = None
    zc_sent: (
        Annotated[
            int,
            _count(
                "Zero-copy (pointer) messages sent.", metric="kcoro_chan_zero_copy_sent", legacy="zref_sent"
            ),
        ]
        | None
    ) = None
    zc_recv: (
        Annotated[
            int,
            _count(
                "Zero-copy (pointer) messages received.",
                metric="kcoro_chan_zero_copy_received",
                legacy="zref_received",
            ),
        ]
        | None
    ) = None
    zc_aborted: (
        Annotated[
            int,
            _count(
                "Zero-copy messages aborted on close.",
                metric="kcoro_chan_zero_copy_aborted",
                legacy="zref_aborted",
            ),
        ]
        | None
    ) = None
    rv_matches: (
        Annotated[
            int,
            _count(
                "Rendezvous sender/receiver matches.",
                metric="kcoro_chan_rendezvous_matches",
                legacy="rv_matches",
            ),
        ]
        | None
    ) = None
    rv_cancels: (
        Annotated[
            int,
            _count(
                "Rendezvous operations cancelled.",
                metric="kcoro_chan_rendezvous_cancels",
                legacy="rv_cancels",
            ),
        ]
        | None
    ) = None


class CounterField(NamedTuple):
    """One counter of :class:`WorkerCounts` / :class:`ChannelCounts` and its metadata."""

    name: str
    help: str
    metric: str | None  # Prometheus name (without _total) when not derived from ``name``
    legacy: str | None  # kcoro_mon's name (its ``<legacy>_total`` / ``<legacy>_delta`` fields)
    rate: str | None  # the Sample field ``rates`` computes from this counter (per second)


_counter_fields: dict[type, tuple[CounterField, ...]] = {}


def counter_fields(cls: type[WorkerCounts] | type[ChannelCounts]) -> tuple[CounterField, ...]:
    """The counters of ``cls`` in declaration order, with help text and names from its metadata."""
    cached = _counter_fields.get(cls)
    if cached is not None:
        return cached
    out = []
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    for f in info.fields:
        meta = next(t for t in f.type.types if isinstance(t, msgspec.inspect.Metadata))  # type: ignore[attr-defined]  # Union of Metadata and None
        extra = meta.extra or {}
        help_text = (meta.extra_json_schema or {}).get("description", f.name)
        out.append(
            CounterField(f.name, help_text, extra.get("metric"), extra.get("legacy"), extra.get("rate"))
        )
    _counter_fields[cls] = result = tuple(out)
    return result


class ChannelState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The state of a pool's channels at the window's last snapshot."""

    kind: Literal["buffered", "rendezvous"]  # the first channel's kind
    capacity: int  # summed over the channels
    closed: bool  # every channel closed
    ptr_mode: bool  # pointer (zero-copy) mode
    producers: int | None = None  # the workload's producers and consumers (RunStarted.config)
    consumers: int | None = None


class Resources(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """CPU and memory of a pool (and of the process, on the pool that carries them).

    Filled from ``Gauge`` events: the gauge ``pool_<field>`` or ``<field>``
    sets a field (its last value in the window); ``<x>_pct`` is
    ``Δ<x>_ns / span × 100`` (100 = one core busy), null in a window without
    a baseline value. Process-wide gauges (``process_cpu_ns``, ``rss_bytes``)
    arrive on pool 0. In dual mode this shows what each pool costs.
    """

    cpu_ns: int | None = None  # gauge pool_cpu_ns: CPU time of the pool's worker threads
    cpu_pct: float | None = None
    stack_bytes: int | None = None  # gauge pool_stack_bytes: coroutine stacks mapped by the pool
    live_coroutines: int | None = None
    ready_coroutines: int | None = None
    process_cpu_ns: int | None = None
    process_cpu_pct: float | None = None
    rss_bytes: int | None = None


class LegacyFields(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An old kcoro_mon sample line's fields that have no typed home elsewhere (kept for ``-j``)."""

    schema: int  # the line's kcoro_mon schema, 1 or 2
    duration_ms: int | None = None  # time since the old run started
    cpu: float | None = None
    producers: int | None = None
    consumers: int | None = None
    capabilities: int | None = None
    # The channel attributes as the line held them, written back unchanged by ``-j``: kcoro_mon
    # wrote integers (the C enum and flag values); kcoro-stream's own ``-j`` once wrote names and booleans.
    kind: int | str | None = None
    closed: bool | int | None = None
    ptr_mode: bool | int | None = None
    zref_mode: bool | int | None = None
    rv_zdesc_total: int | None = None
    rv_zdesc_delta: int | None = None


class Metrics(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One value per smoothed metric (the Sample field of the same name); null: no value counted.

    ``Sample.smooth`` (5-sample moving averages), ``Sample.ema`` and
    ``Summary.peak``/``avg``/``ema``. Its fields are the list of smoothed
    metrics (``ops.SMOOTHED``).
    """

    tasks_per_s: float | None = None
    msgs_per_s: float | None = None
    bytes_per_s: float | None = None
    gbps: float | None = None
    fastpath_ratio: float | None = None
    steal_ratio: float | None = None
    utilisation: float | None = None
    inject_depth: float | None = None


class OsView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A pool's workers as the OS saw them in the window: its :class:`OsSample` summed up (``ops.os_view``)."""

    wait_pct_max: float | None = None  # the worst worker's run-queue wait share (% of the window)
    wait_worker: int | None = None  # that worker
    wait_pct_mean: float | None = None
    involuntary_cs_per_s: float | None = None  # summed over the pool's workers
    context_switches_per_s: float | None = None
    migrations_per_s: float | None = None
    page_faults_per_s: float | None = None
    ipc: float | None = None  # mean over the workers with hardware counters


class Expected(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the workload as configured implies for a pool (``Sample.expected``; docs/operators.md).

    A null field makes no claim: that KPI has no verdict for this pool (a
    channel pool has no task fast path).
    """

    fastpath_ratio: float | None = None  # 1 / batch: one task of each submitted batch takes the LIFO slot
    idle_workers_pct: float | None = None  # workers the producer/consumer layout leaves without work


class DeclaredFigure(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A declared metric at the end of a run (``Summary.declared_figures``), with what made it.

    peak/avg/EMA over the Samples that count (as ``Summary.peak``/``avg``/``ema``:
    ``ops._activity.Activity``); ``version`` is the formula's version as the
    pipeline declared it, so a baseline knows which formula produced a number.
    """

    name: str
    version: int
    unit: str
    higher_is_better: bool
    peak: float | None = None
    avg: float | None = None
    ema: float | None = None
    samples: int = 0  # the values that counted


PHASES: Final = ("warmup", "steady", "paused", "stalled", "drain")


class Sample(_Derived, tag="sample", kw_only=True, frozen=True):
    """Per-window rates and ratios. Fields that do not apply are null."""

    mode: str
    pool: str = "all"
    window_ns: int
    partial: bool = False  # overlaps a RingLoss, or a closing window under half the width (schema 4)
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
    smooth: Metrics | None = None  # 5-sample moving averages (schema 3: a dict with the same keys)
    ema: Metrics | None = None
    # schema 4: what schema 3 kept in the string-keyed ``extra``
    span_ns: int = 0  # event time the differences cover (baseline → last snapshot)
    frames: int = 0  # frames in the window
    lost_frames: int = 0  # frames the ring lost before this window's data
    workers: int | None = None
    channels: int | None = None
    worker_totals: WorkerCounts | None = None
    worker_deltas: WorkerCounts | None = None
    channel_totals: ChannelCounts | None = None
    channel_deltas: ChannelCounts | None = None
    channel_state: ChannelState | None = None
    inject_depth_mean: float | None = None
    inject_depth_max: float | None = None
    resources: Resources | None = None
    gauges: dict[str, float] | None = None  # gauges the schema does not name (another runtime's)
    legacy: LegacyFields | None = None  # set on Samples read from an old kcoro_mon recording
    os: OsView | None = None  # appended: the OS view of the pool's workers (OsThread/OsCounters reported)
    # appended: "warmup" | "steady" | "paused" | "stalled" | "drain" (PHASES); judges use steady windows only
    phase: str = "steady"
    expected: Expected | None = None  # appended: what the workload as configured implies (bench runs)
    window: int | None = None  # appended: the window's index since the run started (null: an old recording)
    # appended: the values of the metrics the pipeline declares (kcoro_stream.analysis), by name; the
    # output's ``meta`` line types every key (unit, help, direction, version). Null: nothing declared.
    declared: dict[str, float | None] | None = None


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
    sum: int | None = None  # exact sum of the observed values (from Histogram.total), metric unit


class Heatmap(_Derived, tag="heatmap", kw_only=True, frozen=True):
    """Per-worker utilisation and steal outcome for one window."""

    pool: str = "all"
    window_ns: int
    # JSON keys worker_ids / worker_utilisation / worker_fastpath_ratio (schema 5: one type per key)
    workers: list[int] = msgspec.field(name="worker_ids")
    utilisation: list[float | None] = msgspec.field(name="worker_utilisation")
    steals_succeeded: list[int]
    steals_failed: list[int]
    fastpath_ratio: list[float | None] = msgspec.field(name="worker_fastpath_ratio")
    imbalance: float | None


class OsSample(_Derived, tag="os", kw_only=True, frozen=True):
    """The OS view of a pool's worker threads in one window (``ops.os_view``), one entry per worker.

    From differences of OsThread (schedstat, /proc status) and OsCounters
    (perf_event_open); null where the counter is not reported or not open.
    """

    pool: str = "all"
    window: int  # window index since the run started
    window_ns: int
    span_ns: int  # event time the differences cover
    partial: bool = False
    workers: list[int] = msgspec.field(name="worker_ids")  # JSON key worker_ids (schema 5)
    tids: list[int]
    cpus: list[int | None]  # the pinned CPU, else the CPU the thread last ran on
    pinned: list[bool]
    run_pct: list[float | None]  # Δrun_ns / span × 100
    wait_pct: list[float | None]  # run-queue wait: Δschedstat wait_ns / span × 100
    wait_ns: list[int | None]  # Δ run-queue wait
    involuntary_cs: list[int | None]  # Δ involuntary context switches (preempted)
    involuntary_cs_per_s: list[float | None]
    voluntary_cs_per_s: list[float | None]
    context_switches_per_s: list[float | None]  # perf software counters
    migrations_per_s: list[float | None]
    page_faults_per_s: list[float | None]
    ipc: list[float | None]  # Δinstructions / Δcycles (hardware counters)
    cache_misses_per_s: list[float | None]


class Alert(_Derived, tag="alert", kw_only=True, frozen=True):
    """A rule changed state (firing/resolved)."""

    rule: str
    severity: Literal["info", "warning", "critical"]
    state: Literal["firing", "resolved"]
    value: float | None
    threshold: float | None
    message: str
    labels: dict[str, str] | None = None


# Alerts whose rule starts with this are the coroutine lints (ops/_lint_*.py); a user rule may not.
LINT_PREFIX: Final = "lint."


class CoroutineView(_Derived, tag="coroutine", kw_only=True, frozen=True):
    """One coroutine of the window's last coroutine snapshot (``--coroutines``), busiest first."""

    pool: str
    coroutine: int
    name: str
    state: str  # CORO_STATES: "runnable" | "running" | "parked" | "done"
    worker: int  # the worker running it, -1 if none
    wait: str  # WAIT_KINDS: "none" | "channel" | "wait_group"
    wait_id: int  # the channel id when parked on one, else -1
    resumes: int
    parks: int
    wakes: int
    self_wakes: int
    busy_ns: int  # estimated (one resume in coroutines_sample timed)
    age_ns: int
    running_ns: int  # on its worker without a switch for at least this long
    parked_ns: int  # parked without a wake for at least this long


class ChannelView(_Derived, tag="channel", kw_only=True, frozen=True):
    """One channel of the window's last coroutine snapshot: its name, state and waiters."""

    pool: str
    channel: int
    name: str
    closed: bool
    depth: int
    senders: list[int]  # coroutine ids waiting to send, oldest first (0: a thread)
    receivers: list[int]  # coroutine ids waiting to receive, oldest first (0: a thread)


class Anomaly(_Derived, tag="anomaly", kw_only=True, frozen=True):
    """A metric value far from its recent window."""

    metric: str
    method: str  # "zscore" | "mad" | "os_interference"
    value: float
    score: float
    window: int  # the index of the window the episode began in (-1: the Sample had none); labels["history"]: values scored against
    pool: str = "all"  # appended: the Sample pool the metric belongs to
    threshold: float | None = None  # appended: the score threshold crossed
    message: str | None = None  # appended: the cause in words (method "os_interference")
    labels: dict[str, str] | None = None  # appended: e.g. the worker and CPU named by the message


class Kpi(_Derived, tag="kpi", kw_only=True, frozen=True):
    """GREEN/YELLOW/RED states of the key ratios, for dashboards."""

    states: dict[str, Literal["GREEN", "YELLOW", "RED", "UNKNOWN"]]
    values: dict[str, float | None]
    pool: str = "all"  # appended: KPI states per pool in dual mode
    phase: str = "steady"  # appended: the Sample's phase; outside "steady" every state is UNKNOWN
    thresholds: dict[str, list[float]] | None = None  # appended: (green, yellow) per KPI for this Sample


class Summary(_Derived, tag="summary", kw_only=True, frozen=True):
    """End of run: peak/average/EMA like the old monitor's summary line."""

    mode: str
    samples: int
    duration_s: float
    peak: Metrics  # schema 3: dicts with the same keys
    avg: Metrics
    ema: Metrics
    losses: int = 0
    pool: str = "all"  # appended: one Summary per pool in dual mode
    # schema 4: the typed form of schema 3's ``totals`` dict
    worker_totals: WorkerCounts | None = None  # the run's last cumulative counters
    channel_totals: ChannelCounts | None = None
    mismatch_msgs: int | None = None  # channel sends - receives at the end
    # appended: one figure per metric the pipeline declares (kcoro_stream.analysis), with its version
    declared_figures: list[DeclaredFigure] | None = None


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


# ----------------------------------------------------------------- declarations (kcoro_stream.analysis)


class DeclaredMetric(msgspec.Struct, frozen=True, kw_only=True):
    """A per-window metric a pipeline file declares: the key of ``Sample.declared`` it fills."""

    name: str
    unit: str
    help: str
    higher_is_better: bool
    version: int


# The field types a declared event may have, by their spelling in a ``meta`` line.
DECLARED_FIELD_TYPES: Final[dict[str, Any]] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "int | None": int | None,
    "float | None": float | None,
    "str | None": str | None,
    "bool | None": bool | None,
}


class DeclaredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event type a pipeline file declares: ``{"type": name, ...}`` lines with these fields
    beside ``schema``/``ts``/``ts_ns``/``run_id``/``pool``/``window`` (each a ``DECLARED_FIELD_TYPES`` key)."""

    name: str
    help: str
    fields: dict[str, str]
    version: int = 1


class Meta(msgspec.Struct, tag_field="type", tag="meta", frozen=True, kw_only=True):
    """The first line of an NDJSON output whose pipeline declares metrics or events: what it declares,
    so a reader (``validate``) knows every type and key that follows. Not in ``-j`` or CSV output."""

    schema: int = DERIVED_SCHEMA
    pipeline: str  # the pipeline file's name (its stem)
    metrics: list[DeclaredMetric] = []
    events: list[DeclaredEvent] = []


def declared_event_type(decl: DeclaredEvent) -> type[_Derived]:
    """The derived event class of a declared event (built at run time, like a pipeline's own)."""
    fields: list[Any] = [("pool", str, "all"), ("window", int | None, None)]
    fields += [(name, DECLARED_FIELD_TYPES[spelling]) for name, spelling in decl.fields.items()]
    cls: Any = msgspec.defstruct(
        decl.name, fields, bases=(_Derived,), tag=decl.name, kw_only=True, frozen=True
    )
    return cls  # a _Derived subclass (defstruct is typed to return a plain Struct class)


DerivedEvent = (
    Sample
    | HistogramSummary
    | Heatmap
    | Alert
    | Anomaly
    | Kpi
    | Summary
    | Status
    | MarkEvent
    | OsSample
    | CoroutineView
    | ChannelView
)
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
