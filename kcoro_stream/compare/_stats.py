"""One metric, two sets of repeats: a ratio with a confidence interval and a verdict.

::

    base [x1..xn], new [y1..ym] ──verdict_for──► Verdict(median_base, median_new, ratio, ci, p, method, verdict)

* ratio = median(new) / median(base); its 95 % interval is a percentile
  bootstrap (2000 resamples of each side, seeded: the same inputs give the
  same interval).
* The test is the exact two-sided Mann–Whitney U (scipy; the normal
  approximation when there are ties or more than 8 repeats a side).
* False alarms across many metrics × steps are held down by a **minimum
  effect size** and a strict per-metric level, not by Holm: a verdict other
  than ``unchanged`` needs both p < 0.01 *and* a median change beyond the
  threshold (5 % by default). With 5 repeats a side only complete separation
  (p = 2/252 = 0.008) passes, which equal builds show for 0.8 % of metrics,
  so 8 gated metrics give at most ~6 % false alarms per comparison (fewer,
  since the change must also pass the threshold). Holm is not used because
  over eight metrics it asks for p < 0.05/8 = 0.006, which 5 repeats can
  never give: a one-third drop would go unseen.
* **Paired** (an A/B results directory, whose variants' repeats interleave:
  repeat i of A and of B ran side by side, under the same load of the
  moment): the ratio is the geometric mean of the per-repeat ratios, its
  interval and a two-sided p come from bootstrapping those log-ratios (5
  pairs at least). On a shared machine this removes most of the load swings
  that an unpaired comparison has to call noise.
* ``inconclusive``: too few repeats for the test to ever reach p < 0.01
  (under 5 a side), or a median change beyond the threshold that the test
  cannot confirm, or an interval so wide (beyond 4× the threshold on the bad
  side) that a large regression cannot be ruled out: too noisy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import median
from typing import Any, Literal

from .._extras import needs

__all__ = ["ALPHA", "Verdict", "verdict_for"]

ALPHA = 0.01
RESAMPLES = 2000
NOISE_FACTOR = 4.0
MIN_PAIRS = 5

VerdictName = Literal["improved", "unchanged", "regressed", "inconclusive"]


@dataclass(frozen=True)
class Verdict:
    metric: str
    higher_is_better: bool
    gated: bool
    n_base: int
    n_new: int
    median_base: float | None
    median_new: float | None
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    method: str
    threshold: float
    verdict: VerdictName
    reason: str

    def to_builtins(self) -> dict[str, Any]:
        return asdict(self)


def _min_exact_p(n: int, m: int) -> float:
    """The smallest two-sided p the exact U test can give for sample sizes n and m."""
    return min(1.0, 2.0 / math.comb(n + m, n))


def _bootstrap_ci(base: list[float], new: list[float]) -> tuple[float, float]:
    with needs("verdicts", "compare"):
        import numpy as np

    rng = np.random.default_rng(0)
    a = np.asarray(base)
    b = np.asarray(new)
    ma = np.median(rng.choice(a, size=(RESAMPLES, a.size), replace=True), axis=1)
    mb = np.median(rng.choice(b, size=(RESAMPLES, b.size), replace=True), axis=1)
    ratios = mb / ma
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return float(lo), float(hi)


def verdict_for(
    metric: str,
    base: list[float],
    new: list[float],
    *,
    threshold: float,
    higher_is_better: bool = True,
    gated: bool = True,
    paired: bool = False,
) -> Verdict:
    """The verdict on ``metric`` for repeats ``new`` against ``base`` (see the module docstring)."""
    n, m = len(base), len(new)
    common: dict[str, Any] = {
        "metric": metric,
        "higher_is_better": higher_is_better,
        "gated": gated,
        "threshold": threshold,
    }
    if n == 0 or m == 0:
        return Verdict(
            **common, n_base=n, n_new=m, median_base=median(base) if base else None,
            median_new=median(new) if new else None, ratio=None, ci_low=None, ci_high=None,
            p_value=None, method="none", verdict="inconclusive",
            reason="missing on one side",
        )  # fmt: skip
    mb, mn = median(base), median(new)
    if paired and n == m and n >= MIN_PAIRS and min(base) > 0 and min(new) > 0:
        ratio, lo, hi, p = _paired(base, new)
        method = "paired bootstrap (interleaved repeats)"
        return _decide(common, n, m, mb, mn, ratio, lo, hi, p, method)
    ratio = mn / mb if mb else math.inf
    lo, hi = _bootstrap_ci(base, new) if mb and n > 1 and m > 1 else (ratio, ratio)
    if _min_exact_p(n, m) >= ALPHA:
        return Verdict(
            **common, n_base=n, n_new=m, median_base=mb, median_new=mn, ratio=ratio, ci_low=lo,
            ci_high=hi, p_value=None, method="none", verdict="inconclusive",
            reason=f"too few repeats ({n} vs {m}; at least 5 a side)",
        )  # fmt: skip
    with needs("verdicts", "compare"):
        from scipy.stats import mannwhitneyu

    p = float(mannwhitneyu(new, base, alternative="two-sided", method="auto").pvalue)
    return _decide(common, n, m, mb, mn, ratio, lo, hi, p, "mann-whitney-u, bootstrap ci")


def _paired(base: list[float], new: list[float]) -> tuple[float, float, float, float]:
    """Geometric-mean ratio of the pairs, its 95 % bootstrap interval, and a two-sided bootstrap p."""
    with needs("verdicts", "compare"):
        import numpy as np

    logs = np.log(np.asarray(new) / np.asarray(base))
    rng = np.random.default_rng(0)
    means = rng.choice(logs, size=(RESAMPLES, logs.size), replace=True).mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    p = 2 * min(float((means <= 0).mean()), float((means >= 0).mean()))
    return float(np.exp(logs.mean())), float(np.exp(lo)), float(np.exp(hi)), min(1.0, p)


def _decide(
    common: dict[str, Any], n: int, m: int, mb: float, mn: float, ratio: float, lo: float, hi: float,
    p: float, method: str,
) -> Verdict:  # fmt: skip
    # "worse" > 0 means a change in the bad direction, as a fraction of the base
    worse = (1 - ratio) if common["higher_is_better"] else (ratio - 1)
    higher_is_better = common["higher_is_better"]
    threshold = common["threshold"]
    bad_end = (1 - lo) if higher_is_better else (hi - 1)
    verdict: VerdictName
    if p < ALPHA and worse > threshold:
        verdict, reason = "regressed", f"{worse:.1%} worse, p={p:.3f}"
    elif p < ALPHA and -worse > threshold:
        verdict, reason = "improved", f"{-worse:.1%} better, p={p:.3f}"
    elif abs(worse) > threshold:
        verdict, reason = (
            "inconclusive",
            f"a {abs(worse):.1%} change the test cannot confirm (p={p:.3f}): too noisy",
        )
    elif bad_end > NOISE_FACTOR * threshold:
        verdict, reason = "inconclusive", f"the interval reaches {bad_end:.1%} worse: too noisy"
    else:
        verdict, reason = "unchanged", f"within ±{threshold:.0%} (p={p:.3f})"
    return Verdict(
        **common, n_base=n, n_new=m, median_base=mb, median_new=mn, ratio=ratio, ci_low=lo,
        ci_high=hi, p_value=p, method=method, verdict=verdict, reason=reason,
    )  # fmt: skip
