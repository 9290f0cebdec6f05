"""``launch`` source: create a ring, start a producer program on it, ingest until it ends.

::

    RingReader.create() ──path──► child: bench | synthetic | any program (--exec)
          │                            writes frames, heartbeat; applies control
          └──► Ingester ──frames──► FrameRouter (log → decode → operators → sinks)

The producer is the bundled benchmark (``producer="bench"``), the example
producer (``"synthetic"``) or **any program** (``"exec"``): ``command`` is run
with the ring's path in ``$KCORO_STREAM_RING`` and in place of every
``{ring}`` in its arguments (also ``$KCORO_STREAM_INTERVAL_NS``, the sampling
interval the ring asks for, which the program can read from the ring header
too). The monitor watches every child the same way: its exit is seen at once,
a non-zero exit or a death without closing the ring fails the run, and
``duration_s`` for a program that knows no ``--duration`` is enforced through
the ring's control area (a stop record, then SIGTERM after a grace period).

Signals: the first Ctrl-C/SIGTERM sends the stop record (the producer writes
RunEnded and closes the ring); a second one kills the child. A dashboard's
``t`` restarts the benchmark in the other mode within the same run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import ClassVar, Literal

import msgspec
import trio

from ..errors import UsageError
from ..events import ReaderStatistics
from ..ingest import DEFAULT_RING_BYTES, ChildProducer, Ingester, RingReader
from ..ingest._ring import RingInfo
from ..knobs import MAX_WORKERS, MODES
from ._base import Controller, Frames, Source, SourceContext, SourceOutcome
from ._child import WATCH_ENV
from ._process import flush_held, last_line, pump_stderr, watch_signals
from ._registry import register

__all__ = ["RING_ENV", "LaunchConfig", "LaunchSource", "RingController"]

RING_ENV = "KCORO_STREAM_RING"
INTERVAL_ENV = "KCORO_STREAM_INTERVAL_NS"
RING_PLACEHOLDER = "{ring}"
STOP_GRACE_S = 3.0
BENCH_MODES, BENCH_MAX_WORKERS = MODES, MAX_WORKERS  # the one table (knobs.py)
BENCH_INTERVAL_MS = (1.0, 60_000.0)  # the sampling intervals the bundled producers take (and clamp to)
MAX_BENCH_DURATION_S = 86400  # the benchmark's --duration range is [0, 86400]
# The child's stderr is held back until its first frame (or this long): a flag error
# before any frame is printed once, as the run's error, not also as the child's line.
HOLD_STDERR_S = 1.0


class LaunchConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Launch a producer as a child process and read its ring.

    ``producer`` is ``"bench"`` (the bundled coroutine runtime benchmark),
    ``"synthetic"`` (the scripted test producer) or ``"exec"`` (``command``, any
    program using native/include/kcoro_stream.h). ``args`` are extra flags
    for bench/synthetic.
    """

    producer: Literal["bench", "synthetic", "exec"] = "bench"
    mode: str = "channel"
    duration_s: float | None = None
    interval_ms: float = 10.0
    workers: int | None = None
    args: list[str] = []
    ring_bytes: int = DEFAULT_RING_BYTES
    command: list[str] = []


class RingController(Controller):
    """Dashboard commands for a ring source: control records to the producer."""

    def __init__(self) -> None:
        self.ingester: Ingester | None = None
        self._paused = False
        self.interval_ns = 0
        self.restart_mode: str | None = None
        self.stop_requested = False
        self.detach_on_stop = False  # attach: stop reading, leave the producer's run alone
        self.last_seq = 0  # the last control record written (its acknowledgement: Ingester.acknowledged)

    def pause(self, paused: bool) -> None:
        """Pause or resume the benchmark itself (no new work; its counters stop)."""
        self._paused = paused
        if self.ingester is not None:
            self.last_seq = self.ingester.control(paused=paused, interval_ns=self.interval_ns)

    def set_interval_ms(self, interval_ms: float) -> None:
        self.interval_ns = int(interval_ms * 1e6)
        if self.ingester is not None:
            self.last_seq = self.ingester.control(paused=self._paused, interval_ns=self.interval_ns)

    def command(self, cmd: bytes) -> int:
        """Send a producer command (the control blob; held until acknowledged); its record's sequence."""
        if self.ingester is None:
            raise RuntimeError("no producer is running")
        self.last_seq = self.ingester.control(paused=self._paused, interval_ns=self.interval_ns, cmd=cmd)
        return self.last_seq

    def stop(self) -> None:
        self.restart_mode = None
        self.stop_requested = True
        if self.ingester is not None:
            if self.detach_on_stop:
                self.ingester.detach()
            else:
                self.ingester.request_stop()

    def restart(self, mode: str) -> None:
        self.restart_mode = mode
        if self.ingester is not None:
            self.ingester.request_stop()

    @property
    def paused(self) -> bool:
        return self._paused


def _check(cfg: LaunchConfig) -> None:
    """Every limit the producer would refuse, checked before anything starts (one line each)."""
    bundled = cfg.producer != "exec"  # the bundled producers' ranges: native/bench/cli.c
    lo_ms, hi_ms = BENCH_INTERVAL_MS if bundled else (1e-6, 3_600_000.0)
    if not lo_ms <= cfg.interval_ms <= hi_ms:  # also false for nan
        raise UsageError(f"--interval: expected {lo_ms:g}ms to {hi_ms / 1000:g}s, got {cfg.interval_ms:g}ms")
    max_s = MAX_BENCH_DURATION_S if bundled else 1e9
    if cfg.duration_s is not None and not 0 <= cfg.duration_s <= max_s:
        raise UsageError(f"--duration: expected 0 to {max_s:g} s, got {cfg.duration_s:g}")
    if cfg.producer == "bench" and cfg.mode not in BENCH_MODES:
        raise UsageError(f"--mode: unknown mode {cfg.mode!r} (one of {', '.join(BENCH_MODES)})")
    if cfg.producer == "bench" and cfg.workers is not None and not 1 <= cfg.workers <= BENCH_MAX_WORKERS:
        raise UsageError(f"--workers: must be between 1 and {BENCH_MAX_WORKERS}, got {cfg.workers}")
    if cfg.producer == "exec" and not cfg.command:
        raise UsageError(
            "--exec: give the program to run after --, e.g. run --exec -- ./my_bench --ring '{ring}'"
        )
    if cfg.producer != "exec" and cfg.command:
        raise UsageError(f"a command is only run with producer 'exec' (producer is {cfg.producer!r})")


def producer_command(cfg: LaunchConfig, mode: str, ring: str) -> list[str]:
    """The child's argv for ``cfg`` on ``ring``."""
    if cfg.producer == "exec":
        return [a.replace(RING_PLACEHOLDER, ring) for a in cfg.command]
    # -P: the current directory is not put on the child's sys.path, so the installed
    # kcoro_stream always wins over a checkout's kcoro_stream/ (which has no built
    # extensions when the package was installed with `pip install .`). Not -I: that
    # would also drop PYTHONPATH, which a run from a source tree may rely on.
    cmd = [sys.executable, "-P", "-m", f"kcoro_stream.sources.{cfg.producer}", "--ring", ring]
    cmd += ["--interval-ms", str(max(1, round(cfg.interval_ms)))]
    if cfg.duration_s is not None:
        d = cfg.duration_s if cfg.producer == "bench" else max(1, round(cfg.duration_s))
        cmd += ["--duration", str(d)]
    if cfg.producer == "bench":
        cmd += ["--mode", mode]
        if cfg.workers:
            cmd += ["--workers", str(cfg.workers)]
    return cmd + list(cfg.args)


@register
class LaunchSource(Source):
    """Start a producer (the benchmark, the scripted test producer or any program) on a new ring."""

    name: ClassVar[str] = "launch"
    Config: ClassVar[type[msgspec.Struct]] = LaunchConfig
    summary: ClassVar[str] = (
        "a producer on a new ring: bench (the bundled benchmark), synthetic (the scripted test producer) "
        "or exec (any program: run --exec -- PROG)"
    )

    def __init__(self, config: msgspec.Struct, ctx: SourceContext) -> None:
        assert isinstance(config, LaunchConfig)
        _check(config)
        super().__init__(config, ctx)
        self.cfg = config
        self._ctl = RingController()
        self._ring: RingReader | None = None
        self._done_stats: ReaderStatistics | None = None
        self.ring_info: RingInfo | None = None

    @property
    def controller(self) -> RingController:
        return self._ctl

    def describe(self) -> str:
        if self.cfg.producer == "exec":
            return " ".join(self.cfg.command)
        return f"{self.cfg.producer} ({self.cfg.mode})"

    def statistics(self) -> ReaderStatistics | None:
        ring = self._ring
        return ring.statistics() if ring is not None else self._done_stats

    async def run(self, frames: Frames) -> SourceOutcome:
        mode = self.cfg.mode
        frames_before = 0
        while True:
            outcome, delivered = await self._run_once(frames, mode)
            frames_before += delivered
            if self._ctl.restart_mode is None or not outcome.ok:
                break
            mode, self._ctl.restart_mode = self._ctl.restart_mode, None
        if not outcome.ok and outcome.exit_status == 2 and frames_before == 0:
            outcome.usage_error = True
        return outcome

    async def _run_once(self, frames: Frames, mode: str) -> tuple[SourceOutcome, int]:
        cfg = self.cfg
        ring = RingReader.create(data_size=cfg.ring_bytes, interval_ns=int(cfg.interval_ms * 1e6))
        self._ring = ring
        try:
            path = str(ring.path)
            cmd = producer_command(cfg, mode, path)
            env = {
                **os.environ,
                RING_ENV: path,
                INTERVAL_ENV: str(int(cfg.interval_ms * 1e6)),
                WATCH_ENV: str(os.getpid()),  # our own producers end their run if we die (sources/_child.py)
            }
            try:
                # The child's stdout goes to our stderr: our stdout is NDJSON for `| jq`.
                proc = await trio.lowlevel.open_process(
                    cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(), stderr=subprocess.PIPE, env=env
                )
            except OSError as e:
                raise UsageError(f"cannot start {cmd[0]}: {e.strerror or e}") from None
            child = ChildProducer(proc)

            def kill() -> None:
                if proc.returncode is None:
                    proc.kill()

            escalation = [signal.SIGTERM, signal.SIGKILL]  # a stopped child only dies of SIGKILL

            async def term() -> None:
                if proc.returncode is None and escalation:
                    proc.send_signal(escalation.pop(0))

            ingester = Ingester(
                ring, frames, producer=child, on_stop_timeout=term, unlink_after_attach=True,
                stop_grace_s=STOP_GRACE_S, on_stall=_warn, max_delay_s=self.ctx.max_delay_s,
            )  # fmt: skip
            self._ctl.ingester = ingester
            if self._ctl.stop_requested:
                ingester.request_stop()
            tail: list[str] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch_signals, self._ctl.stop, kill)
                if cfg.producer == "exec" and cfg.duration_s is not None:
                    nursery.start_soon(self._stop_after, cfg.duration_s, ingester)
                assert proc.stderr is not None
                pumped, started = trio.Event(), trio.Event()
                held: list[str] = []
                nursery.start_soon(pump_stderr, proc.stderr, tail, pumped, 20, started, held)
                nursery.start_soon(_release_when_started, ingester, started)
                result = await ingester.run()
                with trio.move_on_after(5):
                    await proc.wait()
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
                with trio.move_on_after(1):
                    await pumped.wait()  # the child's last words, for the error message
                nursery.cancel_scope.cancel()
            self._ctl.ingester = None
            delivered = ingester.statistics().frames
            outcome = _outcome(result, proc, child, tail)
            # a refused flag: its line is the run's error message, printed once by the CLI
            flush_held(held, drop_last=outcome.exit_status == 2 and delivered == 0)
            return outcome, delivered
        finally:
            self.ring_info = ring.info()
            self._done_stats = ring.statistics()
            self._ring = None
            ring.close(unlink=True)

    async def _stop_after(self, seconds: float, ingester: Ingester) -> None:
        """``-d`` for a program that takes no duration flag: counted from its first frame, not from
        its start, so a slow start (a loaded machine, a cold import) never stops a program that ends
        its own run: a stop there turned an ``exec`` repeat into ``interrupted``."""
        while ingester.statistics().frames == 0:
            await trio.sleep(0.01)
        await trio.sleep(seconds)
        self._ctl.stop()


def _warn(message: str) -> None:
    print(f"kcoro-stream: warning: {message}", file=sys.stderr, flush=True)


async def _release_when_started(ingester: Ingester, started: trio.Event) -> None:
    """Set ``started`` at the child's first frame, or after HOLD_STDERR_S."""
    with trio.move_on_after(HOLD_STDERR_S):
        while ingester.statistics().frames == 0:
            await trio.sleep(0.01)
    started.set()


def _outcome(
    result: SourceOutcome, proc: trio.Process, child: ChildProducer, tail: list[str]
) -> SourceOutcome:
    last = last_line(tail)
    status = proc.returncode
    if result.ok and status not in (0, None):
        msg = f"producer {proc.pid} {child.describe_exit(status)}"
        return SourceOutcome("failed", msg + (f" ({last})" if last else ""), status)
    if not result.ok:
        exit_status = result.exit_status if result.exit_status is not None else status
        if exit_status == 2 and last:
            return SourceOutcome(result.state, f"producer: {last}", exit_status)
        return SourceOutcome(result.state, result.message + (f" ({last})" if last else ""), exit_status)
    return SourceOutcome(result.state, result.message, status)
