"""Scripted workloads through the whole spine force the conditions the analyses must see."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from kcoro_stream.eventlog import open_log
from kcoro_stream.events import WorkerCounters, decode_frame

ROOT = Path(__file__).resolve().parent.parent
KS = [sys.executable, "-m", "kcoro_stream"]


def run_json(*args: str, log: Path | None = None) -> list[dict]:
    cmd = [*KS, "run", str(ROOT / "pipelines" / "default.py"), "--no-tui", *args]
    cmd += ["--log", str(log)] if log else ["--no-log"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_forced_inject_queue_growth_raises_backpressure() -> None:
    """A producer whose inject queue grows every tick → a backpressure alert; a steady one → none."""
    grow = run_json(
        "--producer", "synthetic", "--bench-arg=--inject-growth", "--bench-arg=5", "--duration", "3"
    )
    alerts = [e for e in grow if e["type"] == "alert" and e["rule"] == "backpressure.inject_depth"]
    assert alerts and alerts[0]["state"] == "firing"
    assert alerts[0]["value"] > alerts[0]["threshold"]
    steady = run_json("--producer", "synthetic", "--duration", "3")
    assert not [e for e in steady if e["type"] == "alert" and e["rule"].startswith("backpressure")]


def _final_workers(run: Path) -> dict[int, WorkerCounters]:
    last: dict[int, WorkerCounters] = {}
    for f in open_log(run).frames():
        for e in decode_frame(f.payload):
            if isinstance(e, WorkerCounters):
                last[e.worker] = e
    return last


def test_forced_imbalance_shows_in_heatmap_and_steals(tmp_path: Path) -> None:
    """All submissions from worker 0 (real runtime): high imbalance index, the idle worker steals."""
    args = ("--mode", "tasks", "--workers", "2", "--seed", "7", "--duration", "2")
    imb = run_json(*args, "--bench-arg=--imbalanced", log=tmp_path / "imb")
    bal = run_json(*args, log=tmp_path / "bal")

    def imbalance(events: list[dict]) -> float:
        return statistics.median(
            e["imbalance"] for e in events if e["type"] == "heatmap" and e["imbalance"] is not None
        )

    assert imbalance(imb) > 0.5
    assert imbalance(bal) < 0.2
    workers = _final_workers(tmp_path / "imb")
    assert workers[1].tasks_submitted == 0 and workers[1].steal_successes > 0
    assert workers[1].last_victim == 0
