"""``remote_write`` sink: push the ``/metrics`` series to a Prometheus remote-write receiver.

Benchmark runs last seconds, too short to be scraped reliably, so they push:
Prometheus, Mimir, Thanos, Cortex and VictoriaMetrics all accept the
remote-write 1.0 protocol (protobuf ``WriteRequest``, snappy block
compression, ``_prompb.py``).

::

    send(batch) ─► _MetricsState (the prometheus sink's, same names and labels)
      every interval_s of event time: snapshot (+ host, run_id) ─► bounded deque (drop oldest)
                                                                      │ sender thread
      aclose(): last snapshot, flush bounded by flush_timeout_s       ▼
                                        merge ≤ batch snapshots ─► encode ─► POST (retries, backoff)

The series are exactly the prometheus sink's (``prometheus._MetricsState``
and its collector, reused, not copied) with two labels added to every series:
``host`` (this machine, or ``host=``) and ``run_id``. Samples carry the event
time of the newest derived event (ms), so a replayed run lands at the times it
was recorded; a snapshot's time never goes backwards.

Why a thread and the standard library's ``http.client``: the sink contract
gives a sink no nursery; one POST a second in a daemon thread never stalls
the event loop, and at the end of the run the flush waits for it at most
``flush_timeout_s`` and then abandons it — a run whose receiver is down still
ends on time. No new HTTP dependency is needed.

Drops (``statistics().drop_reasons``) are counted in derived events, like
every sink: a snapshot carries the events received since the one before, and
when it does not land they are dropped under ``queue_full`` (the deque was
full: the oldest snapshot went), ``rejected`` (the receiver answered 4xx: not
retried), ``send_failed`` (5xx, 429 or no connection after ``retries``
attempts) or ``flush_timeout`` (still pending when the final flush ran out of
time). Counters are cumulative, so a lost snapshot costs time resolution,
never totals. ``extra`` has requests, retries, samples sent and dropped, and
the last error.

Spec: ``remote_write:URL[,interval=S,flush=S,timeout=S,queue=N,batch=N,retries=N]``;
CLI ``--remote-write URL``.
"""

from __future__ import annotations

import base64
import http.client
import math
import socket
import sys
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
import trio

from .. import __version__
from .._extras import needs
from ..errors import UsageError, quote
from ..events import DerivedEvent, SinkStatistics
from ..sinks._address import check_http_url
from ..sinks._base import Sink, SinkContext
from ..sinks._output import parse_path_arg
from ..sinks._registry import register

with needs("remote-write", "the remote_write sink"):  # the prometheus sink's series
    from .prometheus import _MetricsState, _StateCollector


class RemoteWriteConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    url: str
    interval_s: float = 1.0  # event time between snapshots
    flush_timeout_s: float = 2.0  # the end of the run waits at most this long for the last pushes
    timeout_s: float = 5.0  # one HTTP request
    queue: int = 120  # snapshots waiting at most (drop oldest beyond)
    batch: int = 10  # snapshots merged into one request at most
    retries: int = 4  # further attempts after a retriable failure
    backoff_s: float = 0.1  # first retry delay, doubled each time
    max_backoff_s: float = 2.0
    host: str = ""  # the ``host`` label; empty: this machine's name
    labels: dict[str, str] = {}  # more labels on every series (e.g. {"job": "bench"})
    headers: dict[str, str] = {}  # more request headers (e.g. X-Scope-OrgID for Mimir)


@dataclass
class _Snapshot:
    ts_ms: int
    series: list[tuple[tuple[tuple[str, str], ...], float]]
    events: int  # derived events received since the previous snapshot


class _Target:
    """Where to POST: the parsed URL, one kept-alive connection, the request headers."""

    def __init__(self, url: str, extra_headers: dict[str, str], timeout_s: float) -> None:
        parts = check_http_url("remote_write", url)
        self.port = parts.port
        assert parts.hostname is not None
        self.https = parts.scheme == "https"
        self.hostname = parts.hostname
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6 keeps its brackets
        self.shown = urllib.parse.urlunsplit(
            (
                parts.scheme,
                host + (f":{self.port}" if self.port else ""),
                parts.path,
                parts.query,
                "",
            )
        )  # without credentials: what statistics and messages show
        self.timeout_s = timeout_s
        self.headers = {"User-Agent": f"kcoro-stream/{__version__}", **extra_headers}
        if parts.username is not None:
            creds = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(creds.encode()).decode()
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, timeout_s: float) -> tuple[int, str]:
        """POST ``body``: (HTTP status, reason text); status 0 when there was no answer."""
        from ._prompb import CONTENT_HEADERS

        try:
            if self._conn is None:
                cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
                self._conn = cls(self.hostname, self.port, timeout=timeout_s)
            else:
                self._conn.timeout = timeout_s
                if self._conn.sock is not None:
                    self._conn.sock.settimeout(timeout_s)
            self._conn.request("POST", self.path, body, {**CONTENT_HEADERS, **self.headers})
            resp = self._conn.getresponse()
            text = resp.read(512).decode("utf-8", "replace").strip().splitlines()
            if resp.will_close or resp.status >= 300:
                self.close()
            # the peer's text, quoted: escape sequences never reach the operator's terminal raw
            return resp.status, f"HTTP {resp.status}" + (f": {quote(text[0], 160)}" if text else "")
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return 0, _reason(e)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    return str(e) or type(e).__name__


@register
class RemoteWriteSink(Sink):
    """Push the /metrics series (+ host, run_id) to a Prometheus remote-write URL."""

    name: ClassVar[str] = "remote_write"
    Config: ClassVar[type[msgspec.Struct]] = RemoteWriteConfig
    policy = "drop_oldest"
    summary: ClassVar[str] = "push metrics to a Prometheus remote-write URL (protobuf + snappy)"

    def __init__(self, config: msgspec.Struct, ctx: SinkContext) -> None:
        super().__init__(config, ctx)
        assert isinstance(config, RemoteWriteConfig)
        self.cfg: RemoteWriteConfig = config
        self.state = _MetricsState(ctx.declarations)
        self._collector = _StateCollector(self.state)
        self._lock = threading.Lock()  # guards everything the sender thread shares
        self._wake = threading.Condition(self._lock)
        self._pending: deque[_Snapshot] = deque()
        self._inflight: list[_Snapshot] = []
        self._closing = False  # no more snapshots: send what is left, then end
        self._stopped = False  # the flush ran out of time: the thread counts nothing more
        self._thread: threading.Thread | None = None
        self._target: _Target | None = None
        self._encode: Callable[[list[Any]], bytes] | None = None
        self._host = config.host or socket.gethostname()
        self._run_id = ""
        self._last_ts_ms = 0  # time of the last snapshot
        self._event_ts = 0.0  # newest event time seen (wall seconds)
        self._next_at: float | None = None  # event time of the next snapshot
        self._unsnapshotted = 0  # events received since the last snapshot
        self._stats = {"requests": 0, "retries": 0, "samples_sent": 0, "samples_dropped": 0, "snapshots": 0}
        self._last_error = ""
        for name in ("interval_s", "flush_timeout_s", "timeout_s", "backoff_s", "max_backoff_s"):
            v = getattr(config, name)
            if not (math.isfinite(v) and v > 0):
                raise UsageError(f"sink 'remote_write': {name}={v!r} must be a positive number")
        for name in ("queue", "batch"):
            if getattr(config, name) < 1:
                raise UsageError(f"sink 'remote_write': {name}={getattr(config, name)} must be at least 1")
        if config.retries < 0:
            raise UsageError(f"sink 'remote_write': retries={config.retries} must be 0 or more")

    @staticmethod
    def parse_arg(arg: str) -> dict[str, Any]:
        fields = parse_path_arg(
            arg,
            sink="remote_write",
            ints=("queue", "batch", "retries"),
            floats=("interval", "flush", "timeout"),
        )
        fields["url"] = fields.pop("path")
        for short, long in (
            ("interval", "interval_s"),
            ("flush", "flush_timeout_s"),
            ("timeout", "timeout_s"),
        ):
            if short in fields:
                fields[long] = fields.pop(short)
        return fields

    async def open(self) -> None:
        self._target = _Target(self.cfg.url, dict(self.cfg.headers), self.cfg.timeout_s)
        from ._prompb import encode_write_request  # protobuf and cramjam: only when this sink runs

        self._encode = encode_write_request
        self._thread = threading.Thread(
            target=self._sender, name="kcoro-stream remote_write", daemon=True
        )  # daemon: a hung receiver never keeps the process alive past the flush deadline
        self._thread.start()

    # ------------------------------------------------------------ trio side

    async def send(self, batch: Sequence[DerivedEvent]) -> None:
        self._received += len(batch)
        self._unsnapshotted += len(batch)
        for ev in batch:
            self.state.update(ev)
            self._event_ts = max(self._event_ts, ev.ts)
            if ev.run_id:
                self._run_id = ev.run_id
        if not batch or self._event_ts <= 0:
            return
        if self._next_at is None:
            self._next_at = self._event_ts  # the first snapshot as soon as there is data
        if self._event_ts >= self._next_at:
            self._snapshot()
            self._next_at = self._event_ts + self.cfg.interval_s

    def _snapshot(self) -> None:
        """Every series now, with host and run_id, into the deque (the oldest goes when full)."""
        ts_ms = max(int(self._event_ts * 1000), self._last_ts_ms + 1)
        self._last_ts_ms = ts_ms
        extra = {**self.cfg.labels, "host": self._host}
        if self._run_id:
            extra["run_id"] = self._run_id
        series = []
        for family in self._collector.collect():
            for s in family.samples:
                labels = {**s.labels, **extra, "__name__": s.name}
                series.append((tuple(labels.items()), float(s.value)))
        snap = _Snapshot(ts_ms, series, self._unsnapshotted)
        self._unsnapshotted = 0
        with self._wake:
            self._stats["snapshots"] += 1
            if len(self._pending) >= self.cfg.queue:
                self._drop_locked([self._pending.popleft()], "queue_full")
            self._pending.append(snap)
            self._wake.notify()

    async def aclose(self) -> None:
        """The last snapshot, then wait for the sender at most ``flush_timeout_s``."""
        if self._thread is None:
            return
        if self._unsnapshotted and self._event_ts > 0:
            self._snapshot()
        with self._wake:
            self._closing = True
            self._wake.notify()
        thread = self._thread
        with trio.CancelScope(shield=True):  # bounded: the flush must happen even on Ctrl-C
            await trio.to_thread.run_sync(thread.join, self.cfg.flush_timeout_s)
        with self._wake:
            self._stopped = True
            left = [*self._inflight, *self._pending]
            self._inflight, self._pending = [], deque()
            self._drop_locked(left, "flush_timeout")
            self._wake.notify()
        if self._target is not None and not thread.is_alive():
            self._target.close()
        self._report()

    def _report(self) -> None:
        """One line on stderr when some of the run did not reach the receiver."""
        st = self.statistics()
        if not st.dropped:
            return
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(st.drop_reasons.items()))
        last = f"; last error: {self._last_error}" if self._last_error else ""
        assert self._target is not None
        try:
            sys.stderr.write(
                f"kcoro-stream: warning: remote_write {self._target.shown}: {st.dropped} of "
                f"{st.received} events not delivered ({reasons}){last}\n"
            )
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # stderr closed: the figures stay in statistics()

    # ------------------------------------------------------------ sender thread

    def _drop_locked(self, snaps: list[_Snapshot], reason: str) -> None:
        events = sum(s.events for s in snaps)
        if events:
            self.count_drop(reason, events)
        self._stats["samples_dropped"] += sum(len(s.series) for s in snaps)

    def _sender(self) -> None:
        cfg = self.cfg
        assert self._target is not None and self._encode is not None
        while True:
            with self._wake:
                while not self._pending and not self._closing and not self._stopped:
                    self._wake.wait()
                if self._stopped or not self._pending:
                    return
                n = min(cfg.batch, len(self._pending))
                self._inflight = [self._pending.popleft() for _ in range(n)]
                snaps = self._inflight
            body = self._encode(_merge(snaps))
            delay = cfg.backoff_s
            for attempt in range(cfg.retries + 1):
                status, reason = self._target.post(body, cfg.timeout_s)
                with self._wake:
                    if self._stopped:
                        return  # aclose counted this batch already
                    self._stats["requests"] += 1
                    if 200 <= status < 300:
                        self._written += sum(s.events for s in snaps)
                        self._stats["samples_sent"] += sum(len(s.series) for s in snaps)
                        self._inflight = []
                        break
                    self._last_error = reason
                    retriable = status == 0 or status == 429 or status >= 500
                    if not retriable or attempt == cfg.retries:
                        self._inflight = []
                        self._drop_locked(snaps, "send_failed" if retriable else "rejected")
                        break
                    self._stats["retries"] += 1
                    self._wake.wait(delay)  # aclose's stop wakes it early
                    if self._stopped:
                        return
                delay = min(delay * 2, cfg.max_backoff_s)

    # ------------------------------------------------------------ account

    def statistics(self) -> SinkStatistics:
        with self._lock:
            return super().statistics()

    def extra_statistics(self) -> dict[str, Any]:
        return {
            "url": self._target.shown if self._target else self.cfg.url.split("@")[-1],
            "host": self._host,
            "run_id": self._run_id,
            "pending": len(self._pending) + len(self._inflight),
            **self._stats,
            "last_error": self._last_error,
        }


def _merge(snaps: list[_Snapshot]) -> list[tuple[tuple[tuple[str, str], ...], list[tuple[int, float]]]]:
    """Snapshots (oldest first) → one entry per series with its samples in time order."""
    by_series: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
    for snap in snaps:
        for labels, value in snap.series:
            by_series.setdefault(labels, []).append((snap.ts_ms, value))
    return list(by_series.items())
