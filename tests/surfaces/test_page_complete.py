"""Issue 28, the browser page against real runs in a real headless Chromium: complete when it opens.

* a page opened mid-run shows the anomaly the run raised before it opened (the scripted test
  producer's rate step: the one anomaly of test_numbers.py), from the snapshot;
* a dual run of the shipped benchmark: every figure names its pool, a channel pool has no
  tasks/s figure or series, 8-digit figures fit their cards and nothing overflows at 800 px;
  screenshots at 1400×1000 and 800×600 go to tests/artifacts/.
"""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

try:
    from .test_websocket import ARTIFACTS, WebDriver, open_browser
except ImportError:  # tests/ run without package __init__ files
    from test_websocket import ARTIFACTS, WebDriver, open_browser  # type: ignore[no-redef]

KS = [sys.executable, "-m", "kcoro_stream"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_js(wd: WebDriver, script: str, done: Any, timeout: float = 30) -> Any:
    """Poll ``script`` in the page until ``done(value)``; the last value either way."""
    value = None
    with trio.move_on_after(timeout):
        while not done(value := await trio.to_thread.run_sync(wd.js, script)):
            await trio.sleep(0.1)
    return value


async def wait_lines(path: Path, kind: str, timeout: float = 30) -> list[dict[str, Any]]:
    """Bounded polling on a run's --out NDJSON for a line of ``kind``; every line so far."""
    lines: list[dict[str, Any]] = []
    with trio.move_on_after(timeout):
        while True:
            text = path.read_text() if path.exists() else ""
            lines = [json.loads(x) for x in text.splitlines() if x.endswith("}")]
            if any(x["type"] == kind for x in lines):
                break
            await trio.sleep(0.1)
    return lines


def stop(run: subprocess.Popen[bytes]) -> None:
    """Ctrl-C: a normal end of a plain run (exit 0), without waiting for its duration."""
    if run.poll() is None:
        run.send_signal(signal.SIGINT)
    assert run.wait(timeout=30) == 0, run.stderr.read() if run.stderr else ""


def start_run(tmp_path: Path, port: int, out: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *KS,
            "run",
            *args,
            "--no-tui",
            "--no-log",
            "--no-stdout",
            "--websocket",
            f"127.0.0.1:{port}",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_page_opened_mid_run_shows_the_earlier_anomaly(tmp_path: Path) -> None:
    """The snapshot held an alert but not an anomaly emitted before the page opened (issue 28)."""
    pipe = tmp_path / "synth.py"
    pipe.write_text(
        "from kcoro_stream import ops\n"
        "from kcoro_stream.pipeline import BenchSource, Pipeline\n"
        "pipeline = Pipeline(source=BenchSource(producer='synthetic', interval_ms=10,\n"
        "                    args=['--step-at', '300', '--step-pct', '400']),\n"
        "                    derive=ops.default_analyses(window_ms=250), sinks=[])\n"
    )
    port, out = free_port(), tmp_path / "out.ndjson"
    async with open_browser(tmp_path) as wd:
        run = start_run(tmp_path, port, out, str(pipe), "-d", "20")  # ended by Ctrl-C once checked
        try:
            lines = await wait_lines(out, "anomaly")
            (anomaly,) = [x for x in lines if x["type"] == "anomaly"]
            assert run.poll() is None, "the run ended before the page could open mid-run"
            url = {"url": f"http://127.0.0.1:{port}/"}
            await trio.to_thread.run_sync(wd.call, "POST", f"/session/{wd.session}/url", url)
            alerts = await wait_js(
                wd, "return document.getElementById('alerts').textContent", lambda v: v and "anomaly" in v
            )
            assert f"{anomaly['metric']} · anomaly" in alerts, alerts
            assert run.poll() is None  # still mid-run: it came with the snapshot, not afterwards
        finally:
            stop(run)


PROBE = """
const figs = [...document.querySelectorAll('#figures .figure')];
return {
  labels: figs.map((f) => f.querySelector('.label').textContent),
  values: figs.map((f) => f.querySelector('.value').textContent),
  cut: figs.filter((f) => { const v = f.querySelector('.value');
    return v.scrollWidth > v.clientWidth || v.getBoundingClientRect().right > f.getBoundingClientRect().right; })
    .map((f) => f.querySelector('.label').textContent),
  page: document.documentElement.scrollWidth, view: document.documentElement.clientWidth,
  series: charts.throughput.series.slice(1).map((s) => s.label),
  ratios: charts.ratios.series.slice(1).map((s) => s.label),
  header: document.querySelector('header').textContent.replace(/\\s+/g, ' '),
  panels: [...document.querySelectorAll('main > .grid')[0].children].map((p) => Math.round(p.getBoundingClientRect().width)),
};
"""


async def test_dual_page_names_every_figure_pool_and_fits_800_px(tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "out.ndjson"
    async with open_browser(tmp_path) as wd:
        run = start_run(tmp_path, port, out, "--mode", "dual", "-d", "20")  # ended by Ctrl-C once checked
        try:
            await wait_lines(out, "sample")
            url = {"url": f"http://127.0.0.1:{port}/"}
            await trio.to_thread.run_sync(wd.call, "POST", f"/session/{wd.session}/url", url)
            seen: dict[str, Any] = {}
            for width, height in ((1400, 1000), (800, 600)):
                rect = {"width": width, "height": height}
                await trio.to_thread.run_sync(wd.call, "POST", f"/session/{wd.session}/window/rect", rect)
                seen = await wait_js(
                    wd,
                    PROBE,
                    lambda v, w=width: v and any("p99" in x for x in v["labels"]) and v["view"] <= w,
                )
                labels = seen["labels"]
                assert labels and all(x.startswith(("channel · ", "tasks · ")) for x in labels), labels
                assert "channel · tasks/s" not in labels and "channel · fast path" not in labels, labels
                assert {"tasks · tasks/s", "channel · msgs/s"} <= set(labels), labels
                assert (
                    "channel · tasks/s" not in seen["series"]
                    and "channel · steal success" not in seen["ratios"]
                )
                assert not seen["cut"], (
                    seen
                )  # an 8-digit figure fits its card (12.35M, the full number its title)
                assert seen["page"] <= seen["view"], seen  # no horizontal overflow of the page
                assert "sampling" in seen["header"] and "running" in seen["header"], seen["header"]
                if width == 1400:  # the four charts two by two: no empty area beside the Workers panel
                    assert len(set(seen["panels"])) == 1 and seen["panels"][0] < width / 2, seen["panels"]
                png = base64.b64decode(
                    await trio.to_thread.run_sync(wd.call, "GET", f"/session/{wd.session}/screenshot")
                )
                assert png.startswith(b"\x89PNG")
                ARTIFACTS.mkdir(exist_ok=True)
                (ARTIFACTS / f"page_dual_{width}x{height}.png").write_bytes(png)
            big = [v for v in seen["values"] if v.endswith("M")]
            assert big, seen["values"]  # the tasks pool's millions of tasks/s, in compact SI
        finally:
            stop(run)
