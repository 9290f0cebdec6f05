"""Live vs replay: every pipeline in pipelines/ derives byte-identical NDJSON from a run and its log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = sorted((ROOT / "pipelines").glob("*.py"))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kcoro_stream.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.name)
def test_live_and_replay_outputs_are_identical(tmp_path, pipeline):
    live, replay, log = tmp_path / "live.ndjson", tmp_path / "replay.ndjson", tmp_path / "log"
    r = _cli("run", str(pipeline), "--producer", "synthetic", "-d", "1.5s", "--log", str(log), "-o", str(live),
             "--no-stdout")  # fmt: skip
    assert r.returncode == 0, r.stderr  # a missing CLI module is a failure, not a skip
    r = _cli("replay", str(log), str(pipeline), "-o", str(replay), "--no-stdout")
    assert r.returncode == 0, r.stderr
    assert live.read_bytes() == replay.read_bytes()
    # every pipeline writes something for a 1.5 s run (alerts.py: a KPI line per window)
    assert live.read_bytes().count(b"\n") >= 3, live.read_bytes()[:500]
