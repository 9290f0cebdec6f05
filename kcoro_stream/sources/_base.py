"""The source contract: a config struct, a runtime object, a registry name.

A source is where a run's frames come from. The run loop (``kcoro_stream.runloop``)
hands it a ``FrameSink`` (the ``FrameRouter``: log → decode → operators) and
awaits ``run``; the source delivers frames (or, for old recordings, ready
batches) until its input ends, and returns how it ended::

    source = SourceClass(config, ctx)      # no I/O
    outcome = await source.run(frames)     # frames.frame(...) / frames.emit(...) / frames.push(...)
    source.statistics()                    # the reader's account (live sources), else None

Live sources (``launch``, ``attach``) read a shared-memory ring through the
ingester; recorded ones (``replay``, ``legacy``) read files. Each source owns
its ``controller``, the back-channel dashboards use (pause, stop, restart).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import msgspec

from ..events import ReaderStatistics
from ..ingest import FrameSink, SourceOutcome


class Frames(FrameSink, Protocol):
    """What a source delivers into: ring/log frames, monitor events, or ready batches."""

    def push(self, events: list[Any]) -> None:
        """A batch that needs no decoding (an old recording's converted records)."""

    def discard_output(self) -> None:
        """Drop the derived output not yet handed to the sinks (a replay's context before ``--from``)."""


class Controller(abc.ABC):
    """Commands a sink (a dashboard) may send back to the running source."""

    @abc.abstractmethod
    def pause(self, paused: bool) -> None:
        """Pause or resume the benchmark's sampler output (or replay playback)."""

    @abc.abstractmethod
    def set_interval_ms(self, interval_ms: float) -> None:
        """Ask the producer for a new sampling interval."""

    @abc.abstractmethod
    def stop(self) -> None:
        """End the run cleanly (flush, summary, exit 0)."""

    @abc.abstractmethod
    def restart(self, mode: str) -> None:
        """Restart the benchmark in another mode (live runs only)."""

    @property
    @abc.abstractmethod
    def paused(self) -> bool:
        """Whether the source is paused now."""


@dataclass
class SourceContext:
    """What the run loop hands every source."""

    run_id: str = ""
    # Coalesced wake-ups of a ring source (Ingester.max_delay_s): chosen by the run loop from its
    # surfaces (runloop.max_delay_for), or --max-delay.
    max_delay_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Source(abc.ABC):
    """Base of every source; subclasses set ``name``, ``Config``, ``live`` and ``summary``."""

    name: ClassVar[str]
    Config: ClassVar[type[msgspec.Struct]]
    live: ClassVar[bool] = True  # live sources are recorded to the event log
    summary: ClassVar[str] = ""

    def __init__(self, config: msgspec.Struct, ctx: SourceContext) -> None:
        self.config = config
        self.ctx = ctx

    @property
    @abc.abstractmethod
    def controller(self) -> Controller:
        """The back-channel for dashboards (pause, stop, restart)."""

    @abc.abstractmethod
    async def run(self, frames: Frames) -> SourceOutcome:
        """Deliver every frame of the run to ``frames``; return how it ended."""

    def statistics(self) -> ReaderStatistics | None:
        """The ring reader's account (live sources); None for recordings."""
        return None

    def describe(self) -> str:
        """One line for progress and errors: what is being read."""
        return self.name
