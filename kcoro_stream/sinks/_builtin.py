"""Import every built-in sink module so each registers itself."""

from __future__ import annotations

import importlib

BUILTIN_MODULES = ("stdout", "ndjson", "csv", "log", "prometheus", "websocket", "tui")

for _name in BUILTIN_MODULES:
    try:
        importlib.import_module(f"{__package__}.{_name}")
    except ModuleNotFoundError as e:  # a sink module not written yet, or its optional dep
        if e.name not in (f"{__package__}.{_name}",):
            raise
