"""smooth and summary: the old monitor's moving average, EMA, peak and average."""

from __future__ import annotations

import pytest
from factory import MS, Run, drive, of_type

from kcoro_stream import ops
from kcoro_stream.errors import UsageError
from kcoro_stream.events import Metrics, Sample, Summary


def sample(x: float | None, ts_ns: int = 0, run_id: str = "r", pool: str = "all", **kw) -> Sample:
    return Sample(
        ts=ts_ns / 1e9,
        ts_ns=ts_ns,
        run_id=run_id,
        mode="tasks",
        pool=pool,
        window_ns=250 * MS,
        tasks_per_s=x,
        **kw,
    )


def test_moving_average_of_last_five_and_ema():
    xs = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    out = drive(ops.smooth(n=5, alpha=0.25), [sample(x, i) for i, x in enumerate(xs)])
    assert [o.smooth.tasks_per_s for o in out] == [10.0, 15.0, 20.0, 25.0, 30.0, 40.0]
    ema = 10.0
    for o, x in zip(out, xs, strict=True):
        ema = x if o is out[0] else 0.25 * x + 0.75 * ema
        assert o.ema.tasks_per_s == pytest.approx(ema)


def test_nulls_are_skipped_not_zeros():
    out = drive(ops.smooth(), [sample(10.0), sample(None), sample(20.0)])
    assert [o.smooth.tasks_per_s for o in out] == [10.0, 10.0, 15.0]
    assert out[1].ema.tasks_per_s == 10.0
    assert out[0].smooth.gbps is None


def test_recorded_smooth_values_are_kept():
    s = sample(10.0, smooth=Metrics(msgs_per_s=7.0))
    out = drive(ops.smooth(), [s])
    assert out[0].smooth.msgs_per_s == 7.0


def test_bad_alpha_is_a_usage_error():
    with pytest.raises(UsageError, match="alpha"):
        ops.smooth(alpha=0.0)


def test_summary_peak_avg_ema_skip_nulls():
    xs = [10.0, None, 30.0, 20.0]
    out = drive(ops.summary(alpha=0.5), [sample(x, i * 10) for i, x in enumerate(xs)])
    assert len(out) == 1
    s = out[0]
    assert isinstance(s, Summary)
    assert s.samples == 4
    assert s.peak.tasks_per_s == 30.0
    assert s.avg.tasks_per_s == pytest.approx(20.0)
    assert s.ema.tasks_per_s == pytest.approx(0.5 * 20 + 0.5 * (0.5 * 30 + 0.5 * 10))
    assert s.avg.gbps is None


def test_summary_per_run_and_pool():
    items = [sample(1.0, 1, "a"), sample(2.0, 2, "a", pool="p"), sample(3.0, 3, "b")]
    out = drive(ops.summary(), items)
    assert [(s.run_id, s.pool) for s in out] == [("a", "all"), ("a", "p"), ("b", "all")]


def test_recorded_summary_closes_the_run():
    rec = Summary(
        ts=0.0, ts_ns=0, mode="tasks", samples=0, duration_s=0.0, peak=Metrics(), avg=Metrics(), ema=Metrics()
    )
    assert drive(ops.summary(), [sample(1.0), rec]) == []


def test_summary_totals_and_losses_from_a_run():
    r = Run()
    batches = [[r.start]]
    for i in range(50):
        r.steady()
        f = r.frame()
        if i == 20:
            batches.append(r.loss(1))
            continue
        batches.append(f)
    out = drive(ops.compose(ops.rates(), ops.summary()), batches)
    (s,) = of_type(out, Summary)
    assert s.worker_totals is not None and s.worker_totals.tasks_completed == 100_000
    assert s.channel_totals is not None and s.channel_totals.sends == s.channel_totals.recvs > 0
    assert s.mismatch_msgs == 0
    assert s.losses == 1
    assert s.duration_s == pytest.approx(0.5)
    assert s.samples == 3


def test_partial_windows_stay_out_of_smoothing_and_summary_but_not_totals():
    """A partial Sample (ring loss, short closing window) changes no average, EMA or peak."""
    xs = [(10.0, False), (20.0, False), (5000.0, True), (30.0, False), (1.0, True)]
    samples = [sample(x, i * 10, partial=p, lost_frames=3 if p else 0) for i, (x, p) in enumerate(xs)]
    out = drive(ops.smooth(), samples)
    assert [o.smooth.tasks_per_s for o in out] == [10.0, 15.0, 15.0, 20.0, 20.0]
    assert out[2].ema == out[1].ema
    (summ,) = drive(ops.summary(alpha=0.5), samples)
    assert summ.peak.tasks_per_s == 30.0 and summ.avg.tasks_per_s == 20.0
    assert summ.ema.tasks_per_s == 0.5 * 30.0 + 0.5 * (0.5 * 20.0 + 0.5 * 10.0)
    assert summ.samples == 5 and summ.losses == 6


def test_statistics_start_at_the_first_non_idle_window_and_channel_mode_has_no_task_statistics():
    idle = [sample(0.0, i, msgs_per_s=0.0, inject_depth=0.0) for i in range(3)]
    busy = [sample(0.0, 10 + i, msgs_per_s=100.0 * (i + 1), inject_depth=2.0) for i in range(4)]
    (summ,) = drive(ops.summary(), [*idle, *busy])
    assert summ.avg.msgs_per_s == 250.0  # the idle ramp-up is not averaged in
    assert summ.avg.inject_depth == 2.0
    assert summ.peak.tasks_per_s is None and summ.avg.tasks_per_s is None  # never had tasks
    out = drive(ops.smooth(), [*idle, *busy])
    assert out[2].smooth.msgs_per_s is None and out[-1].smooth.tasks_per_s is None


def test_a_real_channel_run_summary_has_channel_statistics_only():
    """Coroutines finishing at the end of a channel run complete a few 'tasks': no task statistics from that."""
    r = Run(mode="channel", workers=2)
    batches = [[r.start]]
    for i in range(60):
        r.add_channel(0, sends=500, recvs=500, bytes_sent=32000, bytes_recv=32000)
        r.add_worker(0, busy_ns=5 * MS, idle_ns=5 * MS, tasks_completed=3 if i > 30 else 0)
        batches.append(r.frame())
    samples = of_type(drive(ops.compose(ops.rates(), ops.smooth()), batches), Sample)
    (summ,) = of_type(drive(ops.compose(ops.rates(), ops.summary()), batches), Summary)
    assert samples[1].tasks_per_s > 0 and not samples[1].partial  # the rate is reported ...
    assert summ.peak.tasks_per_s is None and summ.peak.msgs_per_s == pytest.approx(
        50_000.0
    )  # ... not summarised
    assert all(s.ema.tasks_per_s is None for s in samples)
