"""status: the monitor's own account (``MonitorStatus``) → one derived ``Status`` line each.

The run loop logs a ``MonitorStatus`` every second of a live run (reader
losses, log writer, every sink's queue and drops), so a replay of the log
shows what the live run lost. Wall time comes from the run's ``RunStarted``.

::

    [RunStarted ...] [Tick W0 ...] [MonitorStatus] [Tick ...] [MonitorStatus] |
    ------------------------------- Status ----------------------- Status ---- |
"""

from __future__ import annotations

from typing import Any

from kcoro_stream.events import MonitorStatus, RunStarted, Status, wall_seconds

from ._base import Emit, Operator, stateful


def status() -> Operator:
    """Raw batches → one :class:`Status` per ``MonitorStatus``.

    ::

        [MonitorStatus(state, reader, log, sinks)] |
        Status(state, reader, log, sinks, uptime_s) |
    """

    def setup(emit: Emit) -> tuple[Any, Any]:
        run: RunStarted | None = None

        def on_item(batch: Any) -> None:
            nonlocal run
            for ev in batch:
                t = type(ev)
                if t is RunStarted:
                    run = ev
                elif t is MonitorStatus:
                    emit(
                        Status(
                            ts=wall_seconds(ev.ts_ns, run),
                            ts_ns=ev.ts_ns,
                            run_id=run.run_id if run is not None else "",
                            state=ev.state,
                            reader=ev.reader,
                            log=ev.log,
                            sinks=ev.sinks,
                            uptime_s=round(ev.uptime_ns / 1e9, 3),
                        )
                    )

        return on_item, _nothing

    return stateful(setup)


def _nothing() -> None:
    return None
