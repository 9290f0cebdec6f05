"""The HTTP servers out of descriptors: trio's accept loop used to log a traceback per retry."""

from __future__ import annotations

import json
import logging
import os
import resource
import socket

import pytest
import trio
from trio_websocket import open_websocket_url

from kcoro_stream.sinks import SinkContext, build_sink
from kcoro_stream.surfaces.websocket import WebSocketSink


async def test_emfile_in_the_accept_loop_is_one_warning_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sink = build_sink({"sink": "websocket", "port": 0}, SinkContext())
    assert isinstance(sink, WebSocketSink)
    await sink.open()
    clients = [socket.socket() for _ in range(8)]  # made now: connecting needs no new descriptor
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    held: list[int] = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 4, hard))
        while True:
            try:
                held.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                break
        for c in clients:
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", sink.port))
            except BlockingIOError:
                pass
        with trio.fail_after(10):
            while sink.statistics().extra["refused"]["accept_failed"] < 3:  # trio retries every 0.1 s
                await trio.sleep(0.05)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        assert not [r for r in caplog.records if r.name == "trio.serve_listeners"]  # no traceback blocks
        said = [r.getMessage() for r in caplog.records if "cannot accept" in r.getMessage()]
        assert len(said) == 1 and "too many open files" in said[0], said
        with trio.fail_after(10):  # descriptors back: the server accepts again
            async with open_websocket_url(sink.ws_url) as ws:
                assert json.loads(await ws.get_message())["kind"] == "hello"
    finally:
        for c in clients:
            c.close()
        await sink.aclose()
