"""``history --metric NAME`` lists a pipeline's declared metric: summary.json keeps its average."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from kcoro_stream.analysis import Summary
from kcoro_stream.errors import UsageError
from kcoro_stream.history import history
from kcoro_stream.history._record import RunRecord, write_summary
from kcoro_stream.pipeline import replay_events
from kcoro_stream.replays import pipeline_metrics

DUAL = Path(__file__).resolve().parents[2] / "bench_data" / "logs" / "dual-v1"


def test_history_lists_a_declared_metric_from_summary_json(tmp_path: Path) -> None:
    summaries = [e for e in replay_events(DUAL, "efficiency") if type(e) is Summary]
    expected = next(
        f.avg
        for s in summaries
        if s.pool == "tasks"
        for f in s.declared_figures or []
        if f.name == "tasks_per_cpu_s"
    )
    assert expected
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    write_summary(run, RunRecord("r1", "replay", run_dir=run, summaries=summaries))
    assert json.loads((run / "summary.json").read_text())["metrics"]["tasks:tasks_per_cpu_s"] == expected

    got = json.loads(history([tmp_path / "runs"], "tasks:tasks_per_cpu_s", [], as_json=True).text)
    assert [(r["run_id"], r["value"]) for r in got["runs"]] == [("r1", expected)]
    with pytest.raises(
        UsageError, match=r"--metric tasks:nope: no listed run has it \(they have: .*tasks:tasks_per_cpu_s"
    ):
        history([tmp_path / "runs"], "tasks:nope", [])


def _recorded_run(d: Path) -> Path:
    """A copy of dual-v1 with the summary.json its recorded analyses make (no declared metric in it)."""
    shutil.copytree(DUAL, d)
    summaries = [e for e in replay_events(d) if type(e) is Summary]
    write_summary(d, RunRecord(d.name, "replay", run_dir=d, summaries=summaries))
    return d


def test_history_pipeline_replays_runs_without_the_metric_and_caches_it_beside_them(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    mine, foreign = _recorded_run(runs / "r1"), _recorded_run(runs / "r2")
    os.chown(foreign, 65534, -1) if os.getuid() == 0 else foreign.chmod(0o555)  # another user's, or read-only

    def listed() -> dict[str, float]:
        out = history(
            [runs],
            "tasks:tasks_per_cpu_s",
            [],
            as_json=True,
            add_metrics=lambda files: pipeline_metrics(files, "efficiency", "tasks:tasks_per_cpu_s"),
        )
        return {r["run_id"]: r["value"] for r in json.loads(out.text)["runs"]}

    first = listed()
    assert first["r1"] == first["r2"] and first["r1"] > 0
    (cache,) = (mine / "analyses").iterdir()
    assert json.loads(cache.read_text())["metrics"]["tasks:tasks_per_cpu_s"] == first["r1"]
    assert not (foreign / "analyses").exists()  # replayed, not cached
    for seg in mine.glob("segment-*"):
        seg.unlink()  # the log is gone: only the cache can answer now
    assert listed()["r1"] == first["r1"]

    from click.testing import CliRunner

    from kcoro_stream.cli import cli

    r = CliRunner().invoke(cli, ["runs", "prune", str(runs), "--keep", "0", "--yes"])
    assert r.exit_code == 0, r.output
    assert not mine.exists() and not cache.exists()  # the cache goes with its run


def test_history_pipeline_needs_the_metric_it_computes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kcoro_stream.cli import cli

    r = CliRunner().invoke(cli, ["history", str(tmp_path), "--pipeline", "efficiency"])
    assert r.exit_code == 2 and "--pipeline: give the --metric it computes" in r.output
