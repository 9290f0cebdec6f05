"""The terminal dashboard through textual's headless pilot, and run_tui's trio guest mode.

textual runs on asyncio, so these tests are plain functions that run their own
asyncio loop (the project's pytest runs async tests under trio).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
import trio
from rich.console import Console
from rich.style import Style
from textual.pilot import Pilot
from textual.widgets import Static

from kcoro_stream.errors import SinkError
from kcoro_stream.events import Metrics, Resources
from kcoro_stream.sinks import Controller, SinkContext, build_sink, sink_class
from kcoro_stream.surfaces._tui import DashboardApp, TuiHandle, run_tui
from kcoro_stream.surfaces._tui.widgets import (
    MAX_ZOOM,
    Pane,
    PoolView,
    RatioSparklines,
    StatsPane,
    ThroughputGraph,
    heat_style,
)
from kcoro_stream.surfaces.tui import TuiSink

try:
    from .surface_factory import Script, anomaly, histogram, os_sample, sample, status
except ImportError:  # tests/ run without package __init__ files
    from surface_factory import Script, anomaly, histogram, os_sample, sample, status  # type: ignore[no-redef]


class FakeController(Controller):
    """Records what the dashboard asked the source to do."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._paused = False
        self.stopped: trio.Event | None = None  # set inside trio when running as a guest

    def pause(self, paused: bool) -> None:
        self.calls.append(("pause", paused))
        self._paused = paused

    def set_interval_ms(self, interval_ms: float) -> None:
        self.calls.append(("interval", interval_ms))

    def stop(self) -> None:
        self.calls.append(("stop",))
        if self.stopped is not None:
            self.stopped.set()  # raises outside trio's context: proves the call was routed into trio

    def restart(self, mode: str) -> None:
        self.calls.append(("restart", mode))

    @property
    def paused(self) -> bool:
        return self._paused


def text_of(widget: Any) -> str:
    """What a pane shows, as plain text."""
    out = io.StringIO()
    Console(file=out, width=max(40, widget.size.width or 100), color_system=None).print(widget.content)
    return out.getvalue()


def drive(
    scenario: Callable[[DashboardApp, TuiHandle, Pilot[int]], Awaitable[None]],
    size: tuple[int, int] = (160, 50),
    controller: Controller | None = None,
    live: bool = True,
) -> DashboardApp:
    app = DashboardApp(title="test", refresh_interval=0)  # redraw on every batch: deterministic
    handle = TuiHandle(app)
    handle.attach(controller=controller, live=live)

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await scenario(app, handle, pilot)

    asyncio.run(main())
    return app


async def feed(pilot: Pilot[int], handle: TuiHandle, batches: Any) -> None:
    for batch in batches:
        handle.post(batch)
    await pilot.pause()
    await pilot.pause()  # newly mounted pool views draw after their first refresh


def test_registered_and_needs_a_running_dashboard() -> None:
    assert sink_class("tui") is TuiSink and TuiSink.policy == "drop_oldest"
    sink = build_sink("tui", SinkContext())
    with pytest.raises(SinkError, match=r"^tui: no terminal dashboard is running"):
        trio.run(sink.open)


def test_panels_show_the_scripted_stream() -> None:
    """Statistics, KPI badges, heat-map, latency, zero-copy and alerts come from the events."""

    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        script = Script(batches=40, tasks_per_s=1000.0, alert_at=10, dual=True)
        await feed(pilot, handle, script)
        await feed(pilot, handle, [[sample(40, tasks_per_s=3000.0, mode="dual"), anomaly(40)]])
        tasks = app.query_one("#pool-tasks", PoolView)
        stats = text_of(tasks.query_one(StatsPane))
        # current 3000, peak 3000, average (40×1000 + 3000)/41
        assert "tasks/s" in stats and "3,000" in stats and "1,049" in stats, stats
        assert "samples 41" in stats
        channel = text_of(app.query_one("#pool-channel", PoolView).query_one(StatsPane))
        assert "msgs/s" in channel and "5,000" in channel and "gbps" in channel
        config = text_of(app.query_one("#config", Pane))
        assert "run-test-0001" in config and "fastpath_ratio GREEN" in config and "utilisation RED" in config
        heat_pane = app.query_one("#heatmap", Pane)
        heat = text_of(heat_pane)
        rows = {line.split()[0]: line for line in heat.splitlines() if line.startswith("w")}
        # workers × windows: 10 heat-map windows (every 4th batch), newest right; w0 never failed a steal
        assert sorted(rows) == ["w0", "w1", "w2", "w3"] and rows["w3"].rstrip().endswith("×" * 10), heat
        assert "×" not in rows["w0"] and "imbalance 0.40" in heat
        assert "-2.5s" in heat and "now" in heat and "100%" in heat and "× failed steals" in heat
        # the colour is the worker's utilisation: 25 % for w0, 100 % for w3
        lines = {str(t).split(" ")[0]: t for t in heat_pane.content.renderables if str(t).startswith("w")}  # type: ignore[attr-defined]
        for worker, u in (("w0", 0.25), ("w3", 1.0)):
            cells = {sp.style.bgcolor for sp in lines[worker].spans if isinstance(sp.style, Style)}
            assert cells == {heat_style(u).bgcolor}, (worker, cells)
        latency = text_of(app.query_one("#latency", Pane))
        assert "p50 1.0 µs" in latency and "p99 16.0 µs" in latency and "n=273" in latency
        zc = text_of(app.query_one("#zerocopy", Pane))
        # zero-copy sent: total 10×39 after the last window, delta 10; EAGAIN total 3×39, delta 3
        assert "zc_sent" in zc and "390" in zc and "send_eagain" in zc and "117" in zc
        alerts = text_of(app.query_one("#alerts", Pane))
        assert "1 firing" in alerts and "fastpath_low" in alerts and "anomaly" in alerts
        assert app.sub_title == "dual"

    drive(scenario)


def test_monitor_pane_and_pool_resources() -> None:
    """The monitor pane shows the latest Status (losses, log, sink queues and drops); pools show CPU/memory."""

    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=4))
        assert "no status yet" in text_of(app.query_one("#monitor", Pane))
        res = Resources(cpu_pct=187.5, stack_bytes=3 << 20, process_cpu_pct=190.0, rss_bytes=48 << 20)
        tasks = msgspec.structs.replace(sample(5), resources=res)
        await feed(pilot, handle, [[tasks, status(5, dropped=2, corrupt=1, ws_drops=7)]])
        pane = app.query_one("#monitor", Pane)
        monitor = " ".join(text_of(pane).split())  # one line, wrapped to the width
        assert monitor.startswith("monitor running · ring 125 frames, lost 2 dropped 1 corrupt 0 undecodable")
        assert "log 31.2 KiB (4.4 KiB on disk)" in monitor
        assert (
            "ndjson q 1/64" in monitor and "websocket q 5/256, dropped 7 (slow_client 7), 1 client" in monitor
        )
        red = {
            pane.content.plain[sp.start : sp.end].strip()
            for sp in pane.content.spans
            if "red" in str(sp.style)
        }
        assert red == {
            "2 dropped",
            "1 corrupt",
            ", dropped 7 (slow_client 7)",
        }  # losses stand out, zeros do not
        stats = text_of(app.query_one("#pool-tasks", PoolView).query_one(StatsPane))
        assert "cpu 188% · stack 3.0 MiB · process cpu 190% · rss 48.0 MiB" in stats, stats

    drive(scenario)


def test_keys_reach_the_controller() -> None:
    """r pauses/resumes, t restarts in the other mode, q stops the run."""
    ctl = FakeController()

    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=5))
        await pilot.press("r")
        assert app.sub_title.startswith("PAUSED")
        await pilot.press("r")
        await pilot.press("t")
        # the old run stays on screen until the new run's first sample replaces it
        assert list(app.state.pools) == ["tasks"] and "switching to channel" in status_line(app)
        await pilot.press("t")
        await pilot.press("q")

    app = drive(scenario, controller=ctl)
    assert ctl.calls == [
        ("pause", True),
        ("pause", False),
        ("restart", "channel"),
        ("restart", "tasks"),
        ("stop",),
    ]
    assert app.return_code == 0


def test_mode_switch_is_refused_on_replay() -> None:
    ctl = FakeController()

    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=3))
        await pilot.press("t")
        await pilot.press("r")

    drive(scenario, controller=ctl, live=False)
    assert ctl.calls == [("pause", True)]  # r pauses playback; t needs a live run


def test_clear_restarts_statistics_and_history() -> None:
    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, [[sample(i, tasks_per_s=1000.0 * (i + 1))] for i in range(10)])
        pool = app.state.pools["tasks"]
        assert pool.stats["tasks_per_s"].peak == 10_000.0 and len(pool.history) == 10
        await pilot.press("c")
        assert "tasks_per_s" not in pool.stats and len(pool.history) == 0
        await feed(pilot, handle, [[sample(10, tasks_per_s=500.0)]])
        assert pool.stats["tasks_per_s"].peak == 500.0
        assert "500" in text_of(app.query_one(StatsPane))

    drive(scenario)


def test_graph_zooms_and_scrolls_over_bounded_history() -> None:
    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, [[sample(i, tasks_per_s=float(i))] for i in range(5000)])
        graph = app.query_one(ThroughputGraph)
        assert len(app.state.pools["tasks"].history) == 4096  # bounded
        width = graph.size.width - 9
        assert graph.columns(width)[-1] == 4999.0  # live: the newest sample is at the right edge
        await pilot.press("minus")
        assert graph.zoom == 1 and graph.columns(width)[-1] == 4998.5  # two samples per column
        await pilot.press("left")
        assert graph.scroll_back == width // 4
        assert graph.columns(width)[-1] == 4998.5 - 2 * graph.scroll_back
        assert "zoom ×2" in str(graph.render().renderables[-1])  # type: ignore[attr-defined]
        for _ in range(100):
            await pilot.press("left")
        assert graph.scroll_back == graph.max_scroll_back(width) > 0  # cannot scroll past the oldest sample
        await pilot.press("right")
        assert graph.scroll_back == graph.max_scroll_back(width) - width // 4
        await pilot.press("end")
        assert graph.scroll_back == 0
        for _ in range(10):
            await pilot.press("plus")
        assert graph.zoom == 0
        for _ in range(10):
            await pilot.press("minus")
        assert graph.zoom == 6

    drive(scenario)


def test_dual_mode_is_split_screen_and_relayouts_on_resize() -> None:
    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=8, dual=True))
        tasks, channel = app.query_one("#pool-tasks"), app.query_one("#pool-channel")
        assert not app.narrow
        assert tasks.region.y == channel.region.y and tasks.region.x < channel.region.x  # side by side
        await pilot.resize_terminal(90, 70)
        await pilot.pause()
        assert app.narrow
        assert tasks.region.x == channel.region.x and tasks.region.y < channel.region.y  # stacked
        await pilot.resize_terminal(170, 50)
        await pilot.pause()
        assert not app.narrow and tasks.region.y == channel.region.y

    drive(scenario)


def test_help_toggles() -> None:
    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        help_pane = app.query_one("#help", Static)
        assert not help_pane.display
        await pilot.press("h")
        assert help_pane.display and "switch mode" in text_of(help_pane)
        await pilot.press("h")
        assert not help_pane.display

    drive(scenario)


def test_screen_buffer_is_bounded_and_counts_drops() -> None:
    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        handle.max_pending = 10
        handle.post([histogram(i, [1]) for i in range(25)])  # before the app could drain it
        await pilot.pause()
        assert handle.dropped == 15 and app.state.events == 10

    drive(scenario)


def test_run_tui_hosts_the_pipeline_as_a_trio_guest() -> None:
    """trio_main runs inside the app's loop; the sink feeds the screen; q → stop() inside trio."""
    ctl = FakeController()
    seen: dict[str, Any] = {}

    async def trio_main(handle: TuiHandle) -> int:
        ctl.stopped = trio.Event()
        sink = build_sink("tui", SinkContext(controller=ctl, dashboard=handle))
        await sink.open()
        for batch in Script(batches=20, dual=True):
            await sink.send(batch)
            await trio.sleep(0)
        seen["sent"] = sink.statistics().received
        await ctl.stopped.wait()  # until the user presses q
        await sink.aclose()
        return 7

    async def pilot_script(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, DashboardApp)
        for _ in range(500):  # bounded: until the guest has sent everything
            if "sent" in seen and app.state.events == seen["sent"]:
                break
            await pilot.pause(0.01)
        seen["pools"] = sorted(app.state.pools)
        await pilot.press("r")
        await pilot.press("q")

    result = run_tui(trio_main, title="guest", headless=True, size=(140, 45), auto_pilot=pilot_script)
    assert result == 7
    assert seen["pools"] == ["channel", "tasks"]
    assert ctl.calls == [("pause", True), ("stop",)]


def test_run_tui_reraises_the_pipeline_error() -> None:
    async def trio_main(handle: TuiHandle) -> int:
        await trio.sleep(0)
        raise SinkError("ndjson: out.ndjson exists (use --force)")

    with pytest.raises(SinkError, match="exists"):
        run_tui(trio_main, title="guest", headless=True, size=(100, 30))


TMUX_PROGRAM = r"""
import sys, trio
sys.path.insert(0, {tests!r})
from surface_factory import Script
from kcoro_stream.sinks import Controller, SinkContext, build_sink
from kcoro_stream.surfaces.tui import run_tui

class Recorder(Controller):
    def __init__(self):
        self.calls, self._paused, self.stopped = [], False, None
    def pause(self, paused):
        self.calls.append(f"pause {{paused}}"); self._paused = paused
    def set_interval_ms(self, ms):
        self.calls.append(f"interval {{ms}}")
    def stop(self):
        self.calls.append("stop"); self.stopped.set()
    def restart(self, mode):
        self.calls.append(f"restart {{mode}}")
    @property
    def paused(self):
        return self._paused

ctl = Recorder()

async def main(handle):
    ctl.stopped = trio.Event()
    sink = build_sink("tui", SinkContext(controller=ctl, dashboard=handle))
    await sink.open()
    for batch in Script(batches=80, dual=True, alert_at=30):
        await sink.send(batch)
        await trio.sleep(0.005)
    await ctl.stopped.wait()
    await sink.aclose()
    return 3

code = run_tui(main, title="tmux check")
with open({calls!r}, "w") as f:
    f.write(",".join(ctl.calls))
sys.exit(code)
"""


def test_run_tui_in_a_real_terminal_under_tmux(tmp_path: Any) -> None:
    """A real terminal: the dashboard draws, keys reach the controller, q ends the run with its code."""
    try:
        from .tmux_helpers import TmuxSession
    except ImportError:
        from tmux_helpers import TmuxSession  # type: ignore[no-redef]
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parent)
    program = tmp_path / "dash.py"
    calls = tmp_path / "calls.txt"
    program.write_text(TMUX_PROGRAM.format(tests=tests, calls=str(calls)))
    argv = [sys.executable, str(program)]
    root = str(Path(__file__).resolve().parents[2])
    with TmuxSession(argv, size=(150, 45), cwd=root, env={"PYTHONPATH": root}) as tm:
        screen = tm.wait_for(lambda s: "fastpath_low" in s and "pool channel" in s)
        assert "pool tasks" in screen and "tasks/s" in screen and "msgs/s" in screen
        tm.send_keys("r")
        tm.wait_for("PAUSED")
        tm.send_keys("h")
        tm.wait_for("switch mode")
        tm.resize(90, 60)

        def stacked(screen: str) -> bool:  # narrow: the pools are one above the other
            lines = screen.splitlines()
            tasks = [i for i, line in enumerate(lines) if "pool tasks" in line]
            channel = [i for i, line in enumerate(lines) if "pool channel" in line]
            return bool(tasks and channel and tasks[0] < channel[0])

        tm.wait_for(stacked)
        tm.send_keys("q")
        assert tm.wait_exit() == 3
    assert calls.read_text() == "pause True,stop"


def test_run_tui_cancels_the_pipeline_when_the_app_ends_first() -> None:
    """If the app ends on its own, trio is cancelled and driven to its end on the same loop."""
    cleaned: list[str] = []

    async def trio_main(handle: TuiHandle) -> int:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(0.01)  # cleanup that needs the loop to keep running
            cleaned.append("done")
        return 0  # pragma: no cover - cancelled before

    async def leave(pilot: Pilot[int]) -> None:
        await pilot.pause()
        pilot.app.exit(5)

    assert run_tui(trio_main, title="guest", headless=True, size=(100, 30), auto_pilot=leave) == 130
    assert cleaned == ["done"]


def test_dashboard_shows_the_smoothing_ops_computed_and_skips_partial_windows_in_peaks() -> None:
    """5-sample and EMA are the Sample's own smooth/ema (no second EMA); a partial window sets no peak."""
    from kcoro_stream.surfaces._tui.state import DashboardState

    st = DashboardState()
    st.feed(
        [
            msgspec.structs.replace(
                sample(0), smooth=Metrics(tasks_per_s=900.0), ema=Metrics(tasks_per_s=950.0)
            )
        ]
    )
    spike = msgspec.structs.replace(sample(1, tasks_per_s=9000.0), partial=True, smooth=None, ema=None)
    st.feed([spike])
    stats = st.pools["tasks"].stats["tasks_per_s"]
    assert (stats.current, stats.smooth, stats.ema) == (9000.0, 900.0, 950.0)
    assert stats.peak == 1000.0 and stats.average == 1000.0


def test_a_new_run_replaces_the_old_runs_pools() -> None:
    """A Sample of another run (mode switch, next run of a replay) resets the per-pool state and panes."""

    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=4, dual=True))
        assert {v.id for v in app.query(PoolView)} == {"pool-tasks", "pool-channel"}
        other = msgspec.structs.replace(sample(5, pool="channel", mode="channel"), run_id="run-2")
        await feed(pilot, handle, [[other]])
        assert {v.id for v in app.query(PoolView) if v.display} == {"pool-channel"}
        assert app.state.pools["channel"].samples == 1 and app.state.run_id == "run-2"

    drive(scenario)


def test_mode_switch_with_late_samples_of_the_old_run_never_mounts_a_pool_twice() -> None:
    """Issue 28: ``t`` then a late sample of the old run used to mount a second ``#pool-channel``
    while the first was being removed (``DuplicateIds``); views are now hidden and re-bound."""

    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        ch = [[sample(i, pool="channel", mode="channel", tasks_per_s=0.0, msgs_per_s=5e6)] for i in range(4)]
        await feed(pilot, handle, ch)
        from kcoro_stream.surfaces._tui.app import Wake

        for k in range(3):  # t, then a late sample of the old run in the same frame (no await between)
            app.action_toggle_mode()
            handle.post([sample(4 + k, pool="channel", mode="channel", msgs_per_s=5e6)])
            app.on_wake(Wake())
            await pilot.pause()
            await pilot.press("t")
        new = msgspec.structs.replace(sample(9, pool="tasks"), run_id="run-2")
        await feed(pilot, handle, [[new]])
        assert [v.id for v in app.query(PoolView) if v.display] == ["pool-tasks"]
        assert len(app.query("#pool-channel")) == 1

    drive(scenario, controller=FakeController())


def test_latency_pane_keeps_one_histogram_per_metric_and_pool() -> None:
    """Two metrics of one pool no longer replace each other; a window summary wins over the cumulative one."""
    from kcoro_stream.surfaces._tui.state import DashboardState

    st = DashboardState()
    st.feed([histogram(0, [1, 2, 3]), histogram(0, [0, 4], metric="chan_latency_ns")])
    st.feed(
        [histogram(1, [5, 5], scope="window"), histogram(2, [9, 9, 9])]
    )  # cumulative after window: ignored
    assert sorted(st.histograms) == [("chan_latency_ns", "tasks"), ("task_start_latency_ns", "tasks")]
    assert st.histograms[("task_start_latency_ns", "tasks")].scope == "window"
    assert st.histograms[("task_start_latency_ns", "tasks")].count == 10


def status_line(app: DashboardApp) -> str:
    return text_of(app.query_one("#status", Pane)).strip()


def test_80x24_shows_graph_statistics_and_kpis_the_rest_is_one_tab_away() -> None:
    """Compact: both pools' graphs, current/EMA/peak and KPI badges fit; bottom panels are views (tab)."""

    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=40, dual=True))
        await feed(pilot, handle, [[kpi_of_pool("tasks")]])
        assert app.compact and not app.narrow
        for pool in ("tasks", "channel"):
            view = app.query_one(f"#pool-{pool}", PoolView)
            graph, stats = view.query_one(ThroughputGraph), view.query_one(StatsPane)
            assert graph.region.height >= 6 and stats.region.height >= 2, (pool, graph.region, stats.region)
            assert graph.region.bottom <= 23 and stats.region.bottom <= 23  # on screen, above the status line
            table = text_of(stats)
            assert all(col in table for col in ("current", "EMA", "peak")), table
        assert "5,000" in text_of(app.query_one("#pool-channel", PoolView).query_one(StatsPane))
        assert "fastpath GREEN" in text_of(
            app.query_one("#pool-tasks", PoolView).query_one(".pool-kpis", Pane)
        )
        config = app.query_one("#config", Pane)
        assert config.region.height <= 3 and "run-test-0001" in text_of(config)  # the run panel is compact
        assert not app.query_one("#bottom").display
        footer = status_line(app)
        assert len(footer) <= 80 and footer.endswith(("panels", "graph", "zoom", "scroll", "clear", "mode"))
        # tab: the workers view, full width; latency lines never wrap: each fits the pane
        await pilot.press("tab")
        assert app.view == "workers" and not app.query_one("#pools").display
        assert app.query_one("#heatmap").display and "× failed steals" in text_of(
            app.query_one("#heatmap", Pane)
        )
        await pilot.press("tab")  # the OS view: its own tab now, not half of every view (issue 28)
        assert app.view == "os" and app.query_one("#os").display and not app.query_one("#heatmap").display
        await pilot.press("tab")
        latency = app.query_one("#latency", Pane)
        assert app.view == "latency" and latency.display
        width = latency.size.width
        out = io.StringIO()
        Console(file=out, width=width, color_system=None).print(latency.content)
        unwrapped = io.StringIO()
        Console(file=unwrapped, width=1000, color_system=None).print(latency.content)
        assert out.getvalue() == unwrapped.getvalue()  # nothing wrapped: every line fits the pane
        await pilot.press("shift+tab", "shift+tab", "shift+tab")
        assert app.view == "pools" and app.query_one("#pools").display
        await pilot.press("h")  # the help is a view of its own: nothing of it cut beside the run pane
        await pilot.pause()
        help_pane = app.query_one("#help", Static)
        assert help_pane.display and not app.query_one("#pools").display and help_pane.region.width == 80
        assert help_pane.region.bottom <= 23
        await pilot.press("h")
        assert app.query_one("#pools").display

    drive(scenario, size=(80, 24))


def kpi_of_pool(pool: str) -> Any:
    from kcoro_stream.events import Kpi

    try:
        from .surface_factory import kpi
    except ImportError:
        from surface_factory import kpi  # type: ignore[no-redef]
    return msgspec.convert({**msgspec.to_builtins(kpi(40)), "pool": pool}, Kpi)


def test_200x50_shows_every_panel_at_once() -> None:
    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=40, dual=True))
        assert not app.compact and not app.narrow
        for selector in ("#config", "#monitor", "#heatmap", "#latency", "#zerocopy", "#alerts"):
            widget = app.query_one(selector)
            assert widget.display and widget.region.height > 0 and widget.region.bottom <= 49, selector
        stats = text_of(app.query_one("#pool-tasks", PoolView).query_one(StatsPane))
        assert all(col in stats for col in ("current", "5-sample", "EMA", "peak", "average"))
        await pilot.press("tab")  # nothing to switch: says why
        assert "every panel is on screen" in status_line(app)

    drive(scenario, size=(200, 50))


def test_keys_that_cannot_act_say_why() -> None:
    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=10))
        await pilot.press("plus")
        assert app.zoom == 0 and "already at the closest zoom (×1" in status_line(app)
        await pilot.press("left")
        assert "the history does not fill the graph yet (10 of" in status_line(app)
        await pilot.press("right")
        assert "already following live" in status_line(app)
        await pilot.press("t")
        assert "needs a live run" in status_line(app)
        await pilot.press("minus")
        assert app.zoom == 1
        for _ in range(MAX_ZOOM):
            await pilot.press("minus")
        assert app.zoom == MAX_ZOOM and "already at the widest zoom" in status_line(app)

    drive(scenario, live=False, controller=FakeController())


def test_panels_toggle_and_the_graph_resizes() -> None:
    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=10, dual=True))
        heat, graph = (
            app.query_one("#heatmap"),
            app.query_one("#pool-tasks", PoolView).query_one(ThroughputGraph),
        )
        await pilot.press("3")
        assert not heat.display and app.query_one("#latency").display
        await pilot.press("3")
        assert heat.display
        await pilot.press("7")  # the ratio sparklines
        await pilot.pause()
        assert not app.query_one("#pool-tasks", PoolView).query_one(RatioSparklines).display
        before = graph.size.height
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert graph.size.height == before + 2 == app.graph_rows
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.pause()
        assert graph.size.height == before - 2
        for _ in range(30):
            await pilot.press("left_square_bracket")
        await pilot.pause()
        assert graph.size.height == 6 and "the graph is at its smallest (6 rows)" in status_line(app)
        for _ in range(30):
            await pilot.press("right_square_bracket")
        await pilot.pause()
        assert "the graph is at its largest" in status_line(app)
        tasks_view = app.query_one("#pool-tasks", PoolView)
        assert tasks_view.region.bottom <= app.query_one("#bottom").region.y  # the bottom row is not covered

    drive(scenario, size=(160, 50))


def test_a_held_dashboard_shows_summary_and_run_directory_until_q() -> None:
    """hold: a run that ended by itself keeps its last frame with the summary; q closes; q during the run does not hold."""
    seen: dict[str, Any] = {}

    async def trio_main(handle: TuiHandle) -> int:
        sink = build_sink("tui", SinkContext(controller=FakeController(), dashboard=handle))
        await sink.open()
        for batch in Script(batches=12):
            await sink.send(batch)
        await sink.aclose()
        handle.finish(["SUMMARY tasks samples=12 duration_s=3.000 losses=0", "run directory: /tmp/runs/x"])
        return 4

    async def look_then_quit(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, DashboardApp)
        for _ in range(500):
            if app.ended:
                break
            await pilot.pause(0.01)
        await pilot.pause()
        seen["ended"] = text_of(app.query_one("#ended", Pane))
        seen["status"] = status_line(app)
        await pilot.press("r")
        seen["r"] = status_line(app)
        await pilot.press("q")

    assert (
        run_tui(trio_main, title="held", headless=True, size=(80, 24), auto_pilot=look_then_quit, hold=True)
        == 4
    )
    assert "run ended" in seen["ended"] and "SUMMARY tasks samples=12" in seen["ended"]
    assert "run directory: /tmp/runs/x" in seen["ended"] and seen["status"].startswith("q close")
    assert "the run is over" in seen["r"]


def test_os_pane_and_cpu_labels() -> None:
    """The OS pane shows each worker's CPU and run-queue wait; the heat-map labels workers with their CPU;
    an os_interference anomaly shows its message in the alerts."""

    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=8, tasks_per_s=1000.0, dual=True))
        cause = "tasks/s −38 % from window 41; worker 1 (cpu 1) waited 41 ms on the run queue, 120 involuntary switches"
        hog = msgspec.structs.replace(anomaly(8), method="os_interference", message=cause)
        await feed(pilot, handle, [[os_sample(8), hog]])
        os_text = text_of(app.query_one("#os", Pane))
        rows = {line.split()[0]: line.split() for line in os_text.splitlines() if line.startswith("w")}
        assert rows["w1"][1:4] == ["1*", "62%", "480"] and rows["w0"][1:3] == ["0*", "3%"], os_text
        assert all(len(line) <= app.query_one("#os").size.width for line in os_text.splitlines())
        heat = text_of(app.query_one("#heatmap", Pane))
        assert "w0@0" in heat and "w1@1" in heat, heat
        alerts = text_of(app.query_one("#alerts", Pane))
        assert "worker 1 (cpu 1) waited 41 ms" in " ".join(alerts.split()), alerts

    drive(scenario)


# ------------------------------------------------------------------ issue 28 (the screens, third pass)


def test_fit_table_never_cuts_a_number() -> None:
    """Full figures when they fit, else compact SI, else whole columns dropped (lowest ``keep`` first)."""
    from kcoro_stream.surfaces._tui.widgets import Column, fit_table

    cols = [
        Column("current", ["8,892,310"], ["8.89M"], keep=5),
        Column("average", ["27,277,001"], ["27.28M"], keep=2),
        Column("peak", ["212,820,911"], ["212.82M"], keep=3),
    ]
    wide = [t.plain for t in fit_table(60, ["msgs/s"], cols)]
    assert "8,892,310" in wide[1] and "212,820,911" in wide[1], wide
    mid = [t.plain for t in fit_table(36, ["msgs/s"], cols)]
    assert mid[1].split() == ["msgs/s", "8.89M", "27.28M", "212.82M"], mid
    narrow = [t.plain for t in fit_table(24, ["msgs/s"], cols)]
    assert narrow[0].split() == ["current", "peak"] and narrow[1].split() == ["msgs/s", "8.89M", "212.82M"]
    for lines, width in ((wide, 60), (mid, 36), (narrow, 24)):
        assert all(len(x) <= width and "…" not in x for x in lines), lines


def test_a_channel_pool_shows_only_the_figures_it_produces() -> None:
    """No tasks/s row (not even the 8 tasks/s of draining), no fast-path/steal lines or KPI badges."""

    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        batches = [
            [
                sample(
                    i,
                    pool="channel",
                    mode="channel",
                    tasks_per_s=8.0 if i > 5 else 0.0,
                    msgs_per_s=2.7e7,
                    fastpath_ratio=0.0,
                    steal_ratio=0.0,
                )
            ]
            for i in range(8)
        ]
        await feed(pilot, handle, [*batches, [msgspec.structs.replace(kpi_of_pool("channel"))]])
        view = app.query_one("#pool-channel", PoolView)
        stats = text_of(view.query_one(StatsPane))
        assert "msgs/s" in stats and "tasks/s" not in stats, stats
        assert "27,000,000" in stats  # full digits: they fit at 120 columns
        ratios = text_of(view.query_one(RatioSparklines))
        assert "fastpath" not in ratios and "steal" not in ratios, ratios
        badges = text_of(view.query_one(".pool-kpis", Pane))
        assert "fastpath" not in badges and "steal" not in badges, badges

    drive(scenario, size=(120, 40))


def test_latency_pane_skips_empty_histograms_and_labels_merged_bars_with_their_range() -> None:
    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        empty = histogram(1, [0] * 40, metric="chan_latency_ns", scope="window", pool="channel")
        full = histogram(1, [0] * 30 + [5, 9, 2, 7, 1, 3, 4, 8], scope="window")
        await feed(pilot, handle, [[sample(1), empty, full]])
        text = text_of(app.query_one("#latency", Pane))
        assert "chan_latency" not in text and "(empty)" not in text, text
        assert "task_start_latency" in text and "–" in text, text  # "lower–upper" bars when merged

    drive(scenario, size=(200, 50))


def test_finished_replay_stalled_and_interval_states_agree_everywhere() -> None:
    """Header and run pane say the same thing: stalled, ended (never "running" beside "run ended");
    a replay is never "live"; the sampling interval is shown."""

    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        s = msgspec.structs.replace(sample(1), frames=25, span_ns=250_000_000)
        await feed(pilot, handle, [[s]])
        run = " ".join(text_of(app.query_one("#config", Pane)).split())
        assert "source replay" in run and "sampling 10 ms" in run, run
        out = io.StringIO()
        Console(file=out, width=120, color_system=None).print(app.query_one(ThroughputGraph).render())
        footer = out.getvalue().splitlines()[-1]
        assert "replay" in app.sub_title and "latest" in footer and "live" not in footer, footer
        await feed(pilot, handle, [[status(2, state="stalled")]])
        await pilot.pause()
        app.draw(force=True)
        assert app.sub_title.startswith("STALLED") and "state stalled" in text_of(
            app.query_one("#config", Pane)
        )
        handle.detach()  # the run is over
        await pilot.pause()
        await pilot.pause()
        assert app.sub_title == "run ended" and "state ended" in text_of(app.query_one("#config", Pane))

    drive(scenario, live=False, controller=FakeController())


def test_end_summary_gives_peak_average_and_ema_like_the_text_summary() -> None:
    """The held panel and the lines printed after q: peak, avg and EMA per pool (format_summary);
    figures zero the whole run are named once."""
    from kcoro_stream.events import Metrics
    from kcoro_stream.surfaces._tui.state import summary_lines

    try:
        from .surface_factory import summary
    except ImportError:
        from surface_factory import summary  # type: ignore[no-redef]

    s = msgspec.structs.replace(
        summary(40),
        pool="channel",
        peak=Metrics(msgs_per_s=5.4e6, fastpath_ratio=0.0, steal_ratio=0.0),
        avg=Metrics(msgs_per_s=3.2e6, fastpath_ratio=0.0),
        ema=Metrics(msgs_per_s=3.9e6),
    )
    lines = summary_lines([s], totals=False)
    assert lines[0].startswith("summary channel:"), lines
    assert [x.split()[:3] for x in lines[1:4]] == [
        ["peak", "msgs_per_s", "5.40M"],
        ["avg", "msgs_per_s", "3.20M"],
        ["ema", "msgs_per_s", "3.90M"],
    ]
    assert lines[4].split() == ["zero", "fastpath_ratio", "steal_ratio"], lines
    assert not any(x.lstrip().startswith("totals") for x in lines)


def test_kpi_badges_break_between_badges_never_inside_one() -> None:
    """At 120 columns a badge ``backlog UNKNOWN`` used to break after ``backlog`` (issue 28)."""
    from kcoro_stream.surfaces._tui.widgets import kpi_badges

    states = {
        "fastpath_ratio": "UNKNOWN",
        "steal_ratio": "UNKNOWN",
        "idle_pct": "GREEN",
        "backlog": "UNKNOWN",
    }
    values = {"idle_pct": 50.0, "backlog": 0.0}
    text = kpi_badges(states, values, width=56)
    lines = text.plain.splitlines()
    assert len(lines) > 1 and all(len(x) <= 56 for x in lines), lines
    for name, state in states.items():
        assert sum(f" {name} {state}" in x for x in lines) == 1, (name, lines)  # whole, on one line


def test_latency_bars_keep_their_count_whole_in_a_narrow_pane() -> None:
    """The bar gives way, never the count (a 22-column pane cropped ``155,648`` to nothing)."""
    from kcoro_stream.surfaces._tui.widgets import LatencyPane

    h = histogram(1, [0] * 50 + [265335, 7926, 45450, 1525, 188, 234, 621, 163], scope="window")
    for width in (20, 28, 40, 60):
        lines = [t.plain for t in LatencyPane.bars(h, 2, width)]
        assert all(len(x) <= width for x in lines), (width, lines)
        assert [x.split()[-1] for x in lines] == ["320,236", "1,206"], (width, lines)
