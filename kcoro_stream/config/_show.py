"""Text for ``config show`` (every value with its origin, like ``git config --show-origin``) and ``config check``."""

from __future__ import annotations

import json
from pathlib import Path

from ._apply import build_analyses
from ._resolve import PYPROJECT_TABLE, Effective, file_layer, resolve

__all__ = ["check_text", "show_text"]


def _fmt(value: object) -> str:
    return "(unset)" if value is None else json.dumps(value, separators=(", ", ": "))


def show_text(eff: Effective, *, only_set: bool = False) -> str:
    """``origin  section.key = value`` per key, origins aligned."""
    rows = [
        (v.origin, f"{section}.{key} = {_fmt(v.value)}")
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
    build_analyses(resolve([layer]))
    return f"{path}: ok ({len(layer.values)} key(s) set)"
