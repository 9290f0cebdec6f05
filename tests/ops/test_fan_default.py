"""fan, default_analyses and the determinism of derived output."""

from __future__ import annotations

import runpy
from pathlib import Path

from factory import Run, drive, encoded, of_type
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import operators as rx_ops

from kcoro_stream import ops
from kcoro_stream.events import Sample, Summary

ROOT = Path(__file__).resolve().parents[2]


def _batches(n: int = 80, seed: int = 1) -> list:
    import random

    rnd = random.Random(seed)
    r = Run()
    out = [[r.start]]
    for _i in range(n):
        r.steady(tasks=rnd.randint(100, 2000), msgs=rnd.randint(10, 900))
        r.observe(rnd.randint(1, 5000), rnd.randint(1, 20))
        r.inject_depth = rnd.randint(0, 50)
        f = r.frame(jitter_ns=rnd.randint(-200_000, 200_000))
        if rnd.random() < 0.05:
            out.append(r.loss(1))
            continue
        out.append(f)
    out.append(r.ended())
    return out


def test_fan_merges_in_operator_order_per_input():
    def tag(name):
        def op(src):
            return src.pipe(rx_ops.map(lambda b: f"{name}{b[0]}"))

        return op

    out = drive(ops.fan(tag("a"), tag("b"), tag("c")), [[1], [2]])
    assert out == ["a1", "b1", "c1", "a2", "b2", "c2"]


def test_fan_subscribes_the_hot_source_once():
    calls = []

    def counting(src):
        return src.pipe(rx_ops.do_action(lambda b: calls.append(b)))

    drive(ops.fan(counting, ops.passthrough()), [[1]])
    assert calls == [[1]]


def test_default_analyses_emit_samples_then_summary():
    out = drive(ops.default_analyses(window_ms=250), _batches())
    samples = of_type(out, Sample)
    assert samples and all(s.smooth is not None and s.ema is not None for s in samples)
    assert type(out[-1]) is Summary
    summaries = of_type(out, Summary)
    assert len(summaries) == 1 and summaries[0].samples == len(samples)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10**6))
def test_same_input_twice_gives_identical_encoded_output(seed):
    batches = _batches(60, seed)
    first = encoded(drive(ops.default_analyses(), batches))
    second = encoded(drive(ops.default_analyses(), batches))
    assert first == second and first


def test_pipeline_files_load_and_are_deterministic():
    """Each pipeline's derive runs over a scripted run and gives identical bytes twice."""
    for name in ("default.py", "latency.py", "alerts.py"):
        ns = runpy.run_path(str(ROOT / "pipelines" / name))
        derive = ns["pipeline"].derive
        assert callable(derive)
        batches = _batches(200, 7)
        out = drive(derive, batches)
        first, second = encoded(out), encoded(drive(derive, batches))
        assert first == second, name
        # 200 frames of 10 ms = 8 full windows and a closing one: every pipeline reports each of them
        kinds = {type(e).__name__ for e in out}
        assert {"default.py": {"Sample", "Kpi", "Summary"}, "latency.py": {"HistogramSummary"},
                "alerts.py": {"Kpi"}}[name] <= kinds, (name, kinds)  # fmt: skip


def test_alerts_pipeline_fires_and_resolves_its_fast_path_rule_once():
    """alerts.py's output is state changes: a fast-path collapse of 3 s fires once, its recovery resolves it."""
    import msgspec

    from kcoro_stream.events import Alert

    ns = runpy.run_path(str(ROOT / "pipelines" / "alerts.py"))
    r = Run()
    # the run announces batch 1: the fast path should take every task (fastpath_low is relative to it)
    r.start = msgspec.structs.replace(r.start, config={**r.start.config, "batch": 1})
    batches = [[r.start]]
    for i in range(900):  # 9 s: healthy, 3 s of fast-path misses, healthy again
        r.steady()
        if 300 <= i < 600:
            for w in range(r.nworkers):
                r.add_worker(w, fastpath_hits=-800, fastpath_misses=800)  # 10 % hits
        batches.append(r.frame())
    alerts = [(a.rule, a.state) for a in of_type(drive(ns["pipeline"].derive, batches), Alert)]
    assert alerts.count(("fastpath_low", "firing")) == 1 and alerts.count(("fastpath_low", "resolved")) == 1
    assert alerts.index(("fastpath_low", "firing")) < alerts.index(("fastpath_low", "resolved"))


def _unfused(op):
    """The same operator hidden behind a lambda, so fan/compose take the reactivex path."""
    return lambda src: op(src)


def test_fused_fan_and_compose_match_the_reactivex_path():
    """Fusing our stages into one subscription changes nothing in the output."""
    batches = _batches(150, 3)
    fused = ops.fan(ops.compose(ops.rates(), ops.smooth(), ops.kpi()), ops.histograms(), ops.heatmap())
    plain = ops.fan(
        _unfused(ops.compose(_unfused(ops.rates()), _unfused(ops.smooth()), _unfused(ops.kpi()))),
        _unfused(ops.histograms()),
        _unfused(ops.heatmap()),
    )
    a, b = encoded(drive(fused, batches)), encoded(drive(plain, batches))
    assert a == b and a
