"""ctl round-trip latency (issue 16): p50/p99 of control calls during a saturated run.

A real run (the bundled benchmark, channel mode, one worker per CPU: every
core busy) is steered over its control socket. Each method is called N times
over one connection (the socket, the JSON-RPC dispatch and, for the methods
that need it, the producer's acknowledgement at its next tick), and
``status`` also over a new connection per call (what ``kcoro-stream ctl``
pays, without Python's start-up). The baseline, in the same run, is the same
calls while the benchmark is paused (its workers idle): the ratio is what a
saturated machine adds.

    methods   cheap: the server's own answer      (baseline for the rest)
    status    every stage's statistics
    mark      a Mark logged through the run loop
    set_interval  a control record, acknowledged by the producer's next tick (10 ms)

Run: python benchmarks/ctl_latency.py [--calls 200] [--interval 10ms]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Conn:
    """One control connection, newline-delimited JSON-RPC."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.buf = b""
        self.id = 0

    def call(self, method: str, params: list[object] | None = None) -> object:
        self.id += 1
        req = {"jsonrpc": "2.0", "id": self.id, "method": method, "params": params or []}
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("the run closed the control connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        self.sock.close()


def timed(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def measure(sock: Path, conn: Conn, n: int, interval: str) -> dict[str, list[float]]:
    def fresh() -> None:
        c = Conn(sock)
        c.call("status")
        c.close()

    flip = iter(range(10**9))
    return {
        "methods": timed(lambda: conn.call("methods"), n),
        "status": timed(lambda: conn.call("status"), n),
        "status (new connection)": timed(fresh, n),
        "mark": timed(lambda: conn.call("mark", [f"m{next(flip)}"]), n),
        "set_interval": timed(lambda: conn.call("set_interval", [interval]), max(10, n // 10)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=200, help="calls per method and phase")
    ap.add_argument("--interval", default="10ms", help="the run's sampling interval")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ctl-latency-") as tmp:
        run = Path(tmp) / "run"
        cmd = [
            sys.executable,
            "-m",
            "kcoro_stream",
            "run",
            "-m",
            "channel",
            "--workers",
            str(os.cpu_count() or 2),
        ]
        cmd += ["--interval", args.interval, "-d", "3600", "--no-tui", "--no-stdout", "--log", str(run)]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            sock = run / "control.sock"
            deadline = time.monotonic() + 60
            while not sock.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the run did not start: {proc.stderr.read() if proc.stderr else ''}")
                time.sleep(0.05)
            conn = Conn(sock)
            while not conn.call("status")["mode"]:  # type: ignore[index]
                time.sleep(0.05)
            time.sleep(1.0)  # past start-up
            busy = measure(sock, conn, args.calls, args.interval)
            conn.call("pause")
            time.sleep(0.5)
            idle = measure(sock, conn, args.calls, args.interval)
            conn.call("resume")
            conn.call("stop")
            conn.close()
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    base = pct(idle["methods"], 0.5)
    print(
        f"ctl round trips over the control socket ({os.cpu_count()} CPUs, channel mode, interval {args.interval})"
    )
    print(
        f"{'method':<26}{'phase':<11}{'calls':>6}{'p50 µs':>10}{'p99 µs':>10}{'p50/base':>10}{'busy/idle':>11}"
    )
    for name in busy:
        for phase, data in (("saturated", busy), ("paused", idle)):
            xs = data[name]
            p50 = pct(xs, 0.5)
            vs = pct(busy[name], 0.5) / max(pct(idle[name], 0.5), 1e-9)
            print(
                f"{name:<26}{phase:<11}{len(xs):>6}{p50:>10.0f}{pct(xs, 0.99):>10.0f}{p50 / base:>10.2f}"
                + (f"{vs:>11.2f}" if phase == "saturated" else f"{'':>11}")
            )
    print("base: p50 of 'methods' while paused; busy/idle: p50 saturated / p50 paused")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
