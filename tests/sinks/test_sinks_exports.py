"""kcoro_stream.sinks: ``__all__`` lists exactly the public names (httpx's test_exported_members)."""

from __future__ import annotations

import types

import kcoro_stream.sinks as sinks


def test_all_is_complete_and_every_name_exists() -> None:
    sinks.sink_names()  # loads the built-in sink modules, as the CLI does
    public = {
        name
        for name, value in vars(sinks).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(sinks.__all__)
    assert all(hasattr(sinks, name) for name in sinks.__all__)


def test_file_and_terminal_sinks_are_registered() -> None:
    assert {"ndjson", "csv", "stdout", "log"} <= set(sinks.sink_names())
    for name in ("ndjson", "csv", "stdout", "log"):
        cls = sinks.sink_class(name)
        assert cls.name == name
        assert cls.policy == "block"
        assert cls.summary
        assert callable(getattr(cls, "parse_arg", None))
