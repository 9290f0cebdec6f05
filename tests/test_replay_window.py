"""``replay --from/--to`` keep the run's context: wall ``ts``, ``run_id``, ``mode`` and both pools of a dual
recording, as in a full replay; nothing is output from before the cut."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DUAL = REPO / "bench_data" / "logs" / "dual-v1"
KS = [sys.executable, "-m", "kcoro_stream"]


def replay(*args: str) -> list[dict]:
    r = subprocess.run([*KS, "replay", str(DUAL), *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_replay_from_on_a_dual_recording_keeps_ts_run_id_mode_and_both_pools() -> None:
    full = replay()
    cut = replay("--from", "0.4s")
    full_samples = [x for x in full if x["type"] == "sample"]
    cut_samples = [x for x in cut if x["type"] == "sample"]
    assert cut_samples and len(cut_samples) < len(full_samples)
    run_id = full_samples[0]["run_id"]
    assert run_id and all(x["run_id"] == run_id for x in cut)
    assert {x["pool"] for x in cut_samples} == {"channel", "tasks"}
    assert all(x["mode"] == "dual" for x in cut_samples)
    # ts as in the full replay: wall-clock seconds, the same instants
    by_key = {(x["pool"], x["ts_ns"]): x["ts"] for x in full_samples}
    assert all(by_key[(x["pool"], x["ts_ns"])] == x["ts"] for x in cut_samples)
    assert all(x["ts"] > 1e9 for x in cut)
    # nothing from before the cut
    start = min(x["ts_ns"] for x in cut_samples)
    assert [x["ts_ns"] for x in cut_samples] == [x["ts_ns"] for x in full_samples if x["ts_ns"] >= start]
    assert all(x["ts_ns"] >= start for x in cut if x["type"] != "status")
    summaries = [x for x in cut if x["type"] == "summary"]
    assert {s["pool"] for s in summaries} == {"channel", "tasks"}
