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
    # +4 items per 10 ms frame = 400 items/s > 100/s default, for 12 windows; then flat
    out = of_type(drive(ops.backpressure(250, windows=8), _growing_inject(12, 4, flat_after=12)), Alert)
    assert [a.state for a in out] == ["firing", "resolved"]
    a = out[0]
    assert a.rule == "backpressure.inject_depth" and a.labels == {"pool": "all"}
    assert a.value == pytest.approx(400, rel=0.01) and a.threshold == 100.0


def test_growth_shorter_than_k_windows_does_not_alert(monkeypatch):
    assert of_type(drive(ops.backpressure(250, windows=8), _growing_inject(6, 4)), Alert) == []


def test_slow_growth_below_slope_does_not_alert(monkeypatch):
    # 0.5 items per frame = 50 items/s < 100/s
    assert of_type(drive(ops.backpressure(250, windows=4), _growing_inject(12, 0.5)), Alert) == []


def test_the_environment_never_overrides_an_explicit_argument(monkeypatch):
    """The operator reads no environment: backpressure(slope=1000) is 1000 whatever is set."""
    monkeypatch.setenv("KCORO_STREAM_BACKPRESSURE_SLOPE", "10")
    monkeypatch.setenv("KCORO_STREAM_BACKPRESSURE_WINDOWS", "3")
    assert ops.backpressure_config(1000.0, 50) == (1000.0, 50)
    assert ops.backpressure_config() == (ops.DEFAULT_SLOPE, ops.DEFAULT_WINDOWS)
    out = of_type(drive(ops.backpressure(250, slope=1000.0, windows=50), _growing_inject(5, 0.5)), Alert)
    assert out == []


def test_the_environment_is_a_layer_of_the_configuration(monkeypatch, tmp_path):
    """KCORO_STREAM_BACKPRESSURE_* reach the analyses through the one resolver (config.analyses)."""
    from kcoro_stream.config import resolve, standard_layers

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("KCORO_STREAM_BACKPRESSURE_SLOPE", "10")
    monkeypatch.setenv("KCORO_STREAM_BACKPRESSURE_WINDOWS", "3")
    low, high = standard_layers(None)
    eff = resolve([*low, *high])
    assert (eff.get("backpressure", "slope"), eff.get("backpressure", "windows")) == (10.0, 3)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("KCORO_STREAM_BACKPRESSURE_SLOPE", "fast"),
        ("KCORO_STREAM_BACKPRESSURE_SLOPE", "-3"),
        ("KCORO_STREAM_BACKPRESSURE_WINDOWS", "2.5"),
        ("KCORO_STREAM_BACKPRESSURE_WINDOWS", "0"),
    ],
)
def test_bad_env_values_are_usage_errors_naming_the_variable(monkeypatch, tmp_path, var, value):
    from kcoro_stream.config import resolve, standard_layers

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(var, value)
    with pytest.raises(UsageError, match=var):
        low, high = standard_layers(None)
        resolve([*low, *high])


def test_bad_config_values_are_usage_errors(monkeypatch):
    with pytest.raises(UsageError, match="slope"):
        ops.backpressure(slope=-1)
    with pytest.raises(UsageError, match="windows"):
        ops.backpressure(windows=0)


def test_channel_depth_growth_names_the_channel(monkeypatch):
    r = Run(channels=2)
    batches = [[r.start]]
    for _ in range(25 * 10):
        r.depth[1] += 3  # 300 items/s on channel 1 only
        batches.append(r.frame())
    out = of_type(drive(ops.backpressure(250, windows=4), batches), Alert)
    assert [(a.rule, a.labels.get("channel"), a.state) for a in out] == [
        ("backpressure.channel_depth", "1", "firing")
    ]
