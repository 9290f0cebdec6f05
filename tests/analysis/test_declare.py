"""Declaring metrics and event types: what is refused where it is written, and how a bad one reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcoro_stream.analysis import Sample, event, metric
from kcoro_stream.errors import PipelineError
from kcoro_stream.pipeline import Pipeline, load_pipeline, replay_events

DUAL = Path(__file__).resolve().parents[2] / "bench_data" / "logs" / "dual-v1"


def _m(s: Sample) -> float | None:
    return s.tasks_per_s


@pytest.mark.parametrize(
    ("kwargs", "name", "message"),
    [
        ({}, "tasks_per_s", "clashes with the built-in metric"),
        ({}, "smooth.tasks_per_s", "snake_case"),
        ({}, "Efficiency", "snake_case"),
        ({}, "declared", "clashes with the built-in metric"),  # a Sample field
        ({"version": 0}, "eff", "version must be an integer ≥ 1"),
        ({"unit": ""}, "eff", "unit must be a non-empty string"),
        ({"help": None}, "eff", "help must be a non-empty string"),
        ({"higher_is_better": "yes"}, "eff", "higher_is_better must be True or False"),
    ],
)
def test_a_bad_metric_declaration_is_refused_naming_it(kwargs: dict, name: str, message: str) -> None:
    args = {"unit": "x/s", "help": "h", **kwargs}
    with pytest.raises(PipelineError, match=message) as e:
        metric(name=name, **args)(_m)
    assert repr(name) in str(e.value)


@pytest.mark.parametrize(
    ("name", "fields", "message"),
    [
        ("sample", {"v": float}, "clashes with the built-in line type"),
        ("meta", {"v": float}, "clashes with the built-in line type"),
        ("drop", {"v": list}, "a declared field is one of"),
        ("drop", {"pool": str}, "clashes with the built-in field"),
        ("drop", {}, "non-empty mapping"),
    ],
)
def test_a_bad_event_declaration_is_refused_naming_it(name: str, fields: dict, message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        event(name=name, fields=fields, help="h")(lambda s: None)


def test_one_name_declared_twice_is_refused_by_the_pipeline() -> None:
    a = metric(unit="u", help="h", name="eff")(_m)
    b = event(name="eff", fields={"v": float}, help="h")(lambda s: None)
    with pytest.raises(PipelineError, match="'eff' is declared twice"):
        Pipeline(metrics=[a], events=[b])
    with pytest.raises(PipelineError, match=r"Pipeline\(metrics=...\)"):
        Pipeline(metrics=[_m])  # type: ignore[list-item]  # a plain function is no declaration


def test_a_clash_in_a_pipeline_file_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "clash.py"
    f.write_text(
        "from kcoro_stream.analysis import metric\n"
        "from kcoro_stream.pipeline import Pipeline\n"
        "\n"
        "@metric(unit='1/s', help='h')\n"
        "def msgs_per_s(s):\n"
        "    return 1.0\n"
        "pipeline = Pipeline(metrics=[msgs_per_s])\n"
    )
    with pytest.raises(PipelineError) as e:
        load_pipeline(f)
    assert str(e.value) == (f"{f}:4: metric 'msgs_per_s': clashes with the built-in metric of that name")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("return 1 / 0", "raised ZeroDivisionError: division by zero"),
        ("return 'fast'", "returned str, not a number or None"),
    ],
)
def test_a_metric_that_fails_stops_the_replay_naming_its_line_and_window(
    tmp_path: Path, body: str, reason: str
) -> None:
    f = tmp_path / "bad.py"
    f.write_text(
        "from kcoro_stream import config\n"
        "from kcoro_stream.analysis import metric\n"
        "from kcoro_stream.pipeline import Pipeline\n"
        "@metric(unit='u', help='h')\n"
        "def broken(s):\n"
        f"    {body}\n"
        "pipeline = Pipeline(derive=config.analyses(window_ms=250), metrics=[broken])\n"
    )
    with pytest.raises(PipelineError) as e:
        replay_events(DUAL, f)
    msg = str(e.value)
    assert msg.startswith(f"{f}:4: metric 'broken' {reason} (run bench-"), msg
    assert msg.endswith(", pool channel, window 0)") and "\n" not in msg


def test_an_event_function_must_return_its_declared_fields(tmp_path: Path) -> None:
    f = tmp_path / "ev.py"
    f.write_text(
        "from kcoro_stream import config\n"
        "from kcoro_stream.analysis import event\n"
        "from kcoro_stream.pipeline import Pipeline\n"
        "@event(fields={'v': float}, help='h')\n"
        "def odd(s):\n"
        "    return {'v': 'not a number'}\n"
        "pipeline = Pipeline(derive=config.analyses(window_ms=250), events=[odd])\n"
    )
    with pytest.raises(PipelineError, match=rf"^{f}:4: event 'odd' returned bad fields: Expected `float`"):
        replay_events(DUAL, f)


def test_list_shows_what_a_pipeline_declares() -> None:
    from click.testing import CliRunner

    from kcoro_stream.cli import cli

    own = Path(__file__).resolve().parent / "own_pipeline.py"
    r = CliRunner().invoke(cli, ["list", str(own)])
    assert r.exit_code == 0, r.output
    tail = r.output.splitlines()[-3:]
    assert tail[0] == f"declared by {own}:"
    assert tail[1].split()[:5] == ["metric", "cpu_time_per_task", "v2", "ns", "lower"]
    assert (
        tail[2].startswith("  event  busy_pool")
        and "{cpu_pct: float, cpu_time_per_task: float | None}" in tail[2]
    )


def test_an_alert_rule_on_a_declared_metric_fires_in_event_time() -> None:
    own = Path(__file__).resolve().parent / "own_pipeline.py"
    events = replay_events(DUAL, own)
    fired = [e for e in events if type(e).__name__ == "Alert" and e.rule == "cpu_per_task_high"]
    samples = {(e.pool, e.window): e for e in events if type(e) is Sample}
    over = [k for k, s in samples.items() if (s.declared or {}).get("cpu_time_per_task", 0) or 0 > 50]
    assert over and [(a.state, a.labels["pool"]) for a in fired] == [("firing", "tasks")]
    assert fired[0].value == samples[("tasks", 1)].declared["cpu_time_per_task"] > 50  # type: ignore[index]


def test_a_rule_on_an_undeclared_metric_is_refused() -> None:
    m = metric(unit="u", help="h", name="eff")(_m)
    with pytest.raises(
        PipelineError, match=r"'declared.nope' is no metric this pipeline declares \(declared: declared.eff"
    ):
        Pipeline(metrics=[m], rules=["x: declared.nope > 1"])
    from kcoro_stream import ops
    from kcoro_stream.errors import UsageError

    with pytest.raises(UsageError, match="a rule on a declared metric goes in Pipeline"):
        ops.default_analyses(rules=["x: declared.eff > 1"])  # the analyses run before the declarations


def test_a_kpi_on_a_declared_metric_joins_the_kpi_line_of_its_sample() -> None:
    own = Path(__file__).resolve().parent / "own_pipeline.py"
    events = replay_events(DUAL, own)
    kpis = [e for e in events if type(e).__name__ == "Kpi" and e.pool == "tasks"]
    samples = [e for e in events if type(e) is Sample and e.pool == "tasks"]
    assert len(kpis) == len(samples) == 3  # still one Kpi line per Sample
    for k, s in zip(kpis, samples, strict=True):
        assert k.ts_ns == s.ts_ns and {"fastpath_ratio", "cpu_time_per_task"} <= set(k.states)
        assert k.values["cpu_time_per_task"] == s.declared["cpu_time_per_task"]  # type: ignore[index]
        assert k.thresholds is not None and k.thresholds["cpu_time_per_task"] == [40.0, 60.0]
    # 52.8 ns in the steady window: between the bars (lower is better); no verdict outside steady windows
    assert [(s.phase, k.states["cpu_time_per_task"]) for k, s in zip(kpis, samples, strict=True)] == [
        ("warmup", "UNKNOWN"), ("steady", "YELLOW"), ("drain", "UNKNOWN"),
    ]  # fmt: skip


def test_kpi_bars_in_the_wrong_order_for_the_direction_are_refused() -> None:
    m = metric(unit="ns", help="h", name="eff", higher_is_better=False)(_m)
    with pytest.raises(PipelineError, match=r"'eff': green must be <= yellow \(as declared\)"):
        Pipeline(metrics=[m], kpi={"eff": (60, 40)})
    with pytest.raises(PipelineError, match="'nope' is no metric this pipeline declares"):
        Pipeline(metrics=[m], kpi={"nope": (1, 2)})
