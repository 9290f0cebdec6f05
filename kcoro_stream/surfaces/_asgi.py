"""The HTTP server the network sinks share: hypercorn's trio server, in-process.

prometheus.py and websocket.py each describe their endpoints as a small ASGI
app; this module binds it (loopback unless told otherwise), serves it from a
trio task of the running pipeline, and shuts it down on ``aclose``.

Every HTTP request and WebSocket handshake passes a Host guard first (DNS
rebinding: a page on evil.example that resolves its name to 127.0.0.1 must
not read the run's telemetry). The Host header must be a loopback name with
the server's port (``127.0.0.1``, ``localhost``, ``[::1]``), the bound
address, or an ``allowed_hosts`` entry; otherwise HTTP gets 421 and a
WebSocket handshake 403. A WebSocket ``Origin``, when present, must name one
of the same hosts (or be listed in ``allowed_origins``). Refusals are counted
(``HttpServer.refused``) and shown in the sink's statistics.

Why a system task: the sink contract (``open``/``send``/``aclose``) hands a
sink no nursery, and the pipeline may call ``open`` and ``aclose`` from
different tasks, so the server runs in a trio system task whose cancel scope
this module owns. Every exception is caught inside it (a system task must not
raise) and turned into a ``SinkError`` at ``open`` or a logged line later.

::

    open()  ──► spawn_system_task(_run) ──► hypercorn.trio.serve(app)
                 started (port) / bind error ◄──┘
    aclose() ──► shutdown trigger ──► graceful close (bounded)
             ──► abort stalled connections ──► cancel
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from ..errors import SinkError, first_error
from ..sinks._address import allowed_host_keys, host_key, is_loopback, split_host_port

ASGIApp = Callable[..., Awaitable[None]]  # (scope, receive, send): hypercorn types it more narrowly

log = logging.getLogger("kcoro_stream.http")


class _AcceptFailures(logging.Filter):
    """trio's accept loop (``trio.serve_listeners``, under hypercorn) logs every accept that
    fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) with a whole
    traceback, and retries 0.1 s later — at ``ulimit -n 64`` dozens of traceback blocks.
    Instead: each server counts them (``refused["accept_failed"]``) and says so once, in
    one line; the retry (the back-off) stays trio's."""

    def __init__(self) -> None:
        super().__init__()
        self.servers: dict[int, HttpServer] = {}  # by bound port

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith("accept returned"):
            return True
        server = self._server_of(record)
        if server is not None:
            server.refused["accept_failed"] += 1
            if server.refused["accept_failed"] == 1:
                reason = (
                    str(record.args[1]) if isinstance(record.args, tuple) and len(record.args) > 1 else "?"
                )
                log.warning(
                    "%s: cannot accept connections on %s: %s (raise 'ulimit -n'); retrying, counted",
                    server.sink, server.address, reason.lower(),
                )  # fmt: skip
        return False

    def _server_of(self, record: logging.LogRecord) -> HttpServer | None:
        """The server whose listener failed: the ``listener`` of trio's failing frame."""
        tb = record.exc_info[2] if record.exc_info else None
        while tb is not None:
            listener = tb.tb_frame.f_locals.get("listener")
            sock = getattr(listener, "socket", None)
            try:
                port = sock.getsockname()[1] if sock is not None else None
            except OSError:
                port = None
            if port in self.servers:
                return self.servers[port]
            tb = tb.tb_next
        return next(iter(self.servers.values()), None)  # one server: it is that one


_ACCEPT_FAILURES = _AcceptFailures()
logging.getLogger("trio.serve_listeners").addFilter(_ACCEPT_FAILURES)


def parse_host_port(sink: str, arg: str, default_port: int) -> dict[str, Any]:
    """``"HOST:PORT"``, ``"PORT"``, ``"HOST"`` or ``"[::1]:PORT"`` → config fields (see _address)."""
    host, port = split_host_port(sink, arg, default_port)
    return {"host": host, "port": port}


def check_bind(sink: str, host: str, port: int, allow_remote: bool) -> None:
    """Refuse a non-loopback bind unless the user asked for it (security rule)."""
    if not is_loopback(host) and not allow_remote:
        raise SinkError(
            f"{sink}: {host}:{port}: refusing to listen on a non-loopback address "
            "without allow_remote (--allow-remote)"
        )


def _format_addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return bytes(v).decode("latin-1")
    return None


def _origin_host(origin: str) -> str | None:
    """``"http://127.0.0.1:9464"`` → ``"127.0.0.1:9464"`` (ports defaulted by scheme)."""
    scheme, sep, rest = origin.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https") or "/" in rest or "@" in rest:
        return None
    return host_key(rest, 443 if scheme.lower() == "https" else 80)


class HttpServer:
    """One hypercorn trio server bound to ``host:port`` serving ``app`` behind a Host guard."""

    def __init__(
        self,
        sink: str,
        app: ASGIApp,
        host: str,
        port: int,
        *,
        graceful_timeout_s: float = 2.0,
        allowed_hosts: list[str] | tuple[str, ...] = (),
        allowed_origins: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.sink = sink
        self.app = app
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.graceful_timeout_s = graceful_timeout_s
        self.allowed_hosts = tuple(allowed_hosts)
        self.allowed_origins = frozenset(allowed_origins)
        # checked now so a bad entry is a usage error before anything binds
        allowed_host_keys(host, port, self.allowed_hosts)
        self._allowed: frozenset[str] = frozenset()
        # requests refused, by reason; accept_failed: connections not accepted (out of descriptors)
        self.refused: dict[str, int] = {"host": 0, "origin": 0, "accept_failed": 0}
        self.refused_websocket = 0  # of which WebSocket handshakes
        self._started = trio.Event()
        self._stopped = trio.Event()
        self._shutdown = trio.Event()
        self._scope = trio.CancelScope()
        self._error: BaseException | None = None

    @property
    def address(self) -> str:
        return _format_addr(self.host, self.port if self.port is not None else self.requested_port)

    def _config(self) -> HypercornConfig:
        config = HypercornConfig()
        config.bind = [_format_addr(self.host, self.requested_port)]
        config.accesslog = None
        config.errorlog = log  # never hypercorn's own stderr handler: the TUI owns the screen
        config.graceful_timeout = self.graceful_timeout_s
        config.websocket_max_message_size = 64 * 1024
        config.h2_max_inbound_frame_size = 64 * 1024
        config.include_server_header = False
        return config

    async def start(self) -> None:
        """Bind and start serving; a bind failure raises ``SinkError`` (one line)."""
        trio.lowlevel.spawn_system_task(self._run, name=f"kcoro-stream {self.sink} server")
        await self._started.wait()
        if self._error is not None:
            found = first_error(self._error, (OSError,))
            err = found if isinstance(found, OSError) else None
            where = f"{self.sink}: {_format_addr(self.host, self.requested_port)}"
            if err is not None and err.errno == errno.EADDRINUSE:
                raise SinkError(f"{where}: address already in use")
            if err is not None:
                raise SinkError(f"{where}: {err.strerror or err}")
            raise SinkError(f"{where}: cannot start server: {self._error!r}")

    async def _run(self) -> None:
        config = self._config()
        guarded: ASGIApp = self._guarded
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    binds = await nursery.start(
                        partial(serve, guarded, config, shutdown_trigger=self._shutdown.wait, mode="asgi")
                    )
                    # binds: ["http://127.0.0.1:9464"]; port 0 resolves to the real one here.
                    self.port = int(binds[0].rsplit(":", 1)[1])
                    _ACCEPT_FAILURES.servers[self.port] = self
                    self._allowed = allowed_host_keys(self.host, self.port, self.allowed_hosts)
                    self._started.set()
        except Exception as e:  # a system task must not raise: report it instead
            if not self._started.is_set():
                self._error = e
            else:
                log.error("%s: server on %s failed: %r", self.sink, self.address, e)
        finally:
            if self.port is not None and _ACCEPT_FAILURES.servers.get(self.port) is self:
                del _ACCEPT_FAILURES.servers[self.port]
            self._started.set()
            self._stopped.set()

    def host_allowed(self, scope: dict[str, Any]) -> bool:
        """Whether the request's Host header names this server (see the module docstring)."""
        value = _header(scope, b"host") or _header(scope, b":authority")
        key = host_key(value, 80) if value is not None else None
        return key is not None and key in self._allowed

    def origin_allowed(self, scope: dict[str, Any]) -> bool:
        """A WebSocket handshake's Origin, when present, must be one of our hosts."""
        origin = _header(scope, b"origin")
        if origin is None or origin in self.allowed_origins:
            return True
        key = _origin_host(origin)
        return key is not None and key in self._allowed

    async def _guarded(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope.get("type")
        if kind in ("http", "websocket"):
            why = None
            if not self.host_allowed(scope):
                why = "host"
            elif kind == "websocket" and not self.origin_allowed(scope):
                why = "origin"
            if why is not None:
                self.refused[why] += 1
                log.warning("%s: refused a request for %s %r", self.sink, why, _header(scope, why.encode()))
                if kind == "http":
                    await send_response(send, 421, f"{why} not allowed\n".encode(), b"text/plain")
                else:
                    self.refused_websocket += 1
                    await receive()  # websocket.connect
                    await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
                return
        await self.app(scope, receive, send)

    async def aclose(self) -> None:
        """Graceful shutdown (bounded), then abort what is left, then cancel.

        hypercorn shields its socket writes from cancellation, so a peer that
        stopped reading would hold the server (and the process's exit) forever;
        after the graceful period such connections are shut down at the socket
        level, which fails the stuck write (BrokenResourceError) instead.
        """
        self._shutdown.set()
        with trio.move_on_after(self.graceful_timeout_s + 0.5):
            await self._stopped.wait()
        if not self._stopped.is_set():
            if self.port is not None:
                aborted = abort_tcp_connections(self.port)
                log.info("%s: aborted %d stalled connection(s) on %s", self.sink, aborted, self.address)
            self._scope.cancel()
            with trio.CancelScope(shield=True) as wait:
                wait.deadline = trio.current_time() + 5.0
                await self._stopped.wait()
            if not self._stopped.is_set():
                log.warning("%s: server on %s did not stop; abandoning it", self.sink, self.address)


def abort_tcp_connections(port: int) -> int:
    """Shut down every accepted TCP connection of this process on local ``port``.

    Linux only (walks /proc/self/fd); elsewhere it does nothing. The listener
    itself (no peer) is left alone; ``shutdown`` acts on the connection, so
    closing our duplicate descriptor afterwards leaves the server's own.
    """
    fd_dir = "/proc/self/fd"
    if not os.path.isdir(fd_dir):
        return 0
    aborted = 0
    for name in os.listdir(fd_dir):
        try:
            dup = os.dup(int(name))
        except (ValueError, OSError):
            continue
        try:
            sock = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            continue
        with sock:
            try:
                if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                if sock.getsockname()[1] != port:
                    continue
                sock.getpeername()  # the listening socket has none: OSError
                sock.shutdown(socket.SHUT_RDWR)
                aborted += 1
            except OSError:
                continue
    return aborted


async def send_response(
    send: Callable[..., Awaitable[None]],
    status: int,
    body: bytes,
    content_type: bytes,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers.extend(extra_headers or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def handle_lifespan(
    receive: Callable[[], Awaitable[dict[str, Any]]], send: Callable[..., Awaitable[None]]
) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
