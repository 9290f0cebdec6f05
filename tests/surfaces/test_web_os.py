"""The browser page's OS pane (web/os.js) in a real headless Chromium: per worker CPU and
run-queue wait, CPU labels on the heat-map, and the os_interference message in the alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import trio

try:
    from .surface_factory import anomaly, heatmap, os_sample
    from .test_websocket import open_browser, open_ws_sink
except ImportError:  # tests/ run without package __init__ files
    from surface_factory import anomaly, heatmap, os_sample  # type: ignore[no-redef]
    from test_websocket import open_browser, open_ws_sink  # type: ignore[no-redef]

CAUSE = (
    "tasks/s −38 % from window 41; worker 1 (cpu 1) waited 41 ms on the run queue, 120 involuntary switches"
)


async def test_chromium_shows_the_os_pane_and_cpu_labels(tmp_path: Path) -> None:
    async with open_browser(tmp_path) as wd:
        async with open_ws_sink() as sink:
            await trio.to_thread.run_sync(wd.call, "POST", f"/session/{wd.session}/url", {"url": sink.url})
            with trio.fail_after(60):
                await sink.wait_clients(1)
            hog = msgspec.structs.replace(anomaly(3), method="os_interference", message=CAUSE)
            await sink.send([os_sample(3), heatmap(3, workers=2), hog])
            probe = (
                "return [document.getElementById('os').textContent,"
                " [...document.querySelectorAll('#heatmap .cell b')].map((b) => b.textContent),"
                " document.getElementById('alerts').textContent,"
                " document.querySelectorAll('#os td.bad').length]"
            )
            seen: list[Any] = []
            with trio.move_on_after(60):  # bounded polling for the page to draw
                while True:
                    seen = await trio.to_thread.run_sync(wd.js, probe)
                    if "62 %" in seen[0] and "waited 41 ms" in seen[2]:
                        break
                    await trio.sleep(0.1)
            os_text, cells, alerts, bad = seen
            assert "w11 (pinned)62 %480" in os_text and "w00 (pinned)3 %8" in os_text, os_text
            assert [c.split(" ")[:2] for c in cells] == [["w0", "cpu0"], ["w1", "cpu1"]], cells
            assert CAUSE in alerts and bad == 1
