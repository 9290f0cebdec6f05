"""windows: the event-time pass every analysis shares."""

from __future__ import annotations

import pytest
from factory import MS, T0, Run, drive

from kcoro_stream import ops
from kcoro_stream.errors import UsageError
from kcoro_stream.events import Sample


def test_run_ended_flushes_the_window_as_final():
    r = Run()
    batches = [[r.start], r.frame(), r.frame(), r.ended()]
    (win,) = drive(ops.windows(250), batches)
    assert isinstance(win, ops.Window) and win.final and win.frames == 2
    assert (win.start_ns, win.end_ns) == (T0, T0 + 250 * MS)


def test_a_frame_stamped_before_the_open_window_counts_in_it():
    r = Run()
    batches = [[r.start]]
    for _ in range(30):
        batches.append(r.frame())
    r.t -= 100 * MS  # clock steps back
    batches.append(r.frame())
    wins = drive(ops.windows(250), batches)
    assert [w.frames for w in wins] == [24, 7]


def test_loss_at_the_very_end_marks_the_last_window():
    r = Run()
    batches = [[r.start], r.frame(), r.loss(4)]
    (win,) = drive(ops.windows(250), batches)
    assert win.partial and win.lost_frames == 4


def test_empty_windows_are_skipped_and_the_next_span_is_longer():
    r = Run()
    batches = [[r.start], r.frame()]
    r.t += 1000 * MS  # the producer paused for a second
    batches.append(r.frame())
    wins = drive(ops.windows(250), batches)
    assert [w.index for w in wins] == [0, 4]
    assert wins[1].span_ns == 1010 * MS


def test_bad_window_width():
    with pytest.raises(UsageError, match="window_ms must be > 0"):
        ops.rates(window_ms=0)
    with pytest.raises(UsageError, match="check_monotonic"):
        ops.windows(250, check_monotonic="sometimes")


def test_default_analyses_passes_old_samples_straight_through():
    s = Sample(ts=1.0, ts_ns=1, mode="tasks", window_ns=250 * MS, tasks_per_s=3.0)
    out = drive(ops.default_analyses(), [[s]])
    samples = [e for e in out if type(e) is Sample]
    assert len(samples) == 1 and samples[0].tasks_per_s == 3.0 and samples[0].ema.tasks_per_s == 3.0
