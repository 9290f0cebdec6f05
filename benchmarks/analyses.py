"""Your own analyses at scale: replaying a history in parallel, and what a declared metric costs.

Question 1 — ``replay RUNS_DIR pipelines/efficiency.py --jobs 2`` against one
``kcoro-stream replay RUN pipelines/efficiency.py`` process per run, one after
the other (the shell loop it replaces), over the same recorded runs, in one run
of this script: wall time and the ratio (target ≤ 0.6 with 2 cores). The
outputs are checked equal line for line (the meta line once).

Question 2 — a declared metric's cost: events/s of the default analyses alone
against the default analyses plus ``pipelines/efficiency.py``'s two metrics
(``ops.declared``), over the same recording, in this process (CPU time, best
of N). Target ≥ 0.9×.

    python benchmarks/analyses.py            # records 20 runs of 3 s first (about 2 min), then measures
    python benchmarks/analyses.py --quick    # 4 copies of bench_data/logs/dual-v1: a smoke run

The full run records its runs with the bundled benchmark (tasks mode, 2
workers) into a temporary directory; nothing is left behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EFF = ROOT / "pipelines" / "efficiency.py"
KS = [sys.executable, "-m", "kcoro_stream"]


def ks(*args: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    r = subprocess.run([*KS, *args], cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"kcoro-stream {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()[-500:]}")


def make_runs(tmp: Path, quick: bool) -> Path:
    runs = tmp / "runs"
    runs.mkdir()
    if quick:
        for i in range(4):
            shutil.copytree(ROOT / "bench_data" / "logs" / "dual-v1", runs / f"run{i:02d}")
        return runs
    for i in range(20):
        ks("run", "--mode", "tasks", "--duration", "3", "--workers", "2", "--no-tui", "--no-stdout",
           "--log", str(runs / f"run{i:02d}"), cwd=tmp)  # fmt: skip
    return runs


def question1(tmp: Path, runs: Path) -> tuple[float, float]:
    names = sorted(p for p in runs.iterdir() if p.is_dir())
    t0 = time.perf_counter()
    for i, run in enumerate(names):
        ks("replay", str(run), str(EFF), "--out", str(tmp / f"seq{i:02d}.ndjson"), cwd=tmp)
    sequential = time.perf_counter() - t0
    t0 = time.perf_counter()
    ks("replay", str(runs), str(EFF), "--jobs", "2", "--out", str(tmp / "jobs.ndjson"), cwd=tmp)
    parallel = time.perf_counter() - t0
    expected: list[bytes] = []
    for i in range(len(names)):
        lines = (tmp / f"seq{i:02d}.ndjson").read_bytes().splitlines(keepends=True)
        expected += lines if i == 0 else lines[1:]
    if (tmp / "jobs.ndjson").read_bytes().splitlines(keepends=True) != expected:
        sys.exit("replay --jobs 2 differs from the single replays")
    return sequential, parallel


def events_per_s(run: Path, pipeline: Path | None, repeat: int) -> float:
    from kcoro_stream.config import apply_to_replay
    from kcoro_stream.eventlog import open_log
    from kcoro_stream.pipeline import load_pipeline, resolve_pipeline
    from kcoro_stream.runloop import FrameRouter

    file = resolve_pipeline(pipeline)
    frames = [(f.payload, f.seq, f.ts_ns) for f in open_log(run).frames(None, None)]
    best = float("inf")
    events = 0
    for _ in range(repeat):
        derive = apply_to_replay({}, load_pipeline(file), file, run)[0]
        router = FrameRouter(derive, [], None)
        t0 = time.process_time()
        for payload, seq, ts in frames:
            router.frame(payload, seq, ts, None)
        router.subject.on_completed()
        best = min(best, time.process_time() - t0)
        events = router.events
    return events / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 copies of a shipped recording: a smoke run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kcoro-analyses-") as t:
        tmp = Path(t)
        runs = make_runs(tmp, args.quick)
        n = len([p for p in runs.iterdir() if p.is_dir()])
        seq, par = question1(tmp, runs)
        print(f"Question 1: {n} recorded runs through pipelines/efficiency.py (wall time; outputs equal)")
        print(f"{'':<40} {'seconds':>9} {'ratio':>7}")
        print(f"{f'{n} sequential replay processes':<40} {seq:>9.2f} {1.0:>7.2f}")
        print(f"{'replay RUNS_DIR --jobs 2':<40} {par:>9.2f} {par / seq:>7.2f}   (target <= 0.60)")
        run = sorted(p for p in runs.iterdir() if p.is_dir())[0]
        repeat = 3 if args.quick else 7
        base = events_per_s(run, None, repeat)
        eff = events_per_s(run, EFF, repeat)
        print(f"\nQuestion 2: one recording ({run.name}), CPU time, best of {repeat}")
        print(f"{'':<40} {'events/s':>12} {'ratio':>7}")
        print(f"{'default analyses':<40} {base:>12,.0f} {1.0:>7.2f}")
        print(
            f"{'default + efficiency.py (2 metrics)':<40} {eff:>12,.0f} {eff / base:>7.2f}   (target >= 0.90)"
        )


if __name__ == "__main__":
    main()
