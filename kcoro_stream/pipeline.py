"""Pipelines: the public API of pipeline files, and the only module wiring stages.

A pipeline file is plain Python that defines ``pipeline``::

    from kcoro_stream import ops
    from kcoro_stream.pipeline import BenchSource, Pipeline

    pipeline = Pipeline(
        source=BenchSource(mode="tasks", interval_ms=10),
        derive=ops.default_analyses(window_ms=250),
        sinks=["stdout"],
    )

Data path (live)::

    producer ─ring─► Ingester ─frame()─► Flow ─┬─► LogWriter (raw frame bytes, unchanged)
                                               └─► decode ─► Subject ─derive─► outbox
                                                        drain() ─► per-sink bounded queue ─► Sink.send

Replay feeds the log's frames (or an old kcoro_mon NDJSON file) into the same
Flow, so derived output is identical to the live run's.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import reactivex
import trio
from reactivex import Observable
from reactivex.subject import Subject

from .errors import KcoroStreamError, LogError, PipelineError, ProducerError, UsageError
from .events import INGEST_SEQ_BIT, DerivedEvent, RingLoss, decode_frame
from .ingest import AttachedProducer, ChildProducer, Ingester, ProducerOutcome
from .sinks import Controller, Sink, SinkContext, build_sink
from .sources import DEFAULT_RING_BYTES, RingReader
from .sources._child import WATCH_ENV

Batch = list[Any]  # one frame's events: RawEvent, or legacy derived Samples
Derive = Callable[[Observable[Batch]], Observable[DerivedEvent]]

__all__ = [
    "AttachSource",
    "Batch",
    "BenchSource",
    "Derive",
    "Flow",
    "Pipeline",
    "RunOptions",
    "load_pipeline",
    "run_attach",
    "run_live",
    "run_replay",
]


# ----------------------------------------------------------------- the API


class BenchSource(msgspec.Struct, kw_only=True):
    """Launch a producer as a child process and read its ring.

    ``producer`` is ``"bench"`` (the bundled coroutine runtime benchmark) or
    ``"synthetic"`` (the example producer). ``args`` are extra producer flags.
    """

    producer: Literal["bench", "synthetic"] = "bench"
    mode: str = "channel"
    duration_s: float | None = None
    interval_ms: float = 10.0
    workers: int | None = None
    args: list[str] = []
    ring_bytes: int = DEFAULT_RING_BYTES


class AttachSource(msgspec.Struct, kw_only=True):
    """Read an existing ring created by another runtime."""

    path: str


@dataclass
class Pipeline:
    """source → derive (one reactivex operator) → sinks."""

    source: BenchSource | AttachSource | None = None
    derive: Derive | None = None
    sinks: list[str | dict[str, Any]] = field(default_factory=lambda: ["stdout"])


def load_pipeline(path: Path) -> Pipeline:
    """Execute a pipeline file; errors name ``file:line``."""
    try:
        text = path.read_text()
    except OSError as e:
        raise PipelineError(f"{path}: cannot read pipeline file: {e.strerror or e}") from None
    try:
        code = compile(text, str(path), "exec")
    except SyntaxError as e:
        raise PipelineError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    ns: dict[str, Any] = {"__file__": str(path), "__name__": "__kcoro_pipeline__"}
    try:
        exec(code, ns)
    except KcoroStreamError as e:
        raise PipelineError(f"{path}:{_lineno_in(path, e)}: {e}") from None
    except Exception as e:
        raise PipelineError(f"{path}:{_lineno_in(path, e)}: {type(e).__name__}: {e}") from None
    p = ns.get("pipeline")
    if not isinstance(p, Pipeline):
        raise PipelineError(f"{path}: defines no `pipeline = Pipeline(...)`")
    if p.derive is not None and not callable(p.derive):
        raise PipelineError(
            f"{path}: pipeline.derive must be an operator (a callable), got {type(p.derive).__name__}"
        )
    return p


def _lineno_in(path: Path, exc: BaseException) -> int:
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == str(path):
            line = frame.lineno or 0
    return line


@dataclass
class RunOptions:
    """Command-line overrides and run settings."""

    sinks: list[str | dict[str, Any]] | None = None  # replaces the file's sinks
    extra_sinks: list[str | dict[str, Any]] = field(default_factory=list)
    force: bool = False
    log_dir: Path | None = None
    no_log: bool = False
    fsync: Literal["never", "flush", "always"] = "never"
    mode: str | None = None
    duration_s: float | None = None
    interval_ms: float | None = None
    producer: str | None = None
    producer_args: list[str] = field(default_factory=list)
    from_s: float | None = None
    to_s: float | None = None
    speed: float | None = None  # None = as fast as possible
    progress: bool = False
    sink_queue: int = 256
    stdout: Any = None
    sink_extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"tui": TuiHandle}


# ---------------------------------------------------------------- the flow


class Flow:
    """Frames in; raw frames to the log, decoded batches through the operators."""

    def __init__(self, derive: Derive | None, runners: Sequence[SinkRunner], log: Any | None = None) -> None:
        self.subject: Subject[Batch] = Subject()
        self.outbox: list[DerivedEvent] = []
        self.log = log
        self.runners = runners
        self.frames = 0
        self.ring_frames = 0
        self.events = 0
        self.undecodable = 0
        self._last_ts = 0
        self._error: BaseException | None = None
        self._done = False
        self.decode = derive is not None  # recording only: no need to decode
        out: Observable[DerivedEvent] = derive(self.subject) if derive is not None else reactivex.empty()
        out.subscribe(on_next=self.outbox.append, on_error=self._on_error, on_completed=self._on_completed)

    def _on_error(self, e: Exception) -> None:
        self._error = e

    def _on_completed(self) -> None:
        self._done = True

    def frame(self, payload: memoryview | bytes, seq: int, ts_ns: int, record: memoryview | None) -> None:
        """Log one frame (raw bytes, unchanged) and, if anything derives, push its events."""
        if ts_ns:
            self._last_ts = ts_ns
        if record is not None:
            self.ring_frames += 1
        if self.log is not None:
            if record is None:
                self.log.append_payload(bytes(payload), seq, self._last_ts)
            else:
                self.log.append_record(record, seq, self._last_ts)
        if not self.decode:
            self.frames += 1
            return
        try:
            events: list[Any] = decode_frame(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.undecodable += 1
            base = seq & ~INGEST_SEQ_BIT
            events = [
                RingLoss(
                    self._last_ts,
                    0,
                    frames=1,
                    bytes=len(payload),
                    seq_from=base,
                    seq_to=base + 1,
                    reason="undecodable",
                )
            ]
        self.push(events)

    def push(self, events: Batch) -> None:
        self.frames += 1
        self.events += len(events)
        self.subject.on_next(events)
        if self._error is not None:
            self._raise()

    def _raise(self) -> None:
        e = self._error
        if isinstance(e, KcoroStreamError):
            raise e
        raise PipelineError(f"operator failed: {type(e).__name__}: {e}") from e

    async def drain(self) -> None:
        """Hand derived output to the sinks' queues (applying each policy)."""
        if self.outbox:
            # copy and clear in place: the subscription holds outbox.append
            batch = self.outbox[:]
            self.outbox.clear()
            for r in self.runners:
                await r.put(batch)
        if self.log is not None:
            self.log.flush_if_due()

    async def complete(self) -> None:
        """End of input: operators flush (final window, summary), sinks get it."""
        if not self._done:
            self.subject.on_completed()
        if self._error is not None:
            self._raise()
        await self.drain()


IDLE_TICK_S = 1.0


class SinkRunner:
    """A sink with its own bounded queue and task."""

    def __init__(self, sink: Sink, capacity: int) -> None:
        self.sink = sink
        self.send_ch, self.recv_ch = trio.open_memory_channel[list[DerivedEvent]](capacity)

    async def put(self, batch: list[DerivedEvent]) -> None:
        if self.sink.policy == "block":
            await self.send_ch.send(batch)
            return
        try:
            self.send_ch.send_nowait(batch)
        except trio.WouldBlock:
            try:
                old = self.recv_ch.receive_nowait()
                self.sink.count_drop("queue_full", len(old))
            except trio.WouldBlock:
                pass
            self.send_ch.send_nowait(batch)

    async def run(self) -> None:
        """Feed the sink; when idle, an empty batch every second lets it flush on time."""
        async with self.recv_ch:
            while True:
                batch: list[DerivedEvent] = []
                with trio.move_on_after(IDLE_TICK_S):
                    try:
                        batch = await self.recv_ch.receive()
                    except trio.EndOfChannel:
                        return
                await self.sink.send(batch)

    async def close(self) -> None:
        await self.send_ch.aclose()


# ------------------------------------------------------------- controllers


class _LiveController(Controller):
    def __init__(self) -> None:
        self.ingester: Ingester | None = None
        self._paused = False
        self.interval_ns = 0
        self.restart_mode: str | None = None

    def pause(self, paused: bool) -> None:
        self._paused = paused
        if self.ingester is not None:
            self.ingester.control(paused=paused, interval_ns=self.interval_ns)

    def set_interval_ms(self, interval_ms: float) -> None:
        self.interval_ns = int(interval_ms * 1e6)
        if self.ingester is not None:
            self.ingester.control(paused=self._paused, interval_ns=self.interval_ns)

    def stop(self) -> None:
        self.restart_mode = None
        if self.ingester is not None:
            self.ingester.request_stop()

    def restart(self, mode: str) -> None:
        self.restart_mode = mode
        if self.ingester is not None:
            self.ingester.request_stop()

    @property
    def paused(self) -> bool:
        return self._paused


class _ReplayController(Controller):
    def __init__(self) -> None:
        self._paused = False
        self.resumed = trio.Event()
        self.stopped = False

    def pause(self, paused: bool) -> None:
        self._paused = paused
        if not paused:
            self.resumed.set()
            self.resumed = trio.Event()

    def set_interval_ms(self, interval_ms: float) -> None:
        """Sampling is fixed in a recording; nothing to change."""

    def stop(self) -> None:
        self.stopped = True
        self.resumed.set()

    def restart(self, mode: str) -> None:
        """A recording cannot change mode."""

    @property
    def paused(self) -> bool:
        return self._paused


# ---------------------------------------------------------------- running


def _sink_specs(p: Pipeline, opts: RunOptions) -> list[str | dict[str, Any]]:
    specs = list(opts.sinks if opts.sinks is not None else p.sinks)
    specs.extend(opts.extra_sinks)
    return specs


async def _open_sinks(
    stack: AsyncExitStack, specs: Iterable[str | dict[str, Any]], ctx: SinkContext, capacity: int
) -> list[SinkRunner]:
    runners: list[SinkRunner] = []
    for spec in specs:
        sink = build_sink(spec, ctx)
        await sink.open()
        stack.push_async_exit(_sink_exit(sink))
        runners.append(SinkRunner(sink, capacity))
    return runners


def _sink_exit(sink: Sink) -> Callable[..., Awaitable[bool]]:
    """Close ``sink`` when the run ends; if it ended by an exception, abort it first
    (output sinks then publish nothing and leave an existing file untouched)."""

    async def exit_(exc_type: type[BaseException] | None, *_: object) -> bool:
        abort = getattr(sink, "abort", None)
        if exc_type is not None and abort is not None:
            abort()
        await sink.aclose()
        return False

    return exit_


def _new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def _open_log(opts: RunOptions, run_id: str) -> Any | None:
    if opts.no_log:
        return None
    from .eventlog import LogWriter

    run_dir = opts.log_dir or Path("runs") / run_id
    return LogWriter.create(run_dir, run_id, fsync=opts.fsync)


def _producer_command(src: BenchSource, opts: RunOptions, ring: Path) -> list[str]:
    producer = opts.producer or src.producer
    if producer not in ("bench", "synthetic"):
        raise UsageError(f"--producer: unknown producer {producer!r} (bench, synthetic)")
    mode = opts.mode or src.mode
    interval = opts.interval_ms if opts.interval_ms is not None else src.interval_ms
    duration = opts.duration_s if opts.duration_s is not None else src.duration_s
    if interval <= 0:
        raise UsageError(f"--interval: must be positive, got {interval}")
    if duration is not None and duration < 0:
        raise UsageError(f"--duration: must not be negative, got {duration}")
    cmd = [sys.executable, "-m", f"kcoro_stream.sources.{producer}", "--ring", str(ring)]
    cmd += ["--interval-ms", str(max(1, round(interval)))]
    if duration is not None:
        cmd += ["--duration", str(duration if producer == "bench" else max(1, round(duration)))]
    if producer == "bench":
        cmd += ["--mode", mode]
        if src.workers:
            cmd += ["--workers", str(src.workers)]
    cmd += [*src.args, *opts.producer_args]
    return cmd


async def _watch_signals(ctl: Controller, kill: Callable[[], None]) -> None:
    """First Ctrl-C/SIGTERM: stop cleanly. A second one: kill the producer."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        n = 0
        async for _ in signals:
            n += 1
            if n == 1:
                ctl.stop()
            else:
                kill()


def _start_stage_tasks(
    nursery: trio.Nursery, runners: Sequence[SinkRunner], ctl: Controller
) -> trio.CancelScope:
    """Start every sink's task and a Ctrl-C/SIGTERM watch; cancel the returned scope to end the watch."""
    for r in runners:
        nursery.start_soon(r.run)
    watch = trio.CancelScope()

    async def signals() -> None:
        with watch:
            await _watch_signals(ctl, lambda: None)

    nursery.start_soon(signals)
    return watch


async def _pump_stderr(stream: Any, tail: list[str], done: trio.Event) -> None:
    """Forward the child's stderr to ours, keeping the last lines."""
    buf = b""
    try:
        async for chunk in stream:
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                text = ln.decode(errors="replace")
                tail.append(text)
                del tail[:-20]
                print(text, file=sys.stderr, flush=True)
        if buf:
            tail.append(buf.decode(errors="replace"))
            print(tail[-1], file=sys.stderr, flush=True)
    finally:
        done.set()


async def run_live(p: Pipeline, opts: RunOptions) -> int:
    """Launch the producer, ingest until it ends, finalize. Returns exit code 0."""
    src = p.source if isinstance(p.source, BenchSource) else BenchSource()
    if isinstance(p.source, AttachSource):
        return await run_attach(p, Path(p.source.path), opts)
    ctl = _LiveController()
    ctx = SinkContext(force=opts.force, stdout=opts.stdout, controller=ctl, live=True, extra=opts.sink_extra)
    run_id = _new_run_id()
    async with AsyncExitStack() as stack:
        runners = await _open_sinks(stack, _sink_specs(p, opts), ctx, opts.sink_queue)
        log = _open_log(opts, run_id)
        if log is not None:
            stack.callback(log.close)
        flow = Flow(p.derive, runners, log)
        outcome: ProducerOutcome | None = None
        async with trio.open_nursery() as nursery:
            for r in runners:
                nursery.start_soon(r.run)
            mode = opts.mode or src.mode
            while True:
                outcome = await _run_one_producer(src, opts, flow, ctl, mode)
                if ctl.restart_mode is None or not outcome.ok:
                    break
                mode, ctl.restart_mode = ctl.restart_mode, None
            await flow.complete()
            for r in runners:
                await r.close()
        assert outcome is not None
        if not outcome.ok:
            last = next((ln for ln in reversed(outcome.stderr_tail) if ln.strip()), "")
            if outcome.exit_status == 2 and flow.ring_frames == 0 and last:
                raise UsageError(f"producer: {last}")
            raise ProducerError(f"{outcome.message}" + (f" ({last})" if last else ""))
    return 0


async def _run_one_producer(
    src: BenchSource, opts: RunOptions, flow: Flow, ctl: _LiveController, mode: str
) -> ProducerOutcome:
    interval_ms = opts.interval_ms if opts.interval_ms is not None else src.interval_ms
    ring = RingReader.create(data_size=src.ring_bytes, interval_ns=int(interval_ms * 1e6))
    try:
        cmd = _producer_command(src, RunOptions(**{**opts.__dict__, "mode": mode}), ring.path)
        tail: list[str] = []
        # The child's stdout goes to our stderr: our stdout is NDJSON for `| jq`.
        # The child watches our pid and ends its run if we die (see sources/_child.py).
        env = {**os.environ, WATCH_ENV: str(os.getpid())}
        proc = await trio.lowlevel.open_process(
            cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(), stderr=subprocess.PIPE, env=env
        )
        child = ChildProducer(proc)

        def kill() -> None:
            if proc.returncode is None:
                proc.kill()

        async def term() -> None:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)

        ingester = Ingester(ring, flow, producer=child, on_stop_timeout=term, unlink_after_attach=True)
        ctl.ingester = ingester
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, ctl, kill)
            assert proc.stderr is not None
            pumped = trio.Event()
            nursery.start_soon(_pump_stderr, proc.stderr, tail, pumped)
            outcome = await ingester.run()
            with trio.move_on_after(5):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            with trio.move_on_after(1):
                await pumped.wait()  # the child's last words, for the error message
            nursery.cancel_scope.cancel()
        ctl.ingester = None
        outcome.stderr_tail = tail
        if outcome.ok and proc.returncode not in (0, None):
            outcome = ProducerOutcome(
                "failed", f"producer {proc.pid} {child.describe_exit(proc.returncode)}", proc.returncode, tail
            )
        elif not outcome.ok and outcome.exit_status is None:
            outcome.exit_status = proc.returncode
        return outcome
    finally:
        ring.close(unlink=True)


async def run_attach(p: Pipeline, path: Path, opts: RunOptions) -> int:
    """Read a ring another runtime created, until it closes or its producer is lost."""
    ring = RingReader.open(path)
    ctl = _LiveController()
    ctx = SinkContext(force=opts.force, stdout=opts.stdout, controller=ctl, live=True, extra=opts.sink_extra)
    try:
        async with AsyncExitStack() as stack:
            runners = await _open_sinks(stack, _sink_specs(p, opts), ctx, opts.sink_queue)
            log = _open_log(opts, _new_run_id())
            if log is not None:
                stack.callback(log.close)
            flow = Flow(p.derive, runners, log)
            pid = ring.info().producer_pid
            ingester = Ingester(ring, flow, producer=AttachedProducer(pid) if pid else None)
            ctl.ingester = ingester
            async with trio.open_nursery() as nursery:
                watch = _start_stage_tasks(nursery, runners, ctl)
                outcome = await ingester.run()
                watch.cancel()
                await flow.complete()
                for r in runners:
                    await r.close()
            if not outcome.ok:
                raise ProducerError(outcome.message)
    finally:
        ring.close(unlink=False)
    return 0


def _parse_time_bounds(first_ts: int | None, opts: RunOptions) -> tuple[int | None, int | None]:
    if first_ts is None:
        return None, None
    lo = None if opts.from_s is None else first_ts + int(opts.from_s * 1e9)
    hi = None if opts.to_s is None else first_ts + int(opts.to_s * 1e9)
    if lo is not None and hi is not None and hi <= lo:
        raise UsageError(f"--to ({opts.to_s}) must be after --from ({opts.from_s})")
    return lo, hi


def _replay_batches(path: Path, opts: RunOptions) -> tuple[Iterable[tuple[Any, int, int]], int]:
    """(payload-or-batch, seq, ts_ns) triples and a total for progress."""
    if path.is_file():
        from .sources.legacy import is_legacy_ndjson, iter_legacy_batches

        if not is_legacy_ndjson(path):
            raise LogError(f"{path}: not a run directory nor an old kcoro_mon NDJSON recording")
        return ((b, -1, 0) for b in iter_legacy_batches(path)), 0
    from .eventlog import open_log

    reader = open_log(path)
    span = reader.time_range()  # from block headers: no decoding
    lo, hi = _parse_time_bounds(span[0] if span else None, opts)
    for problem in reader.problems:
        print(f"kcoro-stream: warning: {problem}", file=sys.stderr)
    return ((f.payload, f.seq, f.ts_ns) for f in reader.frames(lo, hi)), reader.frame_count()


async def run_replay(p: Pipeline, path: Path, opts: RunOptions) -> int:
    """Run the pipeline's operators and sinks over a recording."""
    import click

    ctl = _ReplayController()
    ctx = SinkContext(force=opts.force, stdout=opts.stdout, controller=ctl, live=False, extra=opts.sink_extra)
    items, total = _replay_batches(path, opts)
    async with AsyncExitStack() as stack:
        runners = await _open_sinks(stack, _sink_specs(p, opts), ctx, opts.sink_queue)
        flow = Flow(p.derive, runners, None)
        async with trio.open_nursery() as nursery:
            watch = _start_stage_tasks(nursery, runners, ctl)
            show = opts.progress and total > 0 and sys.stderr.isatty()
            bar = click.progressbar(length=total, label="replay", file=sys.stderr) if show else None
            t0_wall: float | None = None
            t0_ev = 0
            n = 0
            for item, seq, ts in items:
                if ctl.stopped:
                    break
                while ctl.paused and not ctl.stopped:
                    await ctl.resumed.wait()
                if seq < 0:
                    flow.push(item)
                else:
                    flow.frame(item, seq, ts, None)
                n += 1
                if opts.speed is not None and flow._last_ts:
                    now = time.monotonic()
                    if t0_wall is None:
                        t0_wall, t0_ev = now, flow._last_ts
                    due = t0_wall + (flow._last_ts - t0_ev) / 1e9 / opts.speed
                    if due > now:
                        await trio.sleep(due - now)
                if flow.outbox or (n & 255) == 0:
                    await flow.drain()
                    await trio.lowlevel.checkpoint()
                    if bar is not None:
                        bar.update(256 if (n & 255) == 0 else 0)
            if bar is not None:
                bar.render_finish()
            await flow.complete()
            watch.cancel()
            for r in runners:
                await r.close()
    return 0
