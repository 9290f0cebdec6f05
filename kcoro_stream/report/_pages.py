"""The report's pages: ``summary.md`` (fit for a CI job summary) and ``report.html`` (one file,
charts inlined as base64 PNG, no external resource: readable offline)."""

from __future__ import annotations

import base64
import html
from statistics import median

from ._charts import Chart
from ._inputs import Inputs

__all__ = ["to_html", "to_markdown"]


def _m(x: float | None) -> str:
    return "-" if x is None else f"{x / 1e6:.3f} M"


def _run_rows(inp: Inputs) -> list[list[str]]:
    rows = []
    for r in inp.runs:
        for s in r.summaries:
            rows.append(
                [
                    r.label,
                    s.pool,
                    s.mode,
                    f"{s.duration_s:.2f}",
                    _m(s.avg.tasks_per_s),
                    _m(s.avg.msgs_per_s),
                    str(sum(1 for a in r.alerts if a.state == "firing")),
                    str(s.losses),
                ]
            )
    return rows


RUN_HEAD = ["run", "pool", "mode", "seconds", "avg tasks/s", "avg msgs/s", "alerts", "lost frames"]
STEP_HEAD = ["results", "variant", "step", "metric", "repeats", "median", "min", "max", "spread"]


def _step_rows(inp: Inputs) -> list[list[str]]:
    rows = []
    for res, values in inp.results:
        for (variant, step), metrics in values.items():
            for metric, vals in sorted(metrics.items()):
                med = median(vals)
                rows.append(
                    [
                        res.name,
                        variant or "-",
                        step,
                        metric,
                        str(len(vals)),
                        _m(med),
                        _m(min(vals)),
                        _m(max(vals)),
                        f"{(max(vals) - min(vals)) / med:.1%}" if med else "-",
                    ]
                )
    return rows


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows),
    ]


def to_markdown(inp: Inputs, charts: list[Chart]) -> str:
    out = ["## kcoro-stream report", ""]
    steps = _step_rows(inp)
    if steps:
        out += ["### Steps (per repeat: median, min, max)", "", *_md_table(STEP_HEAD, steps), ""]
    out += ["### Runs", "", *_md_table(RUN_HEAD, _run_rows(inp)), ""]
    out += ["### Charts", ""]
    out += [f"- [{c.title}]({c.png.name}) ([svg]({c.svg.name}))" for c in charts]
    return "\n".join(out) + "\n"


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}
table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}img{max-width:100%;border:1px solid #eee}"""


def to_html(inp: Inputs, charts: list[Chart]) -> str:
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>kcoro-stream report</title>",
        f"<style>{CSS}</style></head><body><h1>kcoro-stream report</h1>",
    ]
    steps = _step_rows(inp)
    if steps:
        parts.append("<h2>Steps</h2>" + _html_table(STEP_HEAD, steps))
    parts.append("<h2>Runs</h2>" + _html_table(RUN_HEAD, _run_rows(inp)))
    parts.append("<h2>Charts</h2>")
    for c in charts:
        data = base64.b64encode(c.png.read_bytes()).decode("ascii")
        parts.append(
            f'<figure id="{html.escape(c.name)}"><img alt="{html.escape(c.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(c.title)}</figcaption></figure>'
        )
    parts.append("</body></html>\n")
    return "\n".join(parts)
