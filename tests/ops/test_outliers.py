"""outliers: sliding z-score and median/MAD flag spikes, not steady noise."""

from __future__ import annotations

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
        ops.outliers(["tasks_per_s"], window=20, methods=[method]), [s(v, i) for i, v in enumerate(values)]
    )
    flagged = {int(a.ts_ns // (250 * MS)) for a in out}
    assert flagged == set(spikes)
    for a in out:
        assert isinstance(a, Anomaly) and a.method == method and a.metric == "tasks_per_s" and a.window == 20


def test_nothing_before_min_samples():
    vals = [1.0] * 5 + [100.0]
    assert drive(ops.outliers(min_samples=10), [s(v, i) for i, v in enumerate(vals)]) == []


def test_score_sign_and_threshold_are_reported():
    vals = [100.0 + (i % 3) for i in range(30)] + [0.0]
    out = drive(ops.outliers(["tasks_per_s"], methods=["zscore"]), [s(v, i) for i, v in enumerate(vals)])
    (a,) = out
    assert a.score < -4 and a.threshold == 4.0 and a.value == 0.0


def test_bad_configuration():
    with pytest.raises(UsageError, match="unknown metric 'speed'"):
        ops.outliers(["speed"])
    with pytest.raises(UsageError, match="unknown method"):
        ops.outliers(methods=["iqr"])
    with pytest.raises(UsageError, match="min_samples"):
        ops.outliers(window=5, min_samples=10)
