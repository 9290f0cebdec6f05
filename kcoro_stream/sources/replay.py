"""``replay`` source: the frames of a recorded run directory, in order.

::

    runs/<id>/segment-*.kcslog ──LogReader.frames(from, to)──► FrameRouter (decode → operators → sinks)

Every frame the live run logged comes back with its sequence number and
timestamp — producer frames and the monitor's own events (losses, control
acks, status) alike — so the operators see exactly what they saw live.
``speed`` paces playback in event time (None: as fast as possible); the
controller pauses and stops it (the dashboard's ``r`` and ``q``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar, Final, TypeVar

import msgspec
import trio

from ..errors import UsageError
from ..eventlog import LogFrame, open_log, warn_stderr
from ..events import ControlApplied, KnobApplied, Mark, RuleChanged, RunStarted, decode_frame
from ._base import Controller, Frames, Source, SourceContext, SourceOutcome
from ._process import watch_signals
from ._registry import register

__all__ = ["Pacer", "PlaybackController", "PlaybackSource", "ReplayConfig", "ReplaySource"]

T = TypeVar("T")


class ReplayConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A recorded run directory; ``from_s``/``to_s`` are seconds after its first event."""

    path: str
    from_s: float | None = None
    to_s: float | None = None
    speed: float | None = None  # 1.0 = real time; None = as fast as possible
    progress: bool = False  # a progress bar on stderr when it is a terminal
    allow_damaged: bool = False  # a corrupt block inside the log: warn, and do not fail the replay


class PlaybackController(Controller):
    """Pause and stop for playback; a recording has no sampling interval or mode to change."""

    def __init__(self) -> None:
        self._paused = False
        self.resumed = trio.Event()
        self.stopped = False
        self.pacing = trio.CancelScope()  # the current pacing sleep; stop() ends it

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
        self.pacing.cancel()

    def restart(self, mode: str) -> None:
        """A recording cannot change mode."""

    @property
    def paused(self) -> bool:
        return self._paused

    async def wait_playable(self) -> None:
        """Return when playback may go on (not paused, or stopped)."""
        while self._paused and not self.stopped:
            await self.resumed.wait()


class Pacer:
    """Sleeps so that event time advances at ``speed`` × wall time (None: never sleeps)."""

    def __init__(self, speed: float | None) -> None:
        self.speed = speed
        self._t0_wall: float | None = None
        self._t0_ev = 0

    async def wait_until(self, ts_ns: int) -> None:
        if self.speed is None or not ts_ns:
            return
        now = time.monotonic()
        if self._t0_wall is None:
            self._t0_wall, self._t0_ev = now, ts_ns
        due = self._t0_wall + (ts_ns - self._t0_ev) / 1e9 / self.speed
        if due > now:
            await trio.sleep(due - now)


def check_bounds(from_s: float | None, to_s: float | None) -> None:
    for flag, v in (("--from", from_s), ("--to", to_s)):
        if v is not None and not (0 <= v < 1e9):  # also false for nan
            raise UsageError(f"{flag}: must be a time within the recording (e.g. 2s), got {v}")
    if from_s is not None and to_s is not None and to_s <= from_s:
        raise UsageError(f"--to ({to_s}) must be after --from ({from_s})")


class PlaybackSource(Source):
    """A recording played back under a ``PlaybackController`` (stop ends it, pause holds it)."""

    live: ClassVar[bool] = False

    def __init__(self, config: msgspec.Struct, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self._ctl = PlaybackController()

    @property
    def controller(self) -> PlaybackController:
        return self._ctl

    async def play(
        self,
        frames: Frames,
        items: Iterable[T],
        deliver: Callable[[T], int],
        *,
        pacer: Pacer | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> SourceOutcome:
        """``deliver(item)`` for each item in order (it returns the item's event time, 0 if none);
        derived output reaches the sinks after each; Ctrl-C or the controller stops playback."""
        ctl = self._ctl
        async with trio.open_nursery() as nursery:
            await nursery.start(watch_signals, ctl.stop, lambda: None)
            n = 0
            for item in items:
                if ctl.stopped:
                    break
                await ctl.wait_playable()
                ts_ns = deliver(item)
                n += 1
                if pacer is not None:
                    with trio.CancelScope() as ctl.pacing:
                        if ctl.stopped:
                            ctl.pacing.cancel()
                        await pacer.wait_until(ts_ns)
                await frames.drain()
                if (n & 255) == 0:
                    await trio.lowlevel.checkpoint()
                    if progress is not None:
                        progress(256)
            nursery.cancel_scope.cancel()
        return SourceOutcome("stopped" if ctl.stopped else "finished")


# What a replay from --from feeds of the frames before the cut: the run's state (how it started,
# its configuration, the knobs and rules changed since), never its counters; output is suppressed.
CONTEXT_EVENTS: Final = (RunStarted, Mark, KnobApplied, ControlApplied, RuleChanged)


def _context(frames: Frames, f: LogFrame) -> None:
    """Feed the state-setting events of a frame before ``--from``; what they derive is dropped."""
    try:
        events = decode_frame(f.payload)
    except msgspec.DecodeError:
        return  # counted where it is replayed in full; here it carries no state
    kept = [e for e in events if isinstance(e, CONTEXT_EVENTS)]
    if kept:
        frames.push(kept)
        frames.discard_output()


@register
class ReplaySource(PlaybackSource):
    """The frames of a recorded run, through the same operators and sinks."""

    name: ClassVar[str] = "replay"
    Config: ClassVar[type[msgspec.Struct]] = ReplayConfig
    summary: ClassVar[str] = "a recorded run directory (replay RUN)"

    def __init__(self, config: msgspec.Struct, ctx: SourceContext) -> None:
        assert isinstance(config, ReplayConfig)
        check_bounds(config.from_s, config.to_s)
        super().__init__(config, ctx)
        self.cfg = config

    def describe(self) -> str:
        return self.cfg.path

    async def run(self, frames: Frames) -> SourceOutcome:
        import click  # only for the progress bar

        reader = open_log(Path(self.cfg.path))
        span = reader.time_range()  # from block headers: no decoding
        lo = hi = None
        if span is not None:
            first = span[0]
            lo = None if self.cfg.from_s is None else first + int(self.cfg.from_s * 1e9)
            hi = None if self.cfg.to_s is None else first + int(self.cfg.to_s * 1e9)
        reader.show(warn_stderr)  # what opening found (a torn tail, a bad header)
        total = reader.frame_count()
        show = self.cfg.progress and total > 0 and sys.stderr.isatty()
        bar = click.progressbar(length=total, label="replay", file=sys.stderr) if show else None

        def deliver(f: LogFrame) -> int:
            if lo is not None and f.ts_ns < lo:
                _context(frames, f)
                return 0
            frames.frame(f.payload, f.seq, f.ts_ns, None)
            return f.ts_ns

        outcome = await self.play(
            frames,
            reader.frames(None, hi),
            deliver,
            pacer=Pacer(self.cfg.speed),
            progress=bar.update if bar is not None else None,
        )
        if bar is not None:
            bar.render_finish()
        reader.finish(warn_stderr, allow_damaged=self.cfg.allow_damaged)  # a corrupt block in the middle
        return outcome
