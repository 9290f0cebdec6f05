"""Issue 18 end to end: a real CPU hog pinned to one pinned worker's CPU makes the
correlation anomaly fire in that span and name that worker; a run without the hog
raises none; replaying the recording gives the same OS and anomaly lines, byte for byte.

Robust on a loaded 2-core machine: the benchmark and the hog run with their own
session's autogroup at nice -10 (root), so other sessions' load (other test suites)
barely touches the workers, while the hog, at the same priority, takes most of its
CPU; the monitor runs in its own session at normal priority. The workload's task
bodies spin on thread CPU time (--body-ns), so throughput follows the CPU the
workers get.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kcoro_stream.selftest._judges import raise_priority as _raise_priority

BENCH = [sys.executable, "-m", "kcoro_stream.sources.bench"]
CLI = [sys.executable, "-m", "kcoro_stream"]
DURATION_S = 9.0
HOG_AT_S, HOG_FOR_S = 3.0, 3.0
HOG = "while True: pass"


def _spawn(args: list[str], raise_priority: bool, **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        start_new_session=True,
        preexec_fn=_raise_priority if raise_priority else None,  # needs no lock: writes one /proc file
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **kw,
    )


def _lines(path: Path, kinds: set[str]) -> list[bytes]:
    return [ln for ln in path.read_bytes().splitlines() if json.loads(ln)["type"] in kinds]


def _run(tmp_path: Path, hog: bool) -> tuple[Path, Path, list[dict[str, Any]], tuple[float, float] | None]:
    """One pinned 2-worker run (attach mode), optionally with a 2-process hog on worker 1's CPU."""
    ring, log, out = tmp_path / "bench.ring", tmp_path / "run", tmp_path / "live.ndjson"
    args = ["--ring", str(ring), "--mode", "tasks", "--workers", "2", "--pin", "--body-ns", "20000"]
    bench = _spawn([*BENCH, *args, "-d", str(DURATION_S)], raise_priority=True)
    procs = [bench]
    span = None
    try:
        deadline = time.monotonic() + 10
        while not ring.exists():
            assert bench.poll() is None, bench.stderr.read() if bench.stderr else ""
            assert time.monotonic() < deadline, "the benchmark made no ring"
            time.sleep(0.01)
        started = time.monotonic()
        monitor = _spawn(
            [*CLI, "attach", str(ring), "--log", str(log), "--out", str(out), "--no-stdout"],
            raise_priority=False,
        )
        procs.append(monitor)
        if hog:
            cpus = sorted(os.sched_getaffinity(0))
            cpu = str(cpus[1 % len(cpus)])  # worker 1's CPU under --pin
            time.sleep(max(0.0, HOG_AT_S - (time.monotonic() - started)))
            hog_cmd = f"taskset -c {cpu} {sys.executable} -c '{HOG}' & taskset -c {cpu} {sys.executable} -c '{HOG}' & wait"
            t0 = time.time()
            hogs = _spawn(["sh", "-c", hog_cmd], raise_priority=True)
            procs.append(hogs)
            time.sleep(HOG_FOR_S)
            os.killpg(hogs.pid, signal.SIGKILL)
            hogs.wait(timeout=10)
            span = (t0, time.time())
        assert bench.wait(timeout=DURATION_S + 30) == 0, bench.stderr.read() if bench.stderr else ""
        rc = monitor.wait(timeout=60)
        assert rc == 0, monitor.stderr.read() if monitor.stderr else ""
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
    anomalies = [
        json.loads(ln) for ln in _lines(out, {"anomaly"}) if json.loads(ln)["method"] == "os_interference"
    ]
    return log, out, anomalies, span


def _assert_replay_identical(tmp_path: Path, log: Path, live: Path) -> None:
    replayed = tmp_path / "replay.ndjson"
    subprocess.run(
        [*CLI, "replay", str(log), "--out", str(replayed)], check=True, capture_output=True, timeout=120
    )
    kinds = {"os", "anomaly", "sample"}
    assert _lines(replayed, kinds) == _lines(live, kinds)


@pytest.mark.skipif(
    not Path("/usr/bin/taskset").exists() and not Path("/bin/taskset").exists(), reason="taskset"
)
def test_a_pinned_hog_is_named_and_a_quiet_run_raises_nothing(tmp_path: Path) -> None:
    quiet_dir, hog_dir = tmp_path / "quiet", tmp_path / "hog"
    quiet_dir.mkdir()
    hog_dir.mkdir()

    log, out, anomalies, _ = _run(quiet_dir, hog=False)
    assert anomalies == [], [a["message"] for a in anomalies]
    os_lines = [json.loads(ln) for ln in _lines(out, {"os"})]
    assert os_lines and all(s["pinned"] == [True, True] for s in os_lines)

    log, out, anomalies, span = _run(hog_dir, hog=True)
    assert span is not None
    width = 0.25
    during = [a for a in anomalies if span[0] - width <= a["ts"] <= span[1] + width]
    assert during, f"no os_interference anomaly in the hog's span {span}: {[a['message'] for a in anomalies]}"
    cpus = sorted(os.sched_getaffinity(0))
    for a in during:
        assert a["labels"]["worker"] == "1" and a["labels"]["cpu"] == str(cpus[1 % len(cpus)]), a["message"]
        assert a["message"].startswith("tasks/s −") and "worker 1 (cpu " in a["message"], a["message"]
        assert a["score"] <= -0.2
    _assert_replay_identical(hog_dir, log, out)
