"""Text for ``config show`` (every value with its origin, like ``git config --show-origin``) and ``config check``."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from ._apply import build_analyses
from ._resolve import PYPROJECT_TABLE, Effective, check_servers, file_layer, resolve
from ._schema import SECTIONS, is_duration

__all__ = ["check_text", "show_text"]


def _fmt(value: object, duration: bool = False) -> str:
    if value is None:
        return "(unset)"
    if duration and isinstance(value, int | float):
        ms = float(value) * 1000.0
        return json.dumps(f"{ms:g}ms" if ms < 1000 else f"{float(value):g}s")
    return json.dumps(value, separators=(", ", ": "))


def _durations() -> set[tuple[str, str]]:
    return {
        (name, f.name)
        for name, cls in SECTIONS.items()
        for f in msgspec.structs.fields(cls)
        if is_duration(f.type)
    }


def show_text(eff: Effective, *, only_set: bool = False) -> str:
    """``origin  section.key = value`` per key, origins aligned."""
    durations = _durations()
    rows = [
        (v.origin, f"{section}.{key} = {_fmt(v.value, (section, key) in durations)}")
        for section, body in eff.values.items()
        for key, v in body.items()
        if not (only_set and v.origin == "default")
    ]
    width = max((len(o) for o, _ in rows), default=0)
    return "\n".join(f"{o:<{width}}  {text}" for o, text in rows)


def check_text(path: Path) -> str:
    """Validate one configuration file on its own (keys, types, durations, rules, KPIs)."""
    table = PYPROJECT_TABLE if path.name == "pyproject.toml" else ()
    layer = file_layer(path, table=table)
    eff = resolve([layer])
    check_servers(eff)  # what run refuses across keys (an address and allow_remote)
    build_analyses(eff)
    return f"{path}: ok ({len(layer.values)} key(s) set)"
