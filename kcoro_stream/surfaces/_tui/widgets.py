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
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget

from ...events import Heatmap, HistogramSummary, Resources, Status
from ...histo import BUCKETS, SCHEME, bucket_lower
from ...sinks.log import fmt_bytes, fmt_num
from .state import RATIOS, TASK_ONLY, DashboardState, PoolState

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


def fmt_axis(value: float, width: int) -> str:
    """``12,345`` when it fits in ``width`` columns, else compact SI (``12.35M``): never clipped."""
    full = fmt(value)
    return full if len(full) <= width else fmt_num(value)


def fit_words(parts: Sequence[str], width: int, sep: str = " · ") -> list[str]:
    """Join ``parts`` into lines of at most ``width`` columns, breaking only between parts.

    A part longer than the width is split over lines of its own, never cut
    (a run id or a figure keeps every character; a line never wraps).
    """
    lines: list[str] = []
    line = ""
    width = max(1, width)
    for part in parts:
        while len(part) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(part[:width])
            part = part[width:]
        if not line:
            line = part
        elif len(line) + len(sep) + len(part) <= width:
            line += sep + part
        else:
            lines.append(line)
            line = part
    if line:
        lines.append(line)
    return lines


Cell = str | tuple[str, Style | str]  # text, or text and its own style


class Column:
    """One column of a :func:`fit_table`: header, full cells, compact (SI) cells, priority, style."""

    __slots__ = ("compact", "full", "header", "keep", "style")

    def __init__(
        self,
        header: str,
        full: Sequence[Cell],
        compact: Sequence[Cell] | None = None,
        *,
        keep: int = 0,
        style: str = "",
    ) -> None:
        self.header, self.full, self.compact = header, list(full), list(compact or full)
        self.keep, self.style = keep, style  # keep: the higher, the later it is dropped


def _cell(c: Cell) -> tuple[str, Style | str]:
    return (c, "") if isinstance(c, str) else c


def fit_table(
    width: int, labels: Sequence[str], columns: Sequence[Column], *, label_header: str = "", gap: int = 2
) -> list[Text]:
    """Rows of ``label  cell  cell …`` that fit ``width`` columns, never cutting a number.

    Full figures (``8,892,310``) when every column fits; else every column in
    its compact form (``8.89M``); else whole columns are dropped, lowest
    ``keep`` first, until the rest fits. Only a label may be cut (``…``), and
    only when a single compact column still does not fit. Each line is one
    ``Text`` that never wraps (issue 28: no ``8,892,…``, no ``coun… total``).
    """
    lw = max([len(label_header), *(len(x) for x in labels)], default=0)

    def widths_of(compact: bool) -> list[int]:
        return [
            max([len(c.header), *(len(_cell(x)[0]) for x in (c.compact if compact else c.full))])
            for c in columns
        ]

    def total(kept: Sequence[int], widths: Sequence[int]) -> int:
        return lw + sum(widths[i] + gap for i in kept)

    chosen = list(range(len(columns)))
    compact = total(chosen, widths_of(False)) > width
    widths = widths_of(compact)
    for i in sorted(chosen, key=lambda i: (columns[i].keep, -i)):  # lowest keep, rightmost, first
        if total(chosen, widths) <= width or len(chosen) == 1:
            break
        chosen.remove(i)
    cells = [c.compact if compact else c.full for c in columns]
    room = max(1, width - sum(widths[i] + gap for i in chosen))
    lw_shown = min(lw, room)

    def label(x: str) -> str:
        return x if len(x) <= lw_shown else x[: max(0, lw_shown - 1)] + "…"

    lines = []
    if any(c.header for c in columns) or label_header:
        head = Text(f"{label(label_header):<{lw_shown}}", style="dim", no_wrap=True, overflow="crop")
        for i in chosen:
            head.append(" " * gap + f"{columns[i].header:>{widths[i]}}", style="dim")
        lines.append(head)
    for row, name in enumerate(labels):
        line = Text(f"{label(name):<{lw_shown}}", style="bold", no_wrap=True, overflow="crop")
        for i in chosen:
            text, style = _cell(cells[i][row])
            line.append(" " * gap)
            line.append(f"{text:>{widths[i]}}", style=style or columns[i].style)
        lines.append(line)
    return lines


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


def kpi_badges(
    states: Mapping[str, str], values: Mapping[str, float | None], compact: bool = False, width: int = 0
) -> Text:
    """One coloured badge per KPI; ``compact`` (small screens): short names, no values.

    With ``width``, lines break between badges, never inside one (a badge
    ``backlog UNKNOWN`` used to break after ``backlog`` at 120 columns).
    """
    text = Text()  # the breaks are ours; rich wraps at a space only while a resize is pending
    used = 0
    for name, state in states.items():
        v = None if compact else values.get(name)
        shown = name.removesuffix("_ratio") if compact else name
        label = f" {shown} {state}" + ("" if v is None else f" {v:.2f}") + " "
        if width and used and used + len(label) > width:
            text.append("\n")
            used = 0
        text.append(label, style=KPI_STYLE.get(state, KPI_STYLE["UNKNOWN"]))
        text.append(" ")
        used += len(label) + 1
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

    def on_resize(self, _: Any) -> None:
        """Drawn for another width: draw again once the new layout is known (a resize used to
        leave panes drawn for the old width, cut at the new edge)."""
        self._key = object()
        redraw = getattr(self.app, "redraw_soon", None)
        if redraw is not None:
            redraw()

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
            label = fmt_axis(top, label_w - 1) if row == height - 1 else ("0" if row == 0 else "")
            line.append(f"{label:>{label_w - 1}} ", style="dim")
            # one span per row (not per cell): rich's cost grows with spans
            cells = "".join(BLOCKS[max(0, min(8, level - row * 8))] for level in levels)
            line.append(cells, style="cyan" if row < height * 0.75 else "bright_cyan")
            lines.append(line)
        per = 1 << self.zoom
        following = getattr(self.app, "following", "live")  # "live", "latest" (a replay), "end of run"
        where = following if self.scroll_back == 0 else f"-{self.scroll_back * per} samples"
        window_ms = self.pool.window_ns / 1e6
        span = len(cols) * per * window_ms / 1000
        parts = [self.pool.metric.replace("_per_s", "/s"), f"zoom ×{per}", where, f"{span:.1f} s shown"]
        footer = Text(fit_words(parts, max(10, self.size.width))[0], style="dim", no_wrap=True)
        return Group(*lines, footer)


class StatsPane(Pane):
    """current · 5-sample · EMA · peak · average, like the old monitor's statistics."""

    def __init__(self, pool: PoolState, **kw: Any) -> None:
        super().__init__(**kw)
        self.pool = pool
        self.compact = False  # small screens: current · EMA · peak in SI units, nothing else

    # (header, RunningStats attribute, keep: the higher, the later the column is dropped)
    COLUMNS = (
        ("current", "current", 5),
        ("5-sample", "smooth", 1),
        ("EMA", "ema", 4),
        ("peak", "peak", 3),
        ("average", "average", 2),
    )
    COMPACT = ("current", "EMA", "peak")  # small screens: these only

    def show(self) -> None:
        width = max(20, (self.size.width or 80))
        names = list(self.pool.stats)
        columns = []
        for header, attr, keep in self.COLUMNS:
            if self.compact and header not in self.COMPACT:
                continue
            values = [(getattr(self.pool.stats[n], attr), 3 if n == "gbps" else 0) for n in names]
            columns.append(
                Column(header, [fmt(v, d) for v, d in values], [fmt_si(v) for v, _ in values], keep=keep)
            )
        labels = [n.replace("_per_s", "/s") for n in names]
        table = fit_table(width, labels, columns) if names else [Text("no rate yet", style="dim")]
        if self.compact:
            self.set(Group(*table), shape=("compact", len(table), width))
            return
        last = self.pool.last
        info = [f"samples {self.pool.samples}", f"partial {self.pool.partial}"]
        if last is not None:
            info.append(f"window {last.window_ns / 1e6:.0f} ms")
        parts: list[RenderableType] = [*table]
        res = last.resources if last is not None else None
        if res is not None:
            parts.extend(Text(x, no_wrap=True) for x in fit_words(resources_parts(res), width))
        if last is not None and last.declared:  # the pipeline's own metrics (kcoro_stream.analysis)
            yours = [f"{k} {fmt_num(v)}" for k, v in last.declared.items()]
            yours[0] = "yours: " + yours[0]
            parts.extend(Text(x, style="dim", no_wrap=True) for x in fit_words(yours, width))
        parts.extend(Text(x, style="dim", no_wrap=True) for x in fit_words(info, width))
        self.set(Group(*parts), shape=(len(parts), width))


def fmt_si(value: float | None) -> str:
    """Compact SI (``8.89M``, ``0.0156``) or ``–``: the form a narrow column takes."""
    return "–" if value is None else fmt_num(value)


def resources_parts(res: Resources) -> list[str]:
    """The pool's CPU and memory: ``cpu 97%``, ``stack 1.2 MiB``, ``process cpu 180%``, ``rss 40.1 MiB``."""
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
    return parts or ["resources: –"]


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
            if r not in self.pool.produced_ratios():
                continue  # a channel pool has no fast path or steals of its own; nothing seen yet: no line
            data = list(self.pool.ratios[r])[-width:]
            current = data[-1] if data else None
            line = Text(f"{r.replace('_ratio', '')[:12]:<12} {fmt_ratio(current):>7}  ")
            bars = "".join(BLOCKS[max(1, min(8, round(v * 8)))] for v in data)
            line.append(bars, style="green" if current is None or current >= 0.5 else "yellow")
            lines.append(line)
        self.set(Group(*lines), shape=len(lines))


class PoolView(Vertical):
    """One pool's column: title + KPI badges, graph, statistics, ratio sparklines."""

    DEFAULT_CSS = """
    PoolView { border: round $accent; padding: 0 1; width: 1fr; height: 1fr; }
    PoolView .pool-kpis { height: auto; }
    PoolView StatsPane { height: auto; }
    PoolView.compact ThroughputGraph { min-height: 3; }
    PoolView.sized { height: auto; }
    """

    def __init__(self, pool: PoolState, state: DashboardState, **kw: Any) -> None:
        super().__init__(**kw)
        self.pool = pool
        self.state = state
        self.border_title = f"pool {pool.name}"
        self.compact = False
        self._ratios = True
        self._graph_rows: int | None = None

    def configure(self, *, compact: bool, ratios: bool, graph_rows: int | None) -> None:
        """Small-screen form, ratio sparklines on/off, graph height (None: fill the column)."""
        self.compact, self._ratios, self._graph_rows = compact, ratios, graph_rows
        self._apply()

    def _apply(self) -> None:
        self.set_class(self.compact, "compact")
        self.set_class(self._graph_rows is not None, "sized")
        for stats in self.query(StatsPane):
            stats.compact = self.compact
        for spark in self.query(RatioSparklines):
            spark.display = self._ratios
        for g in self.query(ThroughputGraph):
            g.styles.height = "1fr" if self._graph_rows is None else self._graph_rows

    def compose(self) -> ComposeResult:
        yield Pane(classes="pool-kpis")
        yield ThroughputGraph(self.pool, classes="graph")
        yield StatsPane(self.pool)
        yield RatioSparklines(self.pool)

    def on_mount(self) -> None:
        self._apply()  # composed children exist now
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
        pane = self.query_one(".pool-kpis", Pane)
        width = max(20, pane.size.width or 40)
        states = {} if kpi is None else dict(kpi.states)
        if self.pool.activity.channel:  # no fast path or steals of its own: no UNKNOWN badges for them
            states = {k: v for k, v in states.items() if k not in TASK_ONLY}
        badges = kpi_badges(states, kpi.values, self.compact, width) if kpi else None
        pane.set(
            badges if badges is not None else Text("KPIs: –", style="dim"),
            shape=None if badges is None else (badges.plain.count("\n"), width),
        )
        self.query_one(ThroughputGraph).refresh()
        self.query_one(StatsPane).show()
        self.query_one(RatioSparklines).show()


class ConfigPane(Pane):
    """Run configuration and pipeline state, as ``key value`` fields flowing over few lines.

    One field per row spent 7 rows on 5 fields; now the fields share lines and
    break only between fields (``max_lines`` caps it on small screens).
    """

    max_lines: int | None = None

    def show(self, state: DashboardState, info: Mapping[str, Any]) -> None:
        rows: list[tuple[str, str]] = [
            ("run", state.run_id or "–"),
            ("mode", state.mode or "–"),
            ("pools", ", ".join(state.pools) or "–"),
        ]
        rows += [(str(k), str(v)) for k, v in info.items()]
        if state.summary is not None:
            rows.append(("summary", f"{state.summary.samples} samples, {state.summary.duration_s:.1f} s"))
        run_kpi = state.kpis.get("all") if len(state.pools) > 1 else None
        width = max(20, (self.size.width or 80) - 2)
        key = (tuple(rows), None if run_kpi is None else run_kpi.ts_ns, width, self.max_lines)
        if self.unchanged(key):
            return
        lines = fit_words([f"{k} {v}" for k, v in rows], width)
        if self.max_lines is not None and len(lines) > self.max_lines:
            lines = [*lines[: self.max_lines - 1], lines[self.max_lines - 1].rstrip() + " …"]
        parts: list[RenderableType] = []
        for line in lines:
            text = Text()  # wraps at a space if the pane is narrower than it was measured, never cut
            for i, field_ in enumerate(line.split(" · ")):
                if i:
                    text.append(" · ", style="dim")
                k, _, v = field_.partition(" ")
                text.append(k, style="bold").append(" " + v if v else "")
            parts.append(text)
        if run_kpi is not None:
            badges = kpi_badges(run_kpi.states, run_kpi.values, self.max_lines is not None, width - 5)
            parts.append(Text("KPIs ", style="bold").append(badges))
        self.set(Group(*parts), shape=len(parts))


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
                for n, kind in (
                    (r.dropped_frames, "dropped"),
                    (r.corrupt_frames, "corrupt"),
                    (r.undecodable_frames, "undecodable"),
                ):
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


FAILED_MARK = "×"  # a window in which the worker's steals failed (some or all)
SCALE_STEPS = 10


class HeatmapPane(Pane):
    """Workers × recent windows: colour is utilisation, ``×`` marks failed steals.

    One row per worker (per pool in dual mode), one column per window, newest
    on the right; a time axis under the rows and a colour scale at the bottom.
    """

    LABEL = 5  # "w12 " / "w3  "

    def show(
        self, history: Mapping[str, Sequence[Heatmap]], cpus: Mapping[tuple[str, int], int] | None = None
    ) -> None:
        """``cpus``: (pool, worker) → its CPU, labelled ``w1@1`` when known (pinned or last seen)."""
        cpus = cpus or {}
        width = max(10, (self.size.width or 40) - 2)
        last = tuple((p, h[-1].ts_ns if h else 0) for p, h in history.items())
        if self.unchanged((last, width, tuple(cpus.items()))):
            return
        if not any(history.values()):
            self.set(Text("no heat-map yet", style="dim"), shape=0)
            return
        label = self.LABEL + (3 if cpus else 0)  # "w3@1  "
        cols = max(1, width - label)
        parts: list[RenderableType] = []
        span_s = 0.0
        for pool, windows in history.items():
            recent = list(windows)[-cols:]
            if not recent:
                continue
            hm = recent[-1]
            imb = "–" if hm.imbalance is None else f"{hm.imbalance:.2f}"
            head = [pool] if len(history) > 1 else []  # "channel · imbalance 1.00", broken between the two
            parts.extend(
                Text(x, style="bold", no_wrap=True) for x in fit_words([*head, f"imbalance {imb}"], width)
            )
            for w in hm.workers:
                name = f"w{w}" + (f"@{cpus[(pool, w)]}" if (pool, w) in cpus else "")
                line = Text(f"{name:<{label - 1}} ", no_wrap=True, overflow="crop")
                line.append(" " * (cols - len(recent)))  # windows not seen yet: blank on the left
                for win in recent:
                    u, failed = _worker_cell(win, w)
                    line.append(FAILED_MARK if failed else " ", style=heat_style(u))
                parts.append(line)
            span_s = max(span_s, len(recent) * hm.window_ns / 1e9)
        parts.append(time_axis(cols, span_s, label))
        parts.extend(heat_scale(width))
        self.set(Group(*parts), shape=len(parts))


def _worker_cell(hm: Heatmap, worker: int) -> tuple[float | None, bool]:
    """Worker ``worker``'s utilisation and whether any steal failed, in one window."""
    try:
        i = hm.workers.index(worker)
    except ValueError:
        return None, False
    u = hm.utilisation[i] if i < len(hm.utilisation) else None
    failed = hm.steals_failed[i] if i < len(hm.steals_failed) else 0
    return u, bool(failed)


def time_axis(cols: int, span_s: float, indent: int) -> Text:
    """``-12.5s ─────── now`` under the heat-map's columns (oldest left)."""
    left, right = f"-{span_s:.1f}s", "now"
    fill = max(1, cols - len(left) - len(right) - 2)
    return Text(" " * indent + f"{left} {'─' * fill} {right}", style="dim", no_wrap=True, overflow="crop")


def heat_scale(width: int) -> list[Text]:
    """The colour scale ``0% ██████████ 100% utilisation`` and the failed-steal marker (one line if it fits)."""
    scale = Text("0% ", style="dim", no_wrap=True, overflow="crop")
    for k in range(SCALE_STEPS):
        scale.append(" ", style=heat_style(k / (SCALE_STEPS - 1)))
    scale.append(" 100% utilisation" if len(scale) + 17 <= width else " 100%", style="dim")
    marker = Text(FAILED_MARK, style=heat_style(0.5)).append(" failed steals", style="dim")
    if len(scale) + 2 + len(marker) <= width:
        return [scale.append("  ").append(marker)]
    return [scale, marker]


class LatencyPane(Pane):
    """The latest histogram of each metric and pool as bars, with percentiles (sorted by metric, pool)."""

    def show(self, histograms: Mapping[tuple[str, str], HistogramSummary], rows: int = 6) -> None:
        if self.unchanged((rows, tuple((k, h.ts_ns, h.scope, h.count) for k, h in histograms.items()))):
            return
        if not histograms:
            self.set(Text("no latency histogram yet", style="dim"), shape=0)
            return
        width = max(20, (self.size.width or 60) - 2)
        parts: list[RenderableType] = []
        filled = {k: h for k, h in histograms.items() if h.count}  # no space for (empty) histograms
        if not filled:
            self.set(Text("no latency sample yet", style="dim"), shape=0)
            return
        for (_, pool), h in sorted(filled.items()):
            head = [h.metric.removesuffix("_ns"), f"[{pool}, {h.scope}]", f"n={h.count:,}"]
            parts.extend(Text(line, style="bold") for line in fit_words(head, width, " "))
            pcts = [
                f"p50 {fmt_ns(h.p50)}",
                f"p90 {fmt_ns(h.p90)}",
                f"p99 {fmt_ns(h.p99)}",
                f"p99.9 {fmt_ns(h.p999)}",
            ]
            parts.extend(Text(line, style="yellow") for line in fit_words(pcts, width, "  "))
            parts.extend(self.bars(h, rows, width))
        self.set(Group(*parts), shape=width)

    @staticmethod
    def bars(h: HistogramSummary, rows: int, width: int = 60) -> list[Text]:
        """At most ``rows`` bars, each ``≥ lower ███ count`` fitting in ``width`` columns."""
        nz = [(i, c) for i, c in enumerate(h.counts[: len(h.bounds)]) if c]
        if not nz:
            return [Text("(empty)", style="dim")]
        # merge neighbouring buckets down to `rows` bars
        per = max(1, -(-len(nz) // rows))
        groups = [nz[i : i + per] for i in range(0, len(nz), per)]

        # a bar that merges buckets says where it ends too: "16.4 µs–49.2 µs", not a bare "≥ 16.4 µs"
        def upper(
            i: int,
        ) -> str:  # where bucket i ends: the next bucket's lower bound (bounds stop at the last one used)
            if i + 1 < len(h.bounds):
                return fmt_ns(h.bounds[i + 1])
            return fmt_ns(bucket_lower(i + 1)) if h.scheme == SCHEME and i + 1 < BUCKETS else "∞"

        labels = [
            f"≥{fmt_ns(h.bounds[g[0][0]]):>9}"
            if len(g) == 1
            else f"{fmt_ns(h.bounds[g[0][0]])}–{upper(g[-1][0])}"
            for g in groups
        ]
        counts = [sum(c for _, c in g) for g in groups]
        top = max(counts)
        count_w = len(f"{top:,}")
        if max(len(x) for x in labels) + 2 + count_w > width:  # too narrow for ranges: lower bounds only
            labels = [f"≥{fmt_ns(h.bounds[g[0][0]]):>9}" for g in groups]
        lw = max(len(x) for x in labels)
        room = width - lw - 2 - count_w  # the bar gets what the label and the count leave: never the count
        out = []
        for label, c in zip(labels, counts, strict=True):
            line = Text(f"{label:>{lw}} ", no_wrap=True, overflow="crop")
            if room > 0:
                line.append("█" * max(1, round(c / top * min(24, room))), style="magenta").append(" ")
            out.append(line.append(f"{c:,}", style="dim"))
        return out


class ZeroCopyPane(Pane):
    """Every channel counter the run moved (zero-copy, rendezvous, failures, ...): total and
    last-window delta, per pool. Counters still at zero are one line at the end, so a
    zero-copy run's ``zc_*`` rows are not pushed off the pane by eight zero rows."""

    def show(self, zero_copy: Mapping[str, Mapping[str, tuple[int | None, int | None]]]) -> None:
        width = max(20, (self.size.width or 40) - 2)
        if self.unchanged((width, tuple((p, tuple(d.items())) for p, d in zero_copy.items()))):
            return
        if not zero_copy:
            self.set(Text("no channel counters (channel pool only)", style="dim"), shape=0)
            return
        pools = list(zero_copy)
        names = list(dict.fromkeys(k for d in zero_copy.values() for k in d))  # declaration order
        moved = [n for n in names if any(_num(zero_copy[p].get(n, (None, None))[0]) for p in pools)]
        columns = []
        for k, p in enumerate(pools):
            prefix = f"{p} " if len(pools) > 1 else ""
            totals = [_num(zero_copy[p].get(n, (None, None))[0]) for n in moved]
            deltas = [_num(zero_copy[p].get(n, (None, None))[1]) for n in moved]
            columns.append(
                Column(
                    f"{prefix}total", [fmt(v) for v in totals], [fmt_si(v) for v in totals], keep=10 - 2 * k
                )
            )
            columns.append(
                Column(
                    "Δ", [fmt(v) for v in deltas], [fmt_si(v) for v in deltas], keep=9 - 2 * k, style="cyan"
                )
            )
        lines: list[RenderableType] = [*fit_table(width, moved, columns, label_header="counter")]
        zero = [n for n in names if n not in moved]
        if zero:
            lines.extend(Text(x, style="dim", no_wrap=True) for x in fit_words(["at 0:", *zero], width, " "))
        self.set(Group(*lines), shape=(len(lines), width))


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


class AlertsPane(Pane):
    """Recent alerts (firing red, resolved green) and anomalies."""

    def show(self, state: DashboardState, rows: int | None = None) -> None:
        """The newest alerts first, as many as the pane has rows (at 80 × 24 the alerts view
        fills the screen: more than the 8 it used to show)."""
        if rows is None:
            rows = max(3, (self.size.height or 10) - 1)
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


class StatusBar(Pane):
    """The bottom line: why a key could not act (for a few seconds), else the keys that fit.

    Replaces textual's Footer, which cut its last key mid-word on 80 columns:
    here whole entries are dropped from the right instead.
    """

    DEFAULT_CSS = "StatusBar { height: 1; background: $boost; }"

    def show(self, hints: Sequence[tuple[str, str]], message: str | None = None) -> None:
        width = max(10, (self.size.width or 80) - 1)
        if self.unchanged((tuple(hints), message, width)):
            return
        if message:
            line = fit_words(message.split(" "), width, " ")
            text = Text(" " + " ".join(line[:1]) + (" …" if len(line) > 1 else ""), style="bold yellow")
            self.set(text, shape=1)
            return
        text = Text(no_wrap=True, overflow="crop")
        used = 0
        for key, what in hints:
            entry = len(key) + len(what) + 3
            if used + entry > width:
                break
            text.append(f" {key}", style="bold cyan").append(f" {what} ")
            used += entry
        self.set(text, shape=1)


class EndedPane(Pane):
    """The run is over: its summary and run directory stay on screen until ``q``."""

    DEFAULT_CSS = "EndedPane { height: auto; border: round $success; padding: 0 1; }"

    def show(self, lines: Sequence[str]) -> None:
        width = max(20, (self.size.width or 80) - 4)
        if self.unchanged((tuple(lines), width)):
            return
        parts = [Text("run ended · q closes the dashboard", style="bold green")]
        for (
            line
        ) in lines:  # summary lines break between fields ("key value", two spaces apart), never inside one
            indent = line[: len(line) - len(line.lstrip())]
            chunks = fit_words(line.strip().split("  "), width - len(indent), "  ")
            parts.extend(Text(indent + chunk, no_wrap=True) for chunk in chunks)
        self.set(Group(*parts), shape=(len(parts), width))


def help_text(bindings: Sequence[tuple[str, str]]) -> Text:
    text = Text("keys\n", style="bold")
    for key, what in bindings:
        text.append(f" {key:<7}", style="bold cyan").append(f" {what}\n")
    return text
