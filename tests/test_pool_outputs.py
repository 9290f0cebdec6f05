"""No output before a usage error; histograms (lines and /metrics series) only for what a pool produces."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

KS = [sys.executable, "-m", "kcoro_stream"]


def test_a_refused_knob_combination_leaves_stdout_and_files_empty(tmp_path: Path) -> None:
    r = subprocess.run(
        [*KS, "run", "--mode", "tasks", "--zero-copy", "--no-log", "--no-tui", "-d", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    assert "--zero-copy" in r.stderr
    out = tmp_path / "never.ndjson"
    r = subprocess.run(
        [*KS, "run", "--mode", "tasks", "--zero-copy", "--no-log", "--no-tui", "-d", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert os.listdir(tmp_path) == []


def test_a_tasks_run_has_no_empty_histogram_lines() -> None:
    r = subprocess.run(
        [*KS, "run", "--mode", "tasks", "--no-log", "--no-tui", "-d", "1.5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    hists = [x for x in map(json.loads, r.stdout.splitlines()) if x["type"] == "histogram"]
    assert hists and all(h["count"] > 0 for h in hists)
    metrics = {(h["pool"], h["metric"]) for h in hists}
    assert ("tasks", "task_start_latency_ns") in metrics
    assert not {m for _, m in metrics} & {"task_body_ns", "chan_latency_ns"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_has_no_series_for_what_the_pool_cannot_produce() -> None:
    port = _free_port()
    run = subprocess.Popen(
        [
            *KS,
            "run",
            "--mode",
            "tasks",
            "--no-log",
            "--no-tui",
            "--no-stdout",
            "-d",
            "60",
            "--prometheus",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        text = ""
        while "task_start_latency" not in text:
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.3)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                    text = resp.read().decode()
            except OSError:
                continue
        time.sleep(1)  # a few more windows
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        series = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        assert not [ln for ln in series if "task_body" in ln or "chan_latency" in ln]
    finally:
        run.kill()  # the scrape is all this test needs of the run
        run.wait()
