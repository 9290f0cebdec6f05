"""Sink runners: one bounded queue and one task per sink (contract 5).

::

    FrameRouter.drain() ─batch─► SinkRunner.put ─► [queue of `capacity` batches] ─► task ─► Sink.send

``put`` applies the sink's policy: ``block`` waits for room (files: nothing
is lost); ``drop_oldest`` never waits — when the queue is full the oldest
queued batch is dropped and counted under ``queue_full``. When no batch comes
for ``IDLE_TICK_S`` the task hands the sink an empty batch, so time-based
flushes hold while a run is paused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from typing import Any

import msgspec
import trio

from ..events import DerivedEvent, SinkStatistics
from ._base import Sink, SinkContext
from ._registry import build_sink

__all__ = ["IDLE_TICK_S", "SinkRunner", "open_sinks"]

IDLE_TICK_S = 1.0


class SinkRunner:
    """A sink with its own bounded queue and task."""

    def __init__(self, sink: Sink, capacity: int) -> None:
        self.sink = sink
        self.capacity = capacity
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

    def statistics(self) -> SinkStatistics:
        """The sink's own account plus its queue."""
        st = self.sink.statistics()
        queued = self.send_ch.statistics().current_buffer_used
        return msgspec.structs.replace(st, queued=queued, queue_capacity=self.capacity)


async def open_sinks(
    stack: AsyncExitStack, specs: Iterable[str | dict[str, Any]], ctx: SinkContext, capacity: int
) -> list[SinkRunner]:
    """Build and open every sink (closed by ``stack``), each with its runner."""
    runners: list[SinkRunner] = []
    for spec in specs:
        sink = build_sink(spec, ctx)
        await sink.open()
        stack.push_async_exit(_closer(sink))
        runners.append(SinkRunner(sink, capacity))
    return runners


def _closer(sink: Sink) -> Callable[..., Awaitable[bool]]:
    """Close ``sink`` when the run ends; when it ended by an exception, abort it first
    (an existing file being replaced is left untouched; a new file written in place
    keeps its complete lines, and the error says so)."""

    async def exit_(exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> bool:
        if exc_type is not None:
            sink.abort()
        await sink.aclose()
        note = sink.failure_note() if exc is not None else None
        if note is not None and exc is not None:
            exc.add_note(note)  # the run's error line says what a file written in place kept
        return False

    return exit_
