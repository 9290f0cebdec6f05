"""``tui`` sink: derived events → the live terminal dashboard.

::

    pipeline (trio guest) ── TuiSink.send(batch) ── TuiHandle.post ──► DashboardApp
                                   ctx.controller ◄── keys q r t ──────┘

The dashboard itself is a textual app that owns the main thread; the pipeline
runs inside it as a trio guest (``run_tui``). The CLI calls::

    run_tui(lambda handle: run_pipeline(..., dashboard=handle), title=...)

and this sink finds the handle in ``SinkContext.dashboard``. Without one
(no terminal, or a pipeline run outside ``run_tui``) ``open`` fails with a
one-line ``SinkError``; the CLI never adds this sink when stdout is not a TTY.

Policy ``drop_oldest``: a screen that cannot keep up loses samples (counted),
never the pipeline's time. Keys: q quit, r run/pause, c clear statistics,
t switch mode, h help, +/- zoom, ←/→ scroll.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from .._extras import needs
from ..errors import SinkError
from ..events import DerivedEvent
from ..sinks._base import Dashboard, Sink, SinkContext
from ..sinks._registry import register

with needs("tui", "the terminal dashboard"):
    from ._tui import KEYS, DashboardApp, TuiHandle, run_tui, summary_lines

__all__ = ["KEYS", "DashboardApp", "TuiConfig", "TuiHandle", "TuiSink", "run_tui", "summary_lines"]


class TuiConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


@register
class TuiSink(Sink):
    """Feed the terminal dashboard that ``run_tui`` is showing."""

    name: ClassVar[str] = "tui"
    Config: ClassVar[type[msgspec.Struct]] = TuiConfig
    policy = "drop_oldest"
    summary: ClassVar[str] = "live terminal dashboard (used automatically when stdout is a terminal)"

    def __init__(self, config: msgspec.Struct, ctx: SinkContext) -> None:
        super().__init__(config, ctx)
        self.handle: Dashboard | None = None

    async def open(self) -> None:
        handle = self.ctx.dashboard
        if handle is None:
            raise SinkError(
                "tui: no terminal dashboard is running (needs a terminal; use --no-tui or a file sink)"
            )
        self.handle = handle
        handle.attach(controller=self.ctx.controller, live=self.ctx.live, statistics=self.ctx.statistics)

    async def send(self, batch: Sequence[DerivedEvent]) -> None:
        assert self.handle is not None, "open() first"
        self._received += len(batch)
        before = self.handle.dropped
        self.handle.post(batch)
        lost = self.handle.dropped - before
        if lost:
            self.count_drop("screen_behind", lost)
        self._written += len(batch) - lost

    async def aclose(self) -> None:
        if self.handle is not None:
            self.handle.detach()

    def extra_statistics(self) -> dict[str, Any]:
        return {"screen_drops": self.handle.dropped if self.handle else 0}
