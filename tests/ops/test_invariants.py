"""invariants: impossible counter behaviour → critical alerts naming rule and counters."""

from __future__ import annotations

from factory import Run, drive, of_type
from hypothesis import given, settings
from hypothesis import strategies as st

from kcoro_stream import ops
from kcoro_stream.events import Alert


def _steady(n: int) -> tuple[Run, list]:
    r = Run()
    batches = [[r.start]]
    for _ in range(n):
        r.steady()
        batches.append(r.frame())
    return r, batches


def test_healthy_run_raises_nothing():
    _, batches = _steady(100)
    assert drive(ops.invariants(), batches) == []


def test_completed_above_submitted_is_checked_on_pool_sums():
    r = Run()
    batches = [[r.start]]
    for i in range(30):
        r.add_worker(0, tasks_submitted=10, tasks_completed=5)
        r.add_worker(1, tasks_completed=5 if i < 20 else 6)  # worker 1 completes stolen tasks
        batches.append(r.frame())
    out = of_type(drive(ops.invariants(), batches), Alert)
    assert [(a.rule, a.state) for a in out] == [("invariant.completed_le_submitted", "firing")]
    assert "tasks_completed" in out[0].message and "tasks_submitted" in out[0].message
    assert out[0].severity == "critical"


def test_recvs_above_sends_and_steal_balance():
    r = Run()
    batches = [[r.start]]
    r.add_channel(0, sends=5, recvs=7)
    r.add_worker(1, steal_probes=3, steal_successes=1, steal_failures=1)
    batches.append(r.frame())
    rules = {(a.rule, a.labels["subject"]) for a in drive(ops.invariants(), batches)}
    assert rules == {("invariant.recvs_le_sends", "channel 0"), ("invariant.steals_balance", "worker 1")}


def test_tolerance_allows_small_skew():
    r = Run()
    r.add_worker(0, steal_probes=3, steal_successes=1, steal_failures=1)
    assert drive(ops.invariants(tolerance=1), [[r.start], r.frame()]) == []


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=120),
    data=st.data(),
    counter=st.sampled_from(["tasks_submitted", "fastpath_hits", "busy_ns", "steal_probes", "parks"]),
    worker=st.integers(min_value=0, max_value=1),
    drop=st.integers(min_value=1, max_value=1000),
)
def test_monotonic_fires_on_a_decreasing_counter_and_only_then(n, data, counter, worker, drop):
    """A counter going down at frame k fires exactly one alert naming it; a clean run fires none."""
    decrease = data.draw(st.booleans())
    k = data.draw(st.integers(min_value=1, max_value=n - 1))
    r = Run()
    batches = [[r.start]]
    for i in range(n):
        before = r.w[worker].get(counter, 0)
        r.steady()
        if decrease and i == k:
            r.w[worker][counter] = max(0, before - drop)  # below the previous frame's value
            if counter == "steal_probes":
                # keep successes + failures == probes so only the monotonic rule is involved
                r.w[worker]["steal_failures"] = r.w[worker]["steal_probes"] - r.w[worker]["steal_successes"]
                if r.w[worker]["steal_failures"] < 0:
                    r.w[worker]["steal_successes"] += r.w[worker]["steal_failures"]
                    r.w[worker]["steal_failures"] = 0
            if counter == "tasks_submitted":
                r.w[worker]["tasks_completed"] = min(r.w[worker]["tasks_completed"], r.w[worker][counter])
        batches.append(r.frame())
    out = of_type(drive(ops.invariants(), batches), Alert)
    firing = [a for a in out if a.state == "firing" and a.rule == "invariant.monotonic"]
    if decrease:
        assert [a.labels["subject"] for a in firing][:1] == [f"worker {worker}"]
        assert counter in {a.labels["counters"] for a in firing}
        assert firing[0].ts_ns == batches[k + 1][0].ts_ns
    else:
        assert out == []


def test_monotonic_alert_resolves_in_a_later_clean_window():
    r = Run()
    batches = [[r.start]]
    for i in range(60):
        r.steady()
        if i == 5:
            r.w[0]["switches"] = 0
        batches.append(r.frame())
    out = of_type(drive(ops.invariants(), batches), Alert)
    assert [(a.rule, a.state) for a in out] == [
        ("invariant.monotonic", "firing"),
        ("invariant.monotonic", "resolved"),
    ]
    assert "switches" in out[0].message and "worker 0" in out[0].message


def test_window_mode_sees_a_persistent_decrease_but_not_a_recovered_dip():
    def run(recover: bool) -> list:
        r = Run()
        batches = [[r.start]]
        for i in range(60):
            r.steady()
            if i == 30:
                r.w[0]["switches"] -= 10**6  # far below the previous window's end
            if recover and i == 31:
                r.w[0]["switches"] += 10**6
            batches.append(r.frame())
        return of_type(drive(ops.invariants(monotonic="window"), batches), Alert)

    assert [a.rule for a in run(False)][:1] == ["invariant.monotonic"]
    assert run(True) == []
    assert of_type(drive(ops.invariants(monotonic="frame"), _steady(5)[1]), Alert) == []
