"""alerts: rule syntax, validation errors, for-duration in event time, hysteresis."""

from __future__ import annotations

import pytest
from factory import MS, drive

from kcoro_stream import ops
from kcoro_stream.errors import UsageError
from kcoro_stream.events import Alert, Sample


def s(v: float | None, t_ms: int, pool: str = "all", run_id: str = "r") -> Sample:
    return Sample(
        ts=t_ms / 1e3,
        ts_ns=t_ms * MS,
        run_id=run_id,
        mode="tasks",
        pool=pool,
        window_ns=250 * MS,
        fastpath_ratio=v,
    )


def test_string_and_dict_rules_parse_the_same():
    a = ops.parse_rule("low: fastpath_ratio < 0.5 for 2s severity=critical hysteresis=0.05 pool=tasks")
    b = ops.parse_rule(
        {
            "name": "low",
            "metric": "fastpath_ratio",
            "op": "<",
            "value": 0.5,
            "for": "2s",
            "severity": "critical",
            "hysteresis": 0.05,
            "pool": "tasks",
        }
    )
    assert a == b
    assert a.for_ns == 2_000_000_000
    assert ops.parse_rule("x: tasks_per_s > 1 for 250ms").for_ns == 250 * MS
    assert (
        ops.parse_rule(
            {"name": "y", "metric": "ema.tasks_per_s", "op": ">=", "value": 3, "for_ms": 500}
        ).for_ns
        == 500 * MS
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("slow: tasks_per_sec > 5", "alert rule 'slow': unknown metric 'tasks_per_sec'"),
        (
            {"name": "cmp", "metric": "tasks_per_s", "op": "=>", "value": 1},
            "alert rule 'cmp': bad comparison '=>'",
        ),
        ("neg: tasks_per_s > 5 for -1s", "alert rule 'neg': for duration must be >= 0"),
        (
            {"name": "negms", "metric": "tasks_per_s", "op": ">", "value": 1, "for_ms": -5},
            "'negms': for duration",
        ),
        ("sev: tasks_per_s > 5 severity=fatal", "alert rule 'sev': bad severity 'fatal'"),
        ("hy: tasks_per_s > 5 hysteresis=-1", "alert rule 'hy': hysteresis must be >= 0"),
        ("val: tasks_per_s > lots", "alert rule 'val': value must be a number"),
        (
            {"name": "k", "metric": "tasks_per_s", "op": ">", "value": 1, "fro": 1},
            "alert rule 'k': unknown key 'fro'",
        ),
        ("dur: tasks_per_s > 1 for soon", "alert rule 'dur': bad for duration 'soon'"),
        ("no comparison here", "alert rule #1: cannot parse"),
    ],
)
def test_bad_rules_give_one_line_usage_errors_naming_the_rule(rule, message):
    with pytest.raises(UsageError) as info:
        ops.alerts([rule])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_duplicate_rule_names_are_rejected():
    with pytest.raises(UsageError, match="'a': defined twice"):
        ops.parse_rules(["a: tasks_per_s > 1", "a: tasks_per_s > 2"])


def test_fires_after_for_duration_in_event_time_and_resolves_with_hysteresis():
    op = ops.alerts(["low: fastpath_ratio < 0.5 for 500ms hysteresis=0.1"])
    values = [0.9, 0.4, 0.4, 0.4, 0.45, 0.55, 0.65, 0.3]
    out = drive(op, [s(v, 250 * i) for i, v in enumerate(values)])
    assert [(a.state, a.ts_ns // MS) for a in out] == [("firing", 750), ("resolved", 1500)]
    a = out[0]
    assert isinstance(a, Alert)
    assert a.rule == "low" and a.severity == "warning" and a.value == 0.4 and a.threshold == 0.5
    assert a.labels == {"metric": "fastpath_ratio", "pool": "all"}
    assert "fastpath_ratio" in a.message


def test_interrupted_condition_restarts_the_for_timer():
    op = ops.alerts(["low: fastpath_ratio < 0.5 for 500ms"])
    values = [0.4, 0.4, 0.6, 0.4, 0.4, 0.4]
    out = drive(op, [s(v, 250 * i) for i, v in enumerate(values)])
    assert [(a.state, a.ts_ns // MS) for a in out] == [("firing", 1250)]


def test_null_values_change_nothing_and_pools_are_separate():
    op = ops.alerts(["hi: fastpath_ratio > 0.5"])
    items = [s(0.9, 0, "a"), s(None, 250, "a"), s(0.1, 250, "b"), s(0.1, 500, "a")]
    out = drive(op, items)
    assert [(a.state, a.labels["pool"]) for a in out] == [("firing", "a"), ("resolved", "a")]


def test_pool_filter():
    out = drive(ops.alerts(["hi: fastpath_ratio > 0.5 pool=b"]), [s(0.9, 0, "a"), s(0.9, 0, "b")])
    assert [a.labels["pool"] for a in out] == ["b"]


def test_rules_on_a_pools_cpu_and_on_any_float_field_of_sample():
    """resources.<r> and every float Sample field (inject_depth_max, ...) are alert metrics, from the Structs."""
    import msgspec

    from kcoro_stream.events import Resources

    assert {"resources.cpu_pct", "resources.rss_bytes", "inject_depth_max", "smooth.gbps"} <= set(ops.METRICS)
    samples = [
        msgspec.structs.replace(s(0.9, 250 * i), resources=Resources(cpu_pct=50.0 if i < 4 else 195.0))
        for i in range(12)
    ]
    out = drive(ops.alerts(["hot: resources.cpu_pct > 180 for 1s severity=warning"]), samples)
    assert [(a.rule, a.state, a.value, a.ts_ns) for a in out] == [
        ("hot", "firing", 195.0, 2000 * MS)
    ]  # hot from 1 s, for 1 s
