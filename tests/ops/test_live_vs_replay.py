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
    if r.returncode != 0 and "No module named" in r.stderr:
        pytest.skip("CLI not available")
    assert r.returncode == 0, r.stderr
    r = _cli("replay", str(log), str(pipeline), "-o", str(replay), "--no-stdout")
    assert r.returncode == 0, r.stderr
    assert live.read_bytes() == replay.read_bytes()
    if pipeline.name != "alerts.py":  # alerts.py emits only state changes; a healthy run may have few
        assert live.stat().st_size > 0
