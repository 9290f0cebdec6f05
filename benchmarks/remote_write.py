"""remote_write sink (issue 17): encoder and push throughput, and the CPU it adds to a run.

Three tables, each with a baseline measured in the same run:

1. snapshot + encode: the series of a real recording (bench_data/logs/dual-v1
   replayed through its analyses) taken as one snapshot, then merged
   ``batch`` at a time into a WriteRequest (protobuf + snappy); samples/s.
2. push: the same requests POSTed to a receiver on this machine (the real
   Prometheus with --web.enable-remote-write-receiver when installed, else a
   local HTTP server that reads and discards); requests/s and samples/s,
   against encoding alone.
3. CPU of the monitor process at 10 ms sampling (synthetic producer, default
   analyses), headless NDJSON to /dev/null vs the same plus ``--remote-write``
   to that receiver; utime + stime from /proc, children excluded.

Run: python benchmarks/remote_write.py [--seconds 10] [--requests 200]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard_cpu import measure

from kcoro_stream.runloop import replay_derived
from kcoro_stream.sinks import SinkContext, build_sink
from kcoro_stream.surfaces._prompb import encode_write_request
from kcoro_stream.surfaces.remote_write import RemoteWriteSink, _merge, _Target

ROOT = Path(__file__).resolve().parent.parent
BATCHES = (1, 10)  # snapshots merged into one request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def receiver() -> Iterator[tuple[str, str]]:
    """(URL, what) of a remote-write receiver on this machine, stopped on exit."""
    binary = shutil.which("prometheus")
    if binary is None:

        class Discard(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Discard)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/write", "local discard server"
        finally:
            server.shutdown()
        return
    port = _free_port()
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "p.yml").write_text("global:\n  scrape_interval: 15s\n")
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={d}/p.yml",
                f"--storage.tsdb.path={d}/data",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-remote-write-receiver",
                "--log.level=error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):  # bounded wait for readiness
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}/api/v1/write", "Prometheus (Debian)"
        finally:
            proc.terminate()
            proc.wait()


def snapshots(n: int) -> tuple[RemoteWriteSink, float]:
    """A sink fed a real recording, and the seconds one snapshot takes (mean of ``n``)."""
    sink = build_sink({"sink": "remote_write", "url": "http://127.0.0.1:1/"}, SinkContext())
    assert isinstance(sink, RemoteWriteSink)
    for ev in replay_derived(ROOT / "bench_data" / "logs" / "dual-v1"):
        sink.state.update(ev)
        sink._event_ts = max(sink._event_ts, ev.ts)
        sink._run_id = ev.run_id or sink._run_id
    t0 = time.perf_counter()
    for _ in range(n):
        sink._event_ts += 1.0
        sink._snapshot()
    return sink, (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0, help="CPU measurement per variant")
    ap.add_argument("--requests", type=int, default=200, help="requests per encode/push measurement")
    args = ap.parse_args()

    sink, snap_s = snapshots(args.requests)
    snaps = list(sink._pending)
    series = len(snaps[0].series)
    print(f"\nSnapshot and encode ({series} series per snapshot, dual-v1 recording)")
    print(f"{'step':<34}{'µs/call':>10}{'samples/s':>14}{'ratio':>8}")
    print(f"{'snapshot (baseline)':<34}{snap_s * 1e6:>10.1f}{series / snap_s:>14,.0f}{1.0:>8.2f}")
    for batch in BATCHES:
        t0 = time.perf_counter()
        groups = [snaps[i : i + batch] for i in range(0, len(snaps), batch)]
        for g in groups:
            encode_write_request(_merge(g))
        per = (time.perf_counter() - t0) / len(groups)
        rate = series * batch / per
        print(
            f"{f'encode, {batch} snapshot(s)/request':<34}{per * 1e6:>10.1f}{rate:>14,.0f}{snap_s / per:>8.2f}"
        )

    with receiver() as (url, what):
        target = _Target(url, {}, 5.0)
        print(f"\nPush to {what} on 127.0.0.1 ({args.requests} snapshots, one kept-alive connection)")
        print(f"{'variant':<34}{'req/s':>10}{'samples/s':>14}{'ratio':>8}")
        for batch in BATCHES:
            # each request must carry new timestamps for a real TSDB: re-encode with fresh times
            ts0 = int(time.time() * 1000)
            fresh = []
            for i, g in enumerate([snaps[j : j + batch] for j in range(0, len(snaps), batch)]):
                for k, s in enumerate(g):
                    s.ts_ms = ts0 + (i * batch + k) * 10
                fresh.append(encode_write_request(_merge(g)))
            t0 = time.perf_counter()
            statuses = [target.post(b, 5.0)[0] for b in fresh]
            dt = time.perf_counter() - t0
            ok = sum(200 <= s < 300 for s in statuses)
            print(
                f"{f'{batch} snapshot(s)/request, {ok}/{len(fresh)} ok':<34}"
                f"{len(fresh) / dt:>10.1f}{series * len(snaps) / dt:>14,.0f}"
                f"{(len(snaps) / dt) / (1 / snap_s):>8.2f}"
            )
        target.close()

        base = [
            sys.executable, "-m", "kcoro_stream", "run", "pipelines/default.py",
            "--producer", "synthetic", "--interval", "10ms", "--duration", str(args.seconds + 4),
            "--no-log", "--no-tui", "--no-stdout", "--out", "/dev/null",
        ]  # fmt: skip
        cpu = {}
        for name, extra in (
            ("headless NDJSON (baseline)", []),
            ("+ --remote-write", ["--remote-write", url]),
        ):
            proc = subprocess.Popen(
                [*base, *extra], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                cpu[name] = measure(proc.pid, args.seconds)
            finally:
                proc.terminate()
                proc.wait()
    b = cpu["headless NDJSON (baseline)"]
    print(f"\nMonitor CPU at 10 ms sampling, default analyses, {args.seconds:g} s measured per variant")
    print(f"{'variant':<34}{'CPU %':>8}{'ratio':>8}")
    for name, v in cpu.items():
        print(f"{name:<34}{v:>8.1f}{v / b if b else float('nan'):>8.2f}")


if __name__ == "__main__":
    main()
