"""The browser page's controls: the same methods over the page's WebSocket, against a real run."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio
from trio_websocket import open_websocket_url

from kcoro_stream.control import UNAUTHORIZED, Dispatcher, Method, call
from kcoro_stream.sinks import SinkContext, build_sink
from kcoro_stream.surfaces.websocket import WebSocketSink

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "surfaces"))
from test_websocket import open_browser

KS = [sys.executable, "-m", "kcoro_stream"]


async def rpc(ws: Any, request: Any, token: str | None = None) -> Any:
    msg: dict[str, Any] = {"kind": "rpc", "request": request}
    if token is not None:
        msg["token"] = token
    await ws.send_message(json.dumps(msg))
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

            async def handler(line: bytes, token: str = "") -> bytes | None:
                return await Dispatcher({"status": Method("status", status, "")}).handle_line(line)

            ctx.control = handler
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
        # the page's token: only the run's owner can read it
        token_file = run / "control.sock.token"
        assert stat.S_IMODE(token_file.lstat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 20
        # a WebSocket client of the real run
        async with open_websocket_url(f"ws://127.0.0.1:{port}/ws") as ws:
            # without the token (any local user): the page is visible, steering is not
            for params in ([], ["60s"]):
                for bad in (None, "", "x" * len(token)):
                    method = "set_interval" if params else "pause"
                    req = {"jsonrpc": "2.0", "id": 9, "method": method, "params": params}
                    r = await rpc(ws, req, bad)
                    assert (
                        r["error"]["code"] == UNAUTHORIZED and "control.sock.token" in r["error"]["message"]
                    )
            assert (await rpc(ws, {"jsonrpc": "2.0", "id": 9, "method": "status"}))["result"][
                "paused"
            ] is False
            st = await trio.to_thread.run_sync(call, run, "status", [])
            assert st["paused"] is False and st["interval_ms"] == 10.0
            r = await rpc(ws, {"jsonrpc": "2.0", "id": 1, "method": "pause"}, token)
            assert r["result"]["paused"] is True
            assert (await trio.to_thread.run_sync(call, run, "status", []))["paused"] is True
            r = await rpc(ws, {"jsonrpc": "2.0", "id": 2, "method": "resume"}, token)
            assert r["result"]["paused"] is False
            # a TCP port any local user reaches: nothing there ends or reshapes the run
            for method, params in (
                ("stop", []),
                ("set_knob", {"batch": 1}),
                ("set_rule", ["x: tasks_per_s > 1"]),
            ):
                r = await rpc(ws, {"jsonrpc": "2.0", "id": 3, "method": method, "params": params}, token)
                assert r["error"]["code"] == -32601, r
            assert (await trio.to_thread.run_sync(call, run, "status", []))["knobs"]["batch"] == 64
        # the page itself, in headless Chromium: its buttons and interval form
        async with open_browser(tmp_path) as wd:
            await trio.to_thread.run_sync(
                wd.call,
                "POST",
                f"/session/{wd.session}/url",
                {"url": f"http://127.0.0.1:{port}/#token={token}"},
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
        assert not token_file.exists()  # gone with the socket
    finally:
        proc.kill()


async def test_a_client_that_never_reads_its_answers_is_closed_not_buffered() -> None:
    """RPC answers bypassed the client's bounded queue: a client sending batches of 'status'
    and never reading grew the monitor from 53 MiB to 935 MiB in 40 s."""
    ctx = SinkContext()
    sink = build_sink({"sink": "websocket", "port": 0}, ctx)
    assert isinstance(sink, WebSocketSink)
    big = {"blob": "x" * 60_000}

    async def status(p: dict[str, Any]) -> Any:
        return big

    dispatcher = Dispatcher({"status": Method("status", status, "")})

    async def handler(line: bytes, token: str = "") -> bytes | None:
        return await dispatcher.handle_line(line)

    ctx.control = handler
    await sink.open()
    try:
        request = json.dumps(
            {"kind": "rpc", "request": [{"jsonrpc": "2.0", "id": i, "method": "status"} for i in range(50)]}
        )
        raw = socket.create_connection(("127.0.0.1", sink.port))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        async with open_websocket_url(sink.ws_url) as ws:  # a well-behaved client alongside
            peak = 0
            with trio.fail_after(60):
                # the hostile client: a real WebSocket that sends and never reads
                await trio.to_thread.run_sync(_handshake, raw, sink.port)
                for _ in range(400):
                    try:
                        await trio.to_thread.run_sync(raw.sendall, _frame(request.encode()))
                    except OSError:
                        break  # closed by the server: what we want
                    peak = max([peak, *(c.queued for c in sink.client_statistics())])
                    if sink.statistics().drop_reasons.get("unread_answers"):
                        break
                    await trio.sleep(0.005)
            assert sink.statistics().drop_reasons.get("unread_answers", 0) >= 1
            assert peak <= 64  # a bounded queue, never thousands of 3 MB answers
            r = await rpc(ws, {"jsonrpc": "2.0", "id": 1, "method": "status"})
            assert r["result"] == big  # the other client was served throughout
        raw.close()
    finally:
        await sink.aclose()


def _handshake(s: socket.socket, port: int) -> None:
    s.sendall(
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" % port
    )
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(1)
        assert chunk, "closed during the handshake"
        buf += chunk
    assert b" 101 " in buf.split(b"\r\n")[0], buf


def _frame(payload: bytes) -> bytes:
    """One masked text frame (a client's)."""
    import struct

    head = bytes([0x81])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = b"\x01\x02\x03\x04"
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
