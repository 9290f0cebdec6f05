"""histograms and jitter: log2x4 buckets, window/cumulative counts, quantiles."""

from __future__ import annotations

import math

import pytest
from factory import Run, drive, of_type
from hypothesis import given, settings
from hypothesis import strategies as st

from kcoro_stream import ops
from kcoro_stream.events import HistogramSummary


def test_bucket_scheme_matches_the_header():
    """Buckets 0..3 are exact values; then 4 sub-buckets per power of two."""
    assert [ops.bucket_of(v) for v in range(9)] == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert ops.bucket_of(9) == 8 and ops.bucket_of(10) == 9 and ops.bucket_of(16) == 12
    assert [ops.bucket_lower(b) for b in (4, 8, 9, 12, 13)] == [4, 8, 10, 16, 20]
    assert [ops.bucket_width(b) for b in (3, 4, 8, 12)] == [1, 1, 2, 4]


@given(st.integers(min_value=0, max_value=2**62))
def test_every_value_lies_in_its_bucket(v):
    b = ops.bucket_of(v)
    assert ops.bucket_lower(b) <= v < ops.bucket_lower(b) + ops.bucket_width(b)
    if b >= 4:
        assert ops.bucket_width(b) / ops.bucket_lower(b) <= ops.ERROR_BOUND


@settings(max_examples=300)
@given(
    values=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=300),
    q=st.sampled_from([0.5, 0.9, 0.99, 0.999]),
)
def test_quantile_falls_in_the_bucket_of_the_true_quantile(values, q):
    """The reported quantile is in the bucket holding the nearest-rank sample quantile."""
    counts: list[int] = []
    for v in values:
        b = ops.bucket_of(v)
        counts.extend([0] * (b + 1 - len(counts)))
        counts[b] += 1
    true = sorted(values)[max(1, math.ceil(q * len(values))) - 1]
    got = ops.quantile(counts, q)
    b = ops.bucket_of(true)
    assert ops.bucket_lower(b) <= got < ops.bucket_lower(b) + ops.bucket_width(b)
    assert abs(got - true) <= ops.ERROR_BOUND * max(true, 1)


def test_empty_histogram_has_no_quantile():
    assert ops.quantile([0, 0], 0.5) is None


def test_window_counts_are_differences_and_cumulative_is_last():
    r = Run()
    batches = [[r.start]]
    for i in range(50):
        r.observe(1000 if i < 24 else 100_000, 2)
        batches.append(r.frame())
    out = of_type(drive(ops.histograms(250), batches), HistogramSummary)
    win = [h for h in out if h.scope == "window"]
    cum = [h for h in out if h.scope == "cumulative"]
    assert [h.count for h in win] == [48, 50, 2]
    assert [h.count for h in cum] == [48, 98, 100]
    assert 1000 * 0.75 <= win[0].p50 <= 1000 * 1.25
    assert 100_000 * 0.75 <= win[1].p99 <= 100_000 * 1.25
    assert win[0].bounds == [ops.bucket_lower(b) for b in range(len(win[0].counts))]
    assert win[0].error_bound == 0.25 and win[0].metric == "task_start_latency_ns"


def test_histogram_window_counts_survive_dropped_frames():
    r = Run()
    batches = [[r.start]]
    for i in range(50):
        r.observe(500, 1)
        f = r.frame()
        if 20 <= i < 30:
            continue
        batches.append(f)
    win = [h for h in of_type(drive(ops.histograms(250), batches), HistogramSummary) if h.scope == "window"]
    assert sum(h.count for h in win) == 50


def test_metric_filter():
    r = Run()
    r.observe(5)
    batches = [[r.start], r.frame()]
    assert drive(ops.histograms(250, metrics=["chan_latency_ns"]), batches) == []


def test_tick_jitter_distribution():
    r = Run()
    batches = [[r.start]]
    for i in range(24):
        batches.append(r.frame(jitter_ns=(-1) ** i * 50_000))
    out = of_type(drive(ops.jitter(250), batches), HistogramSummary)
    win = next(h for h in out if h.scope == "window")
    assert win.metric == "tick_jitter_ns"
    assert win.count == 23  # the first tick has no previous interval
    assert win.p50 == pytest.approx(50_000, rel=0.25)


def test_ops_bucket_scheme_is_the_one_in_histo():
    """ops re-exports kcoro_stream.histo; no second copy of the scheme."""
    from kcoro_stream import histo

    assert ops.bucket_of is histo.bucket_of and ops.bucket_lower is histo.bucket_lower
    assert ops.bucket_width is histo.bucket_width and ops.ERROR_BOUND == histo.ERROR_BOUND


def test_histogram_sum_is_exact_per_window_and_cumulative():
    """sum = Δ of the producer's Histogram.total per window; the cumulative one is the total."""
    r = Run(channels=0)
    batches = [[r.start]]
    for i in range(60):
        r.observe(1000 + 37 * i, n=3)
        r.steady()
        batches.append(r.frame())
    hs = of_type(drive(ops.histograms(250), batches), HistogramSummary)
    windows = [h for h in hs if h.scope == "window"]
    cumulative = [h for h in hs if h.scope == "cumulative"]
    assert sum(h.sum for h in windows) == r.hist_total == cumulative[-1].sum
    assert windows[0].sum == sum(3 * (1000 + 37 * i) for i in range(24))


def test_jitter_sum_is_the_sum_of_the_tick_deviations():
    r = Run(channels=0)
    batches = [[r.start]]
    for i in range(30):
        r.steady()
        batches.append(r.frame(jitter_ns=100 + i, histogram=False))
    hs = of_type(drive(ops.jitter(250), batches), HistogramSummary)
    last_cum = [h for h in hs if h.scope == "cumulative"][-1]
    assert last_cum.sum == sum(100 + i for i in range(1, 30))  # the first tick has no jitter
