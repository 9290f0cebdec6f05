"""rates: differences of cumulative counters per event-time window."""

from __future__ import annotations

import pytest
from factory import MS, T0, Run, drive, of_type
from hypothesis import given, settings
from hypothesis import strategies as st

from kcoro_stream import ops
from kcoro_stream.events import Sample


def _run(n: int, **kw) -> tuple[Run, list]:
    r = Run(**kw)
    batches = [[r.start]]
    for _ in range(n):
        r.steady()
        batches.append(r.frame())
    return r, batches


def test_windows_are_half_open_and_aligned_on_run_start():
    """A frame at exactly start+w opens the next window; ts_ns is the last snapshot."""
    _, batches = _run(50)
    samples = of_type(drive(ops.rates(window_ms=250), batches), Sample)
    # frames at T0+10ms..T0+500ms: window 0 holds 10..240, window 1 250..490, window 2 500
    assert [s.ts_ns for s in samples] == [T0 + 240 * MS, T0 + 490 * MS, T0 + 500 * MS]
    assert [s.frames for s in samples] == [24, 25, 1]
    assert [s.span_ns for s in samples] == [240 * MS, 250 * MS, 10 * MS]


def test_rates_and_ratios_from_counter_differences():
    """tasks/s, msgs/s, bytes/s, gbps, ratios and utilisation match the increments."""
    _, batches = _run(25)
    s = of_type(drive(ops.rates(window_ms=250), batches), Sample)[0]
    # 2 workers x 1000 tasks per 10 ms = 200k tasks/s; 500 msgs x 64 B per 10 ms
    assert s.tasks_per_s == pytest.approx(200_000.0)
    assert s.msgs_per_s == pytest.approx(50_000.0)
    assert s.bytes_per_s == pytest.approx(3_200_000.0)
    assert s.gbps == pytest.approx(0.0256)
    assert s.fastpath_ratio == pytest.approx(0.9)
    assert s.steal_ratio == pytest.approx(0.4)
    assert s.utilisation == pytest.approx(0.8)
    assert s.idle_workers_pct == 0.0
    assert s.inject_pulls_per_s == pytest.approx(400.0)
    assert s.parks_per_s == pytest.approx(200.0)
    assert s.mode == "tasks" and s.pool == "all" and s.run_id == "run-1"
    assert s.partial is False


def test_idle_workers_percent_counts_workers_below_threshold():
    r = Run(workers=4)
    batches = [[r.start]]
    for _ in range(25):
        for i in range(4):
            busy = r.interval if i < 3 else 0
            r.add_worker(i, busy_ns=busy, idle_ns=r.interval - busy)
        batches.append(r.frame())
    s = of_type(drive(ops.rates(), batches), Sample)[0]
    assert s.idle_workers_pct == pytest.approx(25.0)
    assert s.utilisation == pytest.approx(0.75)


def test_ratio_is_null_when_nothing_happened():
    r = Run()
    batches = [[r.start], r.frame(), r.frame()]
    s = of_type(drive(ops.rates(), batches), Sample)[0]
    assert s.fastpath_ratio is None and s.steal_ratio is None and s.utilisation is None
    assert s.tasks_per_s == 0.0


def test_ring_loss_marks_the_window_of_the_next_frame_partial():
    r = Run()
    batches = [[r.start]]
    for i in range(75):
        r.steady()
        frame = r.frame()
        if 30 <= i < 33:
            continue  # dropped by the ring
        if i == 33:
            batches.append(r.loss(3))
        batches.append(frame)
    samples = of_type(drive(ops.rates(), batches), Sample)
    # window 1 lost frames; window 3 is the closing one, 10 ms of a 250 ms window
    assert [s.partial for s in samples] == [False, True, False, True]
    assert [s.lost_frames for s in samples] == [0, 3, 0, 0]
    # totals survive the loss
    assert sum(s.worker_deltas.tasks_completed for s in samples) == 75 * 2000


def test_per_pool_samples_in_dual_mode():
    r = Run(workers=2, mode="dual", pools=["channel", "tasks"])
    batches = [[r.start]]
    for _ in range(24):  # one window: T0+10ms .. T0+240ms
        r.add_worker(0, tasks_completed=100)
        r.add_worker(1, tasks_completed=300)
        batches.append(r.frame())
    samples = of_type(drive(ops.rates(), batches), Sample)
    assert [s.pool for s in samples] == ["channel", "tasks"]
    # channel 0 is in pool 0 ("channel"): messages only there
    assert samples[0].tasks_per_s == pytest.approx(24 * 100 * 1e9 / (240 * MS))
    assert samples[1].tasks_per_s == pytest.approx(24 * 300 * 1e9 / (240 * MS))
    assert samples[1].msgs_per_s is None


def test_stream_starting_mid_run_uses_first_frame_as_baseline():
    _r, batches = _run(50)
    samples = of_type(drive(ops.rates(), batches[10:]), Sample)  # no RunStarted, starts at frame 10
    # windows align on the first frame (T0+100ms): frames 10..34, deltas from frame 10
    assert samples[0].worker_deltas.tasks_completed == 24 * 2000
    assert samples[0].span_ns == 240 * MS
    assert samples[0].run_id == ""


def test_incoming_samples_pass_through():
    legacy = Sample(ts=1.0, ts_ns=1, mode="tasks", window_ns=250 * MS, tasks_per_s=5.0)
    out = drive(ops.rates(), [[legacy]])
    assert out == [legacy]


def test_a_new_run_starts_fresh_windows_and_counters():
    _r1, b1 = _run(25)
    _r2, b2 = _run(25, run_id="run-2", t0=T0 + 10**12)
    samples = of_type(drive(ops.rates(), b1 + b2), Sample)
    assert [s.run_id for s in samples] == ["run-1", "run-1", "run-2", "run-2"]
    assert samples[2].worker_deltas.tasks_completed == 24 * 2000


@settings(max_examples=200, deadline=None)
@given(
    incs=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=120),
    drops=st.lists(st.booleans(), min_size=120, max_size=120),
    window_ms=st.sampled_from([10, 25, 50, 100, 250]),
)
def test_rates_exact_under_random_frame_drops(incs, drops, window_ms):
    """Deltas add up to the true total whatever frames are lost; rate == delta/span exactly."""
    r = Run(workers=1, channels=0)
    batches = [[r.start]]
    n = len(incs)
    for i, inc in enumerate(incs):
        r.add_worker(0, tasks_completed=inc, tasks_submitted=inc)
        frame = r.frame()
        if drops[i] and i != n - 1:  # keep the last frame so the final total is observed
            batches.append(r.loss(1))
            continue
        batches.append(frame)
    samples = of_type(drive(ops.rates(window_ms=window_ms), batches), Sample)
    assert sum(s.worker_deltas.tasks_completed for s in samples) == sum(incs)
    for s in samples:
        assert s.tasks_per_s == s.worker_deltas.tasks_completed * 1e9 / s.span_ns
    assert sum(s.span_ns for s in samples) == n * r.interval
    lost_any = any(drops[: n - 1])
    assert any(s.lost_frames > 0 for s in samples) == lost_any
    width = window_ms * MS
    for s in samples:  # partial: a loss, or the closing window covering under half the width
        assert s.partial == (s.lost_frames > 0 or (s is samples[-1] and 2 * s.span_ns < width))


def test_a_short_closing_window_is_partial_and_a_full_one_is_not():
    """Half the width is the line: a 100 ms closing window covering 40 ms is partial, 50 ms is not."""
    for n, span_ms, partial in ((13, 40, True), (14, 50, False)):  # frames every 10 ms; window 0 ends at 90
        _r, batches = _run(n)
        last = of_type(drive(ops.rates(window_ms=100), batches), Sample)[-1]
        assert (last.span_ns, last.partial, last.lost_frames) == (span_ms * MS, partial, 0)


def test_counter_structs_name_exactly_the_raw_counters():
    """WorkerCounts/ChannelCounts are the cumulative fields of the raw events (no re-listed names)."""
    from kcoro_stream.events import ChannelCounters, ChannelCounts, WorkerCounters, WorkerCounts

    identity = {"ts_ns", "source", "worker", "pool", "last_victim"}
    assert WorkerCounts.__struct_fields__ == tuple(
        f for f in WorkerCounters.__struct_fields__ if f not in identity
    )
    raw_c = ChannelCounters.__struct_fields__
    assert ChannelCounts.__struct_fields__ == raw_c[raw_c.index("sends") :]


def test_typed_totals_and_deltas_add_up_to_the_run():
    """Deltas of every counter sum to the last totals; totals are the cumulative counters."""
    _, batches = _run(60)
    samples = of_type(drive(ops.rates(window_ms=250), batches), Sample)
    last = samples[-1]
    assert last.workers == 2 and last.channels == 1
    assert (
        last.worker_totals.tasks_completed
        == 60 * 2000
        == sum(s.worker_deltas.tasks_completed for s in samples)
    )
    for name in last.channel_totals.__struct_fields__:
        assert getattr(last.channel_totals, name) == sum(getattr(s.channel_deltas, name) for s in samples), (
            name
        )
    assert last.channel_totals.recvs == 60 * 500
    assert last.channel_state.kind == "buffered" and last.channel_state.capacity == 1024
    assert last.channel_state.closed is False and last.channel_state.ptr_mode is False


def test_pool_cpu_and_memory_from_gauges():
    """cpu_pct = 100 × Δpool_cpu_ns / span; stack and RSS are the last values; other gauges kept apart."""
    from kcoro_stream.events import Gauge

    r = Run(pools=["channel", "tasks"])
    batches = [[r.start]]
    for i in range(1, 51):
        r.steady()
        f = r.frame()
        t = f[0].ts_ns
        f += [
            Gauge(t, 0, name="pool_cpu_ns", pool=0, value=float(i * 5 * MS)),  # half a core
            Gauge(t, 0, name="pool_cpu_ns", pool=1, value=float(i * 20 * MS)),  # two cores
            Gauge(t, 0, name="pool_stack_bytes", pool=1, value=float(64 * 1024 * i)),
            Gauge(t, 0, name="process_cpu_ns", pool=0, value=float(i * 25 * MS)),
            Gauge(t, 0, name="rss_bytes", pool=0, value=4096.0 * i),
            Gauge(t, 0, name="gc_pauses", pool=1, value=3.0),
        ]
        batches.append(f)
    samples = of_type(drive(ops.rates(window_ms=250), batches), Sample)
    first = {s.pool: s for s in samples[:2]}
    assert first["channel"].resources.cpu_pct is None  # no baseline value in the first window
    second = {s.pool: s for s in samples[2:4]}
    assert second["channel"].resources.cpu_pct == pytest.approx(50.0)
    assert second["tasks"].resources.cpu_pct == pytest.approx(200.0)
    assert second["channel"].resources.process_cpu_pct == pytest.approx(250.0)
    assert second["channel"].resources.rss_bytes == 4096 * 49
    assert second["tasks"].resources.stack_bytes == 64 * 1024 * 49
    assert second["tasks"].resources.rss_bytes is None  # process-wide: on pool 0 only
    assert second["tasks"].gauges == {"gc_pauses": 3.0}
