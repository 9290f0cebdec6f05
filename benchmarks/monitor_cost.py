"""What the monitor costs the machine it watches (issue "Numbers you can trust", item 2).

1. Monitor CPU: user+sys of the monitor process alone (its /proc/PID/stat,
   not its children), over a 10 s window of a run at 10 ms sampling, with two
   baselines measured in the same run: the raw C reader alone (cffi, wait +
   read, no decoding) and a bare trio loop waking 100 times a second.
   Targets: default pipeline, no outputs ≤ 1 % of a core and ≤ 0.5× the
   trio loop; event log + NDJSON file ≤ 1.5 %; attached to an idle ring
   ≤ 0.2 %; ``--max-delay 0`` (a wake-up per frame) reported beside them.
2. Benchmark throughput with and without the monitor, interleaved A/B pairs:
   the median of the per-pair ratio with a bootstrap 95 % interval (target:
   the interval includes a loss ≤ 1 %).

Run with nothing else on the machine: ``python benchmarks/monitor_cost.py``
(``--quick`` for shorter windows and fewer pairs).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from native_common import table  # the benchmarks' one table printer

QUICK = "--quick" in sys.argv
KS = [sys.executable, "-m", "kcoro_stream"]
SYNTH = [sys.executable, "-m", "kcoro_stream.sources.synthetic"]
BENCH = [sys.executable, "-m", "kcoro_stream.sources.bench"]
TICK = os.sysconf("SC_CLK_TCK")
WARM_S = 1.5
WINDOW_S = 4.0 if QUICK else 10.0


def cpu_s(pid: int) -> float:
    """user+sys seconds of this process alone (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def measure(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> float:
    """% of one core the process used over WINDOW_S, after WARM_S of warm-up."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        time.sleep(WARM_S)
        c0, t0 = cpu_s(proc.pid), time.monotonic()
        time.sleep(WINDOW_S)
        c1, t1 = cpu_s(proc.pid), time.monotonic()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    if proc.returncode not in (0, -15, 130):
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {err.decode(errors='replace')[-500:]}")
    return 100 * (c1 - c0) / (t1 - t0)


TRIO_LOOP = """
import trio
async def main():
    while True:
        await trio.sleep(0.01)
trio.run(main)
"""

RAW_READER = """
import sys
from kcoro_stream._native import ffi, lib
from kcoro_stream.ingest import RingReader
ring = RingReader.create(data_size=1 << 22, interval_ns=10_000_000)
import os, subprocess
env = {**os.environ, "KCORO_STREAM_PARENT_PID": str(os.getpid())}  # the bench ends when we do
child = subprocess.Popen([sys.executable, "-m", "kcoro_stream.sources.bench", "--ring", str(ring.path),
                          "--mode", "tasks", "--interval-ms", "10", "--duration", "60"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
h = ring._h
while True:
    lib.kcs_reader_wait(h, 100_000_000)
    ring.read()
"""


def cpu_table(tmp: Path) -> None:
    run = [*KS, "run", "--mode", "tasks", "--interval", "10ms", "-d", "60", "--no-tui"]
    idle_ring = tmp / "idle.ring"
    rows: list[list[object]] = []
    trio_base = measure([sys.executable, "-c", TRIO_LOOP], cwd=tmp)
    rows.append(["bare trio loop waking 100×/s (baseline)", f"{trio_base:.2f}", "1.00", ""])
    raw = measure([sys.executable, "-c", RAW_READER], cwd=tmp)
    rows.append(["raw C reader alone, bench at 10 ms (baseline)", f"{raw:.2f}", f"{raw / trio_base:.2f}", ""])
    # Coalesced wake-ups: a headless run wakes after at most 250 ms (--max-delay's default without
    # stdout), a dashboard or page after 100 ms, NDJSON on stdout for every frame (--max-delay 0).
    for label, extra, target in (
        ("default pipeline, no outputs (250 ms hold)", [], "≤ 1 %, ≤ 0.5× trio"),
        ("default pipeline, --max-delay 100ms (screens)", ["--max-delay", "100ms"], ""),
        ("default pipeline, --max-delay 0 (every frame)", ["--max-delay", "0"], "reported"),
    ):
        cost = measure([*run, "--no-stdout", "--no-log", *extra], cwd=tmp)
        rows.append([label, f"{cost:.2f}", f"{cost / trio_base:.2f}", target])
    outs = ["--no-stdout", "--out", str(tmp / "o.ndjson"), "--force"]
    for label, extra, target in (
        ("event log + NDJSON file (250 ms hold)", [], "≤ 1.5 %"),
        ("event log + NDJSON file, --max-delay 0", ["--max-delay", "0"], "reported"),
    ):
        log = tmp / f"run-{len(rows)}"
        cost = measure([*run, *outs, "--log", str(log), *extra], cwd=tmp)
        rows.append([label, f"{cost:.2f}", f"{cost / trio_base:.2f}", target])
    from kcoro_stream.ingest import RingReader

    RingReader.create(idle_ring, data_size=1 << 20).close(unlink=False)  # made by "another runtime"
    producer = subprocess.Popen(
        [*SYNTH, "--ring", str(idle_ring), "--interval-ms", "1000", "--duration", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        idle = measure([*KS, "attach", str(idle_ring), "--no-tui", "--no-log", "--no-stdout"], cwd=tmp)
    finally:
        producer.terminate()
        producer.wait()
    rows.append(["attached to an idle ring (1 frame/s)", f"{idle:.2f}", f"{idle / trio_base:.2f}", "≤ 0.2 %"])
    table(
        f"Monitor process CPU (% of one core, user+sys of the monitor alone, {WINDOW_S:.0f} s window)",
        ["scenario", "CPU %", "ratio to trio loop", "target"],
        rows,
    )


def throughput(tmp: Path, monitored: bool) -> float:
    """tasks/s of a 3 s tasks run, with the monitor reading its ring or with no ring at all."""
    if monitored:
        out = tmp / "ab.ndjson"
        cmd = [*KS, "run", "--mode", "tasks", "-d", "3", "--no-tui", "--no-log", "--no-stdout"]
        subprocess.run(
            [*cmd, "--out", str(out), "--force"],
            check=True,
            cwd=tmp,
            capture_output=True,
        )
        summary = next(json.loads(ln) for ln in out.read_text().splitlines() if '"type":"summary"' in ln)
        return float(summary["avg"]["tasks_per_s"])
    p = subprocess.run(
        [*BENCH, "--no-ring", "--mode", "tasks", "-d", "3", "--summary"],
        check=True,
        capture_output=True,
        text=True,
    )
    s = json.loads(p.stdout.strip().splitlines()[-1])
    return float(s["tasks_per_s"])


def bootstrap_ci(xs: list[float], n: int = 2000) -> tuple[float, float]:
    rng = random.Random(1)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(n))
    return meds[int(0.025 * n)], meds[int(0.975 * n)]


def ab_table(tmp: Path) -> None:
    pairs = 4 if QUICK else 10
    ratios = []
    rows: list[list[object]] = []
    for i in range(pairs):
        order = (False, True) if i % 2 == 0 else (True, False)  # interleaved, alternating order
        got = {m: throughput(tmp, m) for m in order}
        ratios.append(got[True] / got[False])
        rows.append([i + 1, f"{got[False]:,.0f}", f"{got[True]:,.0f}", f"{ratios[-1]:.3f}"])
    lo, hi = bootstrap_ci(ratios)
    table(
        "Benchmark throughput (tasks/s, 3 s runs), without and with the monitor, interleaved pairs",
        ["pair", "alone", "monitored", "ratio"],
        rows,
    )
    med = statistics.median(ratios)
    print(
        f"median ratio {med:.3f}, 95 % CI [{lo:.3f}, {hi:.3f}] "
        f"(loss {100 * (1 - med):.1f} %; target: the interval includes a loss ≤ 1 %, i.e. ratio ≥ 0.99)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cpu_table(tmp)
        ab_table(tmp)


if __name__ == "__main__":
    main()
