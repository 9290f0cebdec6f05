"""status: the monitor's own account (contract 7) as derived ``Status`` events.

The run loop puts a ``MonitorStatus`` ingester event into the stream every
second of a live run (and logs it, so a replay shows what the live run lost).
This operator turns each one into a ``Status`` line, unchanged in content:

* ``state``, ``reader`` (the C reader's losses: dropped / corrupt /
  undecodable frames), ``log`` (the event-log writer), ``sinks`` (each sink's
  queue, drops by reason, network clients) are copied;
* ``uptime_s`` = ``uptime_ns`` / 1e9; ``ts`` is wall time from the run's
  ``RunStarted`` (event time, like every operator);
* ``message`` says in one line what was lost, empty when nothing was:
  ``"ring lost 5 frames (3 dropped, 2 corrupt); websocket dropped 7 (slow_client 7)"``.

Counters in a MonitorStatus are cumulative since the monitor started, so a
lost Status line costs nothing but resolution.

::

    [RunStarted W0 ...] [W0 ...] [MonitorStatus] [W0 ...] [MonitorStatus] |
    ------------------------------ Status ------------------- Status ------- |
"""

from __future__ import annotations

from typing import Any

from kcoro_stream.events import (
    MonitorStatus,
    ReaderStatistics,
    RunStarted,
    SinkStatistics,
    Status,
    wall_seconds,
)

from ._base import Emit, Operator, stateful


def status() -> Operator:
    """Batches → one :class:`Status` per ``MonitorStatus`` event.

    ::

        [RunStarted ...] [...] [MonitorStatus] [...] [MonitorStatus] |
        ----------------------- Status -------------- Status -------- |
    """

    def setup(emit: Emit) -> tuple[Any, Any]:
        run: RunStarted | None = None

        def on_item(batch: Any) -> None:
            nonlocal run
            if not batch:
                return
            head = type(batch[0])
            if head is RunStarted:  # a frame starts with it (a new run: a mode switch)
                run = batch[0]
            elif head is MonitorStatus:  # the run loop's events come in batches of their own
                for ev in batch:
                    if type(ev) is MonitorStatus:
                        emit(make_status(ev, run))

        return on_item, _nothing

    return stateful(setup)


def _nothing() -> None:
    return None


def make_status(ev: MonitorStatus, run: RunStarted | None) -> Status:
    """The derived Status of one MonitorStatus (wall time and run id from ``run``)."""
    return Status(
        ts=wall_seconds(ev.ts_ns, run),
        ts_ns=ev.ts_ns,
        run_id=run.run_id if run is not None else "",
        state=ev.state,
        message=loss_message(ev.reader, ev.sinks),
        reader=ev.reader,
        log=ev.log,
        sinks=list(ev.sinks),
        uptime_s=round(ev.uptime_ns / 1e9, 6),
    )


def loss_message(reader: ReaderStatistics | None, sinks: list[SinkStatistics]) -> str:
    """One line naming every loss so far; empty when nothing was lost."""
    parts = []
    if reader is not None:
        kinds = (
            ("dropped", reader.dropped_frames),
            ("corrupt", reader.corrupt_frames),
            ("undecodable", reader.undecodable_frames),
        )
        lost = sum(n for _, n in kinds)
        if lost:
            detail = ", ".join(f"{n} {kind}" for kind, n in kinds if n)
            parts.append(f"ring lost {lost} frame{'s' if lost != 1 else ''} ({detail})")
    for sink in sinks:
        if sink.dropped:
            reasons = ", ".join(f"{r} {n}" for r, n in sorted(sink.drop_reasons.items()) if n)
            parts.append(f"{sink.name} dropped {sink.dropped}" + (f" ({reasons})" if reasons else ""))
    return "; ".join(parts)
