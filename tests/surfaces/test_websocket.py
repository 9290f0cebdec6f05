"""The websocket sink: real WebSocket clients, a stalled client, a bad client, headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, WebSocketConnection, open_websocket_url

from kcoro_stream.errors import SinkError
from kcoro_stream.events import Alert, Heatmap, Metrics, Resources, Sample, json_encoder
from kcoro_stream.sinks import SinkContext, build_sink, sink_class
from kcoro_stream.surfaces.websocket import WebSocketSink

try:
    from .surface_factory import Script, anomaly, heatmap, histogram, sample, status
except ImportError:  # tests/ run without package __init__ files
    from surface_factory import Script, anomaly, heatmap, histogram, sample, status  # type: ignore[no-redef]

IN_CI = bool(os.environ.get("CI"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
MAX_MSG = 64 * 1024 * 1024


@asynccontextmanager
async def open_ws_sink(**fields: object) -> AsyncIterator[WebSocketSink]:
    sink = build_sink({"sink": "websocket", "port": 0, **fields}, SinkContext())
    assert isinstance(sink, WebSocketSink)
    await sink.open()
    try:
        yield sink
    finally:
        await sink.aclose()


async def next_json(ws: WebSocketConnection) -> dict[str, Any]:
    return json.loads(await ws.get_message())  # type: ignore[no-any-return]


async def read_until_batch(ws: WebSocketConnection, snapshot: bool = False) -> dict[str, Any]:
    while True:
        msg = await next_json(ws)
        if msg["kind"] == "batch" and msg["snapshot"] == snapshot:
            return msg


def big_heatmap(i: int) -> Heatmap:
    """~20 KB of JSON: makes socket buffers fill after a few thousand batches."""
    return heatmap(i, workers=512)


def test_registered_with_defaults() -> None:
    cls = sink_class("websocket")
    assert cls is WebSocketSink and cls.policy == "drop_oldest"
    s = build_sink("websocket", SinkContext())
    assert (s.config.host, s.config.port) == ("127.0.0.1", 8765)  # type: ignore[attr-defined]
    s = build_sink("websocket:127.0.0.1:9000", SinkContext())
    assert s.config.port == 9000  # type: ignore[attr-defined]


async def test_client_gets_hello_snapshot_and_every_event() -> None:
    """A client connecting mid-run gets the latest state at once, then every batch in order."""
    script = Script(batches=12, alert_at=5)
    async with open_ws_sink() as sink:
        for batch in list(script)[:8]:
            await sink.send(batch)
        async with open_websocket_url(sink.ws_url, max_message_size=MAX_MSG) as ws:
            hello = await next_json(ws)
            assert hello["kind"] == "hello" and hello["schema"] == 5 and hello["queue"] == 256
            snap = await read_until_batch(ws, snapshot=True)
            kinds = {(e["type"], e.get("pool")) for e in snap["events"]}
            assert ("sample", "tasks") in kinds and ("heatmap", "tasks") in kinds
            assert {e["type"] for e in snap["events"]} == {"sample", "histogram", "heatmap", "kpi", "alert"}
            for i, batch in enumerate(list(script)[8:], start=8):
                await sink.send(batch)
                msg = await read_until_batch(ws)
                assert msg["seq"] == i + 1 and msg["dropped"] == 0
                assert msg["events"] == [json.loads(json_encoder.encode(e)) for e in batch]
            await ws.send_message(json.dumps({"kind": "ping"}))
            assert (await next_json(ws))["kind"] == "pong"
        await sink.wait_clients(0)
    stats = sink.statistics()
    assert stats.received == sum(len(b) for b in script) and stats.dropped == 0


async def test_a_late_client_gets_the_recent_history_first() -> None:
    """A page opened mid-run is full at once: every sample of the last history_s, in order, then live."""
    script = list(Script(batches=40))
    async with open_ws_sink(history_s=5.0) as sink:
        for batch in script:
            await sink.send(batch)
        sent = [e for b in script for e in b if isinstance(e, Sample)]
        async with open_websocket_url(sink.ws_url, max_message_size=MAX_MSG) as ws:
            await next_json(ws)
            snap = await read_until_batch(ws, snapshot=True)
        got = [e for e in snap["events"] if e["type"] == "sample"]
        horizon = sent[-1].ts_ns - 5_000_000_000
        assert [e["ts_ns"] for e in got] == [e.ts_ns for e in sent if e.ts_ns >= horizon]
        assert len(got) > 10  # seconds of history, not one latest value
        # a new run starts a new history; the finished run's comes first (kept beside it, one run back)
        await sink.send([msgspec.structs.replace(sent[-1], run_id="run-2", ts_ns=sent[-1].ts_ns + 1)])
        async with open_websocket_url(sink.ws_url, max_message_size=MAX_MSG) as ws:
            await next_json(ws)
            snap = await read_until_batch(ws, snapshot=True)
        runs = [e["run_id"] for e in snap["events"]]
        assert runs[-1] == "run-2" and set(runs[:-1]) == {sent[-1].run_id}, runs
        assert [e["ts_ns"] for e in snap["events"] if e["type"] == "sample"][:-1] == [e["ts_ns"] for e in got]
        # and a third run drops the first: one run back, bounded
        await sink.send([msgspec.structs.replace(sent[-1], run_id="run-3", ts_ns=sent[-1].ts_ns + 2)])
        async with open_websocket_url(sink.ws_url, max_message_size=MAX_MSG) as ws:
            await next_json(ws)
            snap = await read_until_batch(ws, snapshot=True)
        assert [e["run_id"] for e in snap["events"]] == ["run-2", "run-3"]
        await sink.wait_clients(0)


async def test_a_late_client_gets_every_alert_anomaly_and_mark_of_the_run() -> None:
    """Issue 28: the snapshot held the last state of each alert rule but not an anomaly emitted 5 s
    before the page opened; now every alert, anomaly and mark of the run comes with it, in order."""
    from kcoro_stream.events import MarkEvent

    script = list(Script(batches=40, alert_at=5, resolve_at=9))
    mark = MarkEvent(ts=0.0, ts_ns=script[1][0].ts_ns, run_id=script[1][0].run_id, name="warmup", detail="")
    async with open_ws_sink(journal_events=50) as sink:
        for i, batch in enumerate(script):
            extra = [anomaly(i)] if i in (3, 12, 20) else [mark] if i == 1 else []
            await sink.send([*batch, *extra])
        async with open_websocket_url(sink.ws_url, max_message_size=MAX_MSG) as ws:
            await next_json(ws)
            snap = await read_until_batch(ws, snapshot=True)
    kinds = [e["type"] for e in snap["events"] if e["type"] in ("alert", "anomaly", "mark")]
    sent = [e for b in script for e in b if isinstance(e, Alert)]
    assert kinds.count("anomaly") == 3 and kinds.count("mark") == 1, kinds
    assert kinds.count("alert") == len(sent) >= 2, (kinds, sent)  # firing and resolved, not only the last


async def test_stalled_client_never_blocks_send_and_its_drops_are_counted() -> None:
    """send() with a client that stopped reading completes without waiting; drops are counted.

    Baseline: the same batches with no client. Both runs complete every send()
    inside an already-cancelled scope (so send() has no checkpoint: it cannot
    wait for any socket), and the stalled client's losses show up in its drop
    counter, in the sink's drop_reasons and in the `dropped` field it is sent.
    """
    n = 3000
    batches = [[sample(i), big_heatmap(i)] for i in range(n)]

    async def run(sink: WebSocketSink) -> int:
        completed = 0
        for batch in batches:
            with trio.CancelScope() as cs:
                cs.cancel()
                await sink.send(batch)
                completed += 1
            assert not cs.cancelled_caught
            await trio.sleep(0)  # the pipeline's own checkpoint between batches: writers may run
        return completed

    async with open_ws_sink(client_queue=8) as sink:
        assert await run(sink) == n
        baseline = sink.statistics()
    assert baseline.dropped == 0 and baseline.received == 2 * n

    async with open_ws_sink(client_queue=8) as sink:
        # message_queue_size=0 and no get_message(): this client stops reading the socket
        async with open_websocket_url(sink.ws_url, message_queue_size=0, max_message_size=MAX_MSG) as stalled:
            await sink.wait_clients(1)
            assert await run(sink) == n
            stats = sink.statistics()
            (client,) = sink.client_statistics()
            assert client.dropped > 0 and client.dropped_batches * 2 == client.dropped
            assert stats.drop_reasons == {"slow_client": client.dropped}
            assert stats.clients == [client]  # per-client drops are in the sink's own account
            assert client.sent + client.queued + client.dropped_batches <= n + 1
            assert client.queued <= 8
            # the client resumes: what it reads next says how much it missed
            last: dict[str, Any] = {}
            while not last or last.get("seq") != n:
                msg = json.loads(await stalled.get_message())
                if msg["kind"] == "batch" and not msg["snapshot"]:
                    last = msg
            assert last["dropped"] == client.dropped
    assert stats.received == 2 * n


async def test_bad_client_message_closes_only_that_client() -> None:
    async with open_ws_sink() as sink:
        async with (
            open_websocket_url(sink.ws_url, max_message_size=MAX_MSG) as good,
            open_websocket_url(sink.ws_url, max_message_size=MAX_MSG) as bad,
            open_websocket_url(sink.ws_url, max_message_size=MAX_MSG) as binary,
        ):
            await sink.wait_clients(3)
            await bad.send_message("this is not json")
            await binary.send_message(b"\x00\x01")
            with pytest.raises(ConnectionClosed):
                while True:
                    await bad.get_message()
            with pytest.raises(ConnectionClosed):
                while True:
                    await binary.get_message()
            assert bad.closed is not None and bad.closed.code == 1008
            assert "bad message" in (bad.closed.reason or "")
            assert binary.closed is not None and binary.closed.code == 1003
            await sink.wait_clients(1)
            await sink.send([sample(1, tasks_per_s=4321.0)])
            msg = await read_until_batch(good)
            assert msg["events"][0]["tasks_per_s"] == 4321.0
            await good.send_message('{"kind": "subscribe"}')  # unknown kind: also closed
            with pytest.raises(ConnectionClosed):
                while True:
                    await good.get_message()
            assert good.closed is not None and good.closed.code == 1008
        assert sink.statistics().extra["clients_closed_bad_message"] == 3


async def test_foreign_origin_is_refused_same_origin_accepted() -> None:
    async with open_ws_sink() as sink:
        host = sink.ws_url.split("/")[2]
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(sink.ws_url, extra_headers=[(b"origin", b"http://evil.example")]):
                pass
        assert info.value.status_code == 403
        async with open_websocket_url(
            sink.ws_url, extra_headers=[(b"origin", f"http://{host}".encode())], max_message_size=MAX_MSG
        ) as ws:
            assert (await next_json(ws))["kind"] == "hello"
        assert sink.statistics().extra["clients_refused"] == 1


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {}, b""


async def test_page_and_vendored_chart_library_are_served_offline() -> None:
    async with open_ws_sink() as sink:
        status, headers, body = await trio.to_thread.run_sync(_get, sink.url)
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in headers["content-security-policy"]
        page = body.decode()
        assert 'id="figures"' in page and "vendor/uPlot.iife.min.js" in page
        assert "http://" not in page and "https://" not in page  # no CDN
        for path in ("app.js", "style.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"):
            status, _, body = await trio.to_thread.run_sync(_get, sink.url + path)
            assert status == 200 and len(body) > 500, path
        status, _, _ = await trio.to_thread.run_sync(_get, sink.url + "../pyproject.toml")
        assert status == 404


async def test_port_in_use_and_remote_bind_are_one_line_errors() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SinkError) as info:
            await build_sink(f"websocket:127.0.0.1:{port}", SinkContext()).open()
    assert str(info.value) == f"websocket: 127.0.0.1:{port}: address already in use"
    with pytest.raises(SinkError, match="refusing"):
        await build_sink("websocket:0.0.0.0:0", SinkContext()).open()


# ----------------------------------------------------------------- Chromium

CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1100",
]


def _need(binary: str, path: str) -> str:
    found = shutil.which(binary) or (path if Path(path).exists() else None)
    if found is None:
        if IN_CI:
            pytest.fail(f"{binary} is not installed (CI must apt-get install chromium chromium-driver)")
        pytest.skip(f"{binary} not installed")
    return found


class WebDriver:
    """The W3C WebDriver HTTP API of chromedriver, just the calls this test needs."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise AssertionError(f"webdriver {method} {path}: {e.code} {e.read()[:500]!r}") from None

    def start(self, chromium: str, profile: Path) -> None:
        caps = {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": [*CHROME_FLAGS, f"--user-data-dir={profile}"]},
        }
        self.session = self.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]

    def js(self, script: str) -> Any:
        return self.call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": []})


@asynccontextmanager
async def open_browser(tmp_path: Path) -> AsyncIterator[WebDriver]:
    """Headless Chromium through a real chromedriver, closed afterwards."""
    chromium = _need("chromium", "/usr/bin/chromium")
    chromedriver = _need("chromedriver", "/usr/bin/chromedriver")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        driver_port = s.getsockname()[1]
    driver_log = (tmp_path / "chromedriver.log").open("wb")
    proc = subprocess.Popen(
        [chromedriver, f"--port={driver_port}"], stdout=driver_log, stderr=subprocess.STDOUT
    )
    wd = WebDriver(f"http://127.0.0.1:{driver_port}")
    try:
        with trio.fail_after(60):  # hang guard only: chromedriver answers /status within a second
            while True:
                try:
                    if (await trio.to_thread.run_sync(wd.call, "GET", "/status"))["ready"]:
                        break
                except (urllib.error.URLError, ConnectionError):
                    pass
                await trio.sleep(0.1)
        await trio.to_thread.run_sync(wd.start, chromium, tmp_path / "profile")
        yield wd
    finally:
        if wd.session:
            try:
                await trio.to_thread.run_sync(wd.call, "DELETE", f"/session/{wd.session}")
            except (AssertionError, urllib.error.URLError, ConnectionError):
                pass
        proc.terminate()
        await trio.to_thread.run_sync(proc.wait)
        driver_log.close()


async def test_chromium_shows_live_tasks_per_s_and_alert(tmp_path: Path) -> None:
    """Headless Chromium opens the dashboard, gets live data, shows tasks/s and the alert."""
    async with open_browser(tmp_path) as wd:
        script = Script(batches=20, tasks_per_s=12345.0, alert_at=15, dual=True)
        async with open_ws_sink() as sink:
            await trio.to_thread.run_sync(wd.call, "POST", f"/session/{wd.session}/url", {"url": sink.url})
            with trio.fail_after(60):
                await sink.wait_clients(1)
            for batch in script:
                await sink.send(batch)
                await trio.sleep(0.02)  # a live stream, not one burst: the page draws as it goes
            res = Resources(cpu_pct=187.5, stack_bytes=3 << 20, live_coroutines=64, rss_bytes=48 << 20)
            # the EMA ops computed differs from the window's rate: the page must show the former
            last = msgspec.structs.replace(
                sample(20, tasks_per_s=12345.0, mode="dual"), resources=res, ema=Metrics(tasks_per_s=11111.4)
            )
            await sink.send([last, status(20, dropped=2, corrupt=1, ws_drops=7)])

            probe = (
                "return [document.getElementById('fig-tasks-tasks').textContent,"
                " document.getElementById('alerts').textContent,"
                " document.getElementById('status').textContent,"
                " document.getElementById('dropped').textContent,"
                " document.querySelectorAll('#kpis .badge.RED').length,"
                " document.querySelectorAll('#heatmap .cell').length,"
                " document.querySelectorAll('canvas').length,"
                " document.getElementById('fig-channel-msgs').textContent,"
                " document.getElementById('monitor').textContent,"
                " document.getElementById('monitor-message').textContent,"
                " document.getElementById('resources').textContent,"
                " document.querySelectorAll('#monitor td.bad').length,"
                " document.getElementById('fig-tasks-tasksEma').textContent,"
                " document.getElementById('fig-tasks-p99').textContent]"
            )
            seen: list[Any] = []
            with trio.move_on_after(60):  # bounded polling for the page to draw
                while True:
                    seen = await trio.to_thread.run_sync(wd.js, probe)
                    if seen[0] == "12,345" and "fastpath_low" in seen[1] and "websocket" in seen[8]:
                        break
                    await trio.sleep(0.1)
            assert seen[0] == "12,345", seen
            assert "fastpath_low · firing" in seen[1], seen
            assert seen[2] == "live" and seen[3] == "0"
            assert seen[4] == 1 and seen[5] == 4 and seen[6] >= 3
            assert seen[7] == "5,000"
            # the monitor panel: ring losses, log bytes, each sink's queue and drops (the red cells)
            assert "2 dropped" in seen[8] and "1 corrupt" in seen[8] and "0 undecodable" in seen[8], seen[8]
            assert (
                "125.0 KiB" in seen[8]
                and "17.6 KiB on disk" in seen[8]
                and "queue 5/256" in seen[8]
                and "7 dropped (slow_client 7)" in seen[8]
            )
            assert seen[9] == "ring lost 3 frames (2 dropped, 1 corrupt); websocket dropped 7 (slow_client 7)"
            assert "188 %" in seen[10] and "3.0 MiB" in seen[10] and "48.0 MiB" in seen[10], seen[10]
            assert seen[11] == 3  # highlighted: ring dropped, ring corrupt, the websocket sink's drops
            # the EMA and the windowed p99 of the NDJSON lines (Sample.ema, HistogramSummary.p99 = 16000 ns)
            assert seen[12] == "11,111" and seen[13] == "16 µs", seen[12:]
            png = base64.b64decode(
                await trio.to_thread.run_sync(wd.call, "GET", f"/session/{wd.session}/screenshot")
            )
            assert png.startswith(b"\x89PNG")
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "websocket_dashboard.png").write_bytes(png)
            # dual mode: every pool's workers in the heat-map, labelled by pool
            await sink.send([heatmap(20, workers=2, pool="channel")])
            pools = (
                "return ['tasks', 'channel'].map("
                '(p) => document.querySelectorAll(`#heatmap .cell[data-pool="${p}"]`).length)'
            )
            with trio.move_on_after(60):
                while await trio.to_thread.run_sync(wd.js, pools) != [4, 2]:
                    await trio.sleep(0.1)
            assert await trio.to_thread.run_sync(wd.js, pools) == [4, 2]
            # the workers × windows strip: a row per worker of both pools, a column per window
            strip = (
                "return [document.getElementById('heat-strip').dataset.rows,"
                " state.heatHistory.get('tasks').length, state.heatHistory.get('channel').length]"
            )
            assert await trio.to_thread.run_sync(wd.js, strip) == ["6", 5, 1]
            # dual mode: both pools in the throughput and the ratio chart, each its own series
            labels = (
                "return [charts.ratios.series.slice(1).map((s) => s.label),"
                " charts.throughput.series.slice(1).map((s) => s.label)]"
            )
            ratios, rates = await trio.to_thread.run_sync(wd.js, labels)
            assert {"tasks · fast path", "tasks · steal success", "tasks · utilisation"} <= set(ratios), (
                ratios
            )
            assert "channel · utilisation" in ratios and {"tasks · tasks/s", "channel · msgs/s"} <= set(rates)
            # a 1.6 % ratio is well clear of the floor next to ratios near 1 (log scale; linear: 1.6 % of it)
            height = (
                "const u = charts.ratios, y = (v) => u.valToPos(v, 'y');"
                " return (y(0.001) - y(0.016)) / (y(0.001) - y(1))"
            )
            assert await trio.to_thread.run_sync(wd.js, height) > 0.35
            # y labels: compact SI that fits the left margin (no "),000,000")
            axis = "return [fmtSI(123456789), fmtSI(12345), fmtSI(0.5), charts.throughput.axes[1]._values]"
            big, mid, small, ticks = await trio.to_thread.run_sync(wd.js, axis)
            assert (big, mid, small) == ("123M", "12.3k", "0.5")
            assert ticks and all(len(t) <= 6 for t in ticks), ticks
            # histograms are chosen by metric and pool (not the first one seen)
            chan = histogram(21, [0] * 40 + [5, 5], scope="window", metric="chan_latency_ns", pool="channel")
            await sink.send([chan])
            options = "return [...document.querySelectorAll('#latency-select option')].map((o) => o.value)"
            choose = (
                "const s = document.getElementById('latency-select'); s.value = 'chan_latency_ns · channel';"
                " s.dispatchEvent(new Event('change')); return s.value"
            )
            with trio.move_on_after(60):
                while len(await trio.to_thread.run_sync(wd.js, options)) < 2:
                    await trio.sleep(0.1)
            assert await trio.to_thread.run_sync(wd.js, options) == [
                "chan_latency_ns · channel",
                "task_start_latency_ns · tasks",
            ]
            assert await trio.to_thread.run_sync(wd.js, choose) == "chan_latency_ns · channel"
            # a stalled producer (the monitor's Status) is the run's state in the header, then running again
            state = "return document.getElementById('run-state').textContent"
            await sink.send([status(21, state="stalled")])
            with trio.move_on_after(60):
                while await trio.to_thread.run_sync(wd.js, state) != "stalled":
                    await trio.sleep(0.1)
            assert await trio.to_thread.run_sync(wd.js, state) == "stalled"
            await sink.send([status(22)])
            # a new run (mode switch): the old run's pools, KPIs and histograms go away
            run2 = msgspec.structs.replace(
                sample(22, pool="channel", mode="channel", tasks_per_s=None, msgs_per_s=777.0), run_id="run-2"
            )
            await sink.send([run2])
            after = (
                "return [document.getElementById('run').textContent,"
                " document.querySelectorAll('#kpis .badge').length,"
                " document.getElementById('resources').textContent,"
                " document.querySelectorAll('#latency-select option').length,"
                " document.getElementById('fig-channel-msgs').textContent,"
                " document.getElementById('previous').hidden,"
                " document.getElementById('previous-run').textContent,"
                " document.querySelectorAll('#chart-previous canvas').length,"
                " charts.previous ? charts.previous.series.slice(1).map((s) => s.label) : []]"
            )
            with trio.move_on_after(60):
                while not (seen := await trio.to_thread.run_sync(wd.js, after))[0].startswith("run-2"):
                    await trio.sleep(0.1)
            assert seen[:5] == ["run-2 · channel", 0, "", 0, "777"], seen
            # the finished run stays visible beside the next (issue 28: charts reset at every new run)
            assert seen[5] is False and seen[6].startswith("run-test-0001") and seen[7] >= 1, seen
            assert {"tasks · tasks/s", "channel · msgs/s"} <= set(seen[8]), seen
            # the page is a client like any other: it was never behind
            assert sink.client_statistics()[0].dropped == 0


async def test_chromium_opened_mid_run_has_the_history_at_once(tmp_path: Path) -> None:
    """The page opened after 10 s of a run shows those 10 s in its throughput chart within 2 s."""
    async with open_browser(tmp_path) as wd:
        async with open_ws_sink() as sink:
            for batch in Script(batches=40, tasks_per_s=20000.0):
                await sink.send(batch)
            await trio.to_thread.run_sync(wd.call, "POST", f"/session/{wd.session}/url", {"url": sink.url})
            points = "return state.throughput.data[0].length"
            n = 0
            with trio.move_on_after(2.0):
                while (n := await trio.to_thread.run_sync(wd.js, points)) < 40:
                    await trio.sleep(0.05)
            assert n >= 40, n  # every 250 ms window of the 10 s before the page opened
            # one latency point (the cumulative histogram) still gets a time axis of seconds, not years
            x = "const s = charts.latency.scales.x; return s.max - s.min"
            assert 0 < await trio.to_thread.run_sync(wd.js, x) <= 60
            ARTIFACTS.mkdir(exist_ok=True)
            for width, height in ((1400, 1000), (800, 600)):  # kept as artifacts to look at
                rect = {"width": width, "height": height}
                await trio.to_thread.run_sync(wd.call, "POST", f"/session/{wd.session}/window/rect", rect)
                await trio.sleep(0.3)  # the page re-lays out its charts on resize
                png = base64.b64decode(
                    await trio.to_thread.run_sync(wd.call, "GET", f"/session/{wd.session}/screenshot")
                )
                assert png.startswith(b"\x89PNG") and len(png) > 10_000
                (ARTIFACTS / f"websocket_mid_run_{width}x{height}.png").write_bytes(png)


async def test_aclose_finishes_with_a_stalled_client_still_connected() -> None:
    """Shutdown is bounded: a client that never reads cannot hold the pipeline's exit."""
    sink = build_sink({"sink": "websocket", "port": 0, "client_queue": 4}, SinkContext())
    assert isinstance(sink, WebSocketSink)
    await sink.open()
    async with open_websocket_url(
        sink.ws_url, message_queue_size=0, max_message_size=MAX_MSG, disconnect_timeout=5
    ) as stalled:
        await sink.wait_clients(1)
        for i in range(2000):
            await sink.send([big_heatmap(i)])
            await trio.sleep(0)
        assert sink.client_statistics()[0].dropped > 0
        with trio.fail_after(30):  # hang guard; the server's own bound is its graceful timeout
            await sink.aclose()
        assert sink.client_count == 0
        del stalled
