"""The report's charts, headless (matplotlib, Agg): each written as PNG and SVG.

::

    Inputs ─► throughput (per run, overlaid; alerts and marks annotated) · ratios · latency (windowed
              p50/p99) · declared (the pipeline's own metrics, one panel each, with unit and version) · heatmap (workers × windows, per run; workers labelled with their CPU) ·
              os (per run: each worker's run-queue wait % under the pool's throughput, the
              os_interference anomalies marked) · resources (per-pool CPU and memory, dual mode) · steps (results: median per step and variant, bars; whiskers min–max of repeats)

Every chart draws only what the replayed analyses derived; nothing is
recomputed here (a surface that recomputes an analysis is a second analysis).
A chart with nothing to draw is not written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

from .._extras import needs
from ._inputs import Inputs, RunData

__all__ = ["Chart", "draw_all"]

MAX_HEATMAPS = 8  # one per run given directly; for results: the first repeat of each step and variant


@dataclass
class Chart:
    name: str  # file stem
    title: str
    png: Path
    svg: Path


def _plt() -> Any:
    with needs("report", "report"):
        import matplotlib

        matplotlib.use("Agg")  # headless: no display, no GUI toolkit
        import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path, name: str, title: str) -> Chart:
    fig.suptitle(title)
    fig.tight_layout()
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    fig.savefig(png, dpi=100)
    fig.savefig(svg)
    _plt().close(fig)
    return Chart(name, title, png, svg)


def _annotate(ax: Any, run: RunData, color: str) -> None:
    for a in run.alerts:
        if a.state == "firing":
            ax.axvline(run.t(a.ts_ns), color="red", alpha=0.5, lw=1)
            ax.annotate(a.rule, (run.t(a.ts_ns), 1), xycoords=("data", "axes fraction"), fontsize=6,
                        color="red", rotation=90, va="top")  # fmt: skip
    for m in run.marks:
        if m.name in ("config",):
            continue
        ax.axvline(run.t(m.ts_ns), color=color, ls=":", alpha=0.6, lw=1)
        ax.annotate(m.name, (run.t(m.ts_ns), 0), xycoords=("data", "axes fraction"), fontsize=6,
                    color=color, rotation=90, va="bottom")  # fmt: skip


def _series(run: RunData, field: str) -> dict[str, tuple[list[float], list[float]]]:
    """{pool: (t, values)} of a Sample field (``declared.NAME``: a declared metric), windows where it is set."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    own = field.removeprefix("declared.") if field.startswith("declared.") else None
    for s in run.samples:
        v = (s.declared or {}).get(own) if own is not None else getattr(s, field)
        if v is not None:
            xs, ys = out.setdefault(s.pool, ([], []))
            xs.append(run.t(s.ts_ns))
            ys.append(float(v))
    return out


def _lines(ax: Any, runs: list[RunData], field: str, *, annotate: bool = False, scale: float = 1.0) -> bool:
    plt = _plt()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = False
    for i, run in enumerate(runs):
        color = colors[i % len(colors)]
        for j, (pool, (xs, ys)) in enumerate(sorted(_series(run, field).items())):
            if not any(ys):
                continue  # a pool that does not do this (dual mode's channel pool runs no tasks)
            label = run.label if pool in ("all", run.mode) else f"{run.label} [{pool}]"
            ax.plot(xs, [y / scale for y in ys], color=color, lw=1, label=label, ls=("-", "--", ":")[j % 3])
            drawn = True
        if annotate:
            _annotate(ax, run, color)
    return drawn


def _legend(ax: Any, n: int) -> None:
    if n <= 12 and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="best")


MAX_FACETS = 12  # step/variant rows drawn in one chart (a results directory's first ones)


def _groups(runs: list[RunData]) -> dict[str, list[RunData]]:
    """The runs by facet (step and variant, in order); one facet for runs that name none."""
    out: dict[str, list[RunData]] = {}
    for run in runs:
        out.setdefault(run.group or run.label, []).append(run)
    return dict(list(out.items())[:MAX_FACETS])


def _faceted(inp: Inputs, out: Path, name: str, title: str, columns: list[tuple[str, Any]]) -> Chart | None:
    """One row per step/variant, one column per ``(ylabel, draw(ax, runs) -> bool)``; each cell its legend."""
    plt = _plt()
    groups = _groups(inp.runs)
    fig, axes = plt.subplots(
        len(groups), len(columns), figsize=(4.5 * len(columns), 2.4 * len(groups)), sharex=True, squeeze=False
    )
    drawn = False
    for row, (group, runs) in zip(axes, groups.items(), strict=True):
        for ax, (ylabel, draw) in zip(row, columns, strict=True):
            if draw(ax, runs):
                drawn = True
                ax.set_title(group, fontsize=8)
                ax.set_ylabel(ylabel, fontsize=8)
                ax.grid(alpha=0.3)
                ax.legend(fontsize=6, loc="best")
            else:
                ax.set_axis_off()
    for ax in axes[-1]:
        ax.set_xlabel("seconds since start")
    if not drawn:
        plt.close(fig)
        return None
    return _save(fig, out, name, title)


def _throughput_facets(inp: Inputs, out: Path) -> Chart | None:
    def column(field: str) -> Any:
        return lambda ax, runs: _lines(ax, runs, field, scale=1e6)

    return _faceted(
        inp,
        out,
        "throughput",
        "Throughput over time, one row per step (colour: repeat)",
        [("tasks/s (M)", column("tasks_per_s")), ("msgs/s (M)", column("msgs_per_s"))],
    )


def throughput(inp: Inputs, out: Path) -> Chart | None:
    if len(_groups(inp.runs)) > 1:
        return _throughput_facets(inp, out)
    plt = _plt()
    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    a = _lines(axes[0], inp.runs, "tasks_per_s", annotate=True, scale=1e6)
    b = _lines(axes[1], inp.runs, "msgs_per_s", annotate=True, scale=1e6)
    if not (a or b):
        plt.close(fig)
        return None
    axes[0].set_ylabel("tasks/s (M)")
    axes[1].set_ylabel("msgs/s (M)")
    axes[1].set_xlabel("seconds since start")
    for ax in axes:
        ax.grid(alpha=0.3)
        _legend(ax, len(inp.runs))
    return _save(fig, out, "throughput", "Throughput over time (red: alerts; dotted: marks)")


def ratios(inp: Inputs, out: Path) -> Chart | None:
    plt = _plt()
    fields = ("fastpath_ratio", "steal_ratio", "utilisation")
    fig, axes = plt.subplots(len(fields), 1, figsize=(9, 7), sharex=True)
    drawn = False
    for ax, f in zip(axes, fields, strict=True):
        drawn |= _lines(ax, inp.runs, f)
        ax.set_ylabel(f.replace("_", " "))
        ax.grid(alpha=0.3)
    if not drawn:
        plt.close(fig)
        return None
    _legend(axes[0], len(inp.runs))
    axes[-1].set_xlabel("seconds since start")
    return _save(fig, out, "ratios", "Ratios per window")


def _percentiles(ax: Any, runs: list[RunData], metric: str) -> bool:
    """p50 (solid) and p99 (dashed) of ``metric``'s window histograms, one colour per run."""
    colors = _plt().rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = False
    for i, run in enumerate(runs):
        hs = [h for h in run.histograms if h.scope == "window" and h.metric == metric and h.count]
        for q, ls in (("p50", "-"), ("p99", "--")):
            pts = [(run.t(h.ts_ns), getattr(h, q)) for h in hs if getattr(h, q) is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), color=colors[i % len(colors)], ls=ls, lw=1,
                        label=f"{run.label} {q}")  # fmt: skip
                drawn = True
    if drawn:
        ax.set_yscale("log")
    return drawn


def latency(inp: Inputs, out: Path) -> Chart | None:
    plt = _plt()
    metrics = sorted({h.metric for r in inp.runs for h in r.histograms if h.scope == "window"})
    if not metrics:
        return None
    if len(_groups(inp.runs)) > 1:

        def column(metric: str) -> Any:
            return lambda ax, runs: _percentiles(ax, runs, metric)

        return _faceted(
            inp,
            out,
            "latency",
            "Windowed latency percentiles, one row per step (solid p50, dashed p99; colour: repeat)",
            [(f"{m} (ns)", column(m)) for m in metrics],
        )
    fig, axes = plt.subplots(len(metrics), 1, figsize=(9, 2.6 * len(metrics)), sharex=True, squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        _percentiles(ax, inp.runs, metric)
        ax.set_yscale("log")
        ax.set_ylabel(f"{metric} (ns)")
        ax.grid(alpha=0.3)
        _legend(ax, 2 * len(inp.runs))
    axes[-1, 0].set_xlabel("seconds since start")
    return _save(fig, out, "latency", "Windowed latency percentiles (solid p50, dashed p99)")


def _one_per_step(inp: Inputs, has: Any) -> list[tuple[int, RunData]]:
    """(index, run) of the first repeat of each step and variant whose ``has(run)`` is true, at most MAX_HEATMAPS."""
    picked: list[tuple[int, RunData]] = []
    seen: set[str] = set()
    for n, run in enumerate(inp.runs):
        key = run.label.rsplit(" r", 1)[0]
        if key in seen or len(picked) >= MAX_HEATMAPS or not has(run):
            continue
        seen.add(key)
        picked.append((n, run))
    return picked


def heatmaps(inp: Inputs, out: Path) -> list[Chart]:
    plt = _plt()
    charts: list[Chart] = []
    for n, run in _one_per_step(inp, lambda r: r.heatmaps):
        pools = sorted({h.pool for h in run.heatmaps})
        fig, axes = plt.subplots(len(pools), 1, figsize=(9, 1.2 + 1.3 * len(pools)), squeeze=False)
        for ax, pool in zip(axes[:, 0], pools, strict=True):
            hs = [h for h in run.heatmaps if h.pool == pool]
            workers = hs[0].workers
            grid = [[(u if u is not None else float("nan")) for u in h.utilisation] for h in hs]
            cols = [list(c) for c in zip(*grid, strict=False)]  # workers × windows
            im = ax.imshow(cols, aspect="auto", vmin=0, vmax=1, cmap="viridis", interpolation="nearest",
                           extent=(run.t(hs[0].ts_ns), run.t(hs[-1].ts_ns), len(workers) - 0.5, -0.5))  # fmt: skip
            cpus = run.cpus(pool)
            ax.set_yticks(
                range(len(workers)), [f"w{w}" + (f" cpu{cpus[w]}" if w in cpus else "") for w in workers]
            )
            ax.set_ylabel(pool)
            fig.colorbar(im, ax=ax, label="utilisation")
        axes[-1, 0].set_xlabel("seconds since start")
        charts.append(_save(fig, out, f"heatmap-{n + 1}", f"Worker utilisation: {run.label}"))
    return charts


def os_views(inp: Inputs, out: Path) -> list[Chart]:
    """Per run and pool: throughput (top) over each worker's run-queue wait % (bottom);
    every os_interference anomaly is a red line at its first window, its message beside it."""
    plt = _plt()
    charts: list[Chart] = []
    for n, run in _one_per_step(inp, lambda r: r.os):
        pools = sorted({o.pool for o in run.os})
        fig, axes = plt.subplots(
            2 * len(pools), 1, figsize=(9, 1.5 + 3.2 * len(pools)), sharex=True, squeeze=False
        )
        for k, pool in enumerate(pools):
            top, bottom = axes[2 * k, 0], axes[2 * k + 1, 0]
            ss = [s for s in run.samples if s.pool == pool]
            metric = "tasks_per_s" if any(s.tasks_per_s is not None for s in ss) else "msgs_per_s"
            pts = [(run.t(s.ts_ns), getattr(s, metric)) for s in ss if getattr(s, metric) is not None]
            if pts:
                top.plot(*zip(*pts, strict=True), lw=1)
            top.set_ylabel(f"{pool}\n{metric}", fontsize=8)
            os_rows = [o for o in run.os if o.pool == pool]
            cpus = run.cpus(pool)
            for w in sorted({w for o in os_rows for w in o.workers}):
                wp = [(run.t(o.ts_ns), o.wait_pct[o.workers.index(w)]) for o in os_rows if w in o.workers]
                wp = [(t, v) for t, v in wp if v is not None]
                if wp:
                    bottom.plot(
                        *zip(*wp, strict=True), lw=1, label=f"w{w}" + (f" cpu{cpus[w]}" if w in cpus else "")
                    )
            bottom.set_ylabel("run-queue wait %", fontsize=8)
            bottom.legend(fontsize=7, loc="upper right")
            for ax in (top, bottom):
                ax.grid(alpha=0.3)
            for a in run.anomalies:
                if a.method == "os_interference" and a.pool == pool:
                    for ax in (top, bottom):
                        ax.axvline(run.t(a.ts_ns), color="red", alpha=0.6, lw=1)
                    who = (a.labels or {}).get("worker")
                    label = (a.message or a.metric).split(";")[0] + (f" · w{who}" if who else "")
                    top.annotate(label, (run.t(a.ts_ns), 1), xycoords=("data", "axes fraction"), fontsize=6,
                                 color="red", rotation=90, va="top", ha="right")  # fmt: skip
        axes[-1, 0].set_xlabel("seconds since start")
        charts.append(_save(fig, out, f"os-{n + 1}", f"OS view of the workers: {run.label}"))
    return charts


def resources(inp: Inputs, out: Path) -> Chart | None:
    plt = _plt()
    dual = [r for r in inp.runs if any(s.pool not in ("all",) and s.resources for s in r.samples)]
    dual = [r for r in dual if len({s.pool for s in r.samples}) > 1]
    if not dual:
        return None
    fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, run in enumerate(dual):
        for j, pool in enumerate(sorted({s.pool for s in run.samples if s.resources})):
            ss = [s for s in run.samples if s.pool == pool and s.resources]
            ls = ("-", "--", ":")[j % 3]
            cpu = [
                (run.t(s.ts_ns), s.resources.cpu_pct)
                for s in ss
                if s.resources and s.resources.cpu_pct is not None
            ]
            mem = [(run.t(s.ts_ns), s.resources.stack_bytes / 2**20) for s in ss
                   if s.resources and s.resources.stack_bytes is not None]  # fmt: skip
            if cpu:
                axes[0].plot(
                    *zip(*cpu, strict=True),
                    color=colors[i % len(colors)],
                    ls=ls,
                    lw=1,
                    label=f"{run.label} [{pool}]",
                )
            if mem:
                axes[1].plot(
                    *zip(*mem, strict=True),
                    color=colors[i % len(colors)],
                    ls=ls,
                    lw=1,
                    label=f"{run.label} [{pool}]",
                )
    axes[0].set_ylabel("pool CPU %")
    axes[1].set_ylabel("pool stacks (MiB)")
    axes[1].set_xlabel("seconds since start")
    for ax in axes:
        ax.grid(alpha=0.3)
        _legend(ax, 2 * len(dual))
    return _save(fig, out, "resources", "Per-pool CPU and memory (dual mode)")


def steps(inp: Inputs, out: Path) -> list[Chart]:
    plt = _plt()
    charts = []
    for k, (res, values) in enumerate(inp.results):
        variants = list(dict.fromkeys(v for v, _ in values))
        step_names = list(dict.fromkeys(s for _, s in values))
        metrics = sorted({m for mv in values.values() for m in mv})
        if not metrics:
            continue
        fig, axes = plt.subplots(len(metrics), 1, figsize=(9, 2.8 * len(metrics)), squeeze=False)
        width = 0.8 / max(1, len(variants))
        for ax, metric in zip(axes[:, 0], metrics, strict=True):
            for vi, v in enumerate(variants):
                xs, meds, lo, hi = [], [], [], []
                for si, s in enumerate(step_names):
                    vals = values.get((v, s), {}).get(metric)
                    if vals:
                        m = median(vals)
                        xs.append(si + vi * width)
                        meds.append(m / 1e6)
                        lo.append((m - min(vals)) / 1e6)
                        hi.append((max(vals) - m) / 1e6)
                if xs:
                    ax.bar(xs, meds, width, yerr=[lo, hi], capsize=3, label=v or res.name)
            ax.set_xticks([i + width * (len(variants) - 1) / 2 for i in range(len(step_names))], step_names)
            ax.set_ylabel(f"{metric} (M)", fontsize=8)
            ax.grid(alpha=0.3, axis="y")
            if len(variants) > 1:
                ax.legend(fontsize=7)
        charts.append(
            _save(fig, out, f"steps-{k + 1}", f"{res.name}: median per step (whiskers: min–max of repeats)")
        )
    return charts


def declared(inp: Inputs, out: Path) -> Chart | None:
    """One panel per metric the runs' pipeline declared (``Sample.declared``), labelled with its unit."""
    units: dict[str, str] = {}
    for run in inp.runs:
        for s in run.samples:
            for name in s.declared or ():
                units.setdefault(name, "")
        for summ in run.summaries:
            for f in summ.declared_figures or ():
                units[f.name] = f"{f.unit}, v{f.version}"
    if not units:
        return None
    plt = _plt()
    fig, axes = plt.subplots(len(units), 1, figsize=(9, 2.6 * len(units) + 0.6), sharex=True, squeeze=False)
    drawn = False
    for (ax,), (name, unit) in zip(axes, units.items(), strict=True):
        drawn |= _lines(ax, inp.runs, f"declared.{name}")
        ax.set_ylabel(f"{name}\n({unit})" if unit else name, fontsize=8)
        ax.grid(alpha=0.3)
        _legend(ax, len(inp.runs))
    if not drawn:
        plt.close(fig)
        return None
    axes[-1][0].set_xlabel("seconds since start")
    return _save(fig, out, "declared", "Your pipeline's metrics per window (kcoro_stream.analysis)")


def draw_all(inp: Inputs, out: Path) -> list[Chart]:
    charts: list[Chart | None] = [
        throughput(inp, out),
        ratios(inp, out),
        latency(inp, out),
        declared(inp, out),
    ]
    charts += heatmaps(inp, out)
    charts += os_views(inp, out)
    charts.append(resources(inp, out))
    charts += steps(inp, out)
    return [c for c in charts if c is not None]
