"""marks: raw Mark events → derived ``mark`` lines.

A Mark logged before the producer's RunStarted (the run loop logs a
manifest's step and warm-up marks first) waits for it, so its ``ts`` is wall
time like every other line; the configuration record (``name="config"``) is
the log's business and is not repeated in the output::

    [Mark(step)] [RunStarted ...] [counters] ... [Mark(note)] ... |
    ------------ MarkEvent(step) ------------ MarkEvent(note) ... |
"""

from __future__ import annotations

from typing import Any

from kcoro_stream.events import Mark, MarkEvent, RunStarted, wall_seconds

from ._base import Emit, Operator, stateful

CONFIG_MARK = "config"


def marks() -> Operator:
    """Batches → MarkEvent per raw Mark (not the configuration record), in event order."""

    def setup(emit: Emit) -> tuple[Any, Any]:
        start: RunStarted | None = None
        waiting: list[Mark] = []

        def out(m: Mark) -> None:
            emit(
                MarkEvent(
                    ts=wall_seconds(m.ts_ns, start),
                    ts_ns=m.ts_ns,
                    run_id=start.run_id if start is not None else "",
                    name=m.name,
                    detail=m.detail,
                )
            )

        def on_item(batch: list[Any]) -> None:
            nonlocal start
            for ev in batch:
                if isinstance(ev, RunStarted) and start is None:
                    start = ev
                    for m in waiting:
                        out(m)
                    waiting.clear()
                elif isinstance(ev, Mark) and ev.name != CONFIG_MARK:
                    if start is None:
                        waiting.append(ev)
                    else:
                        out(ev)

        def on_done() -> None:
            for m in waiting:
                out(m)

        return on_item, on_done

    return stateful(setup)
