"""The verdict on one metric: exact tests (cross-checked against scipy), one budget per run, mde, trouble."""

from __future__ import annotations

import math
import random

import pytest

from kcoro_stream.compare import (
    Baseline,
    Comparison,
    compare,
    gated_metric,
    holm,
    mann_whitney,
    min_p_paired,
    min_p_unpaired,
    parse_threshold,
    sign_flip,
    spend_budget,
    verdict_for,
)
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
    """Interleaved A/B: each pair shares the load of its moment, so a 2x swing is no noise
    (10 pairs: 5 can never reach p < 0.01 with an exact paired test)."""
    load = [1.0, 2.0, 1.5, 1.0, 2.0] * 2
    base = [10 * x for x in load]
    same = [10 * x * f for x, f in zip(load, (1.02, 0.98, 1.01, 0.99, 1.0) * 2, strict=True)]
    slow = [10 * x * 0.67 for x in load]
    assert verdict_for("t", base, same, threshold=0.05).verdict == "inconclusive"  # unpaired: noise
    assert verdict_for("t", base, same, threshold=0.05, paired=True).verdict == "unchanged"
    v = verdict_for("t", base, slow, threshold=0.05, paired=True)
    assert v.verdict == "regressed" and v.ratio == pytest.approx(0.67)


# ---------------------------------------------------------------- exact tests, one budget per run


def test_five_same_sign_pairs_give_p_0_0625_never_less() -> None:
    """The bootstrap p this replaced said p=0.000 here; 5 pairs can never give less than 2/32."""
    base = [100.0, 101.0, 99.0, 100.0, 102.0]
    new = [x * f for x, f in zip(base, (0.90, 0.95, 0.80, 0.97, 0.85), strict=True)]
    v = verdict_for("t", base, new, threshold=0.05, paired=True)
    assert v.p_value == pytest.approx(0.0625) and v.min_p == pytest.approx(0.0625)
    assert v.verdict == "inconclusive" and "too few pairs" in v.reason
    assert v.p_value >= min_p_paired(5)


def test_the_sign_flip_test_agrees_with_scipy() -> None:
    """Exact enumeration against scipy's permutation_test (all 2^n sign patterns) and, without
    ties in |d|, the same order of magnitude as scipy's exact Wilcoxon (a rank version)."""
    import numpy as np
    from scipy.stats import permutation_test, wilcoxon

    rng = np.random.default_rng(7)
    for n in (3, 5, 8, 12):
        for shift in (0.0, 0.3, 1.0):
            d = list(rng.normal(shift, 1.0, n))
            ref = permutation_test(
                (np.asarray(d),), np.sum, permutation_type="samples", n_resamples=np.inf
            ).pvalue
            assert sign_flip(d) == pytest.approx(ref, rel=1e-9), (n, shift)
            assert sign_flip(d) >= min_p_paired(n)
    same_sign = [0.1, 0.2, 0.05, 0.3, 0.15]
    assert sign_flip(same_sign) == pytest.approx(wilcoxon(same_sign, method="exact").pvalue)


def test_mann_whitney_is_scipys_exact_test_and_never_below_its_floor() -> None:
    from scipy.stats import mannwhitneyu

    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]
    assert mann_whitney(a, b) == pytest.approx(mannwhitneyu(b, a, method="exact").pvalue)
    assert mann_whitney(a, b) == pytest.approx(2 / 252) == pytest.approx(min_p_unpaired(5, 5))
    tied = mann_whitney([1.0, 1.0, 2.0, 3.0, 3.0], [3.0, 4.0, 4.0, 5.0, 6.0])
    assert min_p_unpaired(5, 5) <= tied <= 1


def test_holm_adjusts_in_the_order_given() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def _cmp(values: dict[str, tuple[list[float], list[float]]], *, paired: bool = False) -> Comparison:
    gated = {m for m in values if not m.startswith("x")}
    b = Baseline("b", None, steps={"s": {m: v[0] for m, v in values.items()}}, gated={"s": gated})
    n = Baseline("n", None, steps={"s": {m: v[1] for m, v in values.items()}}, gated={"s": gated})
    if paired:
        b.repeats = n.repeats = {"s": list(range(len(next(iter(values.values()))[0])))}
    return compare(b, n, threshold=0.05, base_label="b", new_label="n", paired=paired)


def test_the_false_alarm_budget_is_spent_across_every_gated_metric_of_the_run() -> None:
    """One metric at p = 0.008 regresses alone; two such metrics in one run share alpha = 0.01 (Holm):
    neither passes, so a run with more gated metrics cannot raise more false alarms."""
    base, slow = [100.0, 101, 99, 100, 102], [90.0, 91, 89, 90, 92]
    one = spend_budget([_cmp({"a:tasks_per_s": (base, slow)})])
    assert one[0].regressed and one[0].steps[0].verdicts[0].p_adjusted == pytest.approx(2 / 252)
    two = spend_budget([_cmp({"a:tasks_per_s": (base, slow)}), _cmp({"a:tasks_per_s": (base, slow)})])
    vs = [v for c in two for v in c.steps[0].verdicts]
    assert [v.p_adjusted for v in vs] == pytest.approx([4 / 252, 4 / 252])
    assert not any(c.regressed for c in two) and all(c.inconclusive for c in two)
    assert "Holm from 0.008" in vs[0].reason


def test_equal_builds_raise_at_most_one_percent_false_alarms_per_run() -> None:
    """400 simulated CI runs of equal builds, 4 gated metrics each (12 interleaved pairs, ±10 % noise):
    false regressed/improved in at most 1 % of runs (binomial: 4 or fewer of 400 at the 1 % level)."""
    rng = random.Random(3)
    alarms = 0
    for _ in range(400):
        cs = [
            _cmp({f"m{k}:tasks_per_s": (noisy(100, 12, rng.randrange(10**9), 0.1), noisy(100, 12, rng.randrange(10**9), 0.1))
                  for k in range(4)}, paired=True)
        ]  # fmt: skip
        spend_budget(cs)
        alarms += any(v.verdict in ("regressed", "improved") for c in cs for s in c.steps for v in s.verdicts)
    assert alarms <= 8


def test_a_zero_nan_or_missing_gated_metric_is_trouble_and_an_ungated_one_not_enough_data() -> None:
    good = [100.0, 101, 99, 100, 102]
    for bad in ([100.0, 0.0, 99, 100, 102], [100.0, math.nan, 99, 100, 102], []):
        c = spend_budget([_cmp({"a:msgs_per_s": (good, bad), "xa:tasks_per_s": (good, good)})])[0]
        assert c.trouble and c.steps[0].verdicts[0].verdict == "trouble", bad
    c = spend_budget([_cmp({"a:msgs_per_s": (good, good), "xa:tasks_per_s": ([2.0, 0.0], [1.0, 0.0])})])[0]
    ungated = c.steps[0].verdicts[1]
    assert not c.trouble and ungated.verdict == "not enough data" and not ungated.gated


def test_the_ratio_agrees_with_the_centers_shown() -> None:
    base, new = [10.0, 20.0, 15.0, 10.0, 20.0], [9.0, 19.0, 14.0, 9.5, 18.0]
    for paired in (False, True):
        v = verdict_for("t", base, new, threshold=0.05, paired=paired)
        assert v.ratio == pytest.approx(v.median_new / v.median_base)
        assert v.center == ("geomean" if paired else "median")


def test_the_minimum_detectable_effect_shrinks_with_repeats_and_grows_with_noise() -> None:
    def mde(n: int, spread: float) -> float:
        v = verdict_for("t", noisy(100, n, 1, spread), noisy(100, n, 2, spread), threshold=0.05, paired=True)
        assert v.mde is not None
        return v.mde

    assert mde(16, 0.02) < mde(8, 0.02) < mde(8, 0.2)
    assert verdict_for("t", noisy(100, 5, 1), noisy(100, 5, 2), threshold=0.05, paired=True).mde is None


@pytest.mark.parametrize(
    ("mode", "pool", "gated"),
    [
        ("channel", "all", "all:msgs_per_s"),
        ("tasks", "all", "all:tasks_per_s"),
        ("mixed", "all", "all:tasks_per_s"),
        ("dual", "tasks", "tasks:tasks_per_s"),
        ("dual", "channel", "channel:msgs_per_s"),
    ],
)
def test_one_gated_metric_per_pool_by_mode(mode: str, pool: str, gated: str) -> None:
    assert gated_metric(mode, pool) == gated


def test_a_side_with_twice_the_noise_is_named_a_different_runner() -> None:
    """The baseline keeps each gated metric's run-to-run CoV; compare warns when the other side's differs
    twofold (a baseline from a quiet machine compared on a busy shared runner)."""
    quiet = noisy(100, 9, 1, 0.01)
    busy = noisy(100, 9, 2, 0.1)
    c = _cmp({"a:tasks_per_s": (quiet, busy)})
    assert any("run-to-run noise differs" in w and "a:tasks_per_s" in w for w in c.warnings), c.warnings
    assert not _cmp({"a:tasks_per_s": (quiet, noisy(100, 9, 3, 0.01))}).warnings


def test_the_sampled_sign_flip_test_above_20_pairs_is_valid_and_agrees_with_scipy() -> None:
    """Above 20 pairs the sign patterns are sampled (Besag–Clifford sequential Monte Carlo): under no
    difference p < 0.05 in at most 5 % of 400 cases (plus three binomial SDs); a clear shift still
    reaches p far below 0.01; near scipy's permutation_test where both are precise."""
    import numpy as np
    from scipy.stats import permutation_test

    rng = np.random.default_rng(5)
    low = sum(sign_flip(list(rng.normal(0.0, 1.0, 25))) < 0.05 for _ in range(400))
    assert low <= 400 * 0.05 + 3 * (400 * 0.05 * 0.95) ** 0.5
    assert sign_flip(list(rng.normal(1.0, 1.0, 25))) < 0.001
    d = np.asarray(rng.normal(0.5, 1.0, 25))
    ref = permutation_test((d,), np.sum, permutation_type="samples", n_resamples=200_000).pvalue
    p = sign_flip(list(d))
    assert abs(p - ref) <= max(0.5 * ref, 2e-4), (p, ref)
