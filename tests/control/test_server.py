"""The control socket server on a real Unix socket: isolation, concurrency, permissions, cleanup."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
import trio

from kcoro_stream.control import PARSE_ERROR, ControlServer, Dispatcher, Method, Param, check_control_path
from kcoro_stream.errors import UsageError


def dispatcher() -> Dispatcher:
    async def echo(p: dict[str, Any]) -> Any:
        return p

    async def slow(p: dict[str, Any]) -> Any:
        await trio.sleep(0.05)
        return {"slept": True}

    return Dispatcher(
        {"echo": Method("echo", echo, "", (Param("a", "any"),)), "slow": Method("slow", slow, "")}
    )


class Client:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = bytearray()

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def line(self) -> Any:
        while b"\n" not in self.buf:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                return None
            self.buf += chunk
        i = self.buf.index(b"\n")
        out = bytes(self.buf[:i])
        del self.buf[: i + 1]
        return json.loads(out)

    async def call(self, method: str, params: Any = None, rid: int = 1) -> Any:
        req: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        await self.send(json.dumps(req).encode() + b"\n")
        return await self.line()


async def connect(path: Path) -> Client:
    return Client(await trio.open_unix_socket(str(path)))


async def serving(nursery: trio.Nursery, path: Path, **kw: Any) -> ControlServer:
    server = ControlServer(path, dispatcher(), **kw)
    await nursery.start(server.serve)
    return server


async def test_socket_is_0600_and_removed_when_the_server_ends(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    async with trio.open_nursery() as n:
        await serving(n, path)
        st = path.lstat()
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        c = await connect(path)
        assert (await c.call("echo", [1]))["result"] == {"a": 1}
        n.cancel_scope.cancel()
    assert not path.exists()


async def test_fifty_concurrent_clients_each_get_their_own_answers(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    answers: dict[int, list[Any]] = {}
    async with trio.open_nursery() as n:
        server = await serving(n, path)

        async def one(i: int) -> None:
            c = await connect(path)
            got = []
            for k in range(5):
                r = await c.call("echo", {"a": [i, k]}, rid=i * 100 + k)
                got.append((r["id"], r["result"]["a"]))
            r = await c.call("slow", rid=i)
            got.append((r["id"], r["result"]))
            answers[i] = got
            await c.stream.aclose()

        async with trio.open_nursery() as clients:
            for i in range(50):
                clients.start_soon(one, i)
        assert server.statistics().connected == 50
        n.cancel_scope.cancel()
    for i in range(50):
        assert answers[i] == [(i * 100 + k, [i, k]) for k in range(5)] + [(i, {"slept": True})]


async def test_a_huge_line_closes_only_that_client(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    async with trio.open_nursery() as n:
        server = await serving(n, path)
        good = await connect(path)
        bad = await connect(path)
        garbage = os.urandom(1 << 20).replace(b"\n", b"x") + b"x" * 70000  # > 1 MiB, no newline
        await bad.send(garbage)
        r = await bad.line()
        assert r["error"]["code"] == PARSE_ERROR and "longer than" in r["error"]["message"]
        assert await bad.line() is None  # closed
        assert (await good.call("echo", [2]))["result"] == {"a": 2}
        assert server.statistics().closed_bad == 1
        n.cancel_scope.cancel()


async def test_garbage_lines_get_parse_errors_and_the_connection_stays(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    async with trio.open_nursery() as n:
        await serving(n, path)
        c = await connect(path)
        await c.send(b"not json\n\xff\xfe\n{}\n")
        assert (await c.line())["error"]["code"] == PARSE_ERROR
        assert (await c.line())["error"]["code"] == PARSE_ERROR
        assert (await c.line())["error"]["code"] == -32600
        assert (await c.call("echo", [3]))["result"] == {"a": 3}
        n.cancel_scope.cancel()


async def test_a_half_written_request_and_a_disconnect_leave_others_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    async with trio.open_nursery() as n:
        server = await serving(n, path)
        other = await connect(path)
        half = await connect(path)
        await half.send(b'{"jsonrpc":"2.0","id":1,"meth')
        await half.stream.aclose()
        early = await connect(path)  # asks, then leaves before the answer
        await early.send(b'{"jsonrpc":"2.0","id":1,"method":"slow"}\n')
        await early.stream.aclose()
        await trio.sleep(0.1)
        assert (await other.call("echo", [4]))["result"] == {"a": 4}
        assert server.statistics().clients == 1
        n.cancel_scope.cancel()


async def test_clients_beyond_the_limit_are_told_and_closed(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    async with trio.open_nursery() as n:
        server = await serving(n, path, max_clients=2)
        a, b = await connect(path), await connect(path)
        assert (await a.call("echo", [1]))["result"] and (await b.call("echo", [1]))["result"]
        c = await connect(path)
        r = await c.line()
        assert "busy" in r["error"]["message"]
        assert await c.line() is None
        assert server.statistics().refused == 1
        n.cancel_scope.cancel()


async def test_a_stale_socket_is_replaced_and_a_live_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    async with trio.open_nursery() as n:
        await serving(n, path)
        with pytest.raises(UsageError, match="in use by another run"):
            ControlServer(path, dispatcher()).open()
        c = await connect(path)
        assert (await c.call("echo", [1]))["result"] == {"a": 1}
        n.cancel_scope.cancel()


def test_bad_control_paths_are_refused_in_one_line(tmp_path: Path) -> None:
    long = tmp_path / ("d" * 120) / "c.sock"
    with pytest.raises(UsageError, match=r"--control: .* bytes; a Unix socket path may have at most 107"):
        check_control_path(long)
    (tmp_path / "file").write_text("keep me")
    with pytest.raises(UsageError, match="exists and is not a socket"):
        check_control_path(tmp_path / "file")
    assert (tmp_path / "file").read_text() == "keep me"
    with pytest.raises(UsageError, match="does not exist"):
        check_control_path(tmp_path / "missing" / "c.sock")


async def test_a_run_directory_deeper_than_sun_path_still_gets_its_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "control.sock"
    assert len(str(path)) > 107
    async with trio.open_nursery() as n:
        await serving(n, path, allow_long=True)
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
        from kcoro_stream.control import call

        assert await trio.to_thread.run_sync(call, deep, "echo", [5]) == {"a": 5}
        n.cancel_scope.cancel()
    assert not path.exists()


async def test_server_busy_has_its_own_code_and_ctl_says_so(tmp_path: Path) -> None:
    """ "server busy" was a -32700 parse error, and ``ctl`` (which sends before it reads) showed
    "Broken pipe" or "Connection reset" instead of the server's line."""
    from kcoro_stream.control import BUSY, call
    from kcoro_stream.errors import ControlError

    path = tmp_path / "c.sock"
    async with trio.open_nursery() as n:
        server = await serving(n, path, max_clients=1)
        a = await connect(path)
        assert (await a.call("echo", [1]))["result"]
        b = await connect(path)
        r = await b.line()
        assert r["error"]["code"] == BUSY and r["id"] is None
        for _ in range(5):  # ctl, as a blocking client in a thread, with a big request
            with pytest.raises(ControlError) as info:
                await trio.to_thread.run_sync(lambda: call(path, "echo", ["x" * 200_000], timeout_s=10))
            assert "server busy" in str(info.value) and f"({BUSY})" in str(info.value), info.value
        assert server.statistics().refused == 6
        n.cancel_scope.cancel()


async def test_clients_that_never_finish_a_line_or_say_nothing_free_their_slot(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    async with trio.open_nursery() as n:
        server = await serving(n, path, max_clients=2, line_timeout_s=0.3, idle_timeout_s=0.6)
        slow, silent = await connect(path), await connect(path)
        await slow.send(b'{"jsonrpc":"2.0",')  # ... and never the rest (one byte at a time is no better)
        with trio.fail_after(5):
            for _ in range(10):
                await slow.send(b" ")
                await trio.sleep(0.05)
            r = await slow.line()  # told why, then closed
            assert r["error"]["code"] == PARSE_ERROR and "within 0.3 s" in r["error"]["message"]
            assert await slow.line() is None
            r = await silent.line()  # told, then closed after 0.6 s of silence
            assert r["error"]["code"] == PARSE_ERROR and "nothing received for 0.6 s" in r["error"]["message"]
            assert await silent.line() is None
            await slow.stream.aclose()
            await silent.stream.aclose()
            await trio.sleep(0.1)
        c = await connect(path)
        assert (await c.call("echo", [1]))["result"] == {"a": 1}  # a slot is free again
        assert server.statistics().closed_slow == 2
        n.cancel_scope.cancel()


async def test_a_burst_of_connections_never_serves_more_than_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    async with trio.open_nursery() as n:
        server = await serving(n, path, max_clients=4)
        socks = []
        for _ in range(12):  # connected before the server's tasks run
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(path))
            socks.append(s)
        await trio.sleep(0.3)
        assert server.statistics().connected == 4 and server.statistics().refused == 8
        for s in socks:
            s.close()
        n.cancel_scope.cancel()


async def test_a_huge_batch_is_refused_and_never_stalls_other_clients(tmp_path: Path) -> None:
    """A 1 MiB batch of 'methods' built a 47 MB answer in one go while other clients waited
    5.5 s: a batch is at most MAX_BATCH requests, and its members yield to other clients."""
    from kcoro_stream.control import INVALID_REQUEST, MAX_BATCH

    path = tmp_path / "c.sock"
    note = b'{"jsonrpc":"2.0","id":1,"method":"echo","params":["' + b"x" * 1000 + b'"]}'
    async with trio.open_nursery() as n:
        server = await serving(n, path)
        big, other = await connect(path), await connect(path)
        huge = b"[" + b",".join([note] * 990) + b"]\n"  # ~1 MiB
        assert len(huge) < (1 << 20)
        await big.send(huge)
        r = await big.line()
        assert r["error"]["code"] == INVALID_REQUEST and f"at most {MAX_BATCH}" in r["error"]["message"]
        # a full batch answers in order, while another client is served in between
        full = b"[" + b",".join([b'{"jsonrpc":"2.0","id":%d,"method":"slow"}' % i for i in range(MAX_BATCH)])
        await big.send(full + b"]\n")
        with trio.fail_after(1):  # the batch takes MAX_BATCH x 50 ms; this answer does not wait for it
            assert (await other.call("echo", [1]))["result"] == {"a": 1}
        with trio.fail_after(30):
            answers = await big.line()
        assert [a["id"] for a in answers] == list(range(MAX_BATCH))
        assert server.statistics().batches_refused == 1
        n.cancel_scope.cancel()
