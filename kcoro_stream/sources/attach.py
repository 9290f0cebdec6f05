"""``attach`` source: read a ring another runtime created, until it closes or its producer is lost.

::

    other runtime ──kcs_ring_create(PATH)──► ring ──► Ingester ──frames──► FrameRouter

The producer's liveness comes from the ring: its pid (when it wrote one) and
its heartbeat (``AttachedProducer``). Ctrl-C, or a dashboard's ``q``,
detaches: the monitor stops reading and finishes its outputs, and the
producer's run goes on (the first Ctrl-C drains what is in the ring, a second
one ends at once). The ring file is never unlinked: it belongs to its creator.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import msgspec
import trio

from ..events import ReaderStatistics
from ..ingest import AttachedProducer, Ingester, RingReader
from ._base import Frames, Source, SourceContext, SourceOutcome
from ._process import watch_signals
from ._registry import register
from .launch import RingController

__all__ = ["AttachConfig", "AttachSource"]


class AttachConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Read an existing ring created by another runtime (``path``)."""

    path: str


@register
class AttachSource(Source):
    """Read a ring that another runtime created."""

    name: ClassVar[str] = "attach"
    Config: ClassVar[type[msgspec.Struct]] = AttachConfig
    summary: ClassVar[str] = "an existing ring made by another runtime (attach RING)"

    def __init__(self, config: msgspec.Struct, ctx: SourceContext) -> None:
        assert isinstance(config, AttachConfig)
        super().__init__(config, ctx)
        self.path = Path(config.path)
        self._ctl = RingController()
        self._ring: RingReader | None = None
        self._done_stats: ReaderStatistics | None = None

    @property
    def controller(self) -> RingController:
        return self._ctl

    def describe(self) -> str:
        return str(self.path)

    def statistics(self) -> ReaderStatistics | None:
        return self._ring.statistics() if self._ring is not None else self._done_stats

    def open(self) -> None:
        """Map the ring now (errors before anything else opens)."""
        if self._ring is None:
            self._ring = RingReader.open(self.path)

    async def run(self, frames: Frames) -> SourceOutcome:
        self.open()
        ring = self._ring
        assert ring is not None
        try:
            ingester = Ingester(
                ring, frames, producer=AttachedProducer(ring), max_delay_s=self.ctx.max_delay_s
            )
            self._ctl.ingester = ingester
            self._ctl.detach_on_stop = True
            async with trio.open_nursery() as nursery:
                # Ctrl-C detaches: the run belongs to the runtime that made the ring.
                nursery.start_soon(watch_signals, ingester.detach, nursery.cancel_scope.cancel)
                result = await ingester.run()
                nursery.cancel_scope.cancel()
            self._ctl.ingester = None
            return SourceOutcome(result.state, result.message, result.exit_status)
        finally:
            self._done_stats = ring.statistics()
            self._ring = None
            ring.close(unlink=False)
