"""A producer stopped for 2.5 s (a real ``kill -STOP`` of the benchmark) is a stalled state:
``status`` says ``stalled`` then ``running``, an alert ``producer.stalled`` fires and resolves,
``/metrics`` has ``kcoro_monitor_state{state="stalled"}``, the window spanning the stall is marked
and no throughput judge speaks about it; the replay shows the same lines.

Before: ``status`` stayed ``running`` with an empty message, no alert, nothing in ``/metrics``, the
window spanning the stall (2.67 s) unmarked; a stderr warning was all.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kcoro_stream.selftest._judges import bench_child

KS = [sys.executable, "-m", "kcoro_stream"]


def _prom(port: int) -> list[str]:
    return ["--prometheus", f"127.0.0.1:{port}"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def _judgments(out: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (x["type"], x["state"], x["message"]) if x["type"] == "status" else (x["type"], x["rule"], x["state"])
        for x in out
        if (x["type"] == "status" and x["state"] != "running") or (x["type"] == "alert")
    ]


@pytest.mark.slow
def test_a_producer_stopped_for_2_5_s_is_stalled_then_running_live_and_in_replay(tmp_path: Path) -> None:
    log, live, replayed = tmp_path / "run", tmp_path / "live.ndjson", tmp_path / "replay.ndjson"
    port = _free_port()
    monitor = subprocess.Popen(
        [*KS, "run", "-m", "tasks", "-d", "9", "--no-tui", "--log", str(log), "-o", str(live), *_prom(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        bench = None
        while bench is None:
            assert time.monotonic() < deadline, "the benchmark did not start"
            time.sleep(0.1)
            bench = bench_child(monitor.pid)
        time.sleep(3.0)
        os.kill(bench, signal.SIGSTOP)
        try:
            time.sleep(1.5)
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
            time.sleep(1.0)
        finally:
            os.kill(bench, signal.SIGCONT)
        _, stderr = monitor.communicate(timeout=60)
    finally:
        if monitor.poll() is None:
            monitor.kill()
    assert monitor.returncode == 0, stderr
    assert 'kcoro_monitor_state{state="stalled"} 1.0' in metrics
    out = _lines(live)
    statuses = [x["state"] for x in out if x["type"] == "status"]
    first = statuses.index("stalled")
    assert "running" in statuses[first:], statuses
    stalled = [x for x in out if x["type"] == "status" and x["state"] == "stalled"]
    assert stalled[0]["message"].startswith("producer stalled: no frame for ")
    alerts = [(a["rule"], a["state"]) for a in out if a["type"] == "alert"]
    assert alerts == [("producer.stalled", "firing"), ("producer.stalled", "resolved")], alerts
    (resolved,) = [a for a in out if a["type"] == "alert" and a["state"] == "resolved"]
    assert 2.0 <= resolved["value"] <= 4.0, resolved  # silent for about the 2.5 s of the stop
    phases = [s["phase"] for s in out if s["type"] == "sample"]
    assert phases.count("stalled") >= 1, phases
    span = max(s["span_ns"] for s in out if s["type"] == "sample" and s["phase"] == "stalled")
    assert span >= 2_000_000_000
    assert [a for a in out if a["type"] == "anomaly" and a["method"] != "os_interference"] == []
    r = subprocess.run(
        [*KS, "replay", str(log), "-o", str(replayed)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    again = _lines(replayed)
    assert _judgments(again) == _judgments(out)
    assert [s["phase"] for s in again if s["type"] == "sample"] == phases
