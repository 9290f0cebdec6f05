"""Exact two-sided tests for repeats: what p a verdict rests on, never below what the data can give.

::

    pairs (log new/base per repeat) ──sign_flip──► p  (exact: all 2^n sign patterns up to n = 20;
                                                       above, up to 200 000 random patterns: Besag–Clifford)
    base [x..], new [y..]           ──mann_whitney──► p  (exact U without ties; a permutation test of U
                                                       with ties; never below 2 / C(n+m, n))

``min_p_paired(n)`` = 2 / 2^n and ``min_p_unpaired(n, m)`` = 2 / C(n+m, n) are the
smallest two-sided p each test can reach: 5 pairs can never give less than
0.0625, 5 against 5 never less than 0.0079.
"""

from __future__ import annotations

import math

from .._extras import needs

__all__ = ["mann_whitney", "min_p_paired", "min_p_unpaired", "sign_flip"]

EXACT_PAIRS = 20  # 2^20 sums (8 MB): enumerated; above, sampled
SAMPLED_FLIPS = 200_000
BATCH = 10_000
STOP_AFTER = 50  # sequential Monte Carlo (Besag & Clifford 1991): stop at the 50th exceedance
PERMUTATIONS = 100_000  # Mann–Whitney with ties: exact when C(n+m, n) is at most this


def min_p_paired(n: int) -> float:
    """The smallest two-sided p the sign-flip test can give for n pairs."""
    return min(1.0, 2.0 / 2.0**n) if n > 0 else 1.0


def min_p_unpaired(n: int, m: int) -> float:
    """The smallest two-sided p the exact U test can give for sample sizes n and m."""
    return min(1.0, 2.0 / math.comb(n + m, n)) if n and m else 1.0


def _subset_sums(x: list[float]) -> object:
    with needs("verdicts", "compare"):
        import numpy as np

    sums = np.zeros(1)
    for v in x:
        sums = np.concatenate([sums + v, sums - v])
    return sums


def sign_flip(d: list[float]) -> float:
    """Two-sided p of the paired sign-flip (permutation) test of ``sum(d) = 0``.

    Under "no difference" each pair's sign is a coin flip; p is the share of the
    2^n sign patterns whose |sum| reaches the observed |sum| (the observed pattern
    included). Exact up to ``EXACT_PAIRS`` pairs (meet in the middle: 2 × 2^(n/2)
    half sums, added in one outer sum); above, random patterns by Besag and
    Clifford's sequential Monte Carlo test: drawing stops at the ``STOP_AFTER``-th
    pattern that reaches the observed sum (p = STOP_AFTER / draws so far: a large p
    is known after a few hundred draws), else after ``SAMPLED_FLIPS`` with the
    (k+1)/(N+1) rule; both keep the test valid (never below 1/(N+1))."""
    with needs("verdicts", "compare"):
        import numpy as np

    n = len(d)
    if n == 0:
        return 1.0
    arr = np.asarray(d, dtype=float)
    obs = abs(float(arr.sum()))
    tol = 1e-9 * max(float(np.abs(arr).sum()), 1e-300)  # sums equal up to rounding count as reached
    if n <= EXACT_PAIRS:
        h = n // 2
        left, right = _subset_sums(list(arr[:h])), _subset_sums(list(arr[h:]))
        total = np.add.outer(left, right)  # type: ignore[call-overload]  # numpy's ufunc stubs
        return float((np.abs(total) >= obs - tol).mean())
    rng = np.random.default_rng(0)
    k = drawn = 0
    while drawn < SAMPLED_FLIPS:
        signs = rng.integers(0, 2, size=(BATCH, n)) * 2.0 - 1.0
        hit = np.abs(signs @ arr) >= obs - tol
        seen = np.cumsum(hit)
        if k + int(seen[-1]) >= STOP_AFTER:  # Besag–Clifford: the STOP_AFTER-th exceedance at draw L
            at = int(np.argmax(seen >= STOP_AFTER - k)) + 1
            return STOP_AFTER / (drawn + at)
        k += int(seen[-1])
        drawn += BATCH
    return (k + 1) / (SAMPLED_FLIPS + 1)


def mann_whitney(base: list[float], new: list[float]) -> float:
    """Two-sided p of the Mann–Whitney U test: exact without ties, a permutation test of U with ties."""
    with needs("verdicts", "compare"):
        from scipy.stats import PermutationMethod, mannwhitneyu

    n, m = len(base), len(new)
    if len(set(base) | set(new)) == n + m:
        p = float(mannwhitneyu(new, base, alternative="two-sided", method="exact").pvalue)
    else:
        perm = PermutationMethod(n_resamples=PERMUTATIONS, rng=0)
        p = float(mannwhitneyu(new, base, alternative="two-sided", method=perm).pvalue)
    return min(1.0, max(p, min_p_unpaired(n, m)))
