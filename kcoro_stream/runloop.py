"""The one run loop: any source → event log → operators → sinks.

::

    Source.run(router) ──frame()/emit()──► FrameRouter ─┬─► LogWriter (raw frames, unchanged; live only)
       launch · attach · replay · legacy                └─► decode ─► Subject ─┬─derive────► outbox
                                                                               └─ops.status─► outbox
                                     FrameRouter.drain() ─► SinkRunner.put (one bounded queue per sink)

    every second of a live run:  Account.status() ─► router.emit(MonitorStatus) (logged like a frame)
    a live run's control socket: control.open_control ─► methods ─► controller / router.emit (logged)

``replay_derived`` is the same path without sinks, in this process, for the
commands that read recorded runs (report, the trace export; compare only for a
run recorded before its summary had the ``figures`` it reads: history/_figures.py).

``run`` is the only place a run is put together; ``kcoro-stream run``,
``attach`` and ``replay`` (and every later command that runs something) call
it with a different source. Live sources are recorded to the event log;
recorded ones are not. The monitor's own account (reader losses, log
writer, each sink's queue and drops) is logged as ``MonitorStatus`` events, so
a replay shows what the live run lost, through the same ``status`` operator.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import reactivex
import trio
from reactivex import Observable
from reactivex.subject import Subject

from . import ops
from .errors import KcoroStreamError, PipelineError, ProducerError, UsageError, first_error
from .events import (
    INGEST_SEQ_BIT,
    DerivedEvent,
    HistogramSummary,
    Meta,
    MonitorStatus,
    RawEvent,
    ReaderStatistics,
    RingLoss,
    RuleChanged,
    RunEnded,
    RunStarted,
    Summary,
    decode_frame,
    encode_frame,
)
from .history._figures import RunFigures
from .history._record import RunRecord, write_summary
from .ingest import monotonic_ns
from .sinks import Dashboard, SinkContext, SinkRunner, open_sinks
from .sources import Source, SourceContext, SourceOutcome, build_source

__all__ = [
    "RUNS_DIR",
    "STATUS_INTERVAL_S",
    "Derive",
    "FrameRouter",
    "RunOptions",
    "RunResult",
    "new_run_id",
    "replay_derived",
    "result_of",
    "run",
]

Derive = Callable[[Observable[list[Any]]], Observable[DerivedEvent]]
STATUS_INTERVAL_S = 1.0
RUNS_DIR = Path("runs")  # where a run is recorded without --log: RUNS_DIR/<run id>


@dataclass(frozen=True)
class RunResult:
    """What a run saw, returned by ``run`` (and carried by the exception a failed run raises:
    ``result_of``): the same facts its summary.json records."""

    run_id: str
    run_dir: Path | None  # where a live run was recorded (None: not recorded)
    started: RunStarted | None
    ended: RunEnded | None
    summaries: tuple[Summary, ...]  # the last summary per pool
    figures: dict[str, float] | None  # history/_figures.py (None: nothing was derived)
    state: str  # finished stopped lost failed interrupted error
    exit_code: int
    message: str

    @classmethod
    def of(cls, record: RunRecord) -> RunResult:
        return cls(
            run_id=record.run_id,
            run_dir=record.run_dir,
            started=record.started,
            ended=record.ended,
            summaries=tuple(record.summaries),
            figures=dict(record.figures) if record.figures is not None else None,
            state=record.state,
            exit_code=record.exit_code,
            message=record.message,
        )


def result_of(e: BaseException) -> RunResult | None:
    """The result of the run that raised ``e`` (None: ``e`` did not come from ``run``)."""
    found = getattr(e, RESULT_ATTR, None)
    return found if isinstance(found, RunResult) else None


RESULT_ATTR = "kcoro_stream_run_result"


@dataclass(frozen=True)
class RunOptions:
    """How to run: sinks, the event log, queues (input only: ``run`` returns a RunResult).
    What to read is the source spec."""

    sinks: list[str | dict[str, Any]] = field(default_factory=lambda: ["stdout"])
    force: bool = False
    log_dir: Path | None = None
    no_log: bool = False
    fsync: Literal["never", "flush", "always"] = "never"
    sink_queue: int = 256
    stdout: Any = None
    dashboard: Dashboard | None = None  # the terminal dashboard hosting the run (surfaces.tui.TuiHandle)
    status_interval_s: float = STATUS_INTERVAL_S
    # Logged and derived before the source's first frame of a live run: the effective
    # configuration (config.record_mark), a manifest's step and warm-up marks.
    marks: list[RawEvent] = field(default_factory=list)
    control: Path | None = None  # the control socket (default: control.sock in the run directory)
    no_control: bool = False  # no control socket
    max_delay_s: float | None = None  # coalesced wake-ups (--max-delay); None: max_delay_for(sinks)
    declarations: Meta | None = None  # what the pipeline declares (kcoro_stream.analysis): sinks add it


# Coalesced wake-ups (docs/ARCHITECTURE.md, "Coalesced wake-ups"): how late after a frame the monitor may wake, by surface.
MAX_DELAY_STDOUT_S = 0.0  # NDJSON on stdout (`| jq`, a terminal): every sample as it comes
MAX_DELAY_SCREEN_S = 0.1  # a dashboard or the page: their refresh rate
MAX_DELAY_HEADLESS_S = 0.25  # the log, files, Prometheus, remote write: a few wake-ups a second


def max_delay_for(opts: RunOptions) -> float:
    """How late after a frame a live run's source may wake: ``--max-delay``, else by its outputs."""
    if opts.max_delay_s is not None:
        return opts.max_delay_s
    kinds = {s.partition(":")[0] if isinstance(s, str) else str(s.get("sink", "")) for s in opts.sinks}
    if "stdout" in kinds:
        return MAX_DELAY_STDOUT_S
    if opts.dashboard is not None or kinds & {"tui", "websocket"}:
        return MAX_DELAY_SCREEN_S
    return MAX_DELAY_HEADLESS_S


class FrameRouter:
    """Frames in; raw frames to the log, decoded batches through the operators.

    ``frame`` takes ring or log frames, ``emit`` the monitor's own events
    (encoded once, logged with ``INGEST_SEQ_BIT`` sequence numbers), ``push``
    batches that need no decoding (an old recording's records).
    """

    def __init__(self, derive: Derive | None, runners: Sequence[SinkRunner], log: Any | None = None) -> None:
        self.subject: Subject[list[Any]] = Subject()
        self.outbox: list[DerivedEvent] = []
        self.log = log
        self.runners = runners
        self.frames = 0
        self.events = 0
        self.undecodable = 0
        self.last_ts = 0
        self._ingest_seq = 0
        self.summaries: dict[str, Summary] = {}  # the last end-of-run summary per pool
        self.histograms: dict[tuple[str, str], HistogramSummary] = {}  # last cumulative per pool, metric
        self.figures = RunFigures()  # what compare reads (summary.json and the index's ``figures``)
        self.started: RunStarted | None = None  # for the run's summary.json (history)
        self.ended: RunEnded | None = None
        self._error: BaseException | None = None
        self._done = False
        # A live run holds its output until the producer's first frame: a producer that refuses its
        # flags (exit 2, no frame) then leaves stdout and the files empty (``discard_held``).
        self.hold = False
        self.producer_seen = False
        self._held: list[DerivedEvent] = []
        self._refused = False  # discard_held: nothing of this run is output
        self.decode = derive is not None  # recording only: no need to decode
        out: Observable[DerivedEvent] = reactivex.empty()
        if derive is not None:
            try:
                derived = derive(self.subject)
            except KcoroStreamError:
                raise
            except Exception as e:
                raise PipelineError(f"pipeline derive failed: {type(e).__name__}: {e}") from None
            if not isinstance(derived, Observable):
                raise PipelineError(
                    f"pipeline derive must return an Observable (an operator applied to its input), "
                    f"got {type(derived).__name__}"
                )
            out = reactivex.merge(derived, ops.status()(self.subject), ops.marks()(self.subject))
        out.subscribe(on_next=self._collect, on_error=self._on_error, on_completed=self._on_completed)

    def _collect(self, event: Any) -> None:
        # RuleChanged travels through the analyses to the alert and KPI operators
        # (ops/_window.py); whatever an operator lets through is not output.
        if type(event) is not RuleChanged:
            self.outbox.append(event)

    def _on_error(self, e: Exception) -> None:
        self._error = e

    def _on_completed(self) -> None:
        self._done = True

    def frame(self, payload: memoryview | bytes, seq: int, ts_ns: int, record: memoryview | None) -> None:
        """Log one frame (raw bytes, unchanged) and, if anything derives, push its events."""
        if not seq & INGEST_SEQ_BIT:
            self.producer_seen = True
        if ts_ns:
            self.last_ts = ts_ns
        if self.log is not None:
            if record is None:
                self.log.append_payload(bytes(payload), seq, self.last_ts)
            else:
                self.log.append_record(record, seq, self.last_ts)
        if not self.decode:
            self.frames += 1
            return
        try:
            events: list[Any] = decode_frame(payload)
        except msgspec.DecodeError:  # any undecodable payload (events.decode_frame)
            # Computed from the bytes alone, so a replay of the log makes the same one.
            self.undecodable += 1
            base = seq & ~INGEST_SEQ_BIT
            events = [
                RingLoss(
                    self.last_ts,
                    0,
                    frames=1,
                    bytes=len(payload),
                    seq_from=base,
                    seq_to=base + 1,
                    reason="undecodable",
                )
            ]
        self.push(events)

    def emit(self, event: RawEvent) -> None:
        """An event the monitor made: encoded once, logged and derived like a ring frame."""
        seq = INGEST_SEQ_BIT | self._ingest_seq
        self._ingest_seq += 1
        self.frame(encode_frame([event]), seq, event.ts_ns, None)

    def push(self, events: list[Any]) -> None:
        if self.log is not None:  # a recorded run: its summary.json names how it started and ended
            for ev in events:
                t = type(ev)
                if t is RunStarted and self.started is None:
                    self.started = ev
                elif t is RunEnded:
                    self.ended = ev
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
        if self.hold and not self.producer_seen:
            self._held += self.outbox
            self.outbox.clear()
        elif self._held:
            self.outbox[:0] = self._held
            self._held.clear()
        if self.outbox:
            # copy and clear in place: the subscription (_collect) appends to this list
            batch = self.outbox[:]
            self.outbox.clear()
            for ev in batch:
                if type(ev) is Summary:
                    self.summaries[ev.pool] = ev
                elif type(ev) is HistogramSummary and ev.scope == "cumulative":
                    self.histograms[(ev.pool, ev.metric)] = ev
                self.figures.add(ev)
            for r in self.runners:
                await r.put(batch)
        if self.log is not None:
            self.log.flush_if_due()

    def discard_output(self) -> None:
        """Drop what the operators derived since the last ``drain`` (never output)."""
        self.outbox.clear()

    def discard_held(self) -> None:
        """The producer refused to start: what was held (status lines), and what the operators
        flush at the end (a status an operator held for the RunStarted that never came), is never
        output."""
        self._held.clear()
        self.outbox.clear()
        self._refused = True

    async def complete(self) -> None:
        """End of input: operators flush (final window, summary), sinks get it."""
        self.hold = False  # whatever is still held goes out now (unless discard_held came first)
        if not self._done:
            self.subject.on_completed()
        if self._error is not None:
            self._raise()
        if self._refused:
            self.outbox.clear()
        await self.drain()


class Account:
    """The monitor's own health, gathered from every stage's ``statistics()``."""

    def __init__(self, source: Source, router: FrameRouter, runners: Sequence[SinkRunner]) -> None:
        self.source = source
        self.router = router
        self.runners = runners
        self.started_ns = monotonic_ns()

    def reader(self) -> ReaderStatistics | None:
        st = self.source.statistics()
        if st is None:
            return None
        return msgspec.structs.replace(st, undecodable_frames=self.router.undecodable)

    def status(self, state: str) -> MonitorStatus:
        now = monotonic_ns()
        log = self.router.log
        return MonitorStatus(
            now,
            0,
            state=state,
            reader=self.reader(),
            log=log.statistics() if log is not None else None,
            sinks=[r.statistics() for r in self.runners],
            uptime_ns=now - self.started_ns,
        )

    def snapshot(self) -> dict[str, Any]:
        """This process's health now, as plain data (for dashboards; never in the derived output)."""
        return msgspec.to_builtins(self.status("running"))


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


async def _report_status(router: FrameRouter, account: Account, interval_s: float) -> None:
    while True:
        await trio.sleep(interval_s)
        router.emit(account.status("running"))
        await router.drain()


async def run(derive: Derive | None, source_spec: Any, opts: RunOptions) -> RunResult:
    """Drive ``source_spec`` (a source config struct or ``{"source": NAME, ...}``) through
    the log, ``derive`` and the sinks until it ends. Returns what the run saw (exit code 0);
    a failed producer raises ProducerError (UsageError when it refused its flags), and whatever
    a run raises once it has begun carries its RunResult (``result_of``)."""
    run_id = new_run_id()
    source = build_source(source_spec, SourceContext(run_id=run_id, max_delay_s=max_delay_for(opts)))
    if source.live and not opts.no_control:  # refuse a bad --control path before anything starts
        from .control import check_control_path

        check_control_path(opts.control)
    record = RunRecord(run_id, source.name, marks=list(opts.marks))
    try:
        await _run(derive, source, opts, record)
    except BaseException as e:
        if record.exit_code == 0:  # not already a failed outcome of the source
            record.state, record.exit_code, record.message = _ended_by(e)
        if record.run_dir is not None:  # a recorded run, however it ended
            with suppress(KcoroStreamError):  # the run's own error is the one to report
                write_summary(record.run_dir, record)
        with suppress(AttributeError, TypeError):  # an exception type without attributes carries none
            setattr(e, RESULT_ATTR, RunResult.of(record))
        raise
    if record.run_dir is not None:
        write_summary(record.run_dir, record)
    return RunResult.of(record)


def replay_derived(
    run_dir: Path,
    on_frame: Callable[[Any], None] | None = None,
    *,
    allow_damaged: bool = False,
    derive: Derive | None = None,
) -> list[DerivedEvent]:
    """``run_dir``'s log through its recorded analyses, in this process, with no sinks: every
    derived event (the run loop's replay capability for the commands that read runs: report,
    compare's latency of older runs, the trace export). ``on_frame`` sees each raw ``LogFrame``
    first (the trace export reads raw marks and control changes in the same pass). Problems in
    the log are warned about on stderr; frames lost inside it (or the recorded configuration lost
    with them) raise DamagedLogError unless ``allow_damaged``. ``derive``: other analyses than the
    recorded ones (``config.apply_to_replay`` with a pipeline file: ``report --pipeline``)."""
    from .config import recorded_analyses
    from .eventlog import open_log, warn_stderr

    if derive is None:
        derive = recorded_analyses(run_dir, allow_damaged=allow_damaged)
    router = FrameRouter(derive, [], None)
    reader = open_log(run_dir)
    for f in reader.frames(None, None):
        if on_frame is not None:
            on_frame(f)
        router.frame(f.payload, f.seq, f.ts_ns, None)
    router.subject.on_completed()
    reader.finish(warn_stderr, allow_damaged=allow_damaged)
    return list(router.outbox)


def _ended_by(e: BaseException) -> tuple[str, int, str]:
    """(state, exit code, message) of a run ended by an exception, for its summary."""
    e = first_error(e)  # the error the command line reports, so the summary says the same
    if isinstance(e, KeyboardInterrupt | trio.Cancelled):
        return "interrupted", 130, "interrupted"
    if isinstance(e, KcoroStreamError):
        return ("failed" if isinstance(e, ProducerError) else "error"), e.exit_code, str(e)
    return "error", 70, f"{type(e).__name__}: {e}"


async def _run(derive: Derive | None, source: Source, opts: RunOptions, record: RunRecord) -> None:
    steerable = source.live and not opts.no_control
    prepare = getattr(source, "open", None)
    if callable(prepare):
        prepare()  # map an attached ring before any output file is touched
    ctx = SinkContext(
        force=opts.force,
        stdout=opts.stdout,
        controller=source.controller,
        live=source.live,
        dashboard=opts.dashboard,
        declarations=opts.declarations,
    )
    async with AsyncExitStack() as stack:
        runners = await open_sinks(stack, opts.sinks, ctx, opts.sink_queue)
        log = None
        if source.live and not opts.no_log:
            from .eventlog import LogWriter

            log = LogWriter.create(opts.log_dir or RUNS_DIR / record.run_id, record.run_id, fsync=opts.fsync)
            stack.callback(log.close)
            record.run_dir = log.run_dir
        router = FrameRouter(derive, runners, log)
        router.hold = source.live
        account = Account(source, router, runners)
        ctx.statistics = account.snapshot
        outcome: SourceOutcome
        async with trio.open_nursery() as nursery:
            for r in runners:
                nursery.start_soon(r.run)
            reporting = trio.CancelScope()
            if source.live:

                async def report() -> None:
                    with reporting:
                        await _report_status(router, account, opts.status_interval_s)

                nursery.start_soon(report)
            if source.live:
                for mark in opts.marks:  # a replay finds them in the log instead
                    router.emit(mark)
                await router.drain()
            controlling = trio.CancelScope()
            if steerable:

                async def control(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
                    from .control import open_control

                    with controlling:
                        async with trio.open_nursery() as n:
                            await open_control(
                                n, source=source, router=router, account=account, run_id=record.run_id,
                                path=opts.control, run_dir=record.run_dir,
                                sinks=ctx,
                            )  # fmt: skip
                            task_status.started()
                    ctx.control = None

                await nursery.start(control)
            try:
                outcome = await source.run(router)
            finally:
                record.started, record.ended = router.started, router.ended
            controlling.cancel()
            reporting.cancel()
            if source.live:
                router.emit(account.status(outcome.state))
            if outcome.usage_error:
                router.discard_held()
            try:
                await router.complete()
            finally:  # however it ends, the record has what the run saw (summary.json, the manifest index)
                record.started, record.ended = router.started, router.ended
                record.summaries = list(router.summaries.values())
                record.histograms = list(router.histograms.values())
                record.figures = router.figures.result() if router.decode else None
            record.state, record.message = outcome.state, outcome.message
            if outcome.usage_error:  # raised inside: the sinks are aborted, no file is left or replaced
                record.exit_code = 2
                raise UsageError(outcome.message)
            for r in runners:
                await r.close()
    if not outcome.ok:
        record.exit_code = 1
        raise ProducerError(outcome.message)
