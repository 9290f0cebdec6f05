"""The run loop returns what a run saw (a RunResult) and leaves its options alone: options are input
only. A run that ends by an exception carries its result on it (``result_of``), as a manifest needs
to index a failed run. Real runs of the bundled benchmark and of a producer that fails."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import trio

from kcoro_stream import ops
from kcoro_stream.errors import ProducerError
from kcoro_stream.records import SUMMARY_NAME, read_summary
from kcoro_stream.runloop import RunOptions, RunResult, result_of, run
from kcoro_stream.sources import LaunchConfig


def _options(tmp_path: Path) -> RunOptions:
    return RunOptions(
        sinks=[{"sink": "ndjson", "path": str(tmp_path / "out.ndjson")}],
        log_dir=tmp_path / "run",
        no_control=True,
    )


def test_a_run_returns_its_result_and_its_options_stay_as_given(tmp_path: Path) -> None:
    opts = _options(tmp_path)
    before = dataclasses.replace(opts)
    source = LaunchConfig(mode="tasks", duration_s=0.5, workers=1)
    result = trio.run(run, ops.default_analyses(), source, opts)
    assert isinstance(result, RunResult) and opts == before
    assert (result.exit_code, result.state, result.run_dir) == (0, "finished", tmp_path / "run")
    assert [s.pool for s in result.summaries] == ["tasks"]
    assert result.started is not None and result.ended is not None and result.ended.reason == "duration"
    summary = read_summary(tmp_path / "run" / SUMMARY_NAME)  # the same facts as the file says
    assert summary.run_id == result.run_id and summary.figures == result.figures
    assert summary.summaries[0]["avg"]["tasks_per_s"] == result.summaries[0].avg.tasks_per_s
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.run_dir = tmp_path  # type: ignore[attr-defined]  # no results are written into options
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.exit_code = 1  # type: ignore[misc]


def test_a_failed_run_raises_with_its_result(tmp_path: Path) -> None:
    source = LaunchConfig(producer="exec", command=["sh", "-c", "exit 3"])
    with pytest.raises(ProducerError) as info:
        trio.run(run, ops.default_analyses(), source, _options(tmp_path))
    result = result_of(info.value)
    assert result is not None and result.run_dir == tmp_path / "run"
    assert (result.state, result.exit_code, result.started) == ("lost", 1, None)  # it never began its run
    assert read_summary(tmp_path / "run" / SUMMARY_NAME).state == "lost"


def test_an_exception_from_elsewhere_has_no_result() -> None:
    assert result_of(ProducerError("x")) is None
