"""The terminal dashboard lists a pipeline's own metrics (the statistics pane's ``yours:`` line),
through textual's headless pilot; the page's list is in surfaces/web/app.js (``renderDeclared``)."""

from __future__ import annotations

from pathlib import Path

import msgspec
from textual.pilot import Pilot

from kcoro_stream.surfaces._tui import DashboardApp, TuiHandle
from kcoro_stream.surfaces._tui.widgets import PoolView, StatsPane

try:
    from ..surfaces.surface_factory import Script, sample
    from ..surfaces.test_tui import drive, feed, text_of
except ImportError:  # tests/ run without package __init__ files
    from surfaces.surface_factory import Script, sample  # type: ignore[no-redef]
    from surfaces.test_tui import drive, feed, text_of  # type: ignore[no-redef]

WEB = Path(__file__).resolve().parents[2] / "kcoro_stream" / "surfaces" / "web"


def test_the_statistics_pane_lists_the_declared_values() -> None:
    async def scenario(app: DashboardApp, handle: TuiHandle, pilot: Pilot[int]) -> None:
        await feed(pilot, handle, Script(batches=4))
        s = msgspec.structs.replace(
            sample(5), declared={"tasks_per_cpu_s": 2_500_000.0, "msgs_per_cpu_s": None}
        )
        await feed(pilot, handle, [[s]])
        stats = text_of(app.query_one(f"#pool-{s.pool}", PoolView).query_one(StatsPane))
        assert "yours: tasks_per_cpu_s 2.50M · msgs_per_cpu_s -" in stats, stats

    drive(scenario)


def test_the_page_has_a_list_of_the_declared_metrics() -> None:
    assert 'id="declared"' in (WEB / "index.html").read_text()
    app = (WEB / "app.js").read_text()
    assert "state.declared.set(ev.pool" in app and "renderDeclared();" in app
