"""pipelines/efficiency.py over real recordings, through the harness docs/analyses.md shows.

The harness is ``kcoro_stream.pipeline.replay_events(LOG, PIPELINE)``: a recording through a
pipeline in this process, the derived events back, nothing written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kcoro_stream.analysis import Sample, Summary
from kcoro_stream.pipeline import replay_events

DATA = Path(__file__).resolve().parents[2] / "bench_data"


def samples(log: Path) -> list[Sample]:
    return [e for e in replay_events(log, "efficiency") if type(e) is Sample]


def test_tasks_and_msgs_per_cpu_second_per_pool_over_a_dual_run() -> None:
    """Each window: rate / (the pool's CPU share); null where the window has no CPU figure yet."""
    got = samples(DATA / "logs" / "dual-v1")
    assert {s.pool for s in got} == {"tasks", "channel"}
    computed = 0
    for s in got:
        assert s.declared is not None and set(s.declared) == {"tasks_per_cpu_s", "msgs_per_cpu_s"}
        cpu = s.resources.cpu_pct if s.resources is not None else None
        for name, rate in (("tasks_per_cpu_s", s.tasks_per_s), ("msgs_per_cpu_s", s.msgs_per_s)):
            if cpu and rate is not None:
                assert s.declared[name] == pytest.approx(rate / (cpu / 100), rel=1e-12)
                computed += 1
            else:
                assert s.declared[name] is None
    # the first window of each pool has no CPU baseline; the tasks pool never sends messages
    assert computed == 6
    assert [s.declared["tasks_per_cpu_s"] is None for s in got if s.pool == "tasks"] == [True, False, False]


def test_the_summary_carries_each_metric_with_its_version() -> None:
    events = replay_events(DATA / "logs" / "dual-v1", "efficiency")
    summ = {e.pool: e for e in events if type(e) is Summary}
    fig = {f.name: f for f in summ["tasks"].declared_figures or []}
    assert fig["tasks_per_cpu_s"].version == 1 and fig["tasks_per_cpu_s"].higher_is_better
    assert fig["tasks_per_cpu_s"].unit == "tasks/cpu-s"
    counted = [
        s.declared["tasks_per_cpu_s"]
        for s in events
        if type(s) is Sample
        and s.pool == "tasks"
        and not s.partial
        and s.declared["tasks_per_cpu_s"] is not None
    ]
    assert counted and fig["tasks_per_cpu_s"].avg == pytest.approx(sum(counted) / len(counted))
    assert fig["msgs_per_cpu_s"].avg is None and fig["msgs_per_cpu_s"].samples == 0


def test_old_kcoro_mon_recordings_null_without_cpu_computed_with_it() -> None:
    """kcoro_mon's channel lines carry ``cpu`` (the process's CPU %); its tasks lines do not."""
    chan = samples(DATA / "legacy" / "channel_schema2.ndjson")
    assert chan and all(s.legacy is not None and s.legacy.cpu for s in chan)
    for s in chan:
        assert s.declared is not None and s.legacy is not None and s.legacy.cpu is not None
        assert s.declared["msgs_per_cpu_s"] == pytest.approx(s.msgs_per_s / (s.legacy.cpu / 100))
        assert s.declared["tasks_per_cpu_s"] is None
    tasks = samples(DATA / "legacy" / "tasks_schema2.ndjson.gz")
    assert tasks and all(s.declared == {"tasks_per_cpu_s": None, "msgs_per_cpu_s": None} for s in tasks)
