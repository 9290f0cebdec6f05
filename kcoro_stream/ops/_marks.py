"""marks: raw Mark events → derived ``mark`` lines; after_warmup: a run without its warm-up.

A Mark logged before the producer's RunStarted (the run loop logs a
manifest's step and warm-up marks first) waits for it, so its ``ts`` is wall
time like every other line; the configuration record (``name="config"``) is
the log's business and is not repeated in the output::

    [Mark(step)] [RunStarted ...] [counters] ... [Mark(note)] ... |
    ------------ MarkEvent(step) ------------ MarkEvent(note) ... |

``after_warmup(seconds)`` passes batches on without the events of the first
``seconds`` after RunStarted (RunStarted and Marks are kept), for an
analysis that must leave the warm-up out (the summary of a manifest run)::

    [RunStarted, c0] [c1] ... [c_warm] [c_k] ... |
    [RunStarted]     -------------- [c_k] ... |
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


def after_warmup(seconds: float) -> Operator:
    """Batches → the same batches minus the events of the first ``seconds`` after RunStarted."""
    warm_ns = int(seconds * 1e9)

    def setup(emit: Emit) -> tuple[Any, Any]:
        until: int | None = None

        def on_item(batch: list[Any]) -> None:
            nonlocal until
            kept: list[Any] = []
            for ev in batch:
                if isinstance(ev, RunStarted):
                    if until is None:
                        until = ev.ts_ns + warm_ns
                    kept.append(ev)
                elif isinstance(ev, Mark) or (until is not None and ev.ts_ns >= until):
                    kept.append(ev)
            if kept:
                emit(kept)

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
