"""The browser page's controls: the same methods over the page's WebSocket, against a real run."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio
from trio_websocket import open_websocket_url

from kcoro_stream.control import Dispatcher, Method, call
from kcoro_stream.sinks import SinkContext, build_sink
from kcoro_stream.surfaces.websocket import WebSocketSink

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "surfaces"))
from test_websocket import open_browser

KS = [sys.executable, "-m", "kcoro_stream"]


async def rpc(ws: Any, request: Any) -> Any:
    await ws.send_message(json.dumps({"kind": "rpc", "request": request}))
    while True:
        msg = json.loads(await ws.get_message())
        if msg["kind"] == "rpc":
            return msg.get("response")


async def test_rpc_over_the_websocket_reaches_the_handler_or_says_there_is_none() -> None:
    ctx = SinkContext()
    sink = build_sink({"sink": "websocket", "port": 0}, ctx)
    assert isinstance(sink, WebSocketSink)
    await sink.open()
    try:
        async with open_websocket_url(sink.ws_url) as ws:
            r = await rpc(ws, {"jsonrpc": "2.0", "id": 1, "method": "status"})
            assert r["error"]["code"] == -32000  # a replay / --no-control: nothing to steer

            async def status(p: dict[str, Any]) -> Any:
                return {"paused": False}

            ctx.control = Dispatcher({"status": Method("status", status, "")}).handle_line
            r = await rpc(ws, {"jsonrpc": "2.0", "id": 2, "method": "status"})
            assert r == {"jsonrpc": "2.0", "id": 2, "result": {"paused": False}}
            r = await rpc(ws, [{"jsonrpc": "2.0", "id": 3, "method": "nope"}])
            assert r[0]["error"]["code"] == -32601
            assert await rpc(ws, {"jsonrpc": "2.0", "method": "status"}) is None  # a notification
            await ws.send_message('{"kind":"ping"}')
            assert json.loads(await ws.get_message())["kind"] == "pong"
    finally:
        await sink.aclose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_page_pauses_resumes_and_sets_the_interval_of_a_live_run(tmp_path: Path) -> None:
    run, port = tmp_path / "run", free_port()
    proc = subprocess.Popen(
        [
            *KS,
            "run",
            "-m",
            "tasks",
            "--workers",
            "2",
            "-d",
            "60",
            "--no-tui",
            "--no-stdout",
            "--log",
            str(run),
            "--websocket",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with trio.fail_after(30):
            while (
                not (run / "control.sock").exists()
                or not (await trio.to_thread.run_sync(call, run, "status", []))["mode"]
            ):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                await trio.sleep(0.05)
        # a WebSocket client of the real run
        async with open_websocket_url(f"ws://127.0.0.1:{port}/ws") as ws:
            r = await rpc(ws, {"jsonrpc": "2.0", "id": 1, "method": "pause"})
            assert r["result"]["paused"] is True
            assert (await trio.to_thread.run_sync(call, run, "status", []))["paused"] is True
            r = await rpc(ws, {"jsonrpc": "2.0", "id": 2, "method": "resume"})
            assert r["result"]["paused"] is False
            # a TCP port any local user reaches: nothing there ends or reshapes the run
            for method, params in (
                ("stop", []),
                ("set_knob", {"batch": 1}),
                ("set_rule", ["x: tasks_per_s > 1"]),
            ):
                r = await rpc(ws, {"jsonrpc": "2.0", "id": 3, "method": method, "params": params})
                assert r["error"]["code"] == -32601, r
            assert (await trio.to_thread.run_sync(call, run, "status", []))["knobs"]["batch"] == 64
        # the page itself, in headless Chromium: its buttons and interval form
        async with open_browser(tmp_path) as wd:
            await trio.to_thread.run_sync(
                wd.call, "POST", f"/session/{wd.session}/url", {"url": f"http://127.0.0.1:{port}/"}
            )

            async def until(cond: Any) -> Any:
                with trio.fail_after(60):
                    while not (got := await trio.to_thread.run_sync(call, run, "status", [])) or not cond(
                        got
                    ):
                        await trio.sleep(0.1)
                return got

            ready = "return document.getElementById('ctl-result').textContent"
            with trio.fail_after(60):
                while "tasks" not in (await trio.to_thread.run_sync(wd.js, ready)):  # the page asked status
                    await trio.sleep(0.1)
            await trio.to_thread.run_sync(wd.js, "document.getElementById('ctl-pause').click()")
            await until(lambda s: s["paused"])
            await trio.to_thread.run_sync(wd.js, "document.getElementById('ctl-resume').click()")
            await until(lambda s: not s["paused"])
            await trio.to_thread.run_sync(
                wd.js,
                "document.getElementById('ctl-interval').value = '20ms';"
                " document.getElementById('ctl-set-interval').click()",
            )
            await until(lambda s: s["interval_ms"] == 20.0)
            with trio.fail_after(30):
                while "interval 20 ms" not in (await trio.to_thread.run_sync(wd.js, ready)):
                    await trio.sleep(0.1)
        await trio.to_thread.run_sync(call, run, "stop", [])
        assert await trio.to_thread.run_sync(proc.wait) == 0
    finally:
        proc.kill()
