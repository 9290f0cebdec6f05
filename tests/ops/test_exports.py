"""The public surface of kcoro_stream.ops: __all__ is complete and the import rule holds."""

from __future__ import annotations

import ast
from pathlib import Path

import kcoro_stream.ops as ops

OPS_DIR = Path(ops.__file__).parent


def test_all_lists_every_public_name():
    public = {n for n in vars(ops) if not n.startswith("_") and n not in {"annotations"}}
    modules = {n for n in public if type(getattr(ops, n)).__name__ == "module"}
    assert set(ops.__all__) == public - modules
    assert sorted(ops.__all__) == sorted(set(ops.__all__))


def test_every_operator_has_a_docstring_with_a_diagram():
    for name in ops.__all__:
        obj = getattr(ops, name)
        if callable(obj) and getattr(obj, "__module__", "").startswith("kcoro_stream.ops._") and name in {
            "rates", "smooth", "summary", "status", "histograms", "jitter", "heatmap", "kpi", "alerts",
            "backpressure", "invariants", "outliers", "fan", "default_analyses", "windows",
        }:  # fmt: skip
            assert obj.__doc__ and "::" in obj.__doc__, name


def test_ops_import_only_the_schema_errors_and_sources():
    allowed = ("kcoro_stream.events", "kcoro_stream.histo", "kcoro_stream.errors", "kcoro_stream.sources")
    for path in OPS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.startswith("kcoro_stream"):
                    assert node.module.startswith(allowed), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("kcoro_stream") or alias.name.startswith(allowed), (
                        path.name
                    )


def test_no_wall_clock_in_operators():
    for path in OPS_DIR.glob("*.py"):
        text = path.read_text()
        for banned in ("time.time(", "time.monotonic(", "datetime.now(", "perf_counter(", "import time"):
            assert banned not in text, f"{path.name} uses {banned}"
