"""KPIs and alert rules that fit the workload as configured; warm-up, drain and pause have no verdict.

Findings reproduced here: at the default ``--batch 64`` the fast-path ratio is
1/64 by construction and was RED in every window; one producer and one
consumer on two workers leave a worker idle (``idle_pct`` YELLOW in every
channel window); the first and the closing window were judged like any other;
an ``alert`` rule's ``for`` timer ran across windows without evidence.
"""

from __future__ import annotations

import msgspec
import pytest
from factory import MS, Run, drive

from kcoro_stream import ops
from kcoro_stream.errors import UsageError
from kcoro_stream.events import Alert, Expected, KnobApplied, Kpi, Sample, Tick

BENCH = {"producers": 1, "consumers": 1, "batch": 64}


def bench_run(mode: str = "tasks", workers: int = 2, **config: int) -> Run:
    pools = ["channel", "tasks"] if mode == "dual" else [mode]
    r = Run(workers=workers, mode=mode, pools=pools)
    cfg = {**r.start.config, **BENCH, **config, "mode": mode}
    r.start = msgspec.structs.replace(r.start, config=cfg)
    return r


def tasks_frames(r: Run, n: int, batch: int = 64) -> list[list]:
    out = []
    for _ in range(n):
        for i in range(r.nworkers):
            r.add_worker(
                i,
                tasks_submitted=6400,
                tasks_completed=6400,
                fastpath_hits=6400 // batch,
                fastpath_misses=6400 - 6400 // batch,
                steal_probes=3,
                steal_successes=0,
                busy_ns=r.interval,
            )
        out.append(r.frame(histogram=False))
    return out


def kpis(out: list) -> list[Kpi]:
    return [k for k in out if type(k) is Kpi]


def test_fastpath_at_the_configured_batch_is_green_and_warmup_and_drain_have_no_verdict():
    r = bench_run("tasks")
    out = drive(ops.compose(ops.rates(), ops.kpi()), [[r.start], *tasks_frames(r, 100)])
    ks = kpis(out)
    assert [k.phase for k in ks] == ["warmup"] + ["steady"] * 3 + ["drain"]
    for k in ks[1:-1]:
        assert k.states["fastpath_ratio"] == "GREEN", k
        assert k.values["fastpath_ratio"] == pytest.approx(1 / 64)
        assert k.thresholds["fastpath_ratio"] == pytest.approx([0.8 / 64, 0.5 / 64])
        assert k.states["idle_pct"] == "GREEN"
        # 3 probes beside 6400 tasks per tick: no evidence about stealing
        assert k.states["steal_ratio"] == "UNKNOWN"
    for k in (ks[0], ks[-1]):
        assert set(k.states.values()) == {"UNKNOWN"}, k


def test_a_real_fastpath_collapse_at_the_configured_batch_is_still_red():
    r = bench_run("tasks", batch=8)  # expected 1/8; the runtime delivers 1/64
    out = drive(ops.compose(ops.rates(), ops.kpi()), [[r.start], *tasks_frames(r, 100, batch=64)])
    steady = [k for k in kpis(out) if k.phase == "steady"]
    assert steady and all(k.states["fastpath_ratio"] == "RED" for k in steady)


def test_kpi_follows_a_live_batch_knob():
    r = bench_run("tasks")
    batches = [[r.start], *tasks_frames(r, 60)]
    r.t += 1
    batches.append([KnobApplied(r.t, 0, cmd_id=1, name="batch", value=4, previous=64)])
    batches += tasks_frames(r, 60, batch=64)  # the runtime did not follow: 1/64 against an expected 1/4
    out = drive(ops.compose(ops.rates(), ops.kpi()), batches)
    steady = [k for k in kpis(out) if k.phase == "steady"]
    assert steady[0].states["fastpath_ratio"] == "GREEN"
    assert steady[-1].states["fastpath_ratio"] == "RED"
    assert steady[-1].thresholds["fastpath_ratio"] == pytest.approx([0.8 / 4, 0.5 / 4])


def test_one_producer_and_one_consumer_leave_half_a_two_worker_pool_idle_by_construction():
    r = bench_run("channel")
    batches = [[r.start]]
    for _ in range(100):
        r.add_worker(0, busy_ns=r.interval)
        r.add_worker(1, idle_ns=r.interval)
        r.add_channel(0, sends=500, recvs=500)
        batches.append(r.frame(histogram=False))
    out = drive(ops.compose(ops.rates(), ops.kpi()), batches)
    steady = [k for k in kpis(out) if k.phase == "steady"]
    assert steady
    for k in steady:
        assert k.values["idle_pct"] == 50.0
        assert k.states["idle_pct"] == "GREEN"
        assert k.states["fastpath_ratio"] == "UNKNOWN"  # a channel pool makes no fast-path claim


def test_a_paused_window_is_no_evidence():
    r = bench_run("tasks")
    batches = [[r.start], *tasks_frames(r, 50)]
    paused = tasks_frames(r, 30)
    for b in paused:
        b[0] = msgspec.structs.replace(b[0], paused=True)
        assert type(b[0]) is Tick
    batches += paused + tasks_frames(r, 50)
    out = drive(ops.compose(ops.rates(), ops.kpi()), batches)
    phases = [k.phase for k in kpis(out)]
    assert "paused" in phases
    assert all(set(k.states.values()) == {"UNKNOWN"} for k in kpis(out) if k.phase == "paused")


def s(v: float | None, t_ms: int, *, phase: str = "steady", expected: Expected | None = None) -> Sample:
    return Sample(
        ts=t_ms / 1e3,
        ts_ns=t_ms * MS,
        run_id="r",
        mode="tasks",
        window_ns=250 * MS,
        steal_ratio=v,
        fastpath_ratio=v,
        phase=phase,
        expected=expected,
    )


def test_for_needs_continuous_evidence_a_null_window_resets_it():
    op = ops.alerts(["futile: steal_ratio < 0.05 for 1s"])
    # one value, then null windows for 9.5 s, then one more value: no evidence in between
    items = [s(0.0, 0)] + [s(None, 250 * i) for i in range(1, 39)] + [s(0.0, 9750)]
    assert drive(op, items) == []
    # 1 s of continuous evidence does fire
    out = drive(op, [s(0.0, 250 * i) for i in range(6)])
    assert [(a.state, a.ts_ns // MS) for a in out] == [("firing", 1000)]


def test_non_steady_windows_are_no_evidence_and_leave_a_firing_rule_firing():
    op = ops.alerts(["low: steal_ratio < 0.5 for 500ms"])
    items = [s(0.1, 0, phase="warmup")] + [s(0.1, 250 * i) for i in range(1, 4)]
    items += [s(0.9, 1000, phase="paused"), s(0.9, 1250, phase="drain")]
    out = drive(op, items)
    assert [(a.state, a.ts_ns // MS) for a in out] == [("firing", 750)]


def test_a_relative_rule_compares_with_the_expected_value():
    rule = "fastpath_low: fastpath_ratio < 0.5x for 500ms"
    assert ops.parse_rule(rule).relative
    exp = Expected(fastpath_ratio=1 / 64, idle_workers_pct=0.0)
    quiet = [s(1 / 64, 250 * i, expected=exp) for i in range(10)]
    assert drive(ops.alerts([rule]), quiet) == []
    low = [s(1 / 200, 250 * i, expected=exp) for i in range(4)]
    (a,) = drive(ops.alerts([rule]), low)
    assert isinstance(a, Alert) and a.state == "firing"
    assert a.threshold == pytest.approx(0.5 / 64)
    assert "0.5 × expected 0.015625" in a.message
    # without an expectation a relative rule has no evidence
    assert drive(ops.alerts([rule]), [s(0.0, 250 * i) for i in range(10)]) == []
    with pytest.raises(UsageError, match="'x': a relative value"):
        ops.parse_rule("x: tasks_per_s < 0.5x")


def test_windows_after_the_producers_draining_mark_are_drain():
    """A loaded machine took 4 s of a 6 s dual run to drain: fast path, steals and throughput collapsed
    in windows that were judged like steady ones (two KPIs RED, throughput_drop firing)."""
    from kcoro_stream.events import Mark

    r = bench_run("tasks")
    batches = [[r.start], *tasks_frames(r, 100)]
    r.t += 1
    batches.append([Mark(r.t, 0, name="draining", detail="duration")])
    batches += tasks_frames(r, 100, batch=1000)  # the pools run dry: the fast path collapses
    out = drive(ops.compose(ops.rates(), ops.kpi()), batches)
    ks = kpis(out)
    assert [k.phase for k in ks][:4] == ["warmup", "steady", "steady", "steady"]
    assert {k.phase for k in ks[4:]} == {"drain"}, [k.phase for k in ks]
    assert all(set(k.states.values()) == {"UNKNOWN"} for k in ks[4:])
