"""``history --metric NAME`` lists a pipeline's declared metric: summary.json keeps its average."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kcoro_stream.analysis import Summary
from kcoro_stream.errors import UsageError
from kcoro_stream.history import history
from kcoro_stream.history._record import RunRecord, write_summary
from kcoro_stream.pipeline import replay_events

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
