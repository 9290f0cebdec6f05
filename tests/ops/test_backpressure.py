"""backpressure: sustained queue growth for K windows → alert; thresholds from env."""

from __future__ import annotations

import pytest
from factory import Run, drive, of_type

from kcoro_stream import ops
from kcoro_stream.errors import UsageError
from kcoro_stream.events import Alert


def _growing_inject(windows_growing: int, per_frame: float, flat_after: int = 0) -> list:
    r = Run(channels=0)
    batches = [[r.start]]
    for _ in range(25 * 3):  # flat start
        r.inject_depth = 5
        batches.append(r.frame())
    for _ in range(25 * windows_growing):
        r.inject_depth += per_frame
        batches.append(r.frame())
    for _ in range(25 * flat_after):
        batches.append(r.frame())
    return batches


def test_forced_inject_queue_growth_raises_then_resolves(monkeypatch):
    monkeypatch.delenv(ops.ENV_SLOPE, raising=False)
    monkeypatch.delenv(ops.ENV_WINDOWS, raising=False)
    # +4 items per 10 ms frame = 400 items/s > 100/s default, for 12 windows; then flat
    out = of_type(drive(ops.backpressure(250, windows=8), _growing_inject(12, 4, flat_after=12)), Alert)
    assert [a.state for a in out] == ["firing", "resolved"]
    a = out[0]
    assert a.rule == "backpressure.inject_depth" and a.labels == {"pool": "all"}
    assert a.value == pytest.approx(400, rel=0.01) and a.threshold == 100.0


def test_growth_shorter_than_k_windows_does_not_alert(monkeypatch):
    monkeypatch.delenv(ops.ENV_SLOPE, raising=False)
    monkeypatch.delenv(ops.ENV_WINDOWS, raising=False)
    assert of_type(drive(ops.backpressure(250, windows=8), _growing_inject(6, 4)), Alert) == []


def test_slow_growth_below_slope_does_not_alert(monkeypatch):
    monkeypatch.delenv(ops.ENV_SLOPE, raising=False)
    monkeypatch.delenv(ops.ENV_WINDOWS, raising=False)
    # 0.5 items per frame = 50 items/s < 100/s
    assert of_type(drive(ops.backpressure(250, windows=4), _growing_inject(12, 0.5)), Alert) == []


def test_env_vars_override_the_config(monkeypatch):
    monkeypatch.setenv(ops.ENV_SLOPE, "10")
    monkeypatch.setenv(ops.ENV_WINDOWS, "3")
    assert ops.backpressure_config(1000.0, 50) == (10.0, 3)
    out = of_type(drive(ops.backpressure(250, slope=1000.0, windows=50), _growing_inject(5, 0.5)), Alert)
    assert [a.state for a in out] == ["firing"]


@pytest.mark.parametrize(
    ("var", "value", "match"),
    [
        ("KCORO_STREAM_BACKPRESSURE_SLOPE", "fast", "KCORO_STREAM_BACKPRESSURE_SLOPE: expected a number"),
        ("KCORO_STREAM_BACKPRESSURE_SLOPE", "-3", "KCORO_STREAM_BACKPRESSURE_SLOPE: must be > 0"),
        (
            "KCORO_STREAM_BACKPRESSURE_WINDOWS",
            "2.5",
            "KCORO_STREAM_BACKPRESSURE_WINDOWS: expected an integer",
        ),
        ("KCORO_STREAM_BACKPRESSURE_WINDOWS", "0", "KCORO_STREAM_BACKPRESSURE_WINDOWS: must be >= 1"),
    ],
)
def test_bad_env_values_are_usage_errors(monkeypatch, var, value, match):
    monkeypatch.setenv(var, value)
    with pytest.raises(UsageError, match=match):
        ops.backpressure()


def test_bad_config_values_are_usage_errors(monkeypatch):
    monkeypatch.delenv(ops.ENV_SLOPE, raising=False)
    monkeypatch.delenv(ops.ENV_WINDOWS, raising=False)
    with pytest.raises(UsageError, match="slope"):
        ops.backpressure(slope=-1)
    with pytest.raises(UsageError, match="windows"):
        ops.backpressure(windows=0)


def test_channel_depth_growth_names_the_channel(monkeypatch):
    monkeypatch.delenv(ops.ENV_SLOPE, raising=False)
    monkeypatch.delenv(ops.ENV_WINDOWS, raising=False)
    r = Run(channels=2)
    batches = [[r.start]]
    for _ in range(25 * 10):
        r.depth[1] += 3  # 300 items/s on channel 1 only
        batches.append(r.frame())
    out = of_type(drive(ops.backpressure(250, windows=4), batches), Alert)
    assert [(a.rule, a.labels.get("channel"), a.state) for a in out] == [
        ("backpressure.channel_depth", "1", "firing")
    ]
