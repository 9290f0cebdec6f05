"""The remote_write sink: a real Prometheus receiving a real run, and an HTTP receiver we control.

The receiver we control is a real HTTP server in a thread (``Receiver``) that
decodes every request with the protobuf definitions and answers what the test
scripts (200, 503, 400, or a hang), so retries, drops and the bounded flush
can be checked exactly; the end-to-end test pushes a real 3 s run into the
real Prometheus binary and reads it back through its query API.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trio

from kcoro_stream.errors import UsageError
from kcoro_stream.sinks import SinkContext, build_sink, parse_spec
from kcoro_stream.surfaces._prompb import CONTENT_HEADERS, decode_write_request
from kcoro_stream.surfaces.remote_write import RemoteWriteSink

try:
    from .surface_factory import RUN_ID, Script
    from .test_prometheus import start_prometheus
except ImportError:  # tests/ run without package __init__ files
    from surface_factory import RUN_ID, Script  # type: ignore[no-redef]
    from test_prometheus import start_prometheus  # type: ignore[no-redef]

KS = [sys.executable, "-m", "kcoro_stream"]


class Receiver:
    """A real HTTP server that decodes remote-write bodies; ``answers`` scripts the statuses."""

    def __init__(
        self, answers: list[int] | None = None, hang: bool = False, body: bytes = b"", host: str = "127.0.0.1"
    ) -> None:
        self.answers = list(answers or [])
        self.body = body  # the reply's body (a hostile receiver's text)
        self.hang = hang
        self.requests: list[tuple[dict[str, str], list[object]]] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.hang:
                    outer.release.wait(30)
                status = outer.answers.pop(0) if outer.answers else 204
                outer.requests.append((dict(self.headers), decode_write_request(body)))
                self.send_response(status)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *_: object) -> None:
                pass

        server_class = ThreadingHTTPServer
        if ":" in host:

            class V6(ThreadingHTTPServer):
                address_family = socket.AF_INET6

            server_class = V6
        self.server = server_class((host, 0), Handler)
        self.server.daemon_threads = True
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.server.server_address[1]}/api/v1/write"

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        t = threading.Thread(target=self.server.serve_forever, daemon=True)
        t.start()
        try:
            yield self
        finally:
            self.release.set()
            self.server.shutdown()
            self.server.server_close()

    def series(self) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
        out: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
        for _, decoded in self.requests:
            for labels, samples in decoded:  # type: ignore[misc]
                out.setdefault(tuple(labels), []).extend(samples)
        return out


def _sink(url: str, **fields: object) -> RemoteWriteSink:
    sink = build_sink({"sink": "remote_write", "url": url, **fields}, SinkContext())
    assert isinstance(sink, RemoteWriteSink)
    return sink


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_spec_and_flags_parse() -> None:
    cls, fields = parse_spec("remote_write:http://u:p@h:9090/api/v1/write,interval=0.5,queue=3,retries=0")
    assert cls is RemoteWriteSink
    assert fields == {"url": "http://u:p@h:9090/api/v1/write", "interval_s": 0.5, "queue": 3, "retries": 0}
    assert parse_spec("remote_write:http://h/w?a=1,b")[1] == {"url": "http://h/w?a=1,b"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "ftp://h/x"}, "is not an http:// or https:// URL"),
        ({"url": "http:///x"}, "is not an http:// or https:// URL"),
        ({"url": "http://h:99999/x"}, "bad port"),
        ({"url": "http://h/x", "queue": 0}, "queue=0 must be at least 1"),
        ({"url": "http://h/x", "interval_s": -1.0}, "interval_s=-1.0 must be a positive number"),
    ],
)
async def test_bad_config_is_one_usage_line(fields: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        sink = build_sink({"sink": "remote_write", **fields}, SinkContext())
        await sink.open()


async def test_pushes_series_with_host_run_id_and_protocol_headers() -> None:
    script = Script(batches=20)
    with Receiver().running() as rx:
        sink = _sink(rx.url, host="bench-7", labels={"job": "ci"})
        await sink.open()
        for batch in script:
            await sink.send(batch)
        await sink.aclose()
    st = sink.statistics()
    assert st.received == st.written > 0 and st.dropped == 0
    headers = rx.requests[0][0]
    for k, v in CONTENT_HEADERS.items():
        assert headers[k] == v
    series = rx.series()
    key = (
        ("__name__", "kcoro_sched_tasks_completed_total"),
        ("host", "bench-7"),
        ("job", "ci"),
        ("pool", "tasks"),
        ("run_id", RUN_ID),
    )
    samples = series[key]
    # one snapshot per second of event time (20 × 250 ms) plus the final one; times only go up
    times = [t for t, _ in samples]
    assert times == sorted(set(times)) and len(times) >= 5
    assert samples[-1][1] == script.batches * script.tasks_per_s * script.window_ms / 1000
    # the same series as /metrics: every series carries the two extra labels, labels sorted
    assert all(dict(k)["host"] == "bench-7" and dict(k)["run_id"] == RUN_ID for k in series)
    assert all(list(k) == sorted(k) for k in series)
    assert any(dict(k)["__name__"] == "kcoro_alerts_firing" for k in series)


async def test_retries_5xx_then_delivers_and_4xx_is_rejected() -> None:
    with Receiver(answers=[503, 503, 400]).running() as rx:
        sink = _sink(rx.url, batch=1, backoff_s=0.01)
        await sink.open()
        script = Script(batches=12)
        for batch in list(script)[:4]:  # the first snapshot: 503, 503, then 400
            await sink.send(batch)
        with trio.fail_after(10):
            while sink.statistics().extra["requests"] < 3:
                await trio.sleep(0.01)
        for batch in list(script)[4:]:
            await sink.send(batch)
        await sink.aclose()
    st = sink.statistics()
    assert st.extra["retries"] == 2
    assert list(st.drop_reasons) == ["rejected"] and st.dropped == 1  # the first snapshot carried 1 event
    assert st.written + st.dropped == st.received
    assert st.extra["last_error"] == "HTTP 400"


async def push_and_close(sink: RemoteWriteSink, batches: int) -> float:
    """Open ``sink``, send a scripted run, close it: the seconds the close (the final flush) took."""
    await sink.open()
    for batch in Script(batches=batches):
        await sink.send(batch)
    t0 = time.monotonic()
    await sink.aclose()
    return time.monotonic() - t0


async def test_full_queue_drops_oldest_and_counts() -> None:
    with Receiver(hang=True).running() as rx:
        sink = _sink(rx.url, queue=2, batch=1, interval_s=0.25, flush_timeout_s=0.5)
        assert await push_and_close(sink, 20) < 2.0
    st = sink.statistics()
    assert st.drop_reasons["queue_full"] > 0 and st.drop_reasons["flush_timeout"] > 0
    assert st.written == 0 and st.dropped == st.received


async def test_receiver_down_flush_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    sink = _sink(f"http://127.0.0.1:{_free_port()}/api/v1/write", flush_timeout_s=1.0)
    assert await push_and_close(sink, 8) < 1.8
    st = sink.statistics()
    assert st.dropped == st.received and st.written == 0
    assert st.extra["last_error"] == "connection refused"
    line = capsys.readouterr().err.strip()
    assert line.startswith("kcoro-stream: warning: remote_write http://127.0.0.1:")
    assert f"{st.received} of {st.received} events not delivered" in line and "\n" not in line


def _query(port: int, promql: str) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?query=" + urllib.parse.quote(promql)
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read())["data"]["result"]  # type: ignore[no-any-return]
    except OSError:
        return []


@contextmanager
def _prometheus(tmp_path: Path) -> Iterator[int]:
    """The real Prometheus with its remote-write receiver on, ready; its port."""
    proc, port, log = start_prometheus(
        tmp_path, "global:\n  scrape_interval: 15s\n", "--web.enable-remote-write-receiver"
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # bounded wait for readiness
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _ndjson(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_real_prometheus_receives_a_3s_run(tmp_path: Path) -> None:
    """A real run pushed to a real Prometheus: every series comes back by run_id, totals exact."""
    with _prometheus(tmp_path) as port:
        out = tmp_path / "run.ndjson"
        r = subprocess.run(
            [
                *KS,
                "run",
                "-d",
                "3",
                "-m",
                "tasks",
                "--no-tui",
                "--out",
                str(out),
                "--log",
                str(tmp_path / "run"),
                "--remote-write",
                f"http://127.0.0.1:{port}/api/v1/write",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert "not delivered" not in r.stderr
        events = _ndjson(out)
        samples = [e for e in events if e["type"] == "sample"]
        run_id = samples[0]["run_id"]
        total = max(e["worker_totals"]["tasks_completed"] for e in samples)  # type: ignore[index]
        assert total > 0
        got = _query(port, f'kcoro_sched_tasks_completed_total{{run_id="{run_id}"}}')
        assert len(got) == 1, got
        metric = got[0]["metric"]
        assert metric["host"] == socket.gethostname() and metric["pool"] == "tasks"  # type: ignore[index]
        assert float(got[0]["value"][1]) == total  # type: ignore[index]
        # the run's series, several points each (one snapshot a second + the last)
        names = {x["metric"]["__name__"] for x in _query(port, f'{{run_id="{run_id}"}}')}  # type: ignore[index]
        assert {"kcoro_sched_fastpath_ratio", "kcoro_pipeline_samples_total", "kcoro_run_info"} <= names
        points = _query(port, f'count_over_time(kcoro_pipeline_samples_total{{run_id="{run_id}"}}[10m])')
        assert float(points[0]["value"][1]) >= 3  # type: ignore[index]


@pytest.mark.slow
def test_run_with_receiver_down_ends_on_time_and_reports_drops(tmp_path: Path) -> None:
    """With nothing listening and retries that would take minutes, the run ends within the flush bound."""

    def timed_run(name: str, *extra: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        args = ["run", "-d", "3", "--no-tui", "--out", str(tmp_path / f"{name}.ndjson")]
        args += ["--log", str(tmp_path / name), *extra]
        t0 = time.monotonic()
        r = subprocess.run([*KS, *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return time.monotonic() - t0, r

    baseline, _ = timed_run("baseline")
    url = f"http://127.0.0.1:{_free_port()}/api/v1/write"
    elapsed, r = timed_run("down", "--sink", f"remote_write:{url},flush=1,retries=60")
    # the same run plus at most the 1 s flush bound (and scheduling slack): never the retries' ~2 min
    assert elapsed - baseline < 1 + 3, (elapsed, baseline)
    lines = [x for x in r.stderr.splitlines() if "remote_write" in x]
    assert len(lines) == 1 and "events not delivered" in lines[0] and "connection refused" in lines[0]
    statuses = [e for e in _ndjson(tmp_path / "down.ndjson") if e["type"] == "status"]
    rw = [s for st in statuses for s in st["sinks"] if s["name"] == "remote_write"]  # type: ignore[attr-defined]
    # while the run goes on, its status lines show the sink retrying and why
    assert rw and rw[-1]["extra"]["retries"] > 0 and rw[-1]["extra"]["last_error"] == "connection refused"


def test_a_hosts_config_file_makes_every_run_push(tmp_path: Path) -> None:
    """``[run] remote_write = [URL]`` in a config file: a plain run pushes without any flag."""
    with Receiver().running() as rx:
        (tmp_path / "kcoro-stream.toml").write_text(f'[run]\nremote_write = ["{rx.url}"]\n')
        r = subprocess.run(
            [*KS, "run", "--producer", "synthetic", "-d", "1", "--no-tui", "--no-stdout", "--no-log"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert r.returncode == 0, r.stderr
    names = {dict(k)["__name__"] for k in rx.series()}
    assert "kcoro_pipeline_samples_total" in names and rx.requests


async def test_a_hostile_receivers_reply_cannot_reach_the_terminal_raw(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The reply was printed raw in the final warning: window title, clear screen, fake lines.
    IPv6 URLs were printed without their brackets."""
    evil = b"\x1b]0;owned\x07\x1b[2J\x1b[Hkcoro-stream: all good " + "\u202e\u009b31m".encode() + b"\r more"
    with Receiver(answers=[400] * 50, body=evil, host="::1").running() as rx:
        sink = _sink(rx.url, batch=1)
        await push_and_close(sink, 4)
    st = sink.statistics()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kcoro-stream: warning: remote_write http://[::1]:")
    assert "\x1b" not in err and "\x07" not in err and "\r" not in err and "\u202e" not in err, repr(err)
    assert "\x9b" not in err and "\\x1b]0;owned" in err  # shown escaped, so the operator sees it
    assert "\x1b" not in st.extra["last_error"] and st.extra["url"].startswith("http://[::1]:")
