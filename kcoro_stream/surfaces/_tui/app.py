"""The terminal dashboard: a textual App hosting the trio pipeline as a guest.

::

    main thread, asyncio loop (textual)
      DashboardApp ◄── Wake message ── TuiHandle.post(batch) ◄── TuiSink.send
         │  keys: q r c t h + - ← →                      (trio task, same thread)
         └──► Controller.stop/pause/restart ──► the pipeline's source
      trio runs as a guest of that loop (trio.lowlevel.start_guest_run);
      when trio_main returns, the app exits with its result.

``run_tui(trio_main, title=...)`` is the entry point for the CLI: it builds the
app and a ``TuiHandle``, starts ``trio_main(handle)`` as a trio guest once the
app is mounted, and returns ``trio_main``'s int (or re-raises its exception)
after the app has restored the terminal. The CLI puts the handle into
``SinkContext.dashboard``; the ``tui`` sink attaches the controller to it
and posts every batch.

Posting never blocks the pipeline: batches go to a bounded buffer (oldest
events dropped and counted when the screen cannot keep up). The app drains
the buffer and redraws every ``refresh_interval`` seconds (default 0.2 s);
with ``refresh_interval=0`` (tests) each post wakes the app and every batch
is drawn.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, ClassVar

import trio
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Header, Static

from ...events import DerivedEvent
from ...sinks._base import Controller
from .os_pane import OsPane
from .state import DashboardState, summary_lines
from .widgets import (
    MAX_ZOOM,
    AlertsPane,
    ConfigPane,
    EndedPane,
    HeatmapPane,
    LatencyPane,
    MonitorPane,
    Pane,
    PoolView,
    StatusBar,
    ThroughputGraph,
    ZeroCopyPane,
    help_text,
)

NARROW = 110  # columns: below this, pools and bottom panes stack vertically
COMPACT_ROWS = 32  # rows: below this, one view at a time (tab), compact run line and statistics
MAX_PENDING = 50_000  # events buffered between two redraws before dropping the oldest
MESSAGE_S = 5.0  # how long a "this key cannot act because…" message stays in the bottom line
GRAPH_STEP = 2  # rows per [ / ] press
MIN_GRAPH = (6, 3)  # rows: the graph's min-height (widgets.py CSS), normal and compact

# panel name → the widget it shows/hides (keys 1–8); "ratios" is every pool's sparklines
PANELS = (
    ("run", "#config"),
    ("monitor", "#monitor"),
    ("workers", "#heatmap"),
    ("latency", "#latency"),
    ("counters", "#zerocopy"),
    ("alerts", "#alerts"),
    ("ratios", ""),
    ("os", "#os"),
)
BOTTOM = ("workers", "os", "latency", "counters", "alerts")  # the bottom row; views of their own when compact

KEYS = (
    ("q", "quit (stop the run cleanly; twice: leave now; after the run: close)"),
    ("r", "run / pause the benchmark (or replay)"),
    ("c", "clear statistics (peaks, averages, history)"),
    ("t", "switch mode channel ↔ tasks (restarts the run)"),
    ("+ / -", "zoom the throughput graph in / out"),
    ("← / →", "scroll the graph back / forward"),
    ("end", "follow live again"),
    ("[ / ]", "shrink / grow the graph panel"),
    ("1 – 8", "show / hide: run monitor workers latency counters alerts ratios os"),
    ("tab", "next view (small terminals: pools, workers, latency, …)"),
    ("h", "show / hide this help"),
)


class Wake(Message):
    """Events are waiting in the handle's buffer."""


class SinkClosed(Message):
    """The tui sink was closed: the run is over."""


class TuiHandle:
    """The link between the pipeline (trio, guest) and the app (asyncio, host).

    Same thread, so no locks: ``post`` appends to a bounded buffer and posts a
    single ``Wake``; the app ``take``s everything on wake.
    """

    def __init__(self, app: DashboardApp, *, max_pending: int = MAX_PENDING) -> None:
        self.app = app
        self.max_pending = max_pending
        self._pending: deque[DerivedEvent] = deque()
        self._wake_posted = False
        self.dropped = 0
        self.posted = 0
        app.handle = self

    def attach(
        self,
        *,
        controller: Controller | None = None,
        live: bool = True,
        statistics: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        """Called by the tui sink's ``open``: where the keys' commands go."""
        self.app.controller = controller
        self.app.live = live
        self.app.statistics = statistics

    def set_run_config(self, config: Mapping[str, Any]) -> None:
        """Shown in the configuration pane (the CLI passes the benchmark config)."""
        self.app.run_config = dict(config)

    def post(self, batch: Iterable[DerivedEvent]) -> None:
        """Queue events for the screen; never waits."""
        for ev in batch:
            self._pending.append(ev)
            self.posted += 1
        over = len(self._pending) - self.max_pending
        if over > 0:
            for _ in range(over):
                self._pending.popleft()
            self.dropped += over
        if not self._wake_posted and self.app.refresh_interval <= 0:
            # redraw on every batch (tests); otherwise the app polls at its refresh rate
            self._wake_posted = True
            self.app.post_message(Wake())

    def take(self) -> list[DerivedEvent]:
        self._wake_posted = False
        out = list(self._pending)
        self._pending.clear()
        return out

    def detach(self) -> None:
        self.app.post_message(SinkClosed())

    def finish(self, lines: Iterable[str]) -> None:
        """The run's summary and run directory, shown when the run ends (the CLI passes them)."""
        self.app.end_lines = list(lines)


class DashboardApp(App[int]):
    """kcoro-stream's live terminal dashboard."""

    # .narrow (stack pools) and .compact (one view at a time) are set on the screen by _apply_layout
    CSS = """
    Screen { layout: vertical; overflow: hidden; }
    #top { height: auto; max-height: 12; }
    #config { width: 1fr; height: auto; border: round $primary; padding: 0 1; }
    #monitor { height: auto; max-height: 2; padding: 0 1; background: $boost; }
    #help { width: 56; height: auto; border: round $warning; padding: 0 1; display: none; }
    #help.shown { display: block; }
    #tabs { height: 1; padding: 0 1; display: none; }
    #pools { height: 1fr; min-height: 8; layout: horizontal; }
    #waiting { width: 1fr; height: 1fr; content-align: center middle; color: $text-muted; }
    #bottom { height: 30%; min-height: 8; max-height: 16; layout: horizontal; }
    #bottom > Pane { width: 1fr; height: 1fr; border: round $primary; padding: 0 1; }
    #foot { dock: bottom; height: auto; }
    #ended { display: none; }
    Screen.narrow #pools { layout: vertical; }
    Screen.narrow #bottom { layout: grid; grid-size: 2; height: 40%; max-height: 24; }
    Screen.narrow #help { width: 1fr; }
    Screen.compact #config { border: none; padding: 0 1; }
    Screen.compact #tabs { display: block; }
    Screen.compact #pools { min-height: 6; }
    Screen.compact #bottom { height: 1fr; max-height: 100%; min-height: 3; layout: vertical; }
    Screen.compact #top { max-height: 100%; }
    Screen.compact #help { width: 1fr; }
    Screen.sized #pools { height: auto; }
    Screen.sized #bottom { height: 1fr; max-height: 100%; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_run", "quit"),
        Binding("ctrl+c", "quit_run", "quit", show=False, priority=True),
        Binding("r", "toggle_run", "run/pause"),
        Binding("c", "clear", "clear"),
        Binding("t", "toggle_mode", "mode"),
        Binding("h", "toggle_help", "help"),
        Binding("plus,equals_sign", "zoom(-1)", "zoom in", key_display="+"),
        Binding("minus", "zoom(1)", "zoom out", key_display="-"),
        Binding("left", "scroll_graph(1)", "back", key_display="←"),
        Binding("right", "scroll_graph(-1)", "forward", key_display="→"),
        Binding("end", "follow", "live", show=False),
        Binding("left_square_bracket", "graph_size(-1)", "graph smaller", key_display="["),
        Binding("right_square_bracket", "graph_size(1)", "graph larger", key_display="]"),
        Binding("tab", "next_view(1)", "next view", priority=True),
        Binding("shift+tab", "next_view(-1)", "previous view", priority=True),
        *(
            Binding(str(i + 1), f"toggle_panel('{name}')", name, show=False)
            for i, (name, _) in enumerate(PANELS)
        ),
    ]

    def __init__(
        self, *, title: str = "kcoro-stream", refresh_interval: float = 0.2, hold: bool = False
    ) -> None:
        super().__init__()
        self.hold = hold  # keep the last frame, summary and run directory on screen until q
        self.check_terminal = True  # hold only while the terminal is there (run_tui: not when headless)
        self.ended = False  # the run ended and the dashboard is holding its last frame
        self.end_lines: list[str] | None = None  # summary lines + run directory (TuiHandle.finish)
        self.compact = False
        self.view = "pools"  # compact: the one view shown (pools or a BOTTOM panel)
        self.hidden: dict[bool, set[str]] = {False: set(), True: {"monitor", "ratios"}}  # by compact
        self.graph_rows: int | None = None  # None: the graph fills its column
        self._message: str | None = None
        self._message_until = 0.0
        self.title = title
        self.refresh_interval = refresh_interval
        self.state = DashboardState()
        self.handle: TuiHandle | None = None
        self.controller: Controller | None = None
        self.live = True
        self.statistics: Callable[[], Mapping[str, Any]] | None = None
        self.run_config: dict[str, Any] = {}
        self.stop_requested = False
        self.sink_closed = False
        self.zoom = 0
        self._pool_views: dict[str, PoolView] = {}
        self._drawn_version = -1
        self._redraw_pending = False
        self._switching_to: str | None = None  # t pressed: the mode asked for, until its run's first sample
        self._switch_from: str | None = None
        self._last_draw = 0.0
        self._draw_timer: Any = None
        self._stats_cache: dict[str, Any] = {}
        self._stats_at = 0.0
        # guest trio run (run_tui): set once trio has started
        self._trio_main: Callable[[TuiHandle], Awaitable[int]] | None = None
        self._trio_token: trio.lowlevel.TrioToken | None = None
        self._trio_scope: trio.CancelScope | None = None
        self._trio_outcome: Any = None
        self._trio_finished: asyncio.Future[None] | None = None

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Header(show_clock=True)
        with Horizontal(id="top"):
            yield ConfigPane(id="config")
            yield Static(help_text(KEYS), id="help")
        yield MonitorPane(id="monitor")
        yield Pane(id="tabs")
        with Horizontal(id="pools"):
            yield Static("waiting for samples…", id="waiting")
        with Horizontal(id="bottom"):
            yield HeatmapPane(id="heatmap")
            yield OsPane(id="os")
            yield LatencyPane(id="latency")
            yield ZeroCopyPane(id="zerocopy")
            yield AlertsPane(id="alerts")
        with Vertical(id="foot"):
            yield EndedPane(id="ended")
            yield StatusBar(id="status")

    def on_mount(self) -> None:
        for pane_id, title in (
            ("config", "run"),
            ("heatmap", "workers"),
            ("os", "OS"),
            ("latency", "latency"),
            ("zerocopy", "channel counters"),
            ("alerts", "alerts"),
            ("help", "help"),
        ):
            self.query_one(f"#{pane_id}").border_title = title
        self._apply_layout()
        self.draw(force=True)
        if self.refresh_interval > 0:
            self.set_interval(self.refresh_interval, self._poll)
        if self._trio_main is not None:
            self._start_trio()

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)
        self.draw(force=True)

    def _apply_layout(self, width: int | None = None, height: int | None = None) -> None:
        """Which panels show, and how: from the terminal's size, the hidden panels and the view.

        Compact (fewer than COMPACT_ROWS rows): the pools with their graph, current/EMA/peak
        and KPI badges are one view; each bottom panel is a view of its own (tab).
        """
        width = self.size.width if width is None else width
        height = self.size.height if height is None else height
        self.compact = height < COMPACT_ROWS
        self.screen.set_class(width < NARROW and not self.compact, "narrow")
        self.screen.set_class(self.compact, "compact")
        self.screen.set_class(self.graph_rows is not None, "sized")
        hidden = self.hidden[self.compact]
        views = self.views()
        if self.view not in views:
            self.view = "pools"
        # compact: the help (h) is a view of its own, over everything else
        helping = self.compact and self.query_one("#help").has_class("shown")
        on_pools = not helping and (not self.compact or self.view == "pools")
        config = self.query_one(ConfigPane)
        config.max_lines = 2 if self.compact else None
        config.display = on_pools and "run" not in hidden
        self.query_one(MonitorPane).display = on_pools and "monitor" not in hidden
        self.query_one("#pools").display = on_pools
        shown = [
            b for b in BOTTOM if b not in hidden and not helping and (not self.compact or self.view == b)
        ]
        for name, selector in PANELS:
            if name in BOTTOM:
                self.query_one(selector).display = name in shown
        self.query_one("#bottom").display = bool(shown)
        for view in self._pool_views.values():
            view.configure(compact=self.compact, ratios="ratios" not in hidden, graph_rows=self.graph_rows)
        tabs = Text(no_wrap=True, overflow="crop")
        for v in views:
            tabs.append(f" {v} ", style="bold reverse" if v == self.view else "dim")
        self.query_one("#tabs", Pane).set(tabs.append("  tab: next view", style="dim"), shape=1)
        self.call_after_refresh(self._refresh_graphs)  # drawn again at their new size
        self.redraw_soon()  # a pane shown again (a tab, a panel key) is drawn at its width, not the hidden one's

    def redraw_soon(self) -> None:
        """A pane changed size: redraw everything once, after this refresh (many panes, one draw)."""
        if not self._redraw_pending:
            self._redraw_pending = True
            # a moment later, not after the next refresh: by then every pane of a resize has its
            # new size (a draw right after the refresh still saw some old widths)
            self.set_timer(0.05, self._redraw_now)

    def _redraw_now(self) -> None:
        self._redraw_pending = False
        self._redraw_if_running()

    def _refresh_graphs(self) -> None:
        for g in self.query(ThroughputGraph):
            g.refresh()

    def views(self) -> list[str]:
        """The compact views, in tab order: the pools, then each bottom panel not hidden."""
        return ["pools", *(b for b in BOTTOM if b not in self.hidden[True])]

    @property
    def narrow(self) -> bool:
        return self.screen.has_class("narrow")

    # ------------------------------------------------------------------ data

    def on_wake(self, _: Wake) -> None:
        if self.handle is None:
            return
        self._feed(self.handle.take())
        self.schedule_draw()

    def _feed(self, batch: list[DerivedEvent]) -> None:
        if not batch:
            return
        self.state.feed(batch)
        if self._switching_to is not None and self.state.sample_run != self._switch_from:
            self._switching_to = None  # the new run is on screen

    def on_sink_closed(self, _: SinkClosed) -> None:
        self.sink_closed = True
        self.draw(force=True)

    def say(self, message: str) -> None:
        """Show why a key could not act, in the bottom line, for MESSAGE_S seconds."""
        self._message = message
        self._message_until = time.monotonic() + MESSAGE_S
        self._show_status()
        self.set_timer(MESSAGE_S + 0.05, self._show_status)

    def _show_status(self) -> None:
        if not self.is_running:
            return
        message = self._message if time.monotonic() < self._message_until else None
        hints: list[tuple[str, str]] = [("q", "close" if self.ended else "quit")]
        if not self.ended:
            hints.append(("r", "pause"))
        hints.append(("h", "help"))
        if self.compact:
            hints.append(("tab", "view"))
        hints += [("1-8", "panels"), ("[ ]", "graph"), ("+ -", "zoom"), ("← →", "scroll"), ("c", "clear")]
        if self.live and not self.ended:
            hints.append(("t", "mode"))
        try:
            self.query_one(StatusBar).show(hints, message)
        except NoMatches:
            pass  # the screen is being torn down

    def _poll(self) -> None:
        """Take what the pipeline posted since the last tick and redraw once."""
        if self.handle is not None:
            self._feed(self.handle.take())
        self.draw()

    def schedule_draw(self) -> None:
        """Redraw now, or at most every ``refresh_interval`` seconds."""
        wait = self._last_draw + self.refresh_interval - time.monotonic()
        if wait <= 0:
            self.draw()
        elif self._draw_timer is None:
            self._draw_timer = self.set_timer(wait, self._timed_draw)

    def _timed_draw(self) -> None:
        self._draw_timer = None
        self.draw()

    @property
    def run_state(self) -> str:
        """One word for where the run is, the same in the header and the run pane:
        ``ended`` (the run is over), ``stalled`` (the producer sent nothing past its
        threshold: the monitor's Status), ``paused``, ``running``; ``waiting`` before
        anything is attached."""
        if self.ended or self.sink_closed:
            return "ended"
        status = self.state.status
        if status is not None and status.state == "stalled":
            return "stalled"
        if self.controller is not None:
            return "paused" if self.controller.paused else "running"
        return "waiting"

    @property
    def following(self) -> str:
        """What the graph shows when not scrolled back: ``live``, the ``latest`` of a replay, or the ``end of run``."""
        if self.ended or self.sink_closed:
            return "end of run"
        return "live" if self.live else "latest"

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = dict(self.run_config)
        info["source"] = "live" if self.live else "replay"
        info["state"] = self.run_state
        intervals = [i for p in self.state.pools.values() if (i := p.interval_ms()) is not None]
        if intervals:  # the producer's current sampling interval (adaptive sampling widens it)
            info["sampling"] = f"{max(intervals):.3g} ms"
        if self.statistics is not None and time.monotonic() - self._stats_at > 1.0:
            self._stats_at = time.monotonic()
            try:
                stats = self.statistics()
            except Exception as e:  # a dashboard must not die of a stats bug: show it
                stats = {"statistics": f"unavailable ({e.__class__.__name__})"}
            self._stats_cache = {k: v for k, v in stats.items() if isinstance(v, int | float | str | bool)}
        info.update(self._stats_cache)
        if self.handle is not None and self.handle.dropped:
            info["screen drops"] = self.handle.dropped
        return info

    def draw(self, force: bool = False) -> None:
        self._last_draw = time.monotonic()
        if not force and self.state.version == self._drawn_version:
            return
        self._drawn_version = self.state.version
        self._sync_pool_views()
        for view in self._pool_views.values():
            if view.display:
                view.show()
        self.query_one(ConfigPane).show(self.state, self._info())
        self.query_one(MonitorPane).show(self.state.status)
        self.query_one(HeatmapPane).show(self.state.heat_history, self.state.cpus())
        self.query_one(OsPane).show(self.state.os)
        histograms = self.state.latency()
        n = len(histograms)
        self.query_one(LatencyPane).show(histograms, rows=7 if n <= 1 else 4 if n == 2 else 2)
        self.query_one(ZeroCopyPane).show(self.state.zero_copy)
        self.query_one(AlertsPane).show(self.state)
        self._show_status()
        if self.ended:
            self._show_ended()
        self.sub_title = self._sub_title()

    def _sub_title(self) -> str:
        """The header's account of the run: ``PAUSED · replay · dual``, ``STALLED · channel``, ``run ended · q closes``."""
        state = self.run_state
        if state == "ended":
            return "run ended · q closes" if self.ended else "run ended"
        parts = [state.upper()] if state in ("paused", "stalled") else []
        if not self.live:
            parts.append("replay")
        if self.state.mode:
            parts.append(self.state.mode)
        return " · ".join(parts)

    def _sync_pool_views(self) -> None:
        """One PoolView per pool name, mounted once and never removed.

        A pool that goes away (a mode switch) only hides its view; when a pool of
        that name comes back the view is re-bound and shown. Removing a view is
        asynchronous in textual, so a late sample of the old run arriving right
        after ``t`` used to mount a second ``#pool-channel`` before the first was
        gone (``DuplicateIds``, issue 28).
        """
        pools = self.query_one("#pools")
        for name, shown in self._pool_views.items():
            shown.display = name in self.state.pools
        for name, pool in self.state.pools.items():
            found = self._pool_views.get(name)
            if found is not None:
                if found.pool is not pool:
                    found.rebind(pool)  # a new run's pool of the same name
            else:
                view = self._pool_views[name] = PoolView(pool, self.state, id=f"pool-{name}")
                pools.mount(view)
                for g in view.query(ThroughputGraph):
                    g.zoom = self.zoom
                hidden = self.hidden[self.compact]
                view.configure(
                    compact=self.compact, ratios="ratios" not in hidden, graph_rows=self.graph_rows
                )
        self.query_one("#waiting").display = not self.state.pools  # never removed either

    # ------------------------------------------------------------------ keys

    def action_quit_run(self) -> None:
        if self.ended:  # holding the last frame: q closes
            self.exit(0)
            return
        if self.controller is not None and not self.stop_requested and self._trio_running():
            self.stop_requested = True
            self._command(self.controller.stop)
            self.notify("stopping the run… (q again to leave now)")
            return
        if self._trio_running():
            self._cancel_trio()
        else:
            if self.controller is not None and not self.stop_requested:
                self.stop_requested = True
                self._command(self.controller.stop)
            self.exit(0)

    def action_toggle_run(self) -> None:
        if self.ended:
            self.say("r: the run is over; q closes the dashboard")
            return
        if self.controller is None:
            self.say("r: nothing to pause, no source is attached")
            return
        self._command(self.controller.pause, not self.controller.paused)
        self.draw(force=True)
        # the controller runs the pause inside trio a moment later: show its new state then
        self.set_timer(0.1, self._redraw_if_running)

    def _redraw_if_running(self) -> None:
        """A delayed redraw that may land while the app is shutting down."""
        if not self.is_running:
            return
        try:
            self.draw(force=True)
        except NoMatches:
            pass  # the screen is being torn down

    def action_clear(self) -> None:
        self.state.clear()
        self.draw(force=True)

    def action_toggle_mode(self) -> None:
        if self.ended:
            self.say("t: the run is over; start a new one to switch mode")
            return
        if self.controller is None or not self.live:
            self.say("t: a mode switch needs a live run (this is a replay)")
            return
        # the run shown stays until the new run's first sample replaces it (DashboardState.feed):
        # a switch the run's end overtakes leaves the finished run on screen, not an empty one
        current = self._switching_to or self.state.mode or "channel"
        other = "tasks" if current == "channel" else "channel"
        self._switching_to, self._switch_from = other, self.state.sample_run
        self._command(self.controller.restart, other)
        self.say(f"t: switching to {other} (a new run starts)")
        self.draw(force=True)

    def action_toggle_help(self) -> None:
        self.query_one("#help").toggle_class("shown")
        self._apply_layout()

    def action_zoom(self, step: int) -> None:
        zoom = max(0, min(MAX_ZOOM, self.zoom + step))
        if zoom == self.zoom:
            if step < 0:
                self.say("+: already at the closest zoom (×1, one sample per column); - zooms out")
            else:
                self.say(f"-: already at the widest zoom (×{1 << MAX_ZOOM} samples per column); + zooms in")
            return
        self.zoom = zoom
        for g in self.query(ThroughputGraph):
            g.zoom = self.zoom
            g.scroll_back = min(g.scroll_back, g.max_scroll_back(max(1, g.size.width - 9)))

    def action_scroll_graph(self, direction: int) -> None:
        graphs = list(self.query(ThroughputGraph))
        if not graphs:
            self.say("←/→: no graph yet (waiting for samples)")
            return
        moved = False
        for g in graphs:
            width = max(1, g.size.width - 9)
            step = max(1, width // 4)
            back = max(0, min(g.max_scroll_back(width), g.scroll_back + direction * step))
            moved |= back != g.scroll_back
            g.scroll_back = back
        if moved:
            return
        g = graphs[0]
        if direction < 0:
            self.say("→: already following live; ← scrolls back")
        elif g.max_scroll_back(max(1, g.size.width - 9)) == 0:
            have = len(g.pool.history)
            need = max(1, g.size.width - 9) << g.zoom
            self.say(
                f"←: the history does not fill the graph yet ({have} of {need} samples); nothing older to show"
            )
        else:
            self.say("←: at the oldest sample kept; → or end go forward")

    def action_follow(self) -> None:
        for g in self.query(ThroughputGraph):
            g.scroll_back = 0

    def action_graph_size(self, step: int) -> None:
        """[ / ]: the graph panel a few rows smaller / larger (the other panels take the rest)."""
        graphs = list(self.query(ThroughputGraph))
        if not graphs:
            self.say("[ ]: no graph yet (waiting for samples)")
            return
        if self.compact and self.view != "pools":
            self.say("[ ]: the graph is in the pools view; tab goes there")
            return
        least = MIN_GRAPH[self.compact]
        most = max(least, self.size.height - (10 if self.compact else 18) - 4 * (len(graphs) - 1))
        now = self.graph_rows if self.graph_rows is not None else graphs[0].size.height
        most = max(most, now)  # filling its column already: never "grow" it smaller
        rows = max(least, min(most, now + step * GRAPH_STEP))
        if rows == now:
            self.say(
                f"[: the graph is at its smallest ({least} rows)"
                if step < 0
                else f"]: the graph is at its largest for this terminal ({most} rows)"
            )
            return
        self.graph_rows = rows
        self._apply_layout()
        self.draw(force=True)

    def action_next_view(self, step: int) -> None:
        """tab / shift+tab: the next view, on terminals too small for every panel at once."""
        if not self.compact:
            self.say(f"tab: every panel is on screen; views switch on terminals under {COMPACT_ROWS} rows")
            return
        views = self.views()
        self.view = views[(views.index(self.view) + step) % len(views)] if self.view in views else "pools"
        self._apply_layout()
        self.draw(force=True)

    def action_toggle_panel(self, name: str) -> None:
        hidden = self.hidden[self.compact]
        if name in hidden:
            hidden.discard(name)
            if self.compact and name in BOTTOM:
                self.view = name  # shown again: go to it
        else:
            hidden.add(name)
        self._apply_layout()
        self.draw(force=True)

    # ------------------------------------------------------------- trio guest

    def _command(self, fn: Callable[..., None], *args: Any) -> None:
        """Call a Controller method inside trio's run when the pipeline is our guest.

        Keys arrive on the asyncio side, outside trio's context; the controller
        may touch trio objects (events, channels), so the call is handed to trio.
        """
        if self._trio_token is not None and self._trio_running():
            try:
                self._trio_token.run_sync_soon(fn, *args)
                return
            except trio.RunFinishedError:
                return
        fn(*args)

    def _start_trio(self) -> None:
        assert self._trio_main is not None and self.handle is not None
        trio_main, handle = self._trio_main, self.handle
        loop = asyncio.get_running_loop()

        async def entry() -> int | None:
            self._trio_token = trio.lowlevel.current_trio_token()
            with trio.CancelScope() as scope:
                self._trio_scope = scope
                return await trio_main(handle)
            return None  # cancelled: the user left with a second q

        trio.lowlevel.start_guest_run(
            entry,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=self._trio_done,
            host_uses_signal_set_wakeup_fd=True,
        )

    def _trio_running(self) -> bool:
        return self._trio_main is not None and self._trio_outcome is None

    def _cancel_trio(self) -> None:
        token, scope = self._trio_token, self._trio_scope
        if token is not None and scope is not None:
            token.run_sync_soon(scope.cancel)

    def _trio_done(self, outcome: Any) -> None:
        self._trio_outcome = outcome
        if self._trio_finished is not None:  # the app had already ended: run_tui waits on this
            if not self._trio_finished.done():
                self._trio_finished.set_result(None)
            return
        # an interactive run that ended by itself: keep the last frame, summary and run directory until q
        # (not after q, which asked to leave; not after an error, which the CLI prints)
        if (
            self.hold
            and not self.stop_requested
            and getattr(outcome, "error", None) is None
            and (not self.check_terminal or terminal_is_there())
        ):
            self.ended = True
            self.draw(force=True)
            return
        self.exit(0)

    def _show_ended(self) -> None:
        lines = self.end_lines
        if lines is None:  # no summary passed: what the stream said
            s = self.state.summary
            lines = [] if s is None else summary_lines([s])
        pane = self.query_one(EndedPane)
        pane.display = True
        pane.show(lines)


def run_tui(
    trio_main: Callable[[TuiHandle], Awaitable[int]],
    *,
    title: str,
    headless: bool = False,
    size: tuple[int, int] | None = None,
    refresh_interval: float = 0.2,
    auto_pilot: Callable[[Pilot[Any]], Coroutine[Any, Any, None]] | None = None,
    hold: bool = False,
) -> int:
    """Run the dashboard in this (main) thread with ``trio_main`` as a trio guest.

    Returns ``trio_main``'s result (130 if the user left before it finished);
    an exception raised by ``trio_main`` is re-raised here, after the terminal
    has been restored, so the CLI can print its one-line error.
    ``headless``/``size``/``auto_pilot`` are textual's (tests drive keys with a pilot).
    ``hold``: when ``trio_main`` ends by itself, keep the last frame with the
    summary (``TuiHandle.finish``) on screen until ``q`` (interactive terminals only:
    the CLI never holds for --exit-on-end, CI or a stdin/stdout that is not a TTY).
    """
    app = DashboardApp(title=title, refresh_interval=refresh_interval, hold=hold)
    app.check_terminal = not headless  # textual's headless mode (tests) has no terminal to lose
    TuiHandle(app)
    app._trio_main = trio_main
    # Our own loop, not asyncio.run's: if the app ends first (a crash, or an
    # exit that bypassed the q key), trio is still a guest of this loop and
    # must be cancelled and driven to its end here, before the loop closes.
    loop = asyncio.new_event_loop()
    if not headless:
        # The terminal closed (SIGHUP) or a SIGTERM while the last frame is held: leave. During
        # the run the source's own receiver (sources/_process.watch_signals) takes these signals
        # and restores these handlers when the run ends.
        for sig in (signal.SIGHUP, signal.SIGTERM):
            loop.add_signal_handler(sig, app.exit, 130)
    try:
        app.run(headless=headless, size=size, auto_pilot=auto_pilot, loop=loop)
        if app._trio_running() and app._trio_token is not None:
            done: asyncio.Future[None] = loop.create_future()
            app._trio_finished = done
            app._cancel_trio()
            loop.run_until_complete(asyncio.wait_for(done, timeout=30))
    finally:
        _close_loop(loop)
    outcome = app._trio_outcome
    if outcome is None:
        return app.return_code or 1  # trio never ran to an end (it did not start, or hung)
    result = outcome.unwrap()  # re-raises trio_main's exception
    return 130 if result is None else int(result)


def terminal_is_there() -> bool:
    """Whether the dashboard's terminal is still open (a closed tmux pane or SSH session hangs it up:
    holding the last frame for a ``q`` that can never come kept the process alive, spinning)."""
    for stream in (sys.__stdin__, sys.__stdout__):
        try:
            if stream is None or not os.isatty(stream.fileno()):
                return False
        except (OSError, ValueError):
            return False
    return True


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """What asyncio.run does on the way out: cancel leftovers, close generators."""
    try:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
