"""config.analyses(...) has no hidden channel: a run binds its configuration to the derive it wires
(config.bind_analyses), and nothing else sees it (no module-global active configuration)."""

from __future__ import annotations

import os

from factory import Run, drive, of_type

from kcoro_stream import config
from kcoro_stream.config import Effective, Layer, Value, resolve
from kcoro_stream.events import Sample


def _windows(derive) -> set[int]:
    r = Run(channels=0)
    batches = [[r.start]] + [r.frame() for _ in range(300)]
    return {s.window_ns for s in of_type(drive(derive, batches), Sample)}


def _with_window(seconds: float) -> Effective:
    low, high = config.standard_layers(None)
    return resolve([*low, Layer("flag", {("window", "length"): Value(seconds, "flag --window")}), *high])


def test_a_bound_configuration_reaches_only_the_derive_it_was_bound_to(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no project file
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for k in [k for k in os.environ if k.startswith("KCORO_STREAM_")]:
        monkeypatch.delenv(k)
    derive = config.analyses()
    assert _windows(derive) == {250_000_000}  # the defaults
    bound = config.bind_analyses(derive, _with_window(1.0))
    assert _windows(bound) == {1_000_000_000}
    assert _windows(derive) == {250_000_000}  # the same call, after a run bound another: unchanged
    assert _windows(config.analyses()) == {250_000_000}


def test_what_the_pipeline_file_sets_stays_unless_the_environment_or_a_flag_set_it(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    derive = config.analyses(window_ms=500)
    low, high = config.standard_layers(None)
    assert _windows(config.bind_analyses(derive, resolve([*low, *high]))) == {500_000_000}
    assert _windows(config.bind_analyses(derive, _with_window(1.0))) == {1_000_000_000}  # a flag wins


def test_an_analysis_error_names_the_option_it_concerns(monkeypatch, tmp_path) -> None:
    """The origin comes from which option failed its check, not from reading the message."""
    import pytest

    from kcoro_stream.errors import UsageError

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    low, high = config.standard_layers(None)
    bad_rule = Layer("x.toml", {("alerts", "rules"): Value(["slow: tasks_per_s <"], "x.toml:3")})
    with pytest.raises(UsageError, match=r"^x\.toml:3: alert rule"):
        config.build_analyses(resolve([*low, bad_rule, *high]))
