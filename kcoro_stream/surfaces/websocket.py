"""``websocket`` sink: derived events pushed to browsers, plus the dashboard page.

::

    send(batch) ── encode once ──► per-client deque (bounded, drop-oldest, counted)
                                     │ wake
                                     ▼
    hypercorn trio server ── /ws ── writer task per client ──► {"kind":"batch",...}
                          └─ /, /app.js, /style.css, /vendor/* (kcoro_stream/surfaces/web)

``send`` never waits for a client: it appends to each client's queue and wakes
its writer, with no checkpoint, so a stalled browser cannot slow the pipeline.
When a queue is full the oldest batch is dropped and the events in it are
counted per client (sent to that client in every message, shown on the page)
and in the sink's ``drop_reasons["slow_client"]``.

Server → client messages (JSON text frames)::

    {"kind":"hello","schema":3,"client":7,"queue":256}
    {"kind":"batch","seq":41,"first_seq":41,"batches":1,"dropped":0,"snapshot":false,
     "events":[{"type":"sample",...},...]}
    {"kind":"pong"}

``seq`` numbers the pipeline's batches. A client gets at most one message per
``flush_interval_ms`` (default 50 ms): batches queued meanwhile (or while it
was slow) are merged, ``first_seq..seq``, and ``batches`` says how many, so the
pipeline's thread pays per message, not per batch × client. ``dropped``
counts the events this client lost so far.

The first batch after ``hello`` is a snapshot (``"snapshot":true``): the run's
recent history — every sample, window histogram and heat-map of the last
``history_s`` seconds of event time (default 300, at most
``history_events``), in order — then the latest cumulative histogram per
metric, KPI states, OS view per pool, status and summary, then every alert,
anomaly and mark of the run so far (the newest ``journal_events``, default
2000), so a page opened mid-run is complete at once: charts, and the anomaly
emitted before it opened. A new run (another ``run_id``: a mode switch, the
next run of a replay) starts a new history; the finished run's is kept beside
it (one run back) and comes first in the snapshot, so a page opened after a
mode switch shows the finished run too.

Client → server: ``{"kind":"ping"}``, and ``{"kind":"rpc","request":R,"token":T}``
where R is a JSON-RPC 2.0 request (or batch) for the run's control methods
(kcoro_stream/control: the page's pause/resume and interval controls), answered
by ``{"kind":"rpc","response":A}`` (A omitted for a notification) — the
page's subset of the control socket's methods, behind this server's Origin
and Host checks; those that steer need T, the run's token (the page reads it
from its URL's ``#token=``; the owner reads it from ``control.sock.token``),
else -32003; a replay or a ``--no-control`` run answers with error -32000. A
client that leaves more than 32 answers (or 8 MiB of them) unread is closed,
counted as ``unread_answers``.
Anything else (not JSON, not an
object, an unknown kind, a binary frame, more than 64 KiB) closes that client
with code 1008 (1003 for binary); other clients are untouched. A WebSocket
handshake whose ``Origin`` is neither this server nor in ``allowed_origins`` is
refused (a web page elsewhere must not read the run's telemetry).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, ClassVar

import msgspec
import trio

from .._extras import needs
from ..errors import SinkError
from ..events import (
    DERIVED_SCHEMA,
    Alert,
    Anomaly,
    ClientStatistics,
    DerivedEvent,
    Heatmap,
    HistogramSummary,
    Kpi,
    MarkEvent,
    OsSample,
    Sample,
    SinkStatistics,
    Status,
    Summary,
    json_encoder,
)
from ..sinks._base import Sink, SinkContext
from ..sinks._registry import register

with needs("web", "the browser page (websocket sink)"):
    from ._asgi import HttpServer, check_bind, handle_lifespan, parse_host_port, send_response

DEFAULT_PORT = 8765
MAX_CLIENT_MESSAGE = 64 * 1024
MAX_UNREAD_ANSWERS = 32  # answers and pongs a client may leave unread before it is closed
MAX_UNREAD_BYTES = 8 << 20
MERGE_LIMIT = 256 * 1024  # characters of queued batches merged into one message
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013

_CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".txt": b"text/plain; charset=utf-8",
    ".svg": b"image/svg+xml",
}
_SECURITY_HEADERS = [
    (b"cache-control", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; "
        b"frame-ancestors 'none'",
    ),
]


class WebSocketConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    allow_remote: bool = False  # needed to bind anything but loopback
    client_queue: int = 256  # batches queued per client before drop-oldest
    flush_interval_ms: float = 50.0  # at most one message per client per interval (0: no limit)
    max_clients: int = 64
    allowed_origins: list[str] = []  # besides the page's own origin
    allowed_hosts: list[str] = []  # Host header names besides loopback and the bound address
    history_s: float = 300.0  # event time of recent history a new client gets first
    history_events: int = 20_000  # and at most this many events of it
    journal_events: int = 2_000  # alerts, anomalies and marks of the run kept for a new client


@dataclass(eq=False)
class _Client:
    id: int
    peer: str
    limit: int
    queue: deque[tuple[int, int, str]] = field(default_factory=deque)  # (seq, events, json)
    wake: trio.Event = field(default_factory=trio.Event)
    sent_batches: int = 0
    dropped_events: int = 0
    dropped_batches: int = 0
    close_code: int | None = None
    close_reason: str = ""
    unread: int = 0  # answers and pongs queued, not yet sent
    unread_bytes: int = 0

    def push(self, item: tuple[int, int, str]) -> int:
        """Queue one batch; returns the number of events dropped to make room."""
        dropped = 0
        if len(self.queue) >= self.limit:
            seq, n, text = self.queue.popleft()
            if seq < 0:  # an answer or a pong dropped for a client this far behind
                self.unread -= 1
                self.unread_bytes -= len(text)
            self.dropped_events += n
            self.dropped_batches += 1
            dropped = n
        self.queue.append(item)
        self.wake.set()
        return dropped

    def close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.wake.set()

    def statistics(self) -> ClientStatistics:
        return ClientStatistics(
            client=f"#{self.id} {self.peer}",
            sent=self.sent_batches,
            dropped=self.dropped_events,
            queued=len(self.queue),
            dropped_batches=self.dropped_batches,
        )


class _ClientMessage(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    request: msgspec.Raw = msgspec.Raw()  # kind "rpc": a JSON-RPC request, handed on unparsed
    token: str = ""  # kind "rpc": the run's page token (steering needs it)


# ctx.control is the run's JSON-RPC handler (control.Dispatcher.handle_line),
# set by the run loop for live runs; without it every call gets this answer.
_NO_CONTROL = (
    b'{"jsonrpc":"2.0","id":null,"error":{"code":-32000,'
    b'"message":"this run takes no control (a replay, or --no-control)"}}'
)


_client_decoder = msgspec.json.Decoder(_ClientMessage)


def _in_history(ev: DerivedEvent) -> bool:
    """Events a new client gets as a time series (charts), not only as the latest value."""
    if isinstance(ev, HistogramSummary):
        return ev.scope == "window"
    return isinstance(ev, Sample | Heatmap)


def _in_journal(ev: DerivedEvent) -> bool:
    """Events a new client gets every one of (the run's account), not only the latest."""
    return isinstance(ev, Alert | Anomaly | MarkEvent)


def _snapshot_key(ev: DerivedEvent) -> tuple[Any, ...] | None:
    if isinstance(ev, Sample):
        return ("sample", ev.pool)
    if isinstance(ev, HistogramSummary):
        return ("histogram", ev.metric, ev.pool, ev.scope)
    if isinstance(ev, Heatmap):
        return ("heatmap", ev.pool)
    if isinstance(ev, Kpi):
        return ("kpi", getattr(ev, "pool", "all"))  # Kpi.pool: appended for dual mode
    if isinstance(ev, OsSample):
        return ("os", ev.pool)
    if isinstance(ev, Status):
        return ("status",)
    if isinstance(ev, Summary):
        return ("summary", ev.pool)
    return None


class _RunMemory:
    """What a new client gets of one run: its recent time series (bounded by event time and
    count), the latest event of each kind, and its journal (every alert, anomaly, mark; bounded)."""

    def __init__(self, run_id: str, cfg: WebSocketConfig) -> None:
        self.run_id = run_id
        self.cfg = cfg
        self.history: deque[tuple[int, str]] = deque()  # (ts_ns, json)
        self.latest: dict[tuple[Any, ...], str] = {}
        self.journal: deque[str] = deque(maxlen=max(1, cfg.journal_events))
        self.journal_left_off = 0  # journal events older than the bound (counted, not kept)

    def remember(self, ev: DerivedEvent, part: str) -> None:
        if _in_history(ev):
            h = self.history
            h.append((ev.ts_ns, part))
            horizon = ev.ts_ns - int(self.cfg.history_s * 1e9)
            while h and (h[0][0] < horizon or len(h) > self.cfg.history_events):
                h.popleft()
        elif _in_journal(ev):
            if len(self.journal) == self.journal.maxlen:
                self.journal_left_off += 1
            self.journal.append(part)
        elif (key := _snapshot_key(ev)) is not None:
            self.latest.pop(key, None)  # re-insert: the snapshot keeps arrival order
            self.latest[key] = part

    def parts(self) -> list[str]:
        return [*(part for _, part in self.history), *self.latest.values(), *self.journal]


def load_static() -> dict[str, tuple[bytes, bytes]]:
    """The dashboard files shipped in kcoro_stream/surfaces/web, by URL path."""
    root = resources.files(__package__ or "kcoro_stream.surfaces").joinpath("web")
    files: dict[str, tuple[bytes, bytes]] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
                continue
            suffix = "." + child.name.rsplit(".", 1)[-1] if "." in child.name else ""
            ctype = _CONTENT_TYPES.get(suffix, b"text/plain; charset=utf-8")
            files[f"/{prefix}{child.name}"] = (child.read_bytes(), ctype)

    if not root.is_dir():
        raise SinkError(f"websocket: dashboard files missing ({root})")
    walk(root, "")
    if "/index.html" not in files:
        raise SinkError(f"websocket: dashboard files missing ({root}/index.html)")
    files["/"] = files["/index.html"]
    return files


@register
class WebSocketSink(Sink):
    """Push every derived event to browsers over /ws and serve the dashboard page."""

    name: ClassVar[str] = "websocket"
    Config: ClassVar[type[msgspec.Struct]] = WebSocketConfig
    policy = "drop_oldest"
    summary: ClassVar[str] = (
        "live browser dashboard + JSON event stream on ws://HOST:PORT/ws, default 127.0.0.1:8765"
    )

    def __init__(self, config: msgspec.Struct, ctx: SinkContext) -> None:
        super().__init__(config, ctx)
        assert isinstance(config, WebSocketConfig)
        self.cfg: WebSocketConfig = config
        self._server: HttpServer | None = None
        self._static: dict[str, tuple[bytes, bytes]] = {}
        self._clients: dict[int, _Client] = {}
        self._ids = itertools.count(1)
        self._seq = 0
        self._run = _RunMemory("", self.cfg)  # what a new client gets of the current run
        self._previous: _RunMemory | None = None  # and of the run before it (a mode switch)
        self._closed_bad = 0
        self._refused = 0
        self._connected = 0
        self._client_count_changed = trio.Event()
        self._closing = False

    @staticmethod
    def parse_arg(arg: str) -> dict[str, Any]:
        return parse_host_port("websocket", arg, DEFAULT_PORT)

    # ------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int | None:
        return self._server.port if self._server else None

    @property
    def url(self) -> str:
        """The dashboard page's URL (after ``open``)."""
        assert self._server is not None, "open() first"
        return f"http://{self._server.address}/"

    @property
    def ws_url(self) -> str:
        assert self._server is not None, "open() first"
        return f"ws://{self._server.address}/ws"

    async def open(self) -> None:
        if self.cfg.client_queue < 1 or self.cfg.max_clients < 1:
            raise SinkError("websocket: client_queue and max_clients must be at least 1")
        check_bind("websocket", self.cfg.host, self.cfg.port, self.cfg.allow_remote)
        self._static = load_static()
        self._server = HttpServer(
            "websocket",
            self._app,
            self.cfg.host,
            self.cfg.port,
            allowed_hosts=self.cfg.allowed_hosts,
            allowed_origins=self.cfg.allowed_origins,
        )
        await self._server.start()

    async def aclose(self) -> None:
        self._closing = True
        for client in list(self._clients.values()):
            client.close(CLOSE_GOING_AWAY, "server shutting down")
        if self._server is not None:
            await self._server.aclose()

    # ---------------------------------------------------------------- send

    def _remember(self, ev: DerivedEvent, part: str) -> None:
        """Keep ``ev`` for new clients; a sample of another run starts a new memory, the old one kept beside."""
        if isinstance(ev, Sample) and ev.run_id != self._run.run_id:
            if not self._run.run_id:
                self._run.run_id = ev.run_id  # the first run's first sample: what came before is its own
            else:
                self._previous, self._run = self._run, _RunMemory(ev.run_id, self.cfg)
        self._run.remember(ev, part)

    async def send(self, batch: Sequence[DerivedEvent]) -> None:
        """Queue ``batch`` for every client. Never waits (no checkpoint)."""
        n = len(batch)
        self._received += n
        if not n:
            return
        parts = [json_encoder.encode(ev) for ev in batch]
        for ev, part in zip(batch, parts, strict=True):
            self._remember(ev, part.decode())
        self._seq += 1
        events_json = (b"[" + b",".join(parts) + b"]").decode()
        item = (self._seq, n, events_json)
        dropped = 0
        for client in self._clients.values():
            if client.close_code is None:
                dropped += client.push(item)
        if dropped:
            self.count_drop("slow_client", dropped)
        self._written += n

    # ------------------------------------------------------------ statistics

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def client_statistics(self) -> list[ClientStatistics]:
        return [c.statistics() for c in self._clients.values()]

    def statistics(self) -> SinkStatistics:
        """The base account plus one :class:`ClientStatistics` per connected client (its drops)."""
        return msgspec.structs.replace(super().statistics(), clients=self.client_statistics())

    async def wait_clients(self, n: int) -> None:
        """Wait until exactly ``n`` clients are connected (tests, benchmarks)."""
        while len(self._clients) != n:
            self._client_count_changed = trio.Event()
            await self._client_count_changed.wait()

    def extra_statistics(self) -> dict[str, Any]:
        return {
            "address": self._server.address if self._server else None,
            "clients": len(self._clients),
            "clients_connected_total": self._connected,
            "clients_closed_bad_message": self._closed_bad,
            "clients_refused": self._refused + (self._server.refused_websocket if self._server else 0),
            "refused": dict(self._server.refused) if self._server else {},
            "client_drops": {c.id: c.dropped_events for c in self._clients.values()},
            "snapshot_journal_left_off": self._run.journal_left_off,
        }

    def _clients_changed(self) -> None:
        self._client_count_changed.set()

    # ----------------------------------------------------------------- ASGI

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await handle_lifespan(receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await send_response(send, 405, b"method not allowed\n", b"text/plain", [(b"allow", b"GET, HEAD")])
            return
        found = self._static.get(scope["path"])
        if found is None:
            await send_response(send, 404, b"not found\n", b"text/plain")
            return
        body, ctype = found
        await send_response(send, 200, body, ctype, _SECURITY_HEADERS)

    def _origin_allowed(self, scope: dict[str, Any]) -> bool:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        origin = headers.get("origin")
        if origin is None:
            return True  # not a browser: nothing to protect against
        host = headers.get("host", "")
        return origin in (f"http://{host}", f"https://{host}") or origin in self.cfg.allowed_origins

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] != "/ws":
            await send({"type": "websocket.close", "code": CLOSE_POLICY})
            return
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if not self._origin_allowed(scope) or self._closing:
            self._refused += 1
            await send({"type": "websocket.close", "code": CLOSE_POLICY})  # → HTTP 403
            return
        if len(self._clients) >= self.cfg.max_clients:
            self._refused += 1
            self.count_drop("client_refused_full")
            await send({"type": "websocket.close", "code": CLOSE_TRY_LATER})
            return
        await send({"type": "websocket.accept"})
        client_addr = scope.get("client") or ("?", 0)
        client = _Client(
            id=next(self._ids), peer=f"{client_addr[0]}:{client_addr[1]}", limit=self.cfg.client_queue
        )
        recent = [*(self._previous.parts() if self._previous is not None else []), *self._run.parts()]
        snapshot = (self._seq, len(recent), "[" + ",".join(recent) + "]")
        self._clients[client.id] = client
        self._connected += 1
        self._clients_changed()
        try:
            async with trio.open_nursery() as nursery:
                writer_done = trio.Event()

                async def run_writer() -> None:
                    try:
                        await self._writer(client, send, snapshot)
                    finally:
                        writer_done.set()

                nursery.start_soon(run_writer)
                disconnected = await self._reader(client, receive, send)
                if disconnected:
                    nursery.cancel_scope.cancel()
                else:
                    # a bad message: let the writer send the close frame, bounded
                    with trio.move_on_after(5):
                        await writer_done.wait()
                    nursery.cancel_scope.cancel()
        finally:
            del self._clients[client.id]
            self._clients_changed()

    async def _reader(self, client: _Client, receive: Any, send: Any) -> bool:
        """Read client messages; True on disconnect, False after asking to close."""
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return True
            if message["type"] != "websocket.receive":
                continue
            text = message.get("text")
            if text is None:
                self._closed_bad += 1
                client.close(CLOSE_UNSUPPORTED, "binary messages are not accepted")
                return False
            problem, request, token = self._check_client_message(text)
            if problem is not None:
                self._closed_bad += 1
                client.close(CLOSE_POLICY, problem)
                return False
            if client.unread >= MAX_UNREAD_ANSWERS or client.unread_bytes >= MAX_UNREAD_BYTES:
                # answers (and pongs) it does not read would pile up without bound: close it
                self._closed_bad += 1
                self.count_drop("unread_answers")
                client.close(CLOSE_POLICY, "too many unread answers")
                return False
            if request is None:
                client.queue.append((-1, 0, ""))  # pong marker (dropped like a batch if far behind)
                client.unread += 1
            else:
                answer = await self._rpc(request, token)
                reply = b'{"kind":"rpc","response":' + answer + b"}" if answer else b'{"kind":"rpc"}'
                client.queue.append((-2, 0, reply.decode()))  # an answer: sent by the writer, in order
                client.unread += 1
                client.unread_bytes += len(reply)
            client.wake.set()

    async def _rpc(self, request: bytes, token: str) -> bytes | None:
        handler = self.ctx.control
        if handler is None:
            return _NO_CONTROL
        answer: bytes | None = await handler(request, token)
        return answer

    @staticmethod
    def _check_client_message(text: str) -> tuple[str | None, bytes | None, str]:
        """(problem, None, "") closes the client; (None, None, "") is a ping; (None, request, token) a call."""
        if len(text) > MAX_CLIENT_MESSAGE:
            return "message too large", None, ""
        try:
            msg = _client_decoder.decode(text)
        except msgspec.DecodeError as e:
            return f"bad message: {e}"[:120], None, ""
        if msg.kind == "rpc" and len(msg.request):
            return None, bytes(msg.request), msg.token
        if msg.kind != "ping" or len(msg.request):
            return f"bad message: unknown kind {msg.kind[:40]!r}", None, ""
        return None, None, ""

    async def _writer(self, client: _Client, send: Any, snapshot: tuple[int, int, str]) -> None:
        hello = json_encoder.encode(
            {"kind": "hello", "schema": DERIVED_SCHEMA, "client": client.id, "queue": client.limit}
        ).decode()
        await send({"type": "websocket.send", "text": hello})
        seq, _, events = snapshot
        await send(
            {
                "type": "websocket.send",
                "text": (
                    f'{{"kind":"batch","seq":{seq},"first_seq":{seq},"batches":0,'
                    f'"dropped":0,"snapshot":true,"events":{events}}}'
                ),
            }
        )
        flush_s = self.cfg.flush_interval_ms / 1000
        next_send = trio.current_time()
        while True:
            if client.close_code is not None:
                await send(
                    {"type": "websocket.close", "code": client.close_code, "reason": client.close_reason}
                )
                return
            if not client.queue:
                client.wake = trio.Event()
                await client.wake.wait()
                continue
            if client.queue[0][0] == -2:  # an rpc answer: not held back by the batch pacing
                text = client.queue.popleft()[2]
                await send({"type": "websocket.send", "text": text})
                client.unread -= 1
                client.unread_bytes -= len(text)
                continue
            if trio.current_time() < next_send:
                # at most one message per flush interval: batches arriving meanwhile
                # are merged, so the cost to the pipeline's thread does not grow
                # with its batch rate times the number of clients
                await trio.sleep_until(next_send)
                continue
            next_send = trio.current_time() + flush_s
            seq, _, events = client.queue.popleft()
            if seq < 0:
                await send({"type": "websocket.send", "text": '{"kind":"pong"}'})
                client.unread -= 1
                continue
            # A client that fell behind gets its queued batches in one message
            # (bounded size): per-message cost, not per-batch, is what adds up.
            first, parts, size, merged = seq, [events[1:-1]], len(events), 1
            while client.queue and client.queue[0][0] >= 0 and size < MERGE_LIMIT:
                seq, _, events = client.queue.popleft()
                if len(events) > 2:
                    parts.append(events[1:-1])
                size += len(events)
                merged += 1
            joined = ",".join(p for p in parts if p)
            text = (
                f'{{"kind":"batch","seq":{seq},"first_seq":{first},"batches":{merged},'
                f'"dropped":{client.dropped_events},"snapshot":false,"events":[{joined}]}}'
            )
            await send({"type": "websocket.send", "text": text})
            client.sent_batches += merged
