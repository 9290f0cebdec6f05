"""outliers: sliding z-score and median/MAD flag changes that stay, not steady noise or one-off swings.

Most tests here pin the scoring with ``persist=1`` (every flagged value is an episode); the default,
``persist=2``, is pinned by the tests at the end.
"""

from __future__ import annotations

import msgspec
import pytest
from factory import MS, drive
from hypothesis import given, settings
from hypothesis import strategies as st

from kcoro_stream import ops
from kcoro_stream.errors import UsageError
from kcoro_stream.events import Anomaly, Sample


def s(v: float, i: int, pool: str = "all") -> Sample:
    return Sample(
        ts=i / 4, ts_ns=i * 250 * MS, run_id="r", mode="tasks", pool=pool, window_ns=250 * MS, tasks_per_s=v
    )


@settings(max_examples=150, deadline=None)
@given(
    base=st.floats(min_value=10.0, max_value=1e7),
    noise=st.lists(st.floats(min_value=-0.02, max_value=0.02), min_size=80, max_size=80),
    spikes=st.sets(st.sampled_from([30, 51, 72]), max_size=3),  # a window (20) apart
    factor=st.sampled_from([5.0, 10.0, 0.05]),
    method=st.sampled_from(["zscore", "mad"]),
)
def test_flags_injected_spikes_and_not_steady_noise(base, noise, spikes, factor, method):
    values = [base * (1 + e) for e in noise]
    for i in spikes:
        values[i] = base * factor
    out = drive(
        ops.outliers(["tasks_per_s"], window=20, methods=[method], persist=1),
        [s(v, i) for i, v in enumerate(values)],
    )
    flagged = {int(a.ts_ns // (250 * MS)) for a in out}
    assert flagged == set(spikes)
    for a in out:
        assert (
            isinstance(a, Anomaly)
            and a.method == method
            and a.metric == "tasks_per_s"
            and a.labels["history"] == "20"
        )


def test_nothing_before_min_samples():
    vals = [1.0] * 5 + [100.0]
    assert drive(ops.outliers(min_samples=10), [s(v, i) for i, v in enumerate(vals)]) == []


def test_score_sign_and_threshold_are_reported():
    vals = [100.0 + (i % 3) for i in range(30)] + [0.0]
    out = drive(
        ops.outliers(["tasks_per_s"], methods=["zscore"], persist=1), [s(v, i) for i, v in enumerate(vals)]
    )
    (a,) = out
    assert a.score < -4 and a.threshold == 4.0 and a.value == 0.0


def test_bad_configuration():
    with pytest.raises(UsageError, match="unknown metric 'speed'"):
        ops.outliers(["speed"])
    with pytest.raises(UsageError, match="unknown method"):
        ops.outliers(methods=["iqr"])
    with pytest.raises(UsageError, match="min_samples"):
        ops.outliers(window=5, min_samples=10)


def test_channel_mode_zero_task_rate_gives_no_anomaly():
    """A history of zeros (tasks in channel mode) has no spread: no 1e12 scores, no anomaly at all."""
    vals = [0.0] * 40 + [4.0, 0.0, 8.0, 0.0] + [0.0] * 20
    samples = [
        Sample(ts=i / 4, ts_ns=i * 250 * MS, run_id="r", mode="channel", window_ns=250 * MS,
               tasks_per_s=v, msgs_per_s=1e6)
        for i, v in enumerate(vals)
    ]  # fmt: skip
    assert drive(ops.outliers(["tasks_per_s"]), samples) == []


def test_constant_history_is_not_scored_and_the_absolute_floor_bounds_the_score():
    flat = [s(1000.0, i) for i in range(30)] + [s(5000.0, 30)]
    assert drive(ops.outliers(["tasks_per_s"], persist=1), flat) == []  # no spread to measure against
    # a near-flat history (spread 0.1 tasks/s): the 1 task/s floor, not 0.1, sets the scale
    wobble = [s(1000.0 + (0.1 if i % 2 else -0.1), i) for i in range(30)] + [s(1003.0, 30)]
    one = {"min_rel_spread": 0.0, "methods": ["zscore"], "persist": 1, "min_ratio": 1.0}
    assert drive(ops.outliers(["tasks_per_s"], **one), wobble) == []
    (a,) = drive(ops.outliers(["tasks_per_s"], **one), [*wobble[:-1], s(1010.0, 30)])
    assert a.score == pytest.approx(10.0, rel=1e-3)


def test_one_episode_one_anomaly():
    """A level shift lasting several windows is one anomaly (whichever method flags it first), stamped
    at the shift; a spike that stays two windows later is another; a one-window swing is none."""
    calm = [100.0 + (i % 3) for i in range(30)]
    vals = [*calm, *[400.0] * 5, *calm, 900.0, 100.0, *calm, 900.0, 900.0]
    out = drive(ops.outliers(["tasks_per_s"], window=60), [s(v, i) for i, v in enumerate(vals)])
    assert [int(a.ts_ns // (250 * MS)) for a in out] == [30, 97]
    assert [a.value for a in out] == [400.0, 900.0]


def test_warm_up_and_partial_windows_are_left_out():
    """The first values after the pool starts and partial windows are neither scored nor history."""
    ramp = [s(v, i) for i, v in enumerate([10.0, 5000.0, 20.0, 30.0])]  # a wild ramp-up
    steady = [s(1000.0 + (i % 3), i) for i in range(4, 40)]
    short = msgspec.structs.replace(s(50.0, 40), partial=True)  # a short closing window
    assert drive(ops.outliers(["tasks_per_s"], persist=1), [*ramp, *steady, short]) == []
    one = ops.outliers(["tasks_per_s"], methods=["zscore"], persist=1)
    assert len(drive(one, [*ramp, *steady, s(50.0, 40)])) == 1


@settings(max_examples=60, deadline=None)
@given(
    swings=st.lists(st.floats(min_value=0.6, max_value=1.4), min_size=60, max_size=60),
    at=st.integers(20, 55),
)
def test_single_window_swings_are_no_anomaly_but_a_step_that_stays_is_one(swings, at):
    """Two pools on two cores swing ±40 % from one window to the next: no anomaly. Dropping the rate to a
    quarter from window ``at`` on (and staying there) is exactly one, stamped at ``at``."""
    base = [1e7 * (1.0 + 0.4 * ((i % 2) * 2 - 1) * abs(w - 1) / 0.4) for i, w in enumerate(swings)]
    lone = [v if i % 7 else v * 1.39 for i, v in enumerate(base)]  # lone high windows
    assert drive(ops.outliers(["tasks_per_s"]), [s(v, i) for i, v in enumerate(lone)]) == []
    steady = [1e7 * (1 + 0.02 * ((i % 3) - 1)) for i in range(80)]
    step = [v if i < at else v * 0.25 for i, v in enumerate(steady)]
    (a,) = drive(ops.outliers(["tasks_per_s"]), [s(v, i) for i, v in enumerate(step)])
    assert int(a.ts_ns // (250 * MS)) == at


@pytest.mark.parametrize(
    ("factor", "flagged"), [(2.5, False), (0.4, False), (3.2, True), (0.3, True), (0.0, True)]
)
def test_a_throughput_change_under_min_ratio_is_no_anomaly_however_calm_the_history(factor, flagged):
    """A calm history (±1 %) makes a 2.5x step score ~150: the score alone would flag the regime changes a
    steady run has (docs/operators.md, "Outliers"). Only a change of 3x or more (min_ratio) is one."""
    vals = [1e6 * (1 + 0.01 * (i % 3 - 1)) for i in range(30)] + [1e6 * factor] * 4
    out = drive(ops.outliers(["tasks_per_s"]), [s(v, i) for i, v in enumerate(vals)])
    assert len(out) == int(flagged), out
    # min_ratio=1 scores every change: the 2.5x step is an anomaly then
    assert (
        len(drive(ops.outliers(["tasks_per_s"], min_ratio=1.0), [s(v, i) for i, v in enumerate(vals)])) == 1
    )


@pytest.mark.parametrize("bad", [0.5, float("nan"), -2.0])
def test_min_ratio_below_one_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="min_ratio"):
        ops.outliers(min_ratio=bad)
