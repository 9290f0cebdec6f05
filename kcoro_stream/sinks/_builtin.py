"""Import every built-in sink module so each registers itself."""

from __future__ import annotations

import importlib

BUILTIN_MODULES = ("stdout", "ndjson", "csv", "log", "prometheus", "websocket", "tui", "remote_write")

for _name in BUILTIN_MODULES:
    importlib.import_module(f"{__package__}.{_name}")
