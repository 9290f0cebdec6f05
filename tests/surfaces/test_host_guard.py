"""DNS rebinding: every HTTP route and WebSocket handshake checks Host (and Origin) — finding E.

Real servers (the prometheus and websocket sinks on an ephemeral port), real
sockets, the real CLI for the address parser.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from kcoro_stream.errors import UsageError
from kcoro_stream.sinks import SinkContext, build_sink
from kcoro_stream.sinks._address import allowed_host_keys, host_key, is_loopback, split_host_port
from kcoro_stream.sinks._base import Sink

KS = [sys.executable, "-m", "kcoro_stream"]
LEGACY = str(Path(__file__).resolve().parents[2] / "bench_data" / "legacy" / "channel_schema1.ndjson")


@asynccontextmanager
async def serving(name: str, **fields: object) -> AsyncIterator[Sink]:
    sink = build_sink({"sink": name, "port": 0, **fields}, SinkContext())
    await sink.open()
    try:
        yield sink
    finally:
        await sink.aclose()


async def raw_request(port: int, request: bytes, host: str = "127.0.0.1") -> bytes:
    stream = await trio.open_tcp_stream(host, port)
    async with stream:
        await stream.send_all(request)
        out = b""
        with trio.move_on_after(10):
            while True:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out and (
                    out.startswith(b"HTTP/1.1 101") or b"connection: close" in out.lower()
                ):
                    break
    return out


def get(path: str, host: str | None) -> bytes:
    head = f"GET {path} HTTP/1.1\r\n" + (f"Host: {host}\r\n" if host is not None else "")
    return (head + "Connection: close\r\n\r\n").encode()


def ws_handshake(host: str, origin: str | None) -> bytes:
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


async def test_e_metrics_refuse_a_foreign_host_and_count_it() -> None:
    async with serving("prometheus") as sink:
        port = sink.port  # type: ignore[attr-defined]
        assert status(await raw_request(port, get("/metrics", "evil.example"))) == 421
        assert status(await raw_request(port, get("/metrics", f"evil.example:{port}"))) == 421
        assert status(await raw_request(port, get("/metrics", None))) in (400, 421)
        for ok in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
            assert status(await raw_request(port, get("/metrics", ok))) == 200, ok
        assert status(await raw_request(port, get("/metrics", "127.0.0.1:1"))) == 421  # another port
        refused = sink.statistics().extra["refused"]
        assert refused["host"] >= 3


async def test_e_allowed_hosts_extend_the_list() -> None:
    async with serving("prometheus", allowed_hosts=["monitor.lan", "proxy.example:443"]) as sink:
        port = sink.port  # type: ignore[attr-defined]
        assert status(await raw_request(port, get("/metrics", f"monitor.lan:{port}"))) == 200
        assert status(await raw_request(port, get("/metrics", "proxy.example:443"))) == 200
        assert status(await raw_request(port, get("/metrics", "proxy.example"))) == 421


async def test_e_websocket_checks_host_on_pages_and_host_and_origin_on_the_handshake() -> None:
    async with serving("websocket") as sink:
        port = sink.port  # type: ignore[attr-defined]
        me = f"127.0.0.1:{port}"
        assert status(await raw_request(port, get("/", "evil.example"))) == 421
        assert status(await raw_request(port, get("/", me))) == 200
        assert status(await raw_request(port, ws_handshake("evil.example", "http://evil.example"))) == 403
        assert status(await raw_request(port, ws_handshake(f"evil.example:{port}", None))) == 403
        assert status(await raw_request(port, ws_handshake(me, "http://evil.example"))) == 403
        assert status(await raw_request(port, ws_handshake(me, f"http://{me}"))) == 101
        assert status(await raw_request(port, ws_handshake(me, None))) == 101
        stats = sink.statistics().extra
        assert (
            stats["refused"] == {"host": 3, "origin": 1, "accept_failed": 0} and stats["clients_refused"] == 3
        )


async def test_e_ipv6_loopback_binds_and_answers() -> None:
    async with serving("prometheus", host="::1") as sink:
        port = sink.port  # type: ignore[attr-defined]
        assert status(await raw_request(port, get("/metrics", f"[::1]:{port}"), host="::1")) == 200


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("9464", ("127.0.0.1", 9464)),
        ("localhost", ("localhost", 1)),
        ("[::1]:9999", ("::1", 9999)),
        ("[::1]", ("::1", 1)),
        ("::1", ("::1", 1)),
        (":0", ("127.0.0.1", 0)),
    ],
)
def test_e_one_parser_for_host_port(text: str, want: tuple[str, int]) -> None:
    assert split_host_port("--x", text, 1) == want


@pytest.mark.parametrize(
    "text", ["127.0.0.1:99999", "[::1", "[::1]x", "[nothost]:1", "a:b", "h:", "1:2:3:x", "h:-1", "h:１"]
)
def test_e_bad_addresses_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--x: bad"):
        split_host_port("--x", text, 1)


def test_e_host_keys_normalise() -> None:
    assert host_key("LocalHost.:80", 1) == "localhost:80"
    assert host_key("[::1]", 9) == "[::1]:9"
    assert host_key("a b", 9) is None
    assert is_loopback("[::1]") and is_loopback("127.0.0.2") and not is_loopback("evil.example")
    assert allowed_host_keys("::", 5) == {"127.0.0.1:5", "localhost:5", "[::1]:5"}
    with pytest.raises(UsageError, match="allowed_hosts"):
        allowed_host_keys("127.0.0.1", 5, ["bad host"])


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--prometheus", "127.0.0.1:99999"), ("--websocket", "[::1"), ("--allowed-host", "bad host")],
)
def test_e_cli_bad_address_is_one_usage_line(flag: str, value: str) -> None:
    extra = [] if flag != "--allowed-host" else ["--prometheus", "127.0.0.1:0"]
    r = subprocess.run(
        [*KS, "replay", LEGACY, "--no-tui", "--no-stdout", flag, value, *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("kcoro-stream: ") and "Traceback" not in r.stderr


def test_e_cli_binds_ipv6_loopback_in_brackets() -> None:
    """`--websocket '[::1]:PORT'` was refused as non-loopback; it is loopback."""
    r = subprocess.run(
        [
            *KS,
            "replay",
            LEGACY,
            "--no-tui",
            "--no-stdout",
            "--websocket",
            "[::1]:0",
            "--prometheus",
            "[::1]:0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
