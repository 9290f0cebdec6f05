"""The trio ingester: ring → (event log, decoded batches) until the producer ends.

::

    RingReader.read()  ──frames──►  FrameSink.frame(payload, seq, ts, record)
        │ losses (C reader)            (the run loop's FrameRouter: append to
        │ ctl_ack changes               the log, decode, push through the operators)
        ▼
    ingester events (RingLoss, ControlApplied, ProducerLost, ProducerStalled) ──► FrameSink.emit(event)

The ingester never decodes for its own needs and never re-encodes producer
frames: what the ring held is what the log stores. Losses are the C reader's
account (each lost sequence number once, "dropped" or "corrupt"); the
ingester only places each one in band, right before the frame that revealed
it. Events it makes itself go through ``FrameSink.emit``, which encodes them
once and logs them like ring frames, so a replay of the log sees the exact
sequence the live pipeline saw.

**Stalled.** A live producer that sends neither a frame nor a heartbeat for
``stall_threshold_ns`` is declared stalled (``ProducerStalled(state="stalled")``,
logged), and running again at its next frame (``state="running"``, logged
before that frame). The threshold follows the run's own pace: the larger of
``STALL_MIN_NS`` (200 ms), ``STALL_INTERVALS`` (5) × the median gap between
the producer's frames and ``STALL_JITTER`` (3) × their 99th percentile (the
tick jitter this machine showed), at most ``STALL_MAX_NS`` (1 s). A scripted
pause (heartbeats, no frames) is no stall; nothing is decided before the
first frame or once a stop was requested.
"""

from __future__ import annotations

import math
import signal
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import msgspec
import trio

from ..events import ControlApplied, ProducerLost, ProducerStalled, RawEvent, RingLoss
from ._ring import Loss, ReadResult, RingReader, monotonic_ns, pid_alive

STALL_MIN_NS = 200_000_000
STALL_MAX_NS = 1_000_000_000
STALL_INTERVALS = 5
STALL_JITTER = 3
_GAPS = 256  # frame gaps remembered for the threshold


class FrameSink(Protocol):
    """Where frames go (implemented by the run loop's FrameRouter)."""

    def frame(self, payload: memoryview | bytes, seq: int, ts_ns: int, record: memoryview | None) -> None:
        """One frame: payload, sequence number, first event's ts_ns and (ring frames) the raw record."""

    def emit(self, event: RawEvent) -> None:
        """An event the monitor made (loss, control ack, producer loss, status): logged like a frame."""

    async def drain(self) -> None:
        """Called after each batch of frames: let derived output reach the sinks."""


class IngestStatistics(msgspec.Struct, frozen=True):
    """What the ingester did so far (``Ingester.statistics()``); losses are the reader's."""

    frames: int
    ingester_events: int
    producer: str


@dataclass
class SourceOutcome:
    """How a source (and the ingester under a live one) ended, for the run loop's exit code and
    message. The one outcome type: the ingester makes it, sources pass it on or make their own."""

    state: str  # "finished" | "stopped" | "lost" | "failed"
    message: str = ""
    exit_status: int | None = None
    usage_error: bool = False  # the producer refused its flags (exit 2 before its first frame)

    @property
    def ok(self) -> bool:
        return self.state in ("finished", "stopped")


class Producer(Protocol):
    """A running producer the ingester watches (a child process or a pid)."""

    pid: int

    def poll(self) -> int | None:
        """Exit status if the producer has ended (negative: killed by signal), else None."""

    def describe_exit(self, status: int) -> str: ...


class ChildProducer:
    """A producer launched by us: exit is seen at once through the process."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.pid = process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def describe_exit(self, status: int) -> str:
        if status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = f"signal {-status}"
            return f"killed by {name}"
        return f"exited with status {status}"


class AttachedProducer:
    """A producer we attached to: liveness from its heartbeat, and its pid when it wrote one.

    Lost when the pid (if known) is gone and the heartbeat has stalled for
    ``lost_after_s``, or — for a producer that never wrote its pid — when the
    heartbeat has stalled for ``stall_s`` (the bound follows the sampling
    interval: max(1 s, 5 intervals)). "Stalled" counts from the later of the
    last heartbeat and the moment we attached.
    """

    def __init__(self, ring: RingReader, *, lost_after_s: float = 0.5) -> None:
        info = ring.info()
        self.ring = ring
        self.pid = info.producer_pid
        self.lost_after_ns = int(lost_after_s * 1e9)
        self.stall_ns = max(1_000_000_000, 5 * info.initial_interval_ns)
        self.attached_ns = monotonic_ns()

    def stalled_for_ns(self) -> int:
        info = self.ring.info()
        if not self.pid and info.producer_pid:
            self.pid = info.producer_pid  # it wrote its pid after we attached
        return monotonic_ns() - max(info.heartbeat_ns, self.attached_ns)

    def poll(self) -> int | None:
        stalled = self.stalled_for_ns()
        if self.pid:
            gone = not pid_alive(self.pid)
            return -1 if gone and stalled >= self.lost_after_ns else None
        return -1 if stalled >= self.stall_ns else None

    def describe_exit(self, status: int) -> str:
        if self.pid and not pid_alive(self.pid):
            return f"process {self.pid} is gone"
        return f"heartbeat stalled for {self.stalled_for_ns() / 1e9:.1f} s (no pid in the ring)"


class Ingester:
    """Moves frames from one ring to a FrameSink until the producer is done."""

    def __init__(
        self,
        ring: RingReader,
        sink: FrameSink,
        *,
        producer: Producer | None = None,
        idle_timeout_s: float = 0.25,
        lost_after_s: float = 0.5,
        stop_grace_s: float = 3.0,
        on_stop_timeout: Callable[[], Awaitable[None]] | None = None,
        on_stall: Callable[[str], None] | None = None,
        unlink_after_attach: bool = False,
        max_delay_s: float = 0.0,
    ) -> None:
        self.ring = ring
        # Coalesced wake-ups: once a frame is there, wait up to this long for more (RingReader.wait's
        # hold). 0: wake for every frame. Never while a control record waits for its acknowledgement
        # or a stop is under way, and a filling ring always ends the hold early.
        self.max_delay_s = max(0.0, min(max_delay_s, idle_timeout_s))
        self.sink = sink
        self.producer = producer
        self.idle_timeout_s = idle_timeout_s
        self.lost_after_ns = int(lost_after_s * 1e9)
        self.stop_grace_s = stop_grace_s
        self.on_stop_timeout = on_stop_timeout
        # A live producer that stops (SIGSTOP, a debugger) is not lost: it is stalled (logged),
        # and on_stall (if given) hears it in words.
        self.on_stall = on_stall
        self._interval_ns = ring.info().initial_interval_ns
        self._gaps: deque[int] = deque(maxlen=_GAPS)
        self._last_frame_ts = 0  # producer time of the last frame (0: none yet)
        self._last_arrival_ns = 0  # our monotonic time when it arrived
        self._stalled: ProducerStalled | None = None
        self._last_ack = ring.ctl_ack()
        self._ctl_sent: dict[int, tuple[int, bool, bool]] = {}
        self._cmd, self._cmd_seq = b"", 0  # a producer command, repeated until acknowledged
        self._levels = (0, False)  # the last record's interval and pause flag
        self._stop_requested: trio.Event = trio.Event()
        self._detach: trio.Event = trio.Event()
        self._frames = self._ingest_events = 0
        self._state = "running"
        # Once the producer has mapped the ring its name is no longer needed:
        # unlinking early means even a kill -9 of this process leaves no file.
        self._unlink_pending = unlink_after_attach

    # -- control ------------------------------------------------------------

    def control(
        self, *, interval_ns: int = 0, paused: bool = False, stop: bool = False, cmd: bytes | None = None
    ) -> int:
        """Send a control record to the producer (applied at its next tick).

        The area holds one record, so a record written before the producer saw
        the previous one replaces it: the state fields are levels (the latest
        wins, nothing lost), and a command (``cmd``, the blob) is repeated in
        every record until one carrying it is acknowledged; the producer applies
        a command's id once. A stop is sticky: once requested, every later
        record carries it too, so a pause or an interval written before the
        producer's next tick cannot take it back."""
        if cmd is not None:
            self._cmd = cmd
        stop = stop or self._stop_requested.is_set()
        self._levels = (interval_ns, paused)
        seq = self.ring.control(interval_ns=interval_ns, paused=paused, stop=stop, cmd=self._cmd)
        if cmd is not None:
            self._cmd_seq = seq
        self._ctl_sent[seq] = (interval_ns, paused, stop)
        if self.max_delay_s:
            self.ring.interrupt()  # end a hold in progress: the acknowledgement is awaited promptly
        return seq

    def acknowledged(self, seq: int) -> bool:
        """Whether the producer has applied the record ``seq`` (or a later one, which repeats it)."""
        ack = self.ring.ctl_ack()
        if self._cmd and ack >= self._cmd_seq:
            self._cmd = b""
        return ack >= seq

    def request_stop(self) -> None:
        """Ask the producer to end the run; it writes RunEnded and closes."""
        if not self._stop_requested.is_set():
            self._stop_requested.set()
            interval_ns, paused = self._levels  # the stop record keeps the levels in force
            self.control(interval_ns=interval_ns, paused=paused, stop=True)
            self.ring.interrupt()

    def detach(self) -> None:
        """Stop reading without stopping the producer (attach: the run is someone else's)."""
        self._detach.set()
        self.ring.interrupt()

    @property
    def state(self) -> str:
        """ "running", then how the run ended: "finished", "stopped", "lost" or "failed"."""
        return self._state

    def statistics(self) -> IngestStatistics:
        return IngestStatistics(
            frames=self._frames, ingester_events=self._ingest_events, producer=self._state
        )

    # -- the loop -------------------------------------------------------------

    async def run(self) -> SourceOutcome:
        """Ingest until the ring is closed, the producer ends or is lost.

        Between frames the loop waits on the ring (woken by the producer's
        commit, or after ``idle_timeout_s`` to check the producer and a stop
        request): an idle run costs no polling.
        """
        stop_deadline = math.inf
        next_check = 0.0  # producer, stall and stop checks: every idle_timeout_s, not after every frame
        while True:
            got = await self._read_once()
            if got is None:  # ring closed and drained
                self._finish_losses()
                await self.sink.drain()
                self._state = "stopped" if self._stop_requested.is_set() else "finished"
                return SourceOutcome(self._state)
            if got:
                await trio.lowlevel.checkpoint()
                continue
            if self._detach.is_set():
                await self.sink.drain()
                self._state = "stopped"
                return SourceOutcome(self._state, "detached")
            now = trio.current_time()
            if now < next_check and not self._stop_requested.is_set():
                await self.ring.wait(self.idle_timeout_s, self._hold())
                continue
            next_check = now + self.idle_timeout_s
            outcome = self._check_producer()
            if outcome is not None:
                # One last drain: everything published before death is ours.
                while await self._read_once():
                    pass
                self._finish_losses()
                self._emit(
                    ProducerLost(
                        monotonic_ns(),
                        0,
                        pid=self.producer.pid if self.producer else 0,
                        reason=outcome.message,
                        exit_status=-1 if outcome.exit_status is None else outcome.exit_status,
                        last_heartbeat_ns=self.ring.info().heartbeat_ns,
                    )
                )
                await self.sink.drain()
                self._state = outcome.state
                return outcome
            if not self._stop_requested.is_set():
                self._check_stall()
            if self._stop_requested.is_set():
                if stop_deadline == math.inf:
                    stop_deadline = trio.current_time() + self.stop_grace_s
                elif trio.current_time() > stop_deadline and self.on_stop_timeout is not None:
                    await self.on_stop_timeout()
                    stop_deadline = trio.current_time() + self.stop_grace_s
            await self.ring.wait(self.idle_timeout_s, self._hold())

    def _hold(self) -> float:
        """How long a wake-up may wait for more frames now (0 while something must be seen promptly)."""
        if not self.max_delay_s or self._ctl_sent or self._cmd or self._stop_requested.is_set():
            return 0.0
        return 0.0 if self._detach.is_set() or self._stalled is not None else self.max_delay_s

    async def _read_once(self) -> int | None:
        """Read one batch; returns frames delivered, or None once closed and empty."""
        res = self.ring.read()
        if self._unlink_pending and (len(res) or self.ring.info().producer_pid):
            self._unlink_pending = False
            self.ring.path.unlink(missing_ok=True)
        n = len(res)
        if n:
            self._saw_frames(res.ts, n)
        if res.losses:
            self._deliver_with_losses(res)
        elif n:
            frame = self.sink.frame
            seqs, ts = res.seqs, res.ts
            for i in range(n):
                frame(res.payload(i), seqs[i], ts[i], res.record(i))
        self._frames += n
        self._check_ack()
        if n or res.losses:
            await self.sink.drain()
        if res.closed and not n:
            return None
        return n

    def _deliver_with_losses(self, res: ReadResult) -> None:
        losses = iter(res.losses)
        loss = next(losses, None)
        for i in range(len(res) + 1):
            while loss is not None and loss.before == i:
                self._emit_loss(loss, res.ts[i] if i < len(res) and res.ts[i] else monotonic_ns())
                loss = next(losses, None)
            if i < len(res):
                self.sink.frame(res.payload(i), res.seqs[i], res.ts[i], res.record(i))

    def _finish_losses(self) -> None:
        """The reader's last account: drops after the last frame, a corrupt last record."""
        for loss in self.ring.finish():
            self._emit_loss(loss, monotonic_ns())

    def _emit_loss(self, loss: Loss, ts_ns: int) -> None:
        self._emit(
            RingLoss(
                ts_ns,
                0,
                frames=loss.frames,
                bytes=loss.bytes,
                seq_from=loss.seq_from,
                seq_to=loss.seq_to,
                reason=loss.reason,
            )
        )

    def _check_ack(self) -> None:
        ack = self.ring.ctl_ack()
        if ack != self._last_ack:
            self._last_ack = ack
            interval, paused, stop = self._ctl_sent.pop(ack, (0, False, False))
            for seq in [s for s in self._ctl_sent if s < ack]:  # replaced before the producer saw them
                del self._ctl_sent[seq]
            if self._cmd and ack >= self._cmd_seq:
                self._cmd = b""
            self._emit(
                ControlApplied(monotonic_ns(), 0, seq=ack, interval_ns=interval, paused=paused, stop=stop)
            )

    def _check_producer(self) -> SourceOutcome | None:
        p = self.producer
        if p is None:
            return None
        status = p.poll()
        if status is None:
            return None
        reason = p.describe_exit(status)
        if status == 0:
            reason = "exited without closing the ring"
        return SourceOutcome("lost", message=f"producer {p.pid} {reason}", exit_status=status)

    def stall_threshold_ns(self) -> int:
        """No frame and no heartbeat for this long: stalled (see the module docstring)."""
        gaps = sorted(self._gaps)
        median = gaps[len(gaps) // 2] if gaps else self._interval_ns
        p99 = gaps[min(len(gaps) - 1, (99 * len(gaps)) // 100)] if gaps else self._interval_ns
        return min(STALL_MAX_NS, max(STALL_MIN_NS, STALL_INTERVALS * median, STALL_JITTER * p99))

    @property
    def stalled(self) -> bool:
        """Whether the producer is stalled now (a ProducerStalled "stalled" without its "running")."""
        return self._stalled is not None

    def _saw_frames(self, ts: list[int] | tuple[int, ...], n: int) -> None:
        now = monotonic_ns()
        if self._stalled is not None:
            silent = now - self._last_arrival_ns
            self._emit(
                ProducerStalled(
                    now,
                    0,
                    state="running",
                    last_frame_ns=self._last_frame_ts,
                    silent_ns=silent,
                    threshold_ns=self._stalled.threshold_ns,
                )
            )
            self._stalled = None
            if self.on_stall is not None:
                self.on_stall(f"producer running again after {silent / 1e9:.1f} s without a frame")
        last = self._last_frame_ts
        for i in range(n):
            t = ts[i]
            if t and last and t > last:
                self._gaps.append(t - last)
            if t:
                last = t
        self._last_frame_ts = last
        self._last_arrival_ns = now

    def _check_stall(self) -> None:
        if self._stalled is not None or not self._last_arrival_ns:
            return
        info = self.ring.info()
        if info.closed:
            return
        now = monotonic_ns()
        silent = now - max(self._last_arrival_ns, info.heartbeat_ns)
        threshold = self.stall_threshold_ns()
        if silent < threshold:
            return
        self._stalled = ProducerStalled(
            now,
            0,
            state="stalled",
            last_frame_ns=self._last_frame_ts,
            silent_ns=now - self._last_arrival_ns,
            threshold_ns=threshold,
        )
        self._emit(self._stalled)
        if self.on_stall is not None:
            pid = self.producer.pid if self.producer else info.producer_pid
            self.on_stall(
                f"producer {pid} stalled: no frame and no heartbeat for {silent / 1e9:.2f} s "
                f"(threshold {threshold / 1e9:.2f} s; stopped or hung? Ctrl-C ends the run)"
            )

    def _emit(self, event: RawEvent) -> None:
        self._ingest_events += 1
        self.sink.emit(event)
