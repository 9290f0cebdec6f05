"""status: the monitor's own account (contract 7) as derived ``Status`` events.

The run loop puts a ``MonitorStatus`` ingester event into the stream every
second of a live run (and logs it, so a replay shows what the live run lost).
This operator turns each one into a ``Status`` line, unchanged in content
(one that comes before the producer's first ``RunStarted`` — a producer slow
to start on a loaded machine — waits for it, like a Mark, so every line
carries the run's id and wall-clock ``ts``):

* ``state``, ``reader`` (the C reader's losses: dropped / corrupt /
  undecodable frames), ``log`` (the event-log writer), ``sinks`` (each sink's
  queue, drops by reason, network clients) are copied;
* ``uptime_s`` = ``uptime_ns`` / 1e9; ``ts`` is wall time from the run's
  ``RunStarted`` (event time, like every operator);
* ``message`` says in one line what was lost, empty when nothing was:
  ``"ring lost 5 frames (3 dropped, 2 corrupt); websocket dropped 7 (slow_client 7)"``.

Counters in a MonitorStatus are cumulative since the monitor started, so a
lost Status line costs nothing but resolution.

A stalled producer (the ingester's ``ProducerStalled``, logged) is a state of
its own: at the event, a ``Status`` line with ``state: "stalled"`` and a
message (``producer stalled: no frame for 0.41 s (threshold 0.20 s)``) and an
``Alert`` ``producer.stalled`` (critical) firing; every status line after it
says ``stalled`` until the producer's next frame, when a ``running`` status
line and the alert's ``resolved`` follow. Replay reads the same events, so it
shows the same lines.

::

    [RunStarted W0 ...] [W0 ...] [MonitorStatus] [W0 ...] [MonitorStatus] |
    ------------------------------ Status ------------------- Status ------- |
"""

from __future__ import annotations

from typing import Any

import msgspec

from kcoro_stream.events import (
    MonitorStatus,
    ProducerStalled,
    ReaderStatistics,
    RunStarted,
    SinkStatistics,
    Status,
    wall_seconds,
)

from ._base import Emit, Operator, make_alert, stateful

STALL_RULE = "producer.stalled"


def status() -> Operator:
    """Batches → one :class:`Status` per ``MonitorStatus`` event.

    ::

        [RunStarted ...] [...] [MonitorStatus] [...] [MonitorStatus] |
        ----------------------- Status -------------- Status -------- |
    """

    def setup(emit: Emit) -> tuple[Any, Any]:
        run: RunStarted | None = None
        stalled: ProducerStalled | None = None
        last: MonitorStatus | None = None
        early: list[MonitorStatus] = []  # before the first RunStarted: they wait for its id and clock

        def out(ev: MonitorStatus) -> None:
            st = make_status(ev, run)
            if stalled is not None and ev.state == "running":
                st = msgspec.structs.replace(
                    st, state="stalled", message=_join(stall_message(stalled), st.message)
                )
            emit(st)

        def on_item(batch: Any) -> None:
            nonlocal run, stalled, last
            if not batch:
                return
            head = type(batch[0])
            if head is RunStarted:  # a frame starts with it (a new run: a mode switch)
                run = batch[0]
                for ev in early:
                    out(ev)
                early.clear()
            elif head is MonitorStatus:  # the run loop's events come in batches of their own
                for ev in batch:
                    if type(ev) is MonitorStatus:
                        last = ev
                        if run is None and len(early) < MAX_EARLY:
                            early.append(ev)
                        else:
                            out(ev)
            elif head is ProducerStalled:
                for ev in batch:
                    if type(ev) is not ProducerStalled:
                        continue
                    stalled = ev if ev.state == "stalled" else None
                    emit(stall_status(ev, run, last))
                    emit(
                        make_alert(
                            ev.ts_ns,
                            run,
                            STALL_RULE,
                            "critical",
                            "firing" if ev.state == "stalled" else "resolved",
                            stall_message(ev),
                            value=round(ev.silent_ns / 1e9, 6),
                            threshold=round(ev.threshold_ns / 1e9, 6),
                            labels={"state": ev.state},
                        )
                    )

        def on_done() -> None:
            for ev in early:  # a stream with no RunStarted (a log read from mid-run)
                out(ev)

        return on_item, on_done

    return stateful(setup)


MAX_EARLY = 64  # status lines held for a RunStarted (a producer slow to start: one a second)


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


def stall_message(ev: ProducerStalled) -> str:
    """The stall in words."""
    if ev.state == "stalled":
        return f"producer stalled: no frame for {ev.silent_ns / 1e9:.2f} s (threshold {ev.threshold_ns / 1e9:.2f} s)"
    return f"producer running again after {ev.silent_ns / 1e9:.2f} s without a frame"


def stall_status(ev: ProducerStalled, run: RunStarted | None, last: MonitorStatus | None) -> Status:
    """The Status line of a ProducerStalled event (the account figures: the last MonitorStatus's)."""
    base = (
        make_status(last, run)
        if last is not None
        else Status(ts=0.0, ts_ns=0, run_id=run.run_id if run is not None else "", state="running")
    )
    return msgspec.structs.replace(
        base,
        ts=wall_seconds(ev.ts_ns, run),
        ts_ns=ev.ts_ns,
        state=ev.state,
        message=_join(stall_message(ev), base.message),
    )


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


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
