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
    assert [s.extra["frames"] for s in samples] == [24, 25, 1]
    assert [s.extra["span_ns"] for s in samples] == [240 * MS, 250 * MS, 10 * MS]


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
    assert [s.partial for s in samples] == [False, True, False, False]
    assert samples[1].extra["lost_frames"] == 3
    # totals survive the loss
    assert sum(s.extra["tasks_completed_delta"] for s in samples) == 75 * 2000


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
    assert samples[0].extra["tasks_completed_delta"] == 24 * 2000
    assert samples[0].extra["span_ns"] == 240 * MS
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
    assert samples[2].extra["tasks_completed_delta"] == 24 * 2000


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
    assert sum(s.extra["tasks_completed_delta"] for s in samples) == sum(incs)
    for s in samples:
        assert s.tasks_per_s == s.extra["tasks_completed_delta"] * 1e9 / s.extra["span_ns"]
    assert sum(s.extra["span_ns"] for s in samples) == n * r.interval
    lost_any = any(drops[: n - 1])
    assert any(s.partial for s in samples) == lost_any
