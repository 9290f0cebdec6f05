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
``SinkContext.extra["tui"]``; the ``tui`` sink attaches the controller to it
and posts every batch.

Posting never blocks the pipeline: batches go to a bounded buffer (oldest
events dropped and counted when the screen cannot keep up). The app drains
the buffer and redraws every ``refresh_interval`` seconds (default 0.2 s);
with ``refresh_interval=0`` (tests) each post wakes the app and every batch
is drawn.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, ClassVar

import trio
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Footer, Header, Static

from ...events import DerivedEvent
from .._base import Controller
from .os_pane import OsPane
from .state import DashboardState
from .widgets import (
    MAX_ZOOM,
    AlertsPane,
    ConfigPane,
    HeatmapPane,
    LatencyPane,
    MonitorPane,
    PoolView,
    ThroughputGraph,
    ZeroCopyPane,
    help_text,
)

NARROW = 110  # columns: below this, pools and bottom panes stack vertically
MAX_PENDING = 50_000  # events buffered between two redraws before dropping the oldest

KEYS = (
    ("q", "quit (stop the run cleanly; twice: leave now)"),
    ("r", "run / pause the benchmark (or replay)"),
    ("c", "clear statistics (peaks, averages, history)"),
    ("t", "switch mode channel ↔ tasks (restarts the run)"),
    ("+ / -", "zoom the throughput graph in / out"),
    ("← / →", "scroll the graph back / forward"),
    ("end", "follow live again"),
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


class DashboardApp(App[int]):
    """kcoro-stream's live terminal dashboard."""

    # .narrow is set on the screen below NARROW columns (on_resize)
    CSS = """
    Screen { layout: vertical; }
    #top { height: auto; max-height: 12; }
    #config { width: 1fr; height: auto; border: round $primary; padding: 0 1; }
    #monitor { height: auto; max-height: 2; padding: 0 1; background: $boost; }
    #help { width: 56; height: auto; border: round $warning; padding: 0 1; display: none; }
    #help.shown { display: block; }
    #pools { height: 1fr; min-height: 8; layout: horizontal; }
    #waiting { width: 1fr; height: 1fr; content-align: center middle; color: $text-muted; }
    #bottom { height: 30%; min-height: 8; max-height: 16; layout: horizontal; }
    #bottom > Pane { width: 1fr; height: 1fr; border: round $primary; padding: 0 1; }
    Screen.narrow #pools { layout: vertical; }
    Screen.narrow #bottom { layout: grid; grid-size: 2; height: 40%; max-height: 24; }
    Screen.narrow #help { width: 1fr; }
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
    ]

    def __init__(self, *, title: str = "kcoro-stream", refresh_interval: float = 0.2) -> None:
        super().__init__()
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
        with Horizontal(id="pools"):
            yield Static("waiting for samples…", id="waiting")
        with Horizontal(id="bottom"):
            yield HeatmapPane(id="heatmap")
            yield OsPane(id="os")
            yield LatencyPane(id="latency")
            yield ZeroCopyPane(id="zerocopy")
            yield AlertsPane(id="alerts")
        yield Footer()

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
        self._relayout(self.size.width)
        self.draw(force=True)
        if self.refresh_interval > 0:
            self.set_interval(self.refresh_interval, self._poll)
        if self._trio_main is not None:
            self._start_trio()

    def on_resize(self, event: events.Resize) -> None:
        self._relayout(event.size.width)

    def _relayout(self, width: int) -> None:
        self.screen.set_class(width < NARROW, "narrow")

    @property
    def narrow(self) -> bool:
        return self.screen.has_class("narrow")

    # ------------------------------------------------------------------ data

    def on_wake(self, _: Wake) -> None:
        if self.handle is None:
            return
        batch = self.handle.take()
        if batch:
            self.state.feed(batch)
        self.schedule_draw()

    def on_sink_closed(self, _: SinkClosed) -> None:
        self.sink_closed = True
        self.sub_title = "run ended"
        self.draw(force=True)

    def _poll(self) -> None:
        """Take what the pipeline posted since the last tick and redraw once."""
        if self.handle is not None:
            batch = self.handle.take()
            if batch:
                self.state.feed(batch)
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

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = dict(self.run_config)
        info["source"] = "live" if self.live else "replay"
        if self.controller is not None:
            info["state"] = "paused" if self.controller.paused else "running"
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
            view.show()
        self.query_one(ConfigPane).show(self.state, self._info())
        self.query_one(MonitorPane).show(self.state.status)
        self.query_one(HeatmapPane).show(self.state.heatmaps, self.state.cpus())
        self.query_one(OsPane).show(self.state.os)
        n = len(self.state.histograms)
        self.query_one(LatencyPane).show(self.state.histograms, rows=7 if n <= 1 else 4 if n == 2 else 2)
        self.query_one(ZeroCopyPane).show(self.state.zero_copy)
        self.query_one(AlertsPane).show(self.state)
        if not self.sink_closed:
            paused = self.controller is not None and self.controller.paused
            self.sub_title = ("PAUSED · " if paused else "") + (self.state.mode or "")

    def _sync_pool_views(self) -> None:
        pools = self.query_one("#pools")
        for name in [n for n in self._pool_views if n not in self.state.pools]:
            self._pool_views.pop(name).remove()
        for name, pool in self.state.pools.items():
            view = self._pool_views.get(name)
            if view is not None and view.pool is not pool:
                view.rebind(pool)  # a new run's pool of the same name
            elif view is None:
                view = self._pool_views[name] = PoolView(pool, self.state, id=f"pool-{name}")
                pools.mount(view)
                for g in view.query(ThroughputGraph):
                    g.zoom = self.zoom
        waiting = self.query("#waiting")
        if self.state.pools and waiting:
            waiting.remove()
        elif not self.state.pools and not waiting:
            pools.mount(Static("waiting for samples…", id="waiting"))

    # ------------------------------------------------------------------ keys

    def action_quit_run(self) -> None:
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
        if self.controller is None:
            self.notify("nothing to pause: no source attached", severity="warning")
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
        if self.controller is None or not self.live:
            self.notify("mode switch needs a live run", severity="warning")
            return
        current = self.state.mode or "channel"
        other = "tasks" if current == "channel" else "channel"
        self._command(self.controller.restart, other)
        self.state.reset()
        self.state.mode = other
        self.draw(force=True)

    def action_toggle_help(self) -> None:
        self.query_one("#help").toggle_class("shown")

    def action_zoom(self, step: int) -> None:
        self.zoom = max(0, min(MAX_ZOOM, self.zoom + step))
        for g in self.query(ThroughputGraph):
            g.zoom = self.zoom
            g.scroll_back = min(g.scroll_back, g.max_scroll_back(max(1, g.size.width - 9)))

    def action_scroll_graph(self, direction: int) -> None:
        for g in self.query(ThroughputGraph):
            width = max(1, g.size.width - 9)
            step = max(1, width // 4)
            g.scroll_back = max(0, min(g.max_scroll_back(width), g.scroll_back + direction * step))

    def action_follow(self) -> None:
        for g in self.query(ThroughputGraph):
            g.scroll_back = 0

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
        self.exit(0)


def run_tui(
    trio_main: Callable[[TuiHandle], Awaitable[int]],
    *,
    title: str,
    headless: bool = False,
    size: tuple[int, int] | None = None,
    refresh_interval: float = 0.2,
    auto_pilot: Callable[[Pilot[Any]], Coroutine[Any, Any, None]] | None = None,
) -> int:
    """Run the dashboard in this (main) thread with ``trio_main`` as a trio guest.

    Returns ``trio_main``'s result (130 if the user left before it finished);
    an exception raised by ``trio_main`` is re-raised here, after the terminal
    has been restored, so the CLI can print its one-line error.
    ``headless``/``size``/``auto_pilot`` are textual's (tests drive keys with a pilot).
    """
    app = DashboardApp(title=title, refresh_interval=refresh_interval)
    TuiHandle(app)
    app._trio_main = trio_main
    # Our own loop, not asyncio.run's: if the app ends first (a crash, or an
    # exit that bypassed the q key), trio is still a guest of this loop and
    # must be cancelled and driven to its end here, before the loop closes.
    loop = asyncio.new_event_loop()
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
