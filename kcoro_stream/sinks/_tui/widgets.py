"""The dashboard's panes: each one draws a part of ``DashboardState``.

Panes are textual widgets that build rich renderables; none of them keeps data
of its own beyond view settings (the graph's zoom and scroll).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rich.color import Color
from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget

from ...events import Heatmap, HistogramSummary, Resources, Status
from ..log import fmt_bytes
from .state import RATIOS, DashboardState, PoolState

BLOCKS = " ▁▂▃▄▅▆▇█"
KPI_STYLE = {
    "GREEN": "bold black on green",
    "YELLOW": "bold black on yellow",
    "RED": "bold white on red",
    "UNKNOWN": "bold white on grey37",
}
MAX_ZOOM = 6  # 2**6 samples per column at the widest


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def fmt_ns(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1e6:
        return f"{value / 1e6:.2f} ms"
    if value >= 1e3:
        return f"{value / 1e3:.1f} µs"
    return f"{value:.0f} ns"


def heat_style(u: float | None) -> Style:
    """Blue (idle) → yellow → red (busy)."""
    if u is None:
        return Style(color="white", bgcolor="grey30")
    u = max(0.0, min(1.0, u))
    if u < 0.5:
        t = u / 0.5
        rgb = (int(40 + t * 200), int(90 + t * 140), int(200 - t * 160))
    else:
        t = (u - 0.5) / 0.5
        rgb = (240, int(230 - t * 180), 40)
    return Style(color="black", bgcolor=Color.from_rgb(*rgb))


def nice_ceiling(x: float) -> float:
    """The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) ≥ ``x``."""
    if x <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(x))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * k >= x:
            return m * k
    return 10 * k


def kpi_badges(states: Mapping[str, str], values: Mapping[str, float | None]) -> Text:
    text = Text()
    for name, state in states.items():
        v = values.get(name)
        label = f" {name} {state}" + ("" if v is None else f" {v:.2f}") + " "
        text.append(label, style=KPI_STYLE.get(state, KPI_STYLE["UNKNOWN"]))
        text.append(" ")
    return text


class Pane(Widget):
    """A widget showing one rich renderable, redrawn without a re-layout.

    ``Static.update`` re-lays out the whole screen on every call; at 10 redraws
    a second that dominated the dashboard's CPU. ``set`` only asks for a layout
    when the caller's ``shape`` (e.g. its number of rows) changes.
    """

    DEFAULT_CSS = "Pane { height: auto; }"

    def __init__(self, content: RenderableType = "", **kw: Any) -> None:
        super().__init__(**kw)
        self._content: RenderableType = content
        self._shape: Any = None
        self._key: Any = object()

    def unchanged(self, key: Any) -> bool:
        """True when ``key`` (what the content is made of) is the same as last time."""
        if key == self._key:
            return True
        self._key = key
        return False

    @property
    def content(self) -> RenderableType:
        return self._content

    def set(self, content: RenderableType, shape: Any = None) -> None:
        relayout = shape != self._shape or shape is None
        self._content, self._shape = content, shape
        self.refresh(layout=relayout)

    def render(self) -> RenderableType:
        return self._content


class ThroughputGraph(Widget):
    """Column chart of a pool's headline rate; zoom (+/-) and scroll (←/→)."""

    DEFAULT_CSS = "ThroughputGraph { height: 1fr; min-height: 6; }"
    zoom: reactive[int] = reactive(0)  # log2 samples per column
    scroll_back: reactive[int] = reactive(0)  # columns scrolled back from live (0 = follow)

    def __init__(self, pool: PoolState, **kw: Any) -> None:
        super().__init__(**kw)
        self.pool = pool

    def columns(self, width: int) -> list[float]:
        data = list(self.pool.history)
        per = 1 << self.zoom
        end = len(data) - self.scroll_back * per
        start = max(0, end - width * per)
        cols = []
        for i in range(start, max(start, end), per):
            chunk = data[i : min(i + per, end)]
            cols.append(sum(chunk) / len(chunk))
        return cols

    def max_scroll_back(self, width: int) -> int:
        per = 1 << self.zoom
        return max(0, (len(self.pool.history) - width * per) // per)

    def render(self) -> RenderableType:
        label_w = 9
        width = max(1, self.size.width - label_w)
        height = max(1, self.size.height - 1)
        cols = self.columns(width)
        top = nice_ceiling(max(cols, default=0.0) * 1.1)
        levels = [round(v / top * height * 8) for v in cols]
        lines = []
        for row in range(height - 1, -1, -1):
            line = Text()
            label = fmt(top) if row == height - 1 else ("0" if row == 0 else "")
            line.append(f"{label:>{label_w - 1}} ", style="dim")
            # one span per row (not per cell): rich's cost grows with spans
            cells = "".join(BLOCKS[max(0, min(8, level - row * 8))] for level in levels)
            line.append(cells, style="cyan" if row < height * 0.75 else "bright_cyan")
            lines.append(line)
        per = 1 << self.zoom
        where = "live" if self.scroll_back == 0 else f"-{self.scroll_back * per} samples"
        window_ms = self.pool.window_ns / 1e6
        span = len(cols) * per * window_ms / 1000
        footer = Text(
            f"{self.pool.metric.replace('_per_s', '/s')} · zoom ×{per} · {where} · {span:.1f} s shown",
            style="dim",
        )
        return Group(*lines, footer)


class StatsPane(Pane):
    """current · 5-sample · EMA · peak · average, like the old monitor's statistics."""

    def __init__(self, pool: PoolState, **kw: Any) -> None:
        super().__init__(**kw)
        self.pool = pool

    def show(self) -> None:
        table = Table(box=None, padding=(0, 1), expand=True, show_edge=False)
        table.add_column("", style="bold")
        for col in ("current", "5-sample", "EMA", "peak", "average"):
            table.add_column(col, justify="right")
        for name, st in self.pool.stats.items():
            digits = 3 if name == "gbps" else 0
            table.add_row(
                name.replace("_per_s", "/s"),
                fmt(st.current, digits),
                fmt(st.smooth, digits),
                fmt(st.ema, digits),
                fmt(st.peak, digits),
                fmt(st.average, digits),
            )
        last = self.pool.last
        info = Text(
            f"samples {self.pool.samples} · partial {self.pool.partial}"
            + ("" if last is None else f" · window {last.window_ns / 1e6:.0f} ms"),
            style="dim",
        )
        res = last.resources if last is not None else None
        if res is None:
            self.set(Group(table, info), shape=len(self.pool.stats))
            return
        self.set(Group(table, resources_line(res), info), shape=(len(self.pool.stats), 1))


def resources_line(res: Resources) -> Text:
    """The pool's CPU and memory: ``cpu 97% · stack 1.2 MiB · process cpu 180% · rss 40.1 MiB``."""
    parts = []
    if res.cpu_pct is not None:
        parts.append(f"cpu {res.cpu_pct:.0f}%")
    if res.stack_bytes is not None:
        parts.append(f"stack {fmt_bytes(res.stack_bytes)}")
    if res.live_coroutines is not None:
        parts.append(f"coroutines {res.live_coroutines}")
    if res.process_cpu_pct is not None:
        parts.append(f"process cpu {res.process_cpu_pct:.0f}%")
    if res.rss_bytes is not None:
        parts.append(f"rss {fmt_bytes(res.rss_bytes)}")
    return Text(" · ".join(parts) or "resources: –")


class RatioSparklines(Pane):
    """One sparkline per ratio on a fixed 0..1 scale, with the current value.

    Drawn as one text span per line: textual's Sparkline widget styles every
    bar separately, which cost more than the rest of a pool's column.
    """

    LABEL = 22

    def __init__(self, pool: PoolState, **kw: Any) -> None:
        super().__init__(**kw)
        self.pool = pool

    def show(self) -> None:
        width = max(1, (self.size.width or 60) - self.LABEL)
        lines = []
        for r in RATIOS:
            data = list(self.pool.ratios[r])[-width:]
            current = data[-1] if data else None
            line = Text(f"{r.replace('_ratio', '')[:12]:<12} {fmt_ratio(current):>7}  ")
            bars = "".join(BLOCKS[max(1, min(8, round(v * 8)))] for v in data)
            line.append(bars, style="green" if current is None or current >= 0.5 else "yellow")
            lines.append(line)
        self.set(Group(*lines), shape=len(RATIOS))


class PoolView(Vertical):
    """One pool's column: title + KPI badges, graph, statistics, ratio sparklines."""

    DEFAULT_CSS = """
    PoolView { border: round $accent; padding: 0 1; width: 1fr; height: 1fr; }
    PoolView .pool-kpis { height: auto; }
    PoolView StatsPane { height: auto; }
    """

    def __init__(self, pool: PoolState, state: DashboardState, **kw: Any) -> None:
        super().__init__(**kw)
        self.pool = pool
        self.state = state
        self.border_title = f"pool {pool.name}"

    def compose(self) -> ComposeResult:
        yield Pane(classes="pool-kpis")
        yield ThroughputGraph(self.pool, classes="graph")
        yield StatsPane(self.pool)
        yield RatioSparklines(self.pool)

    def on_mount(self) -> None:
        self.call_after_refresh(self.show)  # children exist from now on

    def rebind(self, pool: PoolState) -> None:
        """Show a new run's pool of the same name (removing and re-mounting would clash on the id)."""
        self.pool = pool
        for child in self.query(ThroughputGraph):
            child.pool = pool
        for pane in self.query(StatsPane):
            pane.pool = pool
        for spark in self.query(RatioSparklines):
            spark.pool = pool

    def show(self) -> None:
        if not self.query(RatioSparklines):
            return  # mounted this frame: on_mount draws it
        mode = f" ({self.pool.mode})" if self.pool.mode and self.pool.mode != self.pool.name else ""
        self.border_title = f"pool {self.pool.name}{mode}"
        kpi = self.state.kpi_for(self.pool.name)
        self.query_one(".pool-kpis", Pane).set(
            kpi_badges(kpi.states, kpi.values) if kpi else Text("KPIs: –", style="dim"),
            shape=None if kpi is None else len(kpi.states),
        )
        self.query_one(ThroughputGraph).refresh()
        self.query_one(StatsPane).show()
        self.query_one(RatioSparklines).show()


class ConfigPane(Pane):
    """Run configuration and pipeline state."""

    def show(self, state: DashboardState, info: Mapping[str, Any]) -> None:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        rows: list[tuple[str, str]] = [
            ("run", state.run_id or "–"),
            ("mode", state.mode or "–"),
            ("pools", ", ".join(state.pools) or "–"),
        ]
        rows += [(str(k), str(v)) for k, v in info.items()]
        run_kpi = state.kpis.get("all")
        if run_kpi is not None and len(state.pools) > 1:
            rows.append(("KPIs", ""))
        if state.summary is not None:
            rows.append(("summary", f"{state.summary.samples} samples, {state.summary.duration_s:.1f} s"))
        if self.unchanged((tuple(rows), None if run_kpi is None else run_kpi.ts_ns)):
            return
        for k, v in rows:
            if k == "KPIs" and run_kpi is not None:
                table.add_row(k, kpi_badges(run_kpi.states, run_kpi.values))
            else:
                table.add_row(k, v)
        self.set(table, shape=len(rows))


class MonitorPane(Pane):
    """The monitor's own account from the latest Status, in one line (two when narrow); losses in red.

    ``monitor running · ring 200 frames, lost 2 dropped 0 corrupt 0 undecodable · log 50.0 KiB
    (7.0 KiB on disk) · ndjson q 1/64 · websocket q 5/256, dropped 3 (slow_client 3), 1 client``
    """

    def show(self, status: Status | None) -> None:
        width = max(1, (self.size.width or 80) - 2)
        if self.unchanged((None if status is None else status.ts_ns, width)):
            return
        line = Text("monitor ", style="bold")
        if status is None:
            line.append("no status yet (live runs report every second)", style="dim")
        else:
            line.append(status.state, style="bold green" if status.state == "running" else "bold yellow")
            r = status.reader
            if r is not None:
                line.append(f" · ring {r.frames} frames, lost")
                for n, kind in ((r.dropped_frames, "dropped"), (r.corrupt_frames, "corrupt"),
                                (r.undecodable_frames, "undecodable")):  # fmt: skip
                    line.append(f" {n} {kind}", style="bold red" if n else "")
            if status.log is not None:
                line.append(
                    f" · log {fmt_bytes(status.log.frame_bytes)} ({fmt_bytes(status.log.disk_bytes)} on disk)"
                )
            for sink in status.sinks:
                line.append(f" · {sink.name} q {sink.queued}/{sink.queue_capacity}")
                if sink.dropped:
                    reasons = ", ".join(f"{k} {v}" for k, v in sorted(sink.drop_reasons.items()) if v)
                    line.append(
                        f", dropped {sink.dropped}" + (f" ({reasons})" if reasons else ""), style="bold red"
                    )
                if sink.clients:
                    line.append(f", {len(sink.clients)} client{'s' if len(sink.clients) != 1 else ''}")
        self.set(line, shape=len(line.plain) // width + 1)  # re-layout when it needs another line


class HeatmapPane(Pane):
    """Per-worker utilisation (colour) and steal successes/failures."""

    def show(
        self, heatmaps: Mapping[str, Heatmap], cpus: Mapping[tuple[str, int], int] | None = None
    ) -> None:
        cpus = cpus or {}
        if self.unchanged((tuple((p, h.ts_ns) for p, h in heatmaps.items()), tuple(cpus.items()))):
            return
        if not heatmaps:
            self.set(Text("no heat-map yet", style="dim"), shape=0)
            return
        parts: list[RenderableType] = []
        for pool, hm in heatmaps.items():
            line = Text(f"{pool}: " if len(heatmaps) > 1 else "")
            for i, w in enumerate(hm.workers):
                u = hm.utilisation[i] if i < len(hm.utilisation) else None
                ok = hm.steals_succeeded[i] if i < len(hm.steals_succeeded) else 0
                bad = hm.steals_failed[i] if i < len(hm.steals_failed) else 0
                pct = "–" if u is None else f"{100 * u:3.0f}%"
                cpu = cpus.get((pool, w))
                where = "" if cpu is None else f"@{cpu}"
                line.append(f" w{w}{where} {pct} {ok}/{bad} ", style=heat_style(u))
                line.append(" ")
            parts.append(line)
            imb = "–" if hm.imbalance is None else f"{hm.imbalance:.2f}"
            at = " · w@cpu" if cpus else ""
            parts.append(Text(f"imbalance {imb} · steals ok/failed per window{at}", style="dim"))
        self.set(Group(*parts), shape=0)


class LatencyPane(Pane):
    """The latest histogram of each metric and pool as bars, with percentiles (sorted by metric, pool)."""

    def show(self, histograms: Mapping[tuple[str, str], HistogramSummary], rows: int = 6) -> None:
        if self.unchanged((rows, tuple((k, h.ts_ns, h.scope, h.count) for k, h in histograms.items()))):
            return
        if not histograms:
            self.set(Text("no latency histogram yet", style="dim"), shape=0)
            return
        parts: list[RenderableType] = []
        for (_, pool), h in sorted(histograms.items()):
            head = f"{h.metric} [{pool}, {h.scope}] n={h.count:,}"
            parts.append(Text(head, style="bold"))
            parts.append(
                Text(
                    f"p50 {fmt_ns(h.p50)}  p90 {fmt_ns(h.p90)}  p99 {fmt_ns(h.p99)}  p99.9 {fmt_ns(h.p999)}",
                    style="yellow",
                )
            )
            parts.extend(self.bars(h, rows))
        self.set(Group(*parts), shape=0)

    @staticmethod
    def bars(h: HistogramSummary, rows: int) -> list[Text]:
        nz = [(b, c) for b, c in zip(h.bounds, h.counts, strict=False) if c]
        if not nz:
            return [Text("(empty)", style="dim")]
        # merge neighbouring buckets down to `rows` bars
        per = max(1, -(-len(nz) // rows))
        merged = [(nz[i][0], sum(c for _, c in nz[i : i + per])) for i in range(0, len(nz), per)]
        top = max(c for _, c in merged)
        out = []
        for lower, c in merged:
            bar = "█" * max(1, round(c / top * 24))
            out.append(
                Text(f"≥{fmt_ns(lower):>9} ").append(bar, style="magenta").append(f" {c:,}", style="dim")
            )
        return out


class ZeroCopyPane(Pane):
    """Every channel counter (zero-copy, rendezvous, failures, ...): total and last-window delta, per pool."""

    def show(self, zero_copy: Mapping[str, Mapping[str, tuple[int | None, int | None]]]) -> None:
        if self.unchanged(tuple((p, tuple(d.items())) for p, d in zero_copy.items())):
            return
        if not zero_copy:
            self.set(Text("no channel counters (channel pool only)", style="dim"), shape=0)
            return
        table = Table(box=None, padding=(0, 1), show_edge=False)
        table.add_column("counter", style="bold")
        pools = list(zero_copy)
        for p in pools:
            prefix = f"{p} " if len(pools) > 1 else ""
            table.add_column(f"{prefix}total", justify="right")
            table.add_column("Δ", justify="right", style="cyan")
        names = list(dict.fromkeys(k for d in zero_copy.values() for k in d))  # declaration order
        for name in names:
            cells: list[str] = []
            for p in pools:
                total, delta = zero_copy[p].get(name, (None, None))
                cells.append(fmt(_num(total)))
                cells.append(fmt(_num(delta)))
            table.add_row(name, *cells)
        self.set(table, shape=0)


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


class AlertsPane(Pane):
    """Recent alerts (firing red, resolved green) and anomalies."""

    def show(self, state: DashboardState, rows: int = 8) -> None:
        last = state.alerts[-1] if state.alerts else None
        if self.unchanged((rows, id(last), len(state.alerts), len(state.firing))):
            return
        if not state.alerts:
            self.set(Text("no alerts", style="dim"), shape=0)
            return
        lines = [Text(f"{len(state.firing)} firing", style="bold red" if state.firing else "bold green")]
        style = {"firing": "bold red", "resolved": "green", "anomaly": "cyan"}
        for a in list(state.alerts)[-rows:][::-1]:
            when = time.strftime("%H:%M:%S", time.gmtime(a.ts))
            lines.append(
                Text(f"{when} ", style="dim")
                .append(f"{a.kind:<8} ", style=style.get(a.kind, ""))
                .append(f"{a.rule}: {a.message}")
            )
        self.set(Group(*lines), shape=0)


def help_text(bindings: Sequence[tuple[str, str]]) -> Text:
    text = Text("keys\n", style="bold")
    for key, what in bindings:
        text.append(f" {key:<7}", style="bold cyan").append(f" {what}\n")
    return text
