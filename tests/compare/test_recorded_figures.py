"""compare reads the latency percentiles and per-CPU throughput a run recorded (its summary.json and
index entry ``figures``), and replays a run's log only when its entry predates them: over a short real
manifest run (tasks and channel, 1 s each), the recorded figures are the ones a replay gives."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from kcoro_stream.compare import load_results
from kcoro_stream.compare._results import repeat_table
from kcoro_stream.errors import UsageError
from kcoro_stream.eventlog._format import SEGMENT_SUFFIX
from kcoro_stream.history._figures import RunFigures
from kcoro_stream.records import SUMMARY_NAME, read_summary
from kcoro_stream.runloop import replay_derived

from .test_compare_cli import results

MANIFEST = """manifest: figures
defaults: {duration: 1s, repeats: 1, bench: {workers: 1}}
steps:
  - name: tasks
    mode: tasks
  - name: channel
    mode: channel
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return results(tmp_path_factory.mktemp("figures"), "figures", MANIFEST)


def _copy(recorded: Path, tmp_path: Path) -> Path:
    out = tmp_path / "results"
    shutil.copytree(recorded, out, symlinks=True)
    return out


def _latency_values(out: Path) -> dict[str, dict[str, list[float]]]:
    return {step: t.values for (_, step), t in repeat_table(load_results(out), latency=True).items()}


def test_a_run_records_the_figures_a_replay_of_its_log_gives(recorded: Path) -> None:
    index = json.loads((recorded / "index.json").read_text())
    assert [e["state"] for e in index["runs"]] == ["ok", "ok"]
    for entry in index["runs"]:
        run_dir = recorded / entry["dir"]
        summary = read_summary(run_dir / SUMMARY_NAME)
        replayed = RunFigures().add_all(replay_derived(run_dir)).result()
        assert summary.figures == entry["figures"] == replayed, entry["step"]
        pool = entry["step"]
        latency = "task_start_latency_ns" if pool == "tasks" else "chan_latency_ns"
        assert {f"{pool}:{latency}:p50", f"{pool}:{latency}:p99"} <= set(replayed)
        per_cpu = f"{pool}:{'tasks' if pool == 'tasks' else 'msgs'}_per_cpu_s"
        assert replayed[per_cpu] > 0


def test_compare_reads_the_recorded_figures_without_the_log(recorded: Path, tmp_path: Path) -> None:
    out = _copy(recorded, tmp_path)
    before = _latency_values(out)
    for entry in json.loads((out / "index.json").read_text())["runs"]:
        for seg in (out / entry["dir"]).glob(f"*{SEGMENT_SUFFIX}"):
            seg.unlink()  # no log to replay: the figures can only come from the index
    assert _latency_values(out) == before
    assert math.isfinite(before["tasks"]["tasks:task_start_latency_ns:p99"][0])
    assert before["channel"]["channel:msgs_per_cpu_s"][0] > 0


def test_an_entry_written_before_figures_is_replayed_to_the_same_values(
    recorded: Path, tmp_path: Path
) -> None:
    out = _copy(recorded, tmp_path)
    recorded_values = _latency_values(out)
    index = json.loads((out / "index.json").read_text())
    for entry in index["runs"]:
        del entry["figures"]  # as an older kcoro-stream wrote it
    (out / "index.json").write_text(json.dumps(index))
    assert all(r.figures is None for r in load_results(out).runs)
    assert _latency_values(out) == recorded_values
    for entry in index["runs"]:
        for seg in (out / entry["dir"]).glob(f"*{SEGMENT_SUFFIX}"):
            seg.unlink()
    with pytest.raises(UsageError, match="cannot replay for latency"):
        _latency_values(out)
