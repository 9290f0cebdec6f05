"""Sources are components: a registry of names, config structs and specs, like sinks."""

from __future__ import annotations

import pytest

from kcoro_stream.errors import KcoroStreamError, UsageError
from kcoro_stream.pipeline import BenchSource, Pipeline
from kcoro_stream.sources import (
    AttachSource,
    LaunchConfig,
    LaunchSource,
    ReplaySource,
    SourceContext,
    build_source,
    source_class,
    source_names,
)


def test_every_builtin_source_is_registered_with_a_summary() -> None:
    assert source_names() == ["attach", "launch", "legacy", "replay"]
    for name in source_names():
        cls = source_class(name)
        assert cls.name == name and cls.summary


def test_a_dict_spec_and_a_config_struct_build_the_same_source() -> None:
    a = build_source({"source": "launch", "mode": "tasks", "interval_ms": 5}, SourceContext())
    b = build_source(LaunchConfig(mode="tasks", interval_ms=5), SourceContext())
    assert type(a) is type(b) is LaunchSource
    assert a.config == b.config
    assert type(build_source({"source": "attach", "path": "/x"}, SourceContext())) is AttachSource
    assert type(build_source({"source": "replay", "path": "runs/x"}, SourceContext())) is ReplaySource
    assert not ReplaySource.live and LaunchSource.live


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"source": "nope"}, "unknown source 'nope'"),
        ({"mode": "tasks"}, "missing 'source' name"),
        ({"source": "launch", "bogus": 1}, "source 'launch': Object contains unknown field `bogus`"),
        ({"source": "launch", "interval_ms": "fast"}, "source 'launch': Expected `float`"),
        ({"source": "launch", "interval_ms": float("nan")}, "--interval: expected 1ms to 60s"),
        ({"source": "launch", "producer": "exec"}, "--exec: give the program"),
        ({"source": "replay", "path": "r", "from_s": 5, "to_s": 2}, "--to (2"),
    ],
)
def test_bad_source_specs_are_one_line_usage_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as e:
        build_source(spec, SourceContext())
    assert message in str(e.value) and "\n" not in str(e.value)


def test_pipeline_refuses_what_is_no_source() -> None:
    with pytest.raises(KcoroStreamError, match="expected a source config"):
        Pipeline(source="nope")  # type: ignore[arg-type]
    with pytest.raises(KcoroStreamError, match="expected an operator"):
        Pipeline(derive=42)  # type: ignore[arg-type]
    assert Pipeline(source=BenchSource(mode="dual")).source == LaunchConfig(mode="dual")
