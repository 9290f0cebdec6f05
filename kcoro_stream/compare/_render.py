"""A Comparison as a terminal table, Markdown (a CI job summary) or JSON.

Columns: the two sides' centers (``median`` unpaired, ``geomean`` paired: the
cell says which), ``new/base`` = the ratio of those two centers (so it agrees
with them) and its 95 % interval, the test's p and Holm's adjusted p (gated
metrics share one budget), ``mde`` (the smallest change the comparison would
have found), the verdict and why. A gated ``inconclusive`` adds a loud line.
"""

from __future__ import annotations

import json

from .._format import fmt_number
from ._compare import Comparison
from ._stats import Verdict, fmt_p

__all__ = ["loud_lines", "to_json", "to_markdown", "to_table"]

MARK = {
    "improved": "✅ improved",
    "unchanged": "unchanged",
    "regressed": "❌ regressed",
    "inconclusive": "⚠ inconclusive",
    "trouble": "🛑 trouble",
    "not enough data": "not enough data",
}


def _ratio(v: Verdict) -> str:
    if v.ratio is None:
        return "-"
    ci = f" [{v.ci_low:.3f}, {v.ci_high:.3f}]" if v.ci_low is not None and v.ci_high is not None else ""
    return f"{v.ratio:.3f}{ci}"


def _center(x: float | None, v: Verdict, n: int) -> str:
    return f"{fmt_number(x)} ({'gm' if v.center == 'geomean' else 'med'}, n={n})"


def _rows(c: Comparison) -> list[list[str]]:
    rows = []
    for s in c.steps:
        for v in s.verdicts:
            rows.append(
                [
                    s.step,
                    v.metric + ("" if v.gated else " (not gated)"),
                    _center(v.median_base, v, v.n_base),
                    _center(v.median_new, v, v.n_new),
                    _ratio(v),
                    "-" if v.p_value is None else fmt_p(v.p_value),
                    "-" if v.p_adjusted is None or not v.gated else fmt_p(v.p_adjusted),
                    fmt_p(v.level) if v.gated else "-",
                    "-" if v.mde is None else f"{v.mde:.1%}",
                    v.method,
                    v.verdict,
                    v.reason,
                ]
            )
    return rows


HEAD = [
    "step", "metric", "base", "new", "new/base [95% CI]", "p", "p adj", "level", "mde", "method", "verdict",
    "why",
]  # fmt: skip
VERDICT = HEAD.index("verdict")
LEGEND = (
    "med: median of the repeats; gm: geometric mean (paired A/B: new/base is then the geometric mean of the "
    "per-pair ratios); p adj: Holm-adjusted over every gated metric of this run (repeats: auto: the test's p, "
    "decided at its look's level of the alpha-spending plan); mde: smallest change found with 80 % power"
)


def _headline(c: Comparison) -> str:
    if c.trouble:
        return "TROUBLE (a gated metric cannot be judged)"
    if c.regressed:
        return "REGRESSED"
    if c.inconclusive:
        return "INCONCLUSIVE (no regression found, none ruled out)"
    return "no regression"


def loud_lines(comparisons: list[Comparison]) -> list[str]:
    """What an operator must not miss (stderr): troubles and gated metrics left undecided."""
    out = []
    for c in comparisons:
        out += [f"trouble: {c.new_label}: {t}" for t in c.troubles]
        for s in c.steps:
            for v in s.verdicts:
                if v.gated and v.verdict in ("trouble", "inconclusive"):
                    out.append(f"{v.verdict.upper()}: {c.new_label}: {s.step} {v.metric}: {v.reason}")
    return out


def to_table(c: Comparison) -> str:
    rows = [HEAD, *_rows(c)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEAD))]
    lines = [f"{c.new_label} against {c.base_label}"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += [f"warning: {w}" for w in c.warnings]
    lines += [f"trouble: {t}" for t in c.troubles]
    lines.append(LEGEND)
    lines.append("verdict: " + _headline(c))
    return "\n".join(lines)


def to_markdown(c: Comparison) -> str:
    head = (
        "🛑 Trouble" if c.trouble else "❌ Regression" if c.regressed
        else "⚠ Inconclusive" if c.inconclusive else "✅ No regression"
    )  # fmt: skip
    out = [f"### {head}: {c.new_label} against {c.base_label}", ""]
    out.append("| " + " | ".join(HEAD) + " |")
    out.append("|" + "---|" * len(HEAD))
    for r in _rows(c):
        r[VERDICT] = MARK[r[VERDICT]]
        out.append("| " + " | ".join(x.replace("|", "\\|") for x in r) + " |")
    out += ["", f"_{LEGEND}_"]
    if c.warnings or c.troubles:
        out.append("")
        out += [f"> 🛑 {t}" for t in c.troubles] + [f"> ⚠ {w}" for w in c.warnings]
    return "\n".join(out) + "\n"


def to_json(comparisons: list[Comparison]) -> str:
    return json.dumps(
        {
            "regressed": any(c.regressed for c in comparisons),
            "trouble": any(c.trouble for c in comparisons),
            "inconclusive": any(c.inconclusive for c in comparisons),
            "comparisons": [c.to_builtins() for c in comparisons],
        },
        indent=1,
    )
