"""``history`` over 10,000 run directories, against a plain json.load loop over the same files.

Builds N synthetic run directories in a temporary directory (each summary.json
is the real writer's output for one run, with its run id, start time, git
describe and tasks/s changed; a 10 % level shift two thirds of the way), then
times, best of R, in the same invocation:

* baseline: a Python loop that json.loads every summary.json and sorts the
  runs by start (the least any listing must do);
* history: ``history.history([DIR], "tasks_per_s", [])`` in-process (file
  discovery, DuckDB read_json_objects over the file list, checks, series, table);
* history --changes: the same with level-shift detection;
* export: ``history export --parquet`` in-process;
* CLI: ``kcoro-stream history DIR`` as a process (interpreter and imports included).

``--quick``: 1,000 directories, one repetition (to check the script runs).

    python benchmarks/history_scale.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from native_common import machine_note, table  # the benchmarks' one table printer

from kcoro_stream.events import Metrics, RunStarted, Summary
from kcoro_stream.history import SUMMARY_NAME, RunRecord, export_parquet, history, write_summary

QUICK = "--quick" in sys.argv
N = 1_000 if QUICK else 10_000
R = 1 if QUICK else 3


def build(runs: Path) -> None:
    """N run directories; one summary from the real writer, the others derived from its JSON."""
    first = runs / "template"
    first.mkdir(parents=True)
    rec = RunRecord("template", "launch", started_wall=1_790_000_000.0)
    rec.started = RunStarted(0, 0, "t", "tasks", {}, 2, "bench-host", 1, 1, 1, {"git": "v1"}, 0, 10_000_000)
    avg = Metrics(tasks_per_s=1e7)
    rec.summaries = [
        Summary(ts=0.0, ts_ns=0, mode="tasks", samples=10, duration_s=2.0, peak=avg, avg=avg, ema=avg)
    ]
    template = json.loads(write_summary(first, rec).read_text())
    (first / SUMMARY_NAME).unlink()
    first.rmdir()
    import random

    rnd = random.Random(1)
    for i in range(N):
        run_id = f"20261101-{i:06d}-bench0"
        body = dict(template, run_id=run_id, started=f"2026-11-{1 + i // 86400 % 28:02d}T{i // 3600 % 24:02d}:"
                    f"{i // 60 % 60:02d}:{i % 60:02d}.000Z")  # fmt: skip
        body["fingerprint"] = dict(template["fingerprint"], git=f"v1-{i}-g{i:07x}")
        level = 1e7 if i < 2 * N // 3 else 0.9e7
        body["metrics"] = dict(template["metrics"], tasks_per_s=level * (1 + rnd.gauss(0, 0.03)))
        d = runs / run_id
        d.mkdir()
        (d / SUMMARY_NAME).write_text(json.dumps(body, separators=(",", ":")) + "\n")


def baseline(runs: Path) -> int:
    rows = []
    for d in os.scandir(runs):
        with open(Path(d.path) / SUMMARY_NAME, encoding="utf-8") as f:
            body = json.load(f)
        rows.append((body["started"], body["run_id"], body["metrics"].get("tasks_per_s")))
    rows.sort()
    return len(rows)


def best(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(R):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    print(f"history over {N:,} run directories; {machine_note()}; best of {R}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        runs = tmp / "runs"
        t0 = time.perf_counter()
        build(runs)
        print(f"built in {time.perf_counter() - t0:.1f} s")
        assert baseline(runs) == N
        listed = history([runs], "tasks_per_s", [], changes=True, as_json=True)
        shifts = json.loads(listed.text)["series"][0]["shifts"]
        print(f"--changes found {len(shifts)} shift(s): " + ", ".join(s["run_id"] for s in shifts))
        cases: list[tuple[str, Callable[[], object]]] = [
            ("json.load loop (baseline)", lambda: baseline(runs)),
            ("history", lambda: history([runs], "tasks_per_s", [])),
            ("history --changes", lambda: history([runs], "tasks_per_s", [], changes=True)),
            ("history export --parquet", lambda: export_parquet([runs], tmp / "h.parquet", "tasks_per_s", [], force=True)),
            (
                "kcoro-stream history (process)",
                lambda: subprocess.run([sys.executable, "-m", "kcoro_stream", "history", str(runs)], capture_output=True, check=True),
            ),
        ]  # fmt: skip
        measured = [(name, best(fn)) for name, fn in cases]
        base = measured[0][1]
        table(
            f"history over {N:,} summaries",
            ["what", "seconds", "runs/s", "× baseline"],
            [(name, f"{s:.3f}", f"{N / s:,.0f}", f"{s / base:.2f}") for name, s in measured],
        )


if __name__ == "__main__":
    main()
