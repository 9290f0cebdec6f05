"""The verdict on one metric: Mann–Whitney U, bootstrap interval, minimum effect size."""

from __future__ import annotations

import random

import pytest

from kcoro_stream.compare import parse_threshold, verdict_for
from kcoro_stream.errors import UsageError


def noisy(center: float, n: int, seed: int, spread: float = 0.03) -> list[float]:
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def test_a_one_third_drop_over_five_repeats_is_regressed() -> None:
    v = verdict_for("t", noisy(100, 5, 1), noisy(66.7, 5, 2), threshold=0.05)
    assert v.verdict == "regressed" and v.p_value is not None and v.p_value < 0.01
    assert v.ci_low is not None and v.ci_high is not None and v.ci_low <= v.ratio <= v.ci_high < 0.8


def test_a_rise_is_improved_and_lower_is_better_flips_it() -> None:
    assert verdict_for("t", noisy(100, 5, 1), noisy(150, 5, 2), threshold=0.05).verdict == "improved"
    lat = verdict_for("p99", noisy(100, 5, 1), noisy(150, 5, 2), threshold=0.25, higher_is_better=False)
    assert lat.verdict == "regressed"


def test_same_distribution_is_unchanged() -> None:
    v = verdict_for("t", noisy(100, 5, 1), noisy(100, 5, 2), threshold=0.05)
    assert v.verdict == "unchanged" and v.method.startswith("mann-whitney-u")


def test_a_small_significant_change_under_the_threshold_is_no_alarm() -> None:
    v = verdict_for("t", noisy(100, 5, 1, 0.005), noisy(97, 5, 2, 0.005), threshold=0.05)
    assert v.p_value is not None and v.p_value < 0.01 and v.verdict == "unchanged"


@pytest.mark.parametrize("n", [1, 2, 4])
def test_too_few_repeats_are_inconclusive(n: int) -> None:
    v = verdict_for("t", noisy(100, n, 1), noisy(50, n, 2), threshold=0.05)
    assert v.verdict == "inconclusive" and "too few repeats" in v.reason


def test_a_large_change_that_noise_hides_is_inconclusive() -> None:
    v = verdict_for("t", [100, 40, 160, 100, 60], [70, 150, 30, 75, 65], threshold=0.05)
    assert v.verdict == "inconclusive" and "noisy" in v.reason


def test_false_alarm_rate_on_equal_samples_is_low() -> None:
    """1000 comparisons of equal distributions (5 vs 5, ±10 % noise): few verdicts other than unchanged/inconclusive."""
    alarms = sum(
        verdict_for("t", noisy(100, 5, 2 * i, 0.1), noisy(100, 5, 2 * i + 1, 0.1), threshold=0.05).verdict
        in ("regressed", "improved")
        for i in range(1000)
    )
    assert alarms < 10  # measured 0.x %: see docs/verdicts.md


@pytest.mark.parametrize(("text", "value"), [("5%", 0.05), ("0.1", 0.1), ("12.5 %", 0.125)])
def test_thresholds(text: str, value: float) -> None:
    assert parse_threshold(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "five", "0%", "150%", "-3%"])
def test_bad_thresholds_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_threshold(text)


def test_paired_repeats_see_through_load_that_moves_both_sides() -> None:
    """Interleaved A/B: each pair shares the load of its moment, so a 2x swing is no noise."""
    load = [1.0, 2.0, 1.5, 1.0, 2.0]
    base = [10 * x for x in load]
    same = [10 * x * f for x, f in zip(load, (1.02, 0.98, 1.01, 0.99, 1.0), strict=True)]
    slow = [10 * x * 0.67 for x in load]
    assert verdict_for("t", base, same, threshold=0.05).verdict == "inconclusive"  # unpaired: noise
    assert verdict_for("t", base, same, threshold=0.05, paired=True).verdict == "unchanged"
    v = verdict_for("t", base, slow, threshold=0.05, paired=True)
    assert v.verdict == "regressed" and v.ratio == pytest.approx(0.67)
