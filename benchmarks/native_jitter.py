"""Sampler jitter at 10 ms (issue 3): |actual - target| of every Tick while
2 workers run the tasks workload flat out, against a Python time.sleep(0.01)
loop measured during the same run. Target: p99 <= 200 µs.

Run: python benchmarks/native_jitter.py [--quick]
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time

from native_common import QUICK, RingDrain, machine_note, run_summary, table

from kcoro_stream.events import Tick

SECS = "2" if QUICK else "6"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    print(f"sampler jitter, 10 ms ticks, {SECS} s of tasks on 2 workers ({machine_note()})")
    path = os.path.join(tempfile.gettempdir(), f"kcs-jitter-{os.getpid()}.ring")
    py: list[float] = []
    done = threading.Event()

    def sleeper() -> None:
        last = time.monotonic_ns()
        while not done.is_set():
            time.sleep(0.01)
            now = time.monotonic_ns()
            py.append(abs(now - last - 10_000_000) / 1000)
            last = now

    t = threading.Thread(target=sleeper, daemon=True)
    with RingDrain(path) as drain:
        t.start()
        run_summary("--ring", path, "--mode", "tasks", "--workers", "2", "--interval-ms", "10", "-d", SECS)
        done.set()
    t.join()
    ticks = [e for e in drain.events if isinstance(e, Tick)][1:-1]  # the last one is the post-drain frame
    jit = [abs(e.actual_ns - e.target_ns) / 1000 for e in ticks]
    rows = []
    for name, xs in [("python time.sleep(0.01) (baseline)", py), ("kcoro-bench sampler", jit)]:
        rows.append([name, len(xs), f"{statistics.median(xs):.1f}", f"{pct(xs, 0.99):.1f}", f"{max(xs):.1f}"])
    p99 = pct(jit, 0.99)
    rows[1].append("target p99 <= 200 µs: " + ("met" if p99 <= 200 else "NOT met"))
    rows[0].append(f"sampler p99 is {pct(py, 0.99) / max(p99, 0.001):.1f}x lower")
    table("|actual - target| in µs", ["timer", "ticks", "p50", "p99", "max", "note"], rows)


if __name__ == "__main__":
    main()
