"""One metric, two sets of repeats: a ratio, an exact p, the smallest detectable change, a verdict.

::

    base [x1..xn], new [y1..ym] ──verdict_for──► Verdict(centers, ratio, ci, p, mde, verdict)
                                  (measure, then decide at a level; _budget decides gated ones
                                   together, Holm over every gated metric of the run)

* **Unpaired** (a baseline, or two results directories): centers are medians,
  ratio = median(new) / median(base) with a 95 % percentile bootstrap interval
  (shown, not decided on); p from the exact two-sided Mann–Whitney U
  (``_exact.mann_whitney``).
* **Paired** (one A/B results directory, repeats interleaved: repeat i of each
  variant ran side by side under the same load): centers are geometric means,
  so ratio = gm(new) / gm(base) = the geometric mean of the per-pair ratios
  (the numbers beside it agree); p from the exact sign-flip test of the
  log-ratios (``_exact.sign_flip``); the interval a bootstrap of their mean.
* **mde**: the smallest change the comparison would find with 80 % power at its
  level, from the spread of the log values (normal approximation:
  (z(1-level/2) + z(0.8)) × standard error); ``None`` when the test cannot reach
  the level at all with this many repeats.
* Verdicts: ``regressed``/``improved`` need p below the level *and* a change
  beyond the threshold; ``unchanged`` needs the change within the threshold
  *and* an mde of at most twice the threshold (else ``inconclusive``: too noisy,
  or too few repeats to ever reach the level). A gated metric with a missing,
  zero, negative or NaN repeat on either side is ``trouble`` (exit 2); an
  ungated one with too few usable repeats is ``not enough data``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from statistics import NormalDist, median
from typing import Any, Literal

from .._extras import needs
from ._exact import mann_whitney, min_p_paired, min_p_unpaired, sign_flip

__all__ = ["ALPHA", "Verdict", "cov", "decide", "measure", "noise_profile", "usable", "verdict_for"]

ALPHA = 0.01  # the false-alarm budget of one comparison run (all gated metrics together: _budget)
RESAMPLES = 2000
MDE_POWER = 0.8
NOISE_FACTOR = 2.0  # "unchanged" needs an mde of at most NOISE_FACTOR × threshold

VerdictName = Literal["improved", "unchanged", "regressed", "inconclusive", "trouble", "not enough data"]


@dataclass(frozen=True)
class Verdict:
    metric: str
    higher_is_better: bool
    gated: bool
    n_base: int
    n_new: int
    center: str  # what median_base/median_new are: "median" (unpaired) or "geomean" (paired)
    median_base: float | None
    median_new: float | None
    ratio: float | None  # median_new / median_base, always
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # the test's own p
    p_adjusted: float | None  # gated: Holm-adjusted over every gated metric of the run; else p_value
    min_p: float | None  # the smallest p this test can give with these repeats
    level: float  # the level the verdict was decided at
    se_log: float | None  # standard error of the log ratio (for mde)
    mde: float | None  # smallest change detectable with 80 % power at ``level`` (a fraction)
    method: str
    threshold: float
    verdict: VerdictName
    reason: str

    def to_builtins(self) -> dict[str, Any]:
        return asdict(self)


def usable(x: float) -> bool:
    """A repeat's value a verdict can rest on: finite and above zero."""
    return math.isfinite(x) and x > 0


def _bootstrap_ci(base: list[float], new: list[float]) -> tuple[float, float]:
    with needs("verdicts", "compare"):
        import numpy as np

    rng = np.random.default_rng(0)
    a, b = np.asarray(base), np.asarray(new)
    ma = np.median(rng.choice(a, size=(RESAMPLES, a.size), replace=True), axis=1)
    mb = np.median(rng.choice(b, size=(RESAMPLES, b.size), replace=True), axis=1)
    lo, hi = np.percentile(mb / ma, [2.5, 97.5])
    return float(lo), float(hi)


def _sd(x: list[float]) -> float:
    if len(x) < 2:
        return math.nan
    mu = sum(x) / len(x)
    return math.sqrt(sum((v - mu) ** 2 for v in x) / (len(x) - 1))


def mde_at(se_log: float | None, min_p: float | None, level: float) -> float | None:
    """The smallest change (a fraction) found with 80 % power at ``level``; None if the level is out of reach."""
    if se_log is None or min_p is None or min_p >= level or not math.isfinite(se_log):
        return None
    z = NormalDist().inv_cdf(1 - level / 2) + NormalDist().inv_cdf(MDE_POWER)
    return math.exp(z * se_log) - 1


def _side_problem(name: str, values: list[float], metric: str) -> str | None:
    bad = [v for v in values if not usable(v)]
    if not values:
        return f"{name}: no ok repeat has {metric}"
    if bad:
        return (
            f"{name}: {len(bad)} of {len(values)} repeats have no usable {metric} "
            f"(e.g. {bad[0]!r}; 0, negative, NaN or missing)"
        )
    return None


def measure(
    metric: str,
    base: list[float],
    new: list[float],
    *,
    threshold: float,
    higher_is_better: bool = True,
    gated: bool = True,
    paired: bool = False,
) -> Verdict:
    """Everything but the verdict (``reason`` says what is wrong when nothing can be tested)."""
    common: dict[str, Any] = {
        "metric": metric, "higher_is_better": higher_is_better, "gated": gated, "threshold": threshold,
        "ci_low": None, "ci_high": None, "p_value": None, "p_adjusted": None, "min_p": None, "level": ALPHA,
        "se_log": None, "mde": None, "verdict": "inconclusive",
    }  # fmt: skip
    problem = _side_problem("base", base, metric) or _side_problem("new", new, metric)
    if problem and gated:
        return Verdict(
            **{**common, "verdict": "trouble"}, n_base=len(base), n_new=len(new), center="median",
            median_base=None, median_new=None, ratio=None, method="none", reason=problem,
        )  # fmt: skip
    if problem:  # reported only: judge what is usable
        base, new = [v for v in base if usable(v)], [v for v in new if usable(v)]
        paired = False
    n, m = len(base), len(new)
    if n == 0 or m == 0:
        return Verdict(
            **common, n_base=n, n_new=m, center="median", median_base=median(base) if base else None,
            median_new=median(new) if new else None, ratio=None, method="none",
            reason=problem or "missing on one side",
        )  # fmt: skip
    if paired and n == m:
        logs = [math.log(b / a) for a, b in zip(base, new, strict=True)]
        gb = math.exp(sum(math.log(a) for a in base) / n)
        gn = math.exp(sum(math.log(b) for b in new) / n)
        lo, hi = _paired_ci(logs)
        sd = _sd(logs)
        return Verdict(
            **{**common, "ci_low": lo, "ci_high": hi, **_p(sign_flip(logs), min_p_paired(n), sd / math.sqrt(n) if n > 1 else None)},
            n_base=n, n_new=m, center="geomean", median_base=gb, median_new=gn, ratio=gn / gb,
            method="sign-flip (paired, exact)", reason="",
        )  # fmt: skip
    mb, mn = median(base), median(new)
    lo, hi = _bootstrap_ci(base, new) if n > 1 and m > 1 else (mn / mb, mn / mb)
    lb, ln = [math.log(v) for v in base], [math.log(v) for v in new]
    se = math.sqrt(_sd(lb) ** 2 / n + _sd(ln) ** 2 / m) if n > 1 and m > 1 else None
    return Verdict(
        **{**common, "ci_low": lo, "ci_high": hi, **_p(mann_whitney(base, new), min_p_unpaired(n, m), se)},
        n_base=n, n_new=m, center="median", median_base=mb, median_new=mn, ratio=mn / mb,
        method="mann-whitney-u (exact)", reason="",
    )  # fmt: skip


def _p(p: float, min_p: float, se: float | None) -> dict[str, Any]:
    return {"p_value": p, "p_adjusted": p, "min_p": min_p, "se_log": se}


def _paired_ci(logs: list[float]) -> tuple[float, float]:
    with needs("verdicts", "compare"):
        import numpy as np

    rng = np.random.default_rng(0)
    arr = np.asarray(logs)
    means = rng.choice(arr, size=(RESAMPLES, arr.size), replace=True).mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(np.exp(lo)), float(np.exp(hi))


def fmt_p(p: float) -> str:
    """A p-value in as many digits as it needs (never 0.000)."""
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def decide(v: Verdict, level: float = ALPHA, *, mde_level: float | None = None) -> Verdict:
    """The verdict on measured ``v``, its p (``p_adjusted``) compared with ``level``; the minimum
    detectable effect at ``mde_level`` (``level`` unless given: Holm's strictest step for gated metrics)."""
    if v.verdict == "trouble":
        return replace(v, level=level)
    p, ratio, min_p = v.p_adjusted, v.ratio, v.min_p
    if p is None or ratio is None or min_p is None:
        return replace(v, level=level, verdict="inconclusive" if v.gated else "not enough data")
    mde = mde_at(v.se_log, min_p, level if mde_level is None else mde_level)
    v = replace(v, level=level, mde=mde)
    worse = (1 - ratio) if v.higher_is_better else (ratio - 1)  # > 0: the bad direction
    threshold = v.threshold
    shown = fmt_p(p) + (f", Holm from {fmt_p(v.p_value)}" if v.p_value is not None and p != v.p_value else "")
    if min_p >= level:
        unit = "pairs" if v.center == "geomean" else "repeats"
        why = (
            f"too few {unit} ({v.n_base} vs {v.n_new}): the smallest p they can give is "
            f"{fmt_p(min_p)}, not below {fmt_p(level)}"
        )
        return replace(v, verdict="inconclusive" if v.gated else "not enough data", reason=why)
    if p < level and worse > threshold:
        return replace(v, verdict="regressed", reason=f"{worse:.1%} worse, p={shown}")
    if p < level and -worse > threshold:
        return replace(v, verdict="improved", reason=f"{-worse:.1%} better, p={shown}")
    if abs(worse) > threshold:
        why = f"a {abs(worse):.1%} change the test cannot confirm (p={shown}): too noisy"
        return replace(v, verdict="inconclusive", reason=why)
    if mde is None or mde > NOISE_FACTOR * threshold:
        why = f"too noisy: only a change of {_pct(mde)} or more would be found (80 % power)"
        return replace(v, verdict="inconclusive", reason=why)
    return replace(v, verdict="unchanged", reason=f"within ±{threshold:.0%} (p={shown})")


def _pct(x: float | None) -> str:
    return "-" if x is None else (f"{x:.1%}" if x < 10 else f"{x:.0f}×")


def verdict_for(
    metric: str,
    base: list[float],
    new: list[float],
    *,
    threshold: float,
    higher_is_better: bool = True,
    gated: bool = True,
    paired: bool = False,
    level: float = ALPHA,
) -> Verdict:
    """The verdict on ``metric`` for repeats ``new`` against ``base`` alone, at ``level`` (see the module docstring)."""
    v = measure(
        metric, base, new, threshold=threshold, higher_is_better=higher_is_better, gated=gated, paired=paired
    )
    return decide(v, level)


def cov(values: list[float]) -> float | None:
    """Coefficient of variation of a metric's usable repeats (None under 3)."""
    xs = [v for v in values if math.isfinite(v) and v > 0]
    if len(xs) < 3:
        return None
    mu = sum(xs) / len(xs)
    return math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1)) / mu


def noise_profile(values: dict[str, list[float]], gated: set[str]) -> dict[str, float]:
    """The run-to-run CoV of each gated metric: the noise profile a baseline keeps."""
    out = {}
    for m in sorted(gated):
        c = cov(values.get(m, []))
        if c is not None:
            out[m] = round(c, 5)
    return out
