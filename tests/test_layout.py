"""The tree tells the story: stages import one way, public modules export everything."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "kcoro_stream"
# A stage may import itself, stages before it, and the shared modules. The ring
# reader and ingester (ingest) and the log (eventlog) are the layers source
# components (sources: launch, attach, replay, legacy) are built on.
ORDER = ["ingest", "eventlog", "sources", "ops", "sinks", "surfaces"]
SHARED = {"events", "errors", "histo", "_files", "_input", "_native", "_bench"}
WIRING = {
    "runloop",
    "pipeline",
    "cli",
    "commands",
    "config",
    "manifest",
    "selftest",
    "control",
    "history",
    "validate",
}  # may import anything; no stage imports them
# Documented exceptions, each with its reason:
ALLOWED = {
    # the ndjson sink's legacy option writes old kcoro_mon names via ops.to_legacy
    ("sinks", "ops"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                rel = path.relative_to(PKG).parts
                base = list(rel[: len(rel) - node.level])
                mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                mod = node.module or ""
                if not mod.startswith("kcoro_stream"):
                    continue
                mod = mod.removeprefix("kcoro_stream").lstrip(".")
            if mod:
                found.add(mod.split(".")[0])
            elif node.names:  # "from . import x" at package top
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("kcoro_stream."):
                    found.add(a.name.split(".")[1])
    return found


@pytest.mark.parametrize("stage", ORDER)
def test_stage_imports_flow_one_way(stage: str) -> None:
    later = set(ORDER[ORDER.index(stage) + 1 :]) | WIRING
    bad = []
    for path in sorted((PKG / stage).rglob("*.py")):
        for mod in _imports(path) & later:
            if (stage, mod) not in ALLOWED:
                bad.append(f"{path.relative_to(PKG.parent)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_shared_modules_import_no_stage() -> None:
    for name in ("events.py", "errors.py", "histo.py"):
        assert not (_imports(PKG / name) & (set(ORDER) | WIRING)), name


PUBLIC = [
    "kcoro_stream.sources",
    "kcoro_stream.ingest",
    "kcoro_stream.eventlog",
    "kcoro_stream.ops",
    "kcoro_stream.sinks",
    "kcoro_stream.validate",
    # the command layers built on the stages
    "kcoro_stream.config",
    "kcoro_stream.manifest",
    "kcoro_stream.selftest",
    "kcoro_stream.control",
    "kcoro_stream.compare",
    "kcoro_stream.report",
    "kcoro_stream.trace",
    "kcoro_stream.history",
]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_all_is_complete(name: str) -> None:
    """Every public name a package defines or re-exports is listed in __all__ (and exists)."""
    mod = importlib.import_module(name)
    exported = set(mod.__all__)
    assert all(hasattr(mod, n) for n in exported)
    public = {
        n
        for n, v in vars(mod).items()
        if not n.startswith("_")
        and getattr(v, "__module__", "").startswith(name)
        and not isinstance(v, type(importlib))
    }
    assert public <= exported, f"missing from __all__: {sorted(public - exported)}"
