"""A saved baseline records the analyses' version, not the derived schema: a schema step (renaming or
retyping a line's fields) leaves saved baselines valid; a changed analysis still refuses them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kcoro_stream import events
from kcoro_stream.errors import UsageError


def _baseline_file(tmp_path: Path, version: int) -> Path:
    p = tmp_path / "b.json"
    body = {
        "format": "kcoro-stream-baseline",
        "version": 1,
        "analysis_version": version,
        "steps": {"tasks": {"metrics": {"tasks_per_s": [1.0e6, 1.1e6, 0.9e6]}}},
    }
    p.write_text(json.dumps(body))
    return p


def _baseline_module_with_next_schema(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A separate copy of compare/_baseline.py loaded as a kcoro-stream with the next derived schema would."""
    from kcoro_stream.compare import _baseline

    monkeypatch.setattr(events, "DERIVED_SCHEMA", events.DERIVED_SCHEMA + 1)
    spec = importlib.util.spec_from_file_location("kcoro_stream.compare._baseline_next", _baseline.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_derived_schema_bump_keeps_saved_baselines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _baseline_file(tmp_path, events.ANALYSIS_VERSION)
    fresh = _baseline_module_with_next_schema(monkeypatch)
    assert fresh.load_baseline(path).steps["tasks"]["tasks_per_s"] == [1.0e6, 1.1e6, 0.9e6]
    other = _baseline_file(tmp_path, events.ANALYSIS_VERSION + 1)
    with pytest.raises(UsageError, match="analysis version"):
        fresh.load_baseline(other)
