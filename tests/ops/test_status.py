"""status: one derived Status per MonitorStatus, in event time, with a loss message."""

from __future__ import annotations

import msgspec
from factory import MS, T0, WALL0, Run, drive, encoded, of_type

from kcoro_stream import ops
from kcoro_stream.events import (
    ClientStatistics,
    LogStatistics,
    MonitorStatus,
    ReaderStatistics,
    SinkStatistics,
    Status,
    derived_decoder,
)


def monitor(ts_ns: int, *, dropped: int = 0, corrupt: int = 0, ws_drops: int = 0, state: str = "running"):
    reader = ReaderStatistics(frames=100, bytes=6400, dropped_frames=dropped, corrupt_frames=corrupt)
    log = LogStatistics(frames=100, frame_bytes=6400, disk_bytes=900, blocks=2, segments=1, flushes=2)
    ws = SinkStatistics(
        name="websocket",
        received=50,
        written=50 - ws_drops,
        dropped=ws_drops,
        drop_reasons={"slow_client": ws_drops} if ws_drops else {},
        queued=3,
        queue_capacity=256,
        clients=[ClientStatistics(client="127.0.0.1:5000", sent=50 - ws_drops, dropped=ws_drops)],
    )
    nd = SinkStatistics(name="ndjson", received=50, written=50, queue_capacity=64)
    return MonitorStatus(ts_ns, 0, state=state, reader=reader, log=log, sinks=[nd, ws], uptime_ns=ts_ns - T0)


def _batches() -> list[list]:
    r = Run()
    batches = [[r.start]]
    for i in range(1, 301):
        r.steady()
        batches.append(r.frame())
        if i % 100 == 0:
            batches.append(
                [monitor(r.t, dropped=i // 100 - 1, corrupt=1 if i == 300 else 0, ws_drops=i // 50 - 2)]
            )
    return batches


def test_one_status_per_monitor_status_in_event_time():
    out = drive(ops.status(), _batches())
    assert all(type(e) is Status for e in out) and len(out) == 3
    assert [s.ts_ns for s in out] == [T0 + 1000 * MS, T0 + 2000 * MS, T0 + 3000 * MS]
    assert [s.uptime_s for s in out] == [1.0, 2.0, 3.0]
    assert out[0].ts == round((WALL0 + 1000 * MS) / 1e9, 6) and out[0].run_id == "run-1"
    last = out[-1]
    assert last.state == "running" and last.reader.dropped_frames == 2 and last.reader.corrupt_frames == 1
    assert last.log.disk_bytes == 900
    assert [s.name for s in last.sinks] == ["ndjson", "websocket"]
    assert last.sinks[1].clients[0].dropped == 4 and last.sinks[1].queued == 3


def test_message_names_every_loss_and_is_empty_when_nothing_was_lost():
    first, second, third = drive(ops.status(), _batches())
    assert first.message == ""
    assert second.message == "ring lost 1 frame (1 dropped); websocket dropped 2 (slow_client 2)"
    assert third.message == "ring lost 3 frames (2 dropped, 1 corrupt); websocket dropped 4 (slow_client 4)"


def test_status_lines_round_trip_through_ndjson():
    """What a sink writes decodes back to the same typed Status (reader, log, sinks, clients)."""
    out = drive(ops.status(), _batches())
    back = [derived_decoder.decode(line) for line in encoded(out).splitlines()]
    assert back == out
    assert b'"type":"status"' in encoded(out[:1]) and b'"schema":5' in encoded(out[:1])


def test_other_batches_give_nothing_and_a_new_run_changes_the_run_id():
    r = Run()
    batches = [[r.start]] + [[*r.frame()] for _ in range(50)]
    assert drive(ops.status(), batches) == []
    r2 = Run(run_id="run-2", t0=r.t + 10 * MS)
    out = drive(ops.status(), [*batches, [r2.start], [monitor(r2.t + MS, state="finished")]])
    assert [(s.run_id, s.state) for s in out] == [("run-2", "finished")]


def test_status_fuses_beside_the_default_analyses_without_changing_them():
    """fan(default_analyses, status) = default_analyses' output plus the Status lines."""
    batches = _batches()
    alone = drive(ops.default_analyses(), batches)
    both = drive(ops.fan(ops.default_analyses(), ops.status()), batches)
    assert [e for e in both if type(e) is not Status] == alone
    assert len(of_type(both, Status)) == 3
    assert msgspec.json.encode(of_type(both, Status)) == msgspec.json.encode(drive(ops.status(), batches))


def test_monitor_status_batches_are_not_frames_of_a_window():
    """Windows count producer frames only: the same Samples with or without the Status batches."""
    batches = _batches()
    without = [b for b in batches if type(b[0]) is not MonitorStatus]
    assert drive(ops.rates(), batches) == drive(ops.rates(), without)


def test_a_status_before_the_producers_run_started_waits_for_its_id_and_clock():
    """A producer slow to start (a loaded machine): the monitor's first status comes before RunStarted.
    It was a line with run_id "" and a monotonic ts (tests/history found no run by that id)."""
    r = Run()
    early = monitor(T0 - 300 * MS)
    batches = [[early], [r.start]]
    for _ in range(10):
        r.steady()
        batches.append(r.frame())
    (st,) = drive(ops.status(), batches)
    assert st.run_id == "run-1" and st.ts_ns == T0 - 300 * MS
    assert st.ts == round((WALL0 - 300 * MS) / 1e9, 6)  # wall clock, from the run's start
    # a stream with no RunStarted at all (a log read from mid-run) still shows it
    (alone,) = drive(ops.status(), [[early]])
    assert alone.run_id == ""
