"""heatmap (per-worker utilisation, imbalance) and KPI states."""

from __future__ import annotations

import pytest
from factory import MS, Run, drive, of_type

from kcoro_stream import ops
from kcoro_stream.errors import UsageError
from kcoro_stream.events import Heatmap, Kpi, Sample


def test_forced_imbalance_gives_high_index_and_steals():
    """One busy worker, three idle thieves: CV is high and steals are counted per worker."""
    r = Run(workers=4)
    batches = [[r.start]]
    for _ in range(24):
        r.add_worker(0, busy_ns=r.interval, fastpath_hits=10, fastpath_misses=0)
        for i in (1, 2, 3):
            r.add_worker(i, idle_ns=r.interval, steal_probes=5, steal_successes=1, steal_failures=4)
        batches.append(r.frame())
    (h,) = of_type(drive(ops.heatmap(250), batches), Heatmap)
    assert h.workers == [0, 1, 2, 3]
    assert h.utilisation == [1.0, 0.0, 0.0, 0.0]
    assert h.steals_succeeded == [0, 24, 24, 24] and h.steals_failed == [0, 96, 96, 96]
    assert h.fastpath_ratio == [1.0, None, None, None]
    assert h.imbalance == pytest.approx(3**0.5)  # std 0.433 / mean 0.25


def test_even_load_has_zero_imbalance():
    assert ops.imbalance_index([0.5, 0.5, 0.5]) == 0.0
    assert ops.imbalance_index([None, 0.0]) is None


def _sample(**kw) -> Sample:
    return Sample(ts=0.0, ts_ns=0, mode="tasks", window_ns=250 * MS, **kw)


def test_kpi_states_by_direction():
    s = _sample(fastpath_ratio=0.6, steal_ratio=0.05, idle_workers_pct=10.0, inject_depth=None)
    (k,) = drive(ops.kpi(), [s])
    assert isinstance(k, Kpi)
    assert k.states == {
        "fastpath_ratio": "YELLOW",
        "steal_ratio": "RED",
        "idle_pct": "GREEN",
        "backlog": "UNKNOWN",
    }
    assert k.values["fastpath_ratio"] == 0.6


def test_kpi_thresholds_are_configurable():
    s = _sample(inject_depth=200.0)
    (k,) = drive(ops.kpi({"backlog": {"green": 500, "yellow": 1000}}), [s])
    assert k.states["backlog"] == "GREEN"


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"speed": (1, 2)}, "'speed': unknown KPI"),
        ({"backlog": (1000, 10)}, "'backlog': green must be <="),
        ({"fastpath_ratio": (0.2, 0.9)}, "'fastpath_ratio': green must be >="),
        ({"idle_pct": "x"}, "'idle_pct': thresholds must be"),
    ],
)
def test_bad_kpi_thresholds_are_usage_errors(spec, match):
    with pytest.raises(UsageError, match=match):
        ops.kpi(spec)


def test_kpi_per_pool_from_a_run():
    r = Run(workers=2, mode="dual", pools=["channel", "tasks"])
    batches = [[r.start]]
    for _ in range(24):
        r.steady()
        batches.append(r.frame())
    out = drive(ops.compose(ops.rates(), ops.kpi()), batches)
    assert [k.pool for k in out] == ["channel", "tasks"]
