"""os_view (the OS side per worker and window) and interference (throughput × OS, one anomaly per episode)."""

from __future__ import annotations

from typing import Any

import pytest
from factory import MS, Run, drive, encoded, of_type

from kcoro_stream import ops
from kcoro_stream.errors import UsageError
from kcoro_stream.events import (
    OS_COUNTER_CONTEXT_SWITCHES,
    OS_COUNTER_CPU_MIGRATIONS,
    OS_COUNTER_CYCLES,
    OS_COUNTER_INSTRUCTIONS,
    OS_COUNTER_PAGE_FAULTS,
    Anomaly,
    OsCounters,
    OsSample,
    OsThread,
)

SW = OS_COUNTER_CONTEXT_SWITCHES | OS_COUNTER_CPU_MIGRATIONS | OS_COUNTER_PAGE_FAULTS


class OsRun(Run):
    """A scripted run whose frames also carry OsThread and OsCounters per worker."""

    def __init__(self, *, counters: int = SW, pinned: bool = True, **kw: Any) -> None:
        super().__init__(**kw)
        self.counters = counters
        self.pinned = pinned
        self.os = [
            dict.fromkeys(("run", "wait", "vol", "invol", "cs", "mig", "pf", "cyc", "ins"), 0)
            for _ in range(self.nworkers)
        ]

    def add_os(self, i: int, **inc: int) -> None:
        for k, v in inc.items():
            self.os[i][k] += v

    def frame(self, jitter_ns: int = 0, histogram: bool = True) -> list[Any]:
        out = super().frame(jitter_ns, histogram)
        for i, o in enumerate(self.os):
            out.append(
                OsThread(
                    self.t,
                    0,
                    worker=i,
                    tid=100 + i,
                    run_ns=o["run"],
                    wait_ns=o["wait"],
                    timeslices=0,
                    voluntary_cs=o["vol"],
                    involuntary_cs=o["invol"],
                    cpu=(i + 1) % 2,
                )
            )
            out.append(
                OsCounters(
                    self.t,
                    0,
                    worker=i,
                    tid=100 + i,
                    pinned_cpu=i if self.pinned else -1,
                    counters=self.counters,
                    context_switches=o["cs"],
                    cpu_migrations=o["mig"],
                    page_faults=o["pf"],
                    cycles=o["cyc"],
                    instructions=o["ins"],
                    cache_misses=0,
                )
            )
        return out


def _busy_tick(
    r: OsRun, tasks: int, waits: tuple[int, int] = (0, 0), invol: tuple[int, int] = (0, 0)
) -> list[Any]:
    """One 10 ms tick: ``tasks`` per worker; each worker runs for what it did not wait."""
    r.steady(tasks=tasks)
    for i in range(r.nworkers):
        r.add_os(
            i,
            run=r.interval - waits[i],
            wait=waits[i],
            invol=invol[i],
            cs=invol[i] + 1,
            mig=1,
            pf=2,
            cyc=1000,
            ins=2500,
        )
    return r.frame()


def test_os_view_derives_wait_share_rates_and_cpus():
    """Per worker: wait % of the span, switches/migrations/faults per second, the pinned CPU; IPC null without hardware counters."""
    r = OsRun(workers=2)
    batches = [[r.start]] + [_busy_tick(r, 100, waits=(0, 5 * MS), invol=(0, 3)) for _ in range(49)]
    _, s = of_type(drive(ops.os_view(250), batches), OsSample)  # window 1: 25 ticks of 10 ms
    assert s.workers == [0, 1] and s.tids == [100, 101]
    assert s.cpus == [0, 1] and s.pinned == [True, True]
    assert s.span_ns == 250 * MS
    assert s.wait_pct == [0.0, pytest.approx(50.0)]
    assert s.run_pct == [pytest.approx(100.0), pytest.approx(50.0)]
    assert s.wait_ns == [0, 125 * MS]
    assert s.involuntary_cs == [0, 75] and s.involuntary_cs_per_s == [0.0, pytest.approx(300.0)]
    assert s.migrations_per_s == [pytest.approx(100.0)] * 2  # 1 per 10 ms tick
    assert s.page_faults_per_s == [pytest.approx(200.0)] * 2
    assert s.context_switches_per_s == [pytest.approx(100.0), pytest.approx(400.0)]
    assert s.ipc == [None, None] and s.cache_misses_per_s == [None, None]


def test_os_view_ipc_with_hardware_counters_and_last_cpu_when_unpinned():
    r = OsRun(workers=2, counters=SW | OS_COUNTER_CYCLES | OS_COUNTER_INSTRUCTIONS, pinned=False)
    batches = [[r.start]] + [_busy_tick(r, 100) for _ in range(49)]
    _, s = of_type(drive(ops.os_view(250), batches), OsSample)
    assert s.ipc == [pytest.approx(2.5)] * 2
    assert s.pinned == [False, False] and s.cpus == [1, 0]  # OsThread.cpu: where the thread last ran


def _scenario(
    hog: range | set[int],
    drop: bool = True,
    rise: bool = True,
    windows: int = 40,
    mild: frozenset[int] = frozenset(),
) -> list[list[Any]]:
    """25 ticks per 250 ms window; in the ``hog`` windows worker 1 waits 60 % and/or throughput falls 40 %."""
    r = OsRun(workers=2)
    batches = [[r.start]]
    for k in range(1, 25 * windows):
        # tick k (10 ms each) lies in window k // 25
        in_hog = k // 25 in hog
        tasks = 600 if in_hog and drop else 1000
        if k // 25 in mild:
            tasks = 850  # half-way back: −15 %
        waits = (MS // 10, 6 * MS) if in_hog and rise else (MS // 10, MS // 10)
        batches.append(_busy_tick(r, tasks, waits=waits, invol=(0, 4 if in_hog and rise else 0)))
    batches.append(r.ended())
    return batches


def test_one_anomaly_per_episode_names_the_waiting_worker():
    """Throughput −40 % while worker 1 waits 60 % on the run queue: one anomaly, at the episode's first window."""
    out = drive(ops.default_analyses(250), _scenario(range(20, 30)))
    found = [a for a in of_type(out, Anomaly) if a.method == "os_interference"]
    assert len(found) == 1
    (a,) = found
    assert a.metric == "tasks_per_s" and a.pool == "all"
    assert a.labels is not None and a.labels["worker"] == "1" and a.labels["cpu"] == "1"
    assert a.labels["from_window"] == "20"
    assert a.window == 20  # the field and the message name the same window
    first = next(s for s in of_type(out, OsSample) if s.window == 20)
    assert a.ts_ns == first.ts_ns
    assert a.score == pytest.approx(-0.4)
    # two confirmed windows: 2 × 25 ticks × 6 ms waited, 2 × 25 × 4 involuntary switches
    assert a.message == (
        "tasks/s −40 % from window 20; worker 1 (cpu 1) waited 300 ms on the run queue, 200 involuntary switches"
    )


def test_two_separate_episodes_give_two_anomalies():
    """The episode ends with the disturbance; the next one is reported again."""
    out = drive(ops.default_analyses(250), _scenario(set(range(12, 17)) | set(range(26, 31))))
    found = [a for a in of_type(out, Anomaly) if a.method == "os_interference"]
    assert [a.labels["from_window"] for a in found if a.labels] == ["12", "26"]


def test_a_window_half_way_back_does_not_split_the_episode():
    """Hysteresis: −15 % while the worker still waits keeps the episode; one anomaly."""
    out = drive(ops.default_analyses(250), _scenario(range(20, 30), mild=frozenset({24})))
    assert len([a for a in of_type(out, Anomaly) if a.method == "os_interference"]) == 1


def test_no_anomaly_without_both_sides():
    """A drop with calm workers, or waiting workers with steady throughput, is no OS interference."""
    for drop, rise in ((True, False), (False, True)):
        out = drive(ops.default_analyses(250), _scenario(range(20, 30), drop=drop, rise=rise))
        assert not [a for a in of_type(out, Anomaly) if a.method == "os_interference"], (drop, rise)


def test_a_single_flagged_window_is_no_episode():
    out = drive(ops.default_analyses(250), _scenario(range(20, 21)))
    assert not [a for a in of_type(out, Anomaly) if a.method == "os_interference"]


def test_same_input_same_bytes():
    batches = _scenario(range(20, 30))
    assert encoded(drive(ops.default_analyses(250), batches)) == encoded(
        drive(ops.default_analyses(250), batches)
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"min_drop": 0},
        {"min_drop": 1.5},
        {"min_wait_rise": 0},
        {"history": 2, "min_history": 3},
        {"persist": 0},
    ],
)
def test_bad_options_are_usage_errors(kw):
    with pytest.raises(UsageError, match="interference"):
        ops.interference(**kw)


def test_a_starved_window_is_explained_in_that_window_and_no_share_exceeds_100():
    """The kernel credits run-queue wait only when the thread gets its CPU back: a worker starved
    through window 4 showed ~0 % wait there and 180 % in window 5. A worker that never parked was
    waiting whenever it was not running, so the wait belongs to the window it happened in."""
    r = OsRun(workers=2)
    batches = [[r.start]]
    for k in range(1, 250):  # 10 windows of 25 ticks
        starved = 100 <= k < 125  # window 4: worker 1 runs 1 ms of every 10
        for i in range(2):
            r.add_worker(i, tasks_submitted=100, tasks_completed=100, busy_ns=r.interval)
            run = MS if (starved and i == 1) else r.interval
            r.add_os(i, run=run)
        if k == 125:  # the CPU comes back: all of window 4's wait is credited at once
            r.add_os(1, wait=25 * 9 * MS)
        batches.append(r.frame())
    out = of_type(drive(ops.os_view(250), batches), OsSample)
    by_window = {s.window: s for s in out}
    assert by_window[4].wait_pct[1] == pytest.approx(90.0, abs=0.5)
    assert by_window[4].run_pct[1] == pytest.approx(10.0, abs=0.5)
    for s in out:
        for run, wait in zip(s.run_pct, s.wait_pct, strict=True):
            assert 0 <= run <= 100 and 0 <= wait <= 100 and run + wait <= 100 + 1e-9, s
    assert by_window[5].wait_pct[1] < 5.0  # not the credited 180 %
