"""``history`` output: a table per series (runs, trend, level shifts) or one JSON document."""

from __future__ import annotations

import json
from typing import Any

from .._format import fmt_number as fmt
from ._query import Skipped
from ._series import Series

__all__ = ["to_json", "to_table"]


def _pct(a: float | None, b: float | None) -> str:
    if a is None or b is None or not a:
        return ""
    ratio = (b - a) / abs(a)
    return f"{ratio:+.1%}" if abs(ratio) < 1e4 else f"{ratio * 100:+.3g}%"  # 1e308 vs 1: not 300 digits


def _when(r: Any) -> str:
    return r.started.strftime("%Y-%m-%d %H:%M:%S") if r.started else "?"


def shift_lines(s: Series, metric: str) -> list[str]:
    ok = s.ok_runs
    out = []
    for sh in s.shifts:
        r = ok[sh.index]
        out.append(
            f"  level shift at run {r.run_id} ({r.dir}, git {r.git or '?'}, {_when(r)}): "
            f"{metric} {fmt(sh.before)} → {fmt(sh.after)} ({_pct(sh.before, sh.after)}, p={sh.p_value:.3f})"
        )
    return out


def to_table(series: list[Series], metric: str | None, changes: bool, last: int | None = None) -> str:
    """``metric`` None: each series names its own (its runs' headline)."""
    blocks = []
    for s in series:
        name = metric or s.metric or "-"
        lines = [f"{s.label} @ {s.host or '?'}  ({len(s.runs)} run(s), {name})"]
        lines.append(
            f"  {'started (UTC)':<19}  {'run':<22}  {'state':<11}  {'git':<24}  {'value':>10}  change"
        )
        prev = None
        hidden = 0 if last is None else max(0, len(s.runs) - last)
        if hidden:
            lines.append(f"  … {hidden} earlier run(s) (--last {last})")
        for n, r in enumerate(s.runs):
            if n < hidden:
                if r.ok:
                    prev = r.value  # the first shown run's change is against the run before it
                continue
            lines.append(
                f"  {_when(r):<19}  {r.run_id or '?':<22}  {r.state or '?':<11}  {(r.git or '-')[:24]:<24}  "
                f"{fmt(r.value):>10}  {_pct(prev, r.value) if r.ok else ''}"
            )
            if r.ok:
                prev = r.value
        t = s.trend()
        if t["ok_runs"]:
            lines.append(
                f"  trend: {fmt(t['first'])} → {fmt(t['last'])} ({_pct(t['first'], t['last'])}); "
                f"median {fmt(t['median'])}, range {fmt(t['min'])} … {fmt(t['max'])} over {t['ok_runs']} ok run(s)"
            )
        if changes:
            found = shift_lines(s, name)
            lines += found or ["  no level shift"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "no runs"


def to_json(series: list[Series], metric: str | None, changes: bool, skipped: list[Skipped]) -> str:
    body: dict[str, Any] = {"metric": metric, "runs": [], "series": [], "skipped": []}
    for s in series:
        body["runs"] += [dict(r.to_builtins(), series=s.label) for r in s.runs]
        entry: dict[str, Any] = {
            "host": s.host,
            "label": s.label,
            "metric": metric or s.metric,
            "runs": [r.run_id for r in s.runs],
            **s.trend(),
        }
        if changes:
            ok = s.ok_runs
            entry["shifts"] = [
                {
                    "run_id": ok[sh.index].run_id,
                    "dir": ok[sh.index].dir,
                    "git": ok[sh.index].git,
                    "before": sh.before,
                    "after": sh.after,
                    "change": sh.change,
                    "p_value": sh.p_value,
                }
                for sh in s.shifts
            ]
        body["series"].append(entry)
    body["skipped"] = [{"file": str(k.file), "reason": k.reason} for k in skipped]
    return json.dumps(body, indent=1)
