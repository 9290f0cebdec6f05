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
SHARED = {
    "events",
    "errors",
    "histo",
    "knobs",
    "_files",
    "_input",
    "_extras",
    "_format",
    "_native",
    "_bench",
    "_shipped",
}
# The whole package order, lowest first (docs/ARCHITECTURE.md, "Package order"): every package
# and top-level module of kcoro_stream imports only itself, what comes before it and SHARED.
PACKAGE_ORDER = [
    *ORDER,
    "analysis",
    "validate",
    "records",
    "config",
    "control",
    "history",
    "runloop",
    "pipeline",
    "replays",
    "compare",
    "report",
    "trace",
    "manifest",
    "selftest",
    "commands",
    "cli",
    "__main__",
]
# Build-time scripts (cffi builders, the C header generator): they import only SHARED.
TOOLS = {"_build_ring", "_build_bench", "_codegen"}
WIRING = set(PACKAGE_ORDER) - set(ORDER)  # no stage imports them
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


# Packages an optional extra brings (pyproject.toml) → the packages of ours that may import
# them. A plain install has none of them: nothing else may import them, and every import
# of one sits in ``with needs(EXTRA, ...)`` so a missing extra is one line naming it.
EXTRA_IMPORTS = {
    "textual": {"surfaces"},
    "rich": {"surfaces"},
    "hypercorn": {"surfaces"},
    "wsproto": {"surfaces"},
    "prometheus_client": {"surfaces"},
    "google": {"surfaces"},  # protobuf
    "cramjam": {"surfaces"},
    "matplotlib": {"report"},
    "scipy": {"compare"},
    "numpy": {"compare", "history"},
    "duckdb": {"history"},
    "ruptures": {"history"},
}


def _guarded_imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, inside a ``with needs(...)``) for every import in ``path``; our own
    modules as dotted paths under kcoro_stream (``surfaces._asgi``), others as written."""
    rel = path.relative_to(PKG).with_suffix("").parts
    package = rel[:-1]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.With):
            guarded = guarded or any(
                isinstance(i.context_expr, ast.Call)
                and isinstance(i.context_expr.func, ast.Name)
                and i.context_expr.func.id == "needs"
                for i in node.items
            )
        if isinstance(node, ast.Import):
            found.extend((a.name, node.lineno, guarded) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                mod = ".".join([*base, *([node.module] if node.module else [])])
                if node.module:
                    found.append((mod, node.lineno, guarded))
                else:  # from . import a, b
                    found.extend((f"{mod}.{a.name}", node.lineno, guarded) for a in node.names)
            elif node.module:
                found.append((node.module, node.lineno, guarded))
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(path.read_text()), False)
    return found


def test_only_the_surfaces_import_an_extras_packages_and_always_through_needs() -> None:
    """sinks/ (and every other stage) imports no textual, hypercorn, matplotlib, protobuf…

    A private module (``surfaces/_asgi.py``, ``surfaces/_tui/``) may import its extra's
    packages directly; then every import of it from outside is the guarded one."""
    bad = []
    carriers: dict[str, str] = {}  # private module or package → the extra package it imports
    files = sorted(PKG.rglob("*.py"))
    for path in files:
        rel = path.relative_to(PKG).with_suffix("").parts
        where = rel[0]
        for mod, line, guarded in _guarded_imports(path):
            top = mod.partition(".")[0]
            if top not in EXTRA_IMPORTS:
                continue
            at = f"{path.relative_to(PKG.parent)}:{line}"
            if where not in EXTRA_IMPORTS[top]:
                bad.append(f"{at} imports {top} (only {sorted(EXTRA_IMPORTS[top])} may)")
            elif not guarded:
                private = next((i for i, part in enumerate(rel) if part.startswith("_")), None)
                if private is None or private == 0:
                    bad.append(f"{at} imports {top} outside `with needs(EXTRA, ...)`")
                else:
                    carriers[".".join(rel[: private + 1])] = top
    for path in files:
        rel = ".".join(path.relative_to(PKG).with_suffix("").parts)
        for mod, line, guarded in _guarded_imports(path):
            for carrier, top in carriers.items():
                inside = rel == carrier or rel.startswith(carrier + ".")
                if (mod == carrier or mod.startswith(carrier + ".")) and not inside and not guarded:
                    bad.append(
                        f"{path.relative_to(PKG.parent)}:{line} imports {mod} ({top}) outside `with needs`"
                    )
    assert carriers, "the check found no private module importing an extra's package"
    assert not bad, "\n".join(bad)


def _unit_imports() -> dict[str, dict[str, str]]:
    """{unit: {imported unit: one file that imports it}} over every module of kcoro_stream; a unit
    is a top-level package or module (``compare``, ``runloop``)."""
    units = {
        p.name.removesuffix(".py")
        for p in PKG.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    out: dict[str, dict[str, str]] = {}
    for path in sorted(PKG.rglob("*.py")):
        unit = path.relative_to(PKG).parts[0].removesuffix(".py")
        if unit == "__init__":
            continue  # the package's own docstring and version
        for mod in _imports(path) & units:
            if mod != unit:
                out.setdefault(unit, {}).setdefault(mod, str(path.relative_to(PKG.parent)))
    return out


def test_every_package_has_its_place_in_the_order() -> None:
    units = {
        p.name.removesuffix(".py")
        for p in PKG.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    placed = set(PACKAGE_ORDER) | SHARED | TOOLS | {"__init__"}
    assert units - placed == set(), "add them to PACKAGE_ORDER (and docs/ARCHITECTURE.md)"
    assert not set(PACKAGE_ORDER) & SHARED


def test_no_package_imports_one_after_it() -> None:
    """The package order holds for every package: no upward import (lazy ones included)."""
    rank = {u: i for i, u in enumerate(PACKAGE_ORDER)}
    bad = []
    for unit, deps in _unit_imports().items():
        for mod, where in deps.items():
            if unit in SHARED | TOOLS:
                ok = mod in SHARED
            else:
                ok = mod in SHARED or rank[mod] < rank[unit] or (unit, mod) in ALLOWED
            if not ok:
                bad.append(f"{where}: {unit} imports {mod}")
    assert not bad, "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle as a path (a, b, ..., a), one per strongly connected component."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle_among_the_packages() -> None:
    graph = {u: set(deps) for u, deps in _unit_imports().items()}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_knot() -> None:
    """The check can fail: compare → report → runloop → history → compare is found."""
    knot = {"compare": {"report"}, "report": {"runloop"}, "runloop": {"history"}, "history": {"compare"}}
    assert _cycles(knot) == [["compare", "report", "runloop", "history", "compare"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


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
