"""Level-shift detection on series of numbers (no files): where, how big, and not in noise."""

from __future__ import annotations

import numpy as np
import pytest

from kcoro_stream.history._changes import MIN_SIZE, level_shifts


def test_two_planted_shifts_are_found_at_their_runs_with_their_means() -> None:
    rng = np.random.default_rng(1)
    levels = [100.0] * 15 + [80.0] * 12 + [95.0] * 15
    found = level_shifts([v * (1 + 0.02 * rng.normal()) for v in levels])
    assert [s.index for s in found] == [15, 27]
    assert found[0].before == pytest.approx(100, rel=0.02) and found[0].after == pytest.approx(80, rel=0.02)
    assert found[1].change == pytest.approx(95 / 80 - 1, abs=0.03)


def test_flat_noise_with_an_outlier_is_not_a_shift() -> None:
    rng = np.random.default_rng(2)
    x = list(100 + 3 * rng.normal(size=30))
    x[17] = 60.0  # one slow run: an outlier, not a new level
    assert level_shifts(x) == []


def test_too_short_a_series_or_a_constant_one_has_no_shift() -> None:
    assert level_shifts([1.0] * (2 * MIN_SIZE - 1) + [2.0]) == []
    assert level_shifts([5.0] * 20) == []


def test_the_same_series_gives_the_same_answer() -> None:
    rng = np.random.default_rng(3)
    x = [100 * (1 + 0.03 * rng.normal()) * (0.9 if i >= 10 else 1) for i in range(20)]
    assert level_shifts(x) == level_shifts(x) and level_shifts(x)
