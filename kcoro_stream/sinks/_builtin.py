"""Import every built-in sink module so each registers itself."""

from __future__ import annotations

import importlib

BUILTIN_MODULES = (
    "kcoro_stream.sinks.stdout",
    "kcoro_stream.sinks.ndjson",
    "kcoro_stream.sinks.csv",
    "kcoro_stream.sinks.log",
    "kcoro_stream.surfaces.prometheus",
    "kcoro_stream.surfaces.websocket",
    "kcoro_stream.surfaces.tui",
    "kcoro_stream.surfaces.remote_write",
)

for _name in BUILTIN_MODULES:
    importlib.import_module(_name)
