"""A Comparison as a terminal table, Markdown (a CI job summary) or JSON."""

from __future__ import annotations

import json

from ._compare import Comparison
from ._stats import Verdict

__all__ = ["to_json", "to_markdown", "to_table"]

MARK = {
    "improved": "✅ improved",
    "unchanged": "unchanged",
    "regressed": "❌ regressed",
    "inconclusive": "⚠ inconclusive",
}


def fmt_number(x: float | None) -> str:
    if x is None:
        return "-"
    a = abs(x)
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"


def _ratio(v: Verdict) -> str:
    if v.ratio is None:
        return "-"
    ci = f" [{v.ci_low:.3f}, {v.ci_high:.3f}]" if v.ci_low is not None and v.ci_high is not None else ""
    return f"{v.ratio:.3f}{ci}"


def _rows(c: Comparison) -> list[list[str]]:
    rows = []
    for s in c.steps:
        for v in s.verdicts:
            rows.append(
                [
                    s.step,
                    v.metric + ("" if v.gated else " (not gated)"),
                    f"{fmt_number(v.median_base)} (n={v.n_base})",
                    f"{fmt_number(v.median_new)} (n={v.n_new})",
                    _ratio(v),
                    "-" if v.p_value is None else f"{v.p_value:.3f}",
                    v.method,
                    v.verdict,
                    v.reason,
                ]
            )
    return rows


HEAD = ["step", "metric", "base median", "new median", "ratio [95% CI]", "p", "method", "verdict", "why"]


def to_table(c: Comparison) -> str:
    rows = [HEAD, *_rows(c)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEAD))]
    lines = [f"{c.new_label} against {c.base_label}"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += [f"warning: {w}" for w in c.warnings]
    lines.append("verdict: " + ("REGRESSED" if c.regressed else "no regression"))
    return "\n".join(lines)


def to_markdown(c: Comparison) -> str:
    out = [
        f"### {'❌ Regression' if c.regressed else '✅ No regression'}: {c.new_label} against {c.base_label}",
        "",
    ]
    out.append("| " + " | ".join(HEAD) + " |")
    out.append("|" + "---|" * len(HEAD))
    for r in _rows(c):
        r[7] = MARK[r[7]]
        out.append("| " + " | ".join(x.replace("|", "\\|") for x in r) + " |")
    if c.warnings:
        out.append("")
        out += [f"> ⚠ {w}" for w in c.warnings]
    return "\n".join(out) + "\n"


def to_json(comparisons: list[Comparison]) -> str:
    return json.dumps(
        {
            "regressed": any(c.regressed for c in comparisons),
            "comparisons": [c.to_builtins() for c in comparisons],
        },
        indent=1,
    )
